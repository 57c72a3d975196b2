import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { authorityOf, createCA, issueClientCertificate } from '../../src/pki/index.ts';
import { TempDir, openssl, run } from '../pki/tools.ts';
import { certCount, listing, trustbundle, write } from './cli.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const dir = tmp.path;
const DAY = 86_400_000;

const ec = { type: 'ec', curve: 'P-256' } as const;
const ca1 = createCA({ subject: '/C=BR/O=Banco Um/CN=Banco Um Root', key: ec });
const ca2 = createCA({ subject: '/C=BR/O=Banco Dois/CN=Banco Dois Root' });
const impostor = createCA({ subject: '/C=BR/O=Banco Um/CN=Banco Um Root', key: ec });
const tppOptions = { cnpj: '11222333000181', organization: 'TPP', key: ec };
const tpp1 = issueClientCertificate(authorityOf(ca1), { ...tppOptions, fqdn: 'tpp1.example.com' });
const tpp2 = issueClientCertificate(authorityOf(ca2), { ...tppOptions, fqdn: 'tpp2.example.com' });
const tppForged = issueClientCertificate(authorityOf(impostor), { ...tppOptions, fqdn: 'tpp1.example.com' });

write(dir, 'ca1.pem', ca1.pem);
write(dir, 'ca2.pem', ca2.pem);
write(dir, 'tpp1.crt', tpp1.pem);
write(dir, 'tpp1.key', tpp1.keyPem);
const opts = { cwd: dir };

describe('trustbundle build: the issue’s done-means', () => {
  test('ca1 ca2 ca1 → two certificates; swapped order → identical bytes', () => {
    const a = trustbundle(['build', 'ca1.pem', 'ca2.pem', 'ca1.pem', '--out', 'ca.crt'], opts);
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/wrote 2 certificates \(pem\) to ca\.crt, bundle sha256:[0-9a-f]{64}/);
    const first = readFileSync(`${dir}/ca.crt`);
    expect(certCount(first.toString())).toBe(2);

    const b = trustbundle(['build', 'ca2.pem', 'ca1.pem', '--out', 'swapped.crt'], opts);
    expect(b.code).toBe(0);
    expect(readFileSync(`${dir}/swapped.crt`).equals(first)).toBe(true);
    // Every certificate we output is readable by openssl.
    for (const pem of first
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!) {
      expect(openssl(['x509', '-noout', '-subject'], { input: pem })).toMatchObject({ code: 0 });
    }
  });

  test.each([
    ['a private key file', 'tpp1.key', /source tpp1\.key: contains a private key/],
    ['a non-CA leaf', 'tpp1.crt', /from tpp1\.crt: not a CA certificate/],
  ])(
    'with %s among the inputs: non-zero, says why, existing ca.crt byte-for-byte unchanged',
    (_, bad, why) => {
      const target = write(dir, 'guarded.crt', 'previous bundle, must survive\n');
      const before = readFileSync(target);
      const mtime = statSync(target).mtimeMs;
      const filesBefore = listing(dir);
      const r = trustbundle(['build', 'ca1.pem', bad, 'ca2.pem', '--out', 'guarded.crt'], opts);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/guarded\.crt left unchanged/);
      expect(r.stdout).toBe('');
      expect(readFileSync(target).equals(before)).toBe(true);
      expect(statSync(target).mtimeMs).toBe(mtime);
      expect(listing(dir)).toEqual(filesBefore);
    },
  );

  test('the private key is never echoed', () => {
    const r = trustbundle(['build', 'tpp1.key', '--out', 'never.crt'], opts);
    expect(r.code).toBe(1);
    const body = tpp1.keyPem.split('\n')[1]!;
    expect(r.stderr + r.stdout).not.toContain(body.slice(0, 20));
    expect(listing(dir)).not.toContain('never.crt');
  });
});

describe('trustbundle build: openssl trusts exactly what the bundle holds', () => {
  test('TPPs of trusted CAs verify; others, and an impostor root’s TPP, do not', () => {
    expect(trustbundle(['build', 'ca1.pem', '--out', 'only1.crt'], opts).code).toBe(0);
    expect(trustbundle(['build', 'ca1.pem', 'ca2.pem', '--out', 'both.crt'], opts).code).toBe(0);
    const check = (bundle: string, leaf: string): number =>
      openssl(['verify', '-CAfile', bundle, write(dir, 'leaf.pem', leaf)], opts).code;
    expect(check('only1.crt', tpp1.pem)).toBe(0);
    expect(check('only1.crt', tpp2.pem)).not.toBe(0);
    expect(check('only1.crt', tppForged.pem)).not.toBe(0);
    expect(check('both.crt', tpp1.pem)).toBe(0);
    expect(check('both.crt', tpp2.pem)).toBe(0);
    expect(check('both.crt', tppForged.pem)).not.toBe(0);
  });
});

