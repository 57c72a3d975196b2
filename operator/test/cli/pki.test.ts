import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { TempDir, openssl } from '../pki/tools.ts';
import { listing, trustbundle, write } from './cli.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const opts = { cwd: tmp.path };
const read = (name: string) => readFileSync(`${tmp.path}/${name}`, 'utf8');
const mode = (name: string) => statSync(`${tmp.path}/${name}`).mode & 0o777;
const verify = (ca: string, leaf: string) => openssl(['verify', '-CAfile', ca, leaf], opts);

describe('trustbundle pki', () => {
  beforeAll(() => {
    for (const [n, key] of [
      ['1', 'rsa'],
      ['2', 'ec'],
    ]) {
      const r = trustbundle(
        [
          'pki',
          'ca',
          '--subject',
          `/C=BR/O=CA ${n}/CN=CA ${n} Root`,
          '--key',
          key!,
          '--out-cert',
          `ca${n}.pem`,
          '--out-key',
          `ca${n}.key`,
        ],
        opts,
      );
      expect(r.code).toBe(0);
    }
  });

  test('ca: a root CA readable by openssl, key file mode 0600', () => {
    expect(mode('ca1.key')).toBe(0o600);
    expect(mode('ca1.pem') & 0o077).not.toBe(0); // the certificate is public
    const out = openssl(['x509', '-noout', '-text', '-in', 'ca1.pem'], opts).stdout;
    expect(out).toMatch(/Subject: C = BR, O = CA 1, CN = CA 1 Root/);
    expect(out).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(openssl(['pkey', '-in', 'ca2.key', '-noout'], opts).code).toBe(0);
    expect(verify('ca1.pem', 'ca1.pem').code).toBe(0);
  });

  test('ca with --ca-cert/--ca-key issues an intermediate', () => {
    const r = trustbundle(
      [
        'pki',
        'ca',
        '--subject',
        'CN=Issuing',
        '--ca-cert',
        'ca1.pem',
        '--ca-key',
        'ca1.key',
        '--key',
        'ec',
        '--out-cert',
        'int.pem',
        '--out-key',
        'int.key',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    expect(new X509Certificate(read('int.pem')).issuer).toBe('C=BR\nO=CA 1\nCN=CA 1 Root');
    expect(verify('ca1.pem', 'int.pem').code).toBe(0);
  });

  test('client: OFB profile, verifies under its CA only, key 0600', () => {
    const r = trustbundle(
      [
        'pki',
        'client',
        '--ca-cert',
        'ca1.pem',
        '--ca-key',
        'ca1.key',
        '--cnpj',
        '11.222.333/0001-81',
        '--fqdn',
        'tpp1.example.com',
        '--org',
        'TPP Um',
        '--org-id',
        'OFBBR-abc',
        '--software-statement-id',
        'ssid-1',
        '--dns',
        'alt.example.com',
        '--out-cert',
        'tpp1.crt',
        '--out-key',
        'tpp1.key',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    expect(mode('tpp1.key')).toBe(0o600);
    const out = openssl(['x509', '-noout', '-text', '-in', 'tpp1.crt'], opts).stdout;
    expect(out).toContain(
      'Subject: C = BR, ST = SP, L = Sao Paulo, O = TPP Um, organizationIdentifier = OFBBR-abc, CN = tpp1.example.com, ' +
        'serialNumber = 11222333000181, businessCategory = Private Organization, jurisdictionC = BR, UID = ssid-1',
    );
    expect(out).toMatch(/DNS:tpp1.example.com, DNS:alt.example.com/);
    expect(out).toMatch(/TLS Web Client Authentication/);
    expect(verify('ca1.pem', 'tpp1.crt').code).toBe(0);
    expect(verify('ca2.pem', 'tpp1.crt').code).not.toBe(0);
    expect(openssl(['x509', '-noout', '-modulus', '-in', 'tpp1.crt'], opts).stdout).toBe(
      openssl(['rsa', '-noout', '-modulus', '-in', 'tpp1.key'], opts).stdout,
    );
  });

  test('client with --not-after in the past makes an expired certificate', () => {
    const r = trustbundle(
      [
        'pki',
        'client',
        '--ca-cert',
        'ca2.pem',
        '--ca-key',
        'ca2.key',
        '--cnpj',
        '11222333000181',
        '--fqdn',
        'old.example.com',
        '--org',
        'Old',
        '--key',
        'ec',
        '--not-before',
        '2020-01-01T00:00:00Z',
        '--not-after',
        '2021-01-01T00:00:00Z',
        '--out-cert',
        'old.crt',
        '--out-key',
        'old.key',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    expect(new X509Certificate(read('old.crt')).validTo).toBe('Jan  1 00:00:00 2021 GMT');
    expect(verify('ca2.pem', 'old.crt').stdout + verify('ca2.pem', 'old.crt').stderr).toMatch(
      /certificate has expired/,
    );
  });

  test('sign-csr: an openssl req CSR becomes client certificate + CA; openssl verifies it', () => {
    const req = openssl(
      [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'csr.key',
        '-out',
        'req.csr',
        '-subj',
        '/C=BR/O=TPP Dois/CN=tpp2.example.com',
      ],
      opts,
    );
    expect(req.code).toBe(0);
    const r = trustbundle(
      [
        'pki',
        'sign-csr',
        '--ca-cert',
        'ca2.pem',
        '--ca-key',
        'ca2.key',
        '--csr',
        'req.csr',
        '--out',
        'tpp2-chain.pem',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    const blocks = read('tpp2-chain.pem').match(
      /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g,
    )!;
    expect(blocks).toHaveLength(2);
    expect(blocks[1]).toBe(read('ca2.pem'));
    expect(new X509Certificate(blocks[0]!).subject).toBe('C=BR\nO=TPP Dois\nCN=tpp2.example.com');
    write(tmp.path, 'tpp2.crt', blocks[0]!);
    expect(verify('ca2.pem', 'tpp2.crt').code).toBe(0);
    // The chain file as a whole is what a TPP presents: openssl reads both certificates.
    expect(openssl(['crl2pkcs7', '-nocrl', '-certfile', 'tpp2-chain.pem'], opts).code).toBe(0);
  });

  test('sign-csr reads the CSR from stdin and writes to stdout', () => {
    const r = trustbundle(
      ['pki', 'sign-csr', '--ca-cert', 'ca2.pem', '--ca-key', 'ca2.key', '--csr', '-', '--out', '-'],
      { ...opts, input: read('req.csr') },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  test('sign-csr refuses what is not a CSR with exit 1 and writes nothing', () => {
    const r = trustbundle(
      [
        'pki',
        'sign-csr',
        '--ca-cert',
        'ca2.pem',
        '--ca-key',
        'ca2.key',
        '--csr',
        'ca1.pem',
        '--out',
        'nope.pem',
      ],
      opts,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ca1\.pem: no PEM CERTIFICATE REQUEST block found/);
    expect(listing(tmp.path)).not.toContain('nope.pem');
  });

  test('crl: revokes TPP1 with --revoke; openssl refuses TPP1 with the CRL and the engine reads it', () => {
    const r = trustbundle(
      [
        'pki',
        'crl',
        '--ca-cert',
        'ca1.pem',
        '--ca-key',
        'ca1.key',
        '--revoke',
        'tpp1.crt',
        '--revoke',
        'tpp1.crt', // twice: listed once
        '--out',
        'ca1.crl',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^wrote ca1\.crl: 1 revoked, next update \d{4}-/);
    const serial = new X509Certificate(read('tpp1.crt')).serialNumber;
    expect(openssl(['crl', '-noout', '-text', '-in', 'ca1.crl'], opts).stdout).toContain(
      `Serial Number: ${serial}`,
    );
    const check = openssl(
      ['verify', '-crl_check', '-CAfile', 'ca1.pem', '-CRLfile', 'ca1.crl', 'tpp1.crt'],
      opts,
    );
    expect(check.code).not.toBe(0);
    expect(check.stderr).toMatch(/certificate revoked/);
    const inspect = trustbundle(['inspect', '--json', 'ca1.pem', 'ca1.crl'], opts);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({
      crls: [{ revokedCount: 1, status: 'Accepted' }],
      crlPublished: true,
    });
    const table = trustbundle(['inspect', 'ca1.pem', 'ca1.crl'], opts).stdout;
    expect(table).toMatch(/^CRL ISSUER +THIS UPDATE +NEXT UPDATE +REVOKED +STATUS\n/m);
    expect(table).toMatch(/^C=BR, O=CA 1, CN=CA 1 Root +\S+ +\S+ +1 +Accepted/m);
    expect(table).toMatch(/accepted: 1 certificate and 1 CRL, bundle sha256:/);
  });

  test('crl writes to stdout, and a --revoke-serial is listed as given', () => {
    const r = trustbundle(
      [
        'pki',
        'crl',
        '--ca-cert',
        'ca2.pem',
        '--ca-key',
        'ca2.key',
        '--revoke-serial',
        '0A:BC',
        '--hours',
        '1',
        '--out',
        '-',
      ],
      opts,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN X509 CRL-----\n/);
    expect(openssl(['crl', '-noout', '-text'], { input: r.stdout }).stdout).toContain('Serial Number: 0ABC');
  });

  const out = ['--out-cert', 'x.pem', '--out-key', 'x.key'];
  const ca = (...args: string[]) => ['ca', ...args, ...out];
  const client = (caCert: string, caKey: string, cnpj: string) => [
    'client',
    ...['--ca-cert', caCert, '--ca-key', caKey, '--cnpj', cnpj, '--fqdn', 'a.b', '--org', 'o'],
    ...out,
  ];
  test.each([
    [ca(), /--subject is required/],
    [ca('--subject', '/XX=1'), /unknown name attribute "XX"/],
    [
      ['ca', '--subject', '/CN=x', '--out-cert', 'x.pem', '--out-key', '-'],
      /private keys are only written to files/,
    ],
    [ca('--subject', '/CN=x', '--key', 'dsa'), /--key: invalid key type/],
    [ca('--subject', '/CN=x', '--days', '10', '--not-after', '2030-01-01'), /--days or --not-after/],
    [client('ca1.pem', 'ca1.key', '11222333000180'), /check digits do not match/],
    [client('ca1.pem', '', '11222333000181'), /--ca-key is required/],
    [client('ca1.pem', 'ca2.key', '11222333000181'), /the CA key does not belong to the CA certificate/],
    [client('tpp1.crt', 'tpp1.key', '11222333000181'), /is not a CA certificate/],
    [['sign-csr', '--ca-cert', 'ca1.pem', '--ca-key', 'ca1.key', '--out', 'x.pem'], /--csr is required/],
    [['crl', '--ca-cert', 'ca1.pem', '--ca-key', 'ca1.key'], /--out is required/],
    [
      ['crl', '--ca-cert', 'ca2.pem', '--ca-key', 'ca2.key', '--revoke', 'tpp1.crt', '--out', 'x.crl'],
      /--revoke tpp1\.crt: ".*CN=tpp1\.example\.com.*" was not issued by "C=BR, O=CA 2, CN=CA 2 Root"/,
    ],
    [
      ['crl', '--ca-cert', 'ca1.pem', '--ca-key', 'ca1.key', '--revoke', 'ca1.key', '--out', 'x.crl'],
      /--revoke ca1\.key: not a readable PEM certificate/,
    ],
    [
      [
        'crl',
        '--ca-cert',
        'ca1.pem',
        '--ca-key',
        'ca1.key',
        '--hours',
        '2',
        '--next-update',
        '2030-01-01',
        '--out',
        'x.crl',
      ],
      /--hours or --next-update/,
    ],
    [['mint'], /unknown command "mint"/],
  ])('usage errors exit 2 and write nothing: %p', (args, why) => {
    const r = trustbundle(['pki', ...args], opts);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(listing(tmp.path).filter((f) => f.startsWith('x.'))).toEqual([]);
  });
});