describe('trustbundle build: stdin, stdout and formats', () => {
  test('- reads stdin and writes stdout; the stdout bundle equals the file bundle', () => {
    const r = trustbundle(['build', '-', 'ca2.pem', '--out', '-'], { cwd: dir, input: ca1.pem });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(`${dir}/both.crt`, 'utf8'));
    expect(r.stderr).toMatch(/to stdout/);
  });

  test('stdin can be read only once', () => {
    const r = trustbundle(['build', '-', '-', '--out', '-'], { cwd: dir, input: ca1.pem });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stdin \(-\) can be read only once/);
  });

  test('helm-value is base64 -w0 of the PEM bundle', () => {
    const r = trustbundle(
      ['build', 'ca1.pem', 'ca2.pem', '--format', 'helm-value', '--out', 'value.txt'],
      opts,
    );
    expect(r.code).toBe(0);
    const reference = run('base64', ['-w0', 'both.crt'], opts).stdout;
    expect(readFileSync(`${dir}/value.txt`, 'utf8')).toBe(reference);
  });

  test('pkcs12 with --password-file is a truststore keytool and openssl read', () => {
    write(dir, 'pass.txt', 'changeit-123\n');
    const r = trustbundle(
      ['build', 'ca1.pem', 'ca2.pem', '--format', 'pkcs12', '--password-file', 'pass.txt', '--out', 'ts.p12'],
      opts,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('changeit-123');
    const k = run(
      'keytool',
      ['-list', '-storetype', 'PKCS12', '-keystore', 'ts.p12', '-storepass', 'changeit-123'],
      opts,
    );
    expect(k.code).toBe(0);
    expect(k.stdout.match(/trustedCertEntry/g)).toHaveLength(2);
    const o = openssl(['pkcs12', '-in', 'ts.p12', '-nokeys', '-passin', 'pass:changeit-123'], opts);
    expect(o.code).toBe(0);
    const got = o.stdout.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
    expect(got.map((p) => new X509Certificate(p).fingerprint256).sort()).toEqual(
      [ca1, ca2].map((c) => new X509Certificate(c.der).fingerprint256).sort(),
    );
  });

  test.each([
    [['--format', 'pkcs12'], /needs --password or --password-file/],
    [['--format', 'pkcs12', '--password', 'a', '--password-file', 'pass.txt'], /not both/],
    [['--format', 'pkcs12', '--password', 'senha-ção'], /printable ASCII/],
    [['--password', 'x'], /a password applies only to --format pkcs12/],
    [['--format', 'der'], /--format must be one of pem, helm-value, pkcs12/],
  ])('password and format mistakes are usage errors: %p', (extra, why) => {
    const r = trustbundle(['build', 'ca1.pem', '--out', 'x.out', ...extra], opts);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(listing(dir)).not.toContain('x.out');
  });
});

describe('trustbundle build: policy flags', () => {
  const now = Date.now();
  const expired = createCA({
    subject: '/CN=Expired Root',
    key: ec,
    notBefore: new Date(now - 400 * DAY),
    notAfter: new Date(now - DAY),
  });
  const leaf = issueClientCertificate(authorityOf(ca1), { ...tppOptions, fqdn: 'leaf.example.com' });
  const weak = createCA({ subject: '/CN=Small Key Root', key: { type: 'rsa', bits: 1024 } });
  const sha1 = createCA({ subject: '/CN=SHA1 Root', hash: 'sha1' });
  write(dir, 'expired.pem', expired.pem);
  write(dir, 'leaf.crt', leaf.pem);
  write(dir, 'weak.pem', weak.pem);
  write(dir, 'sha1.pem', sha1.pem);

  const build = (...args: string[]) => trustbundle(['build', ...args, '--out', '-'], opts);

  test('expired: dropped with a warning by default, rejected or kept on request', () => {
    const dropped = build('ca1.pem', 'expired.pem');
    expect(dropped.code).toBe(0);
    expect(certCount(dropped.stdout)).toBe(1);
    expect(dropped.stderr).toMatch(/warning: .*Expired Root.*expired on/);
    expect(build('ca1.pem', 'expired.pem', '--expired', 'reject').code).toBe(1);
    expect(certCount(build('ca1.pem', 'expired.pem', '--expired', 'allow').stdout)).toBe(2);
  });

  test('--now judges validity at another time', () => {
    const past = new Date(now - 200 * DAY).toISOString();
    expect(certCount(build('ca1.pem', 'expired.pem', '--now', past, '--not-yet-valid', 'drop').stdout)).toBe(
      1,
    );
    expect(certCount(build('expired.pem', '--now', past).stdout)).toBe(1);
  });

  test('--allow-non-ca, --min-rsa-bits and --allow-sha1 change the verdict', () => {
    expect(build('ca1.pem', 'leaf.crt').code).toBe(1);
    expect(certCount(build('ca1.pem', 'leaf.crt', '--allow-non-ca').stdout)).toBe(2);
    expect(build('weak.pem').stderr).toMatch(/RSA key of 1024 bits is below the minimum of 2048/);
    expect(build('weak.pem', '--min-rsa-bits', '1024').code).toBe(0);
    expect(build('ca2.pem', '--min-rsa-bits', '4096').code).toBe(1);
    expect(build('sha1.pem').stderr).toMatch(/SHA-1 is refused/);
    expect(build('sha1.pem', '--allow-sha1').code).toBe(0);
  });

  test('--max-certificates and --max-input-bytes bound the bundle', () => {
    expect(build('ca1.pem', 'ca2.pem', '--max-certificates', '1').stderr).toMatch(
      /more than maxCertificates \(1\)/,
    );
    const big = build('ca1.pem', 'ca2.pem', '--max-input-bytes', '100');
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/more than maxInputBytes \(100\)/);
  });

  test.each([
    [['--expired', 'later'], /--expired must be one of Drop, Reject, Allow/],
    [['--min-rsa-bits', 'many'], /--min-rsa-bits must be a whole number/],
    [['--max-certificates', '0'], /--max-certificates must be a whole number of at least 1/],
    [['--now', 'yesterday'], /--now must be a date/],
  ])('bad policy values are usage errors: %p', (extra, why) => {
    const r = build('ca1.pem', ...extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
  });
});

describe('trustbundle build: writing', () => {
  test('an existing file keeps its mode; no temporary file is left', () => {
    const target = write(dir, 'mode.crt', 'old');
    chmodSync(target, 0o640);
    const before = listing(dir);
    expect(trustbundle(['build', 'ca1.pem', '--out', 'mode.crt'], opts).code).toBe(0);
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readFileSync(target, 'utf8')).toBe(ca1.pem);
    expect(listing(dir)).toEqual(before);
  });

  test('an unwritable target fails with exit 1 and leaves it as it was', () => {
    mkdirSync(`${dir}/a-directory`);
    writeFileSync(`${dir}/a-directory/inside`, 'x');
    const before = listing(dir);
    const r = trustbundle(['build', 'ca1.pem', '--out', 'a-directory'], opts);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write a-directory: is a directory/);
    expect(listing(`${dir}/a-directory`)).toEqual(['inside']);
    expect(listing(dir)).toEqual(before);
  });

  test('a missing output directory fails cleanly', () => {
    const r = trustbundle(['build', 'ca1.pem', '--out', 'no/such/dir/ca.crt'], opts);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write no\/such\/dir\/ca\.crt: ENOENT/);
  });
});

describe('trustbundle build --template', () => {
  test('renders any text format from the bundle (an Axway values fragment), the PEM openssl reads back', () => {
    write(
      dir,
      'values.hbs',
      'apitraffic:\n  ingressMtlsRootCa: {{base64}}\n# {{hash}}\n{{#each certificates}}# {{subject}} until {{notAfter}}\n{{/each}}',
    );
    const r = trustbundle(
      ['build', 'ca1.pem', 'ca2.pem', '--template', 'values.hbs', '--out', 'values.yaml'],
      opts,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote 2 certificates \(template values\.hbs\)/);
    const out = readFileSync(`${dir}/values.yaml`, 'utf8');
    const value = /ingressMtlsRootCa: (\S+)/.exec(out)![1]!;
    const pem = Buffer.from(value, 'base64').toString();
    expect(certCount(pem)).toBe(2);
    expect(out).toMatch(/# .*CN=Banco Um Root until \d{4}-\d\d-\d\dT/);
    expect(out).toMatch(/# sha256:[0-9a-f]{64}/);
  });

  test('each certificate’s own PEM is a certificate openssl parses', () => {
    write(dir, 'each.hbs', '{{#each certificates}}{{pem}}{{/each}}');
    expect(trustbundle(['build', 'ca2.pem', '--template', 'each.hbs', '--out', 'each.pem'], opts).code).toBe(
      0,
    );
    const pem = readFileSync(`${dir}/each.pem`, 'utf8');
    expect(openssl(['x509', '-noout', '-subject'], { input: pem }).stdout).toMatch(/Banco Dois Root/);
  });

  test('an unknown name in the template is an error and the output is left unchanged', () => {
    write(dir, 'typo.hbs', '{{pme}}');
    writeFileSync(`${dir}/kept.txt`, 'before');
    const r = trustbundle(['build', 'ca1.pem', '--template', 'typo.hbs', '--out', 'kept.txt'], opts);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"pme" not defined/);
    expect(readFileSync(`${dir}/kept.txt`, 'utf8')).toBe('before');
  });

  test('--format and --template together are a usage error', () => {
    write(dir, 'x.hbs', '{{pem}}');
    expect(
      trustbundle(['build', 'ca1.pem', '--template', 'x.hbs', '--format', 'pem', '--out', '-'], opts).code,
    ).toBe(2);
  });
});
