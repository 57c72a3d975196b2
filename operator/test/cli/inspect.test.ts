import { X509Certificate } from 'node:crypto';
import { authorityOf, createCA, issueClientCertificate } from '../../src/pki/index.ts';
import { buildCert, caExtensions, CN, EXT, PURPOSE, STRING } from '../support/anchors.ts';
import { TempDir } from '../pki/tools.ts';
import { trustbundle, write } from './cli.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const opts = { cwd: tmp.path };
const DAY = 86_400_000;

const root = createCA({
  subject: '/C=BR/O=Banco Um/CN=Banco Um Root',
  notAfter: new Date('2040-05-06T00:00:00Z'),
});
const ecRoot = createCA({ subject: '/C=BR/CN=EC Root', key: { type: 'ec', curve: 'P-384' } });
const soon = createCA({ subject: '/CN=Soon Expiring Root', key: { type: 'ed25519' }, days: 10 });
const leaf = issueClientCertificate(authorityOf(root), {
  cnpj: '11222333000181',
  fqdn: 'tpp.example.com',
  organization: 'TPP',
  key: { type: 'ec', curve: 'P-256' },
});
write(tmp.path, 'root.pem', root.pem);
write(tmp.path, 'roots.pem', ecRoot.pem + soon.pem);
write(tmp.path, 'leaf.crt', leaf.pem);
write(tmp.path, 'leaf.key', leaf.keyPem);
write(
  tmp.path,
  'server-only.pem',
  buildCert({
    subject: [[CN, STRING.utf8, 'Anchor server-only']],
    extensions: [...caExtensions(), EXT.extKeyUsage(PURPOSE.serverAuth)],
  }).pem,
);
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('trustbundle inspect', () => {
  test('an acceptable bundle: a table with subject, fingerprint prefix, not after, key, status; exit 0', () => {
    const r = trustbundle(['inspect', 'root.pem', 'roots.pem'], opts);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^SUBJECT\s+SHA-256\s+NOT AFTER\s+KEY\s+STATUS\s+NGINX\s+GO\s+JAVA\s+PROBLEMS$/);
    const row = lines.find((l) => l.startsWith('C=BR, O=Banco Um, CN=Banco Um Root'))!;
    expect(row).toContain(fp(root.pem).slice(0, 17));
    expect(row).toMatch(/2040-05-06\s+RSA-2048\s+Accepted\s+ok\s+ok\s+ok\s+-$/);
    expect(lines.find((l) => l.startsWith('C=BR, CN=EC Root'))).toMatch(/EC P-384\s+Accepted/);
    expect(lines.find((l) => l.startsWith('CN=Soon Expiring Root'))).toMatch(
      /Ed25519\s+Accepted\s+ok\s+ok\s+ok\s+ExpiresSoon$/,
    );
    expect(r.stdout).toMatch(/warning: .*Soon Expiring Root.*expires on/);
    expect(r.stdout).toMatch(/^accepted: 3 certificates, bundle sha256:[0-9a-f]{64}$/m);
  });

  test('a rejected input: the problem is in the table and listed in full; exit 1', () => {
    const r = trustbundle(['inspect', 'root.pem', 'leaf.crt'], opts);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Rejected\s+no\s+no\s+ok\s+NotCA/);
    expect(r.stdout).toMatch(
      /error: certificate ".*CN=tpp\.example\.com.*" .* from leaf\.crt: not a CA certificate/,
    );
    expect(r.stdout).toMatch(/^rejected: 1 error; no bundle would be published$/m);
  });

  test('a CA a consumer cannot use: its column says no, the problem names the consumer', () => {
    const rejected = trustbundle(['inspect', 'server-only.pem'], opts);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toMatch(/Anchor server-only\s.*Rejected\s+no\s+no\s+ok\s+ClientAuthNotAllowed$/m);
    expect(rejected.stdout).toMatch(
      /error: .*Anchor server-only.*does not allow clientAuth; unusable as a trust anchor by nginx\/OpenSSL, Go \(Cloudentity ACP\) \(policy unusable: Reject\)/,
    );
    const warned = trustbundle(['inspect', '--json', '--unusable', 'warn', 'server-only.pem'], opts);
    expect(warned.code).toBe(0);
    const report = JSON.parse(warned.stdout);
    expect(report.certificates[0].consumers).toEqual({
      nginx: ['ClientAuthNotAllowed'],
      go: ['ClientAuthNotAllowed'],
      java: [],
    });
    expect(report.problems.map((p: { severity: string }) => p.severity)).toEqual(['warning']);
  });

  test('a private key: rejected, named, not echoed', () => {
    const r = trustbundle(['inspect', 'leaf.key'], opts);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/no certificates/);
    expect(r.stdout).toMatch(/error: source leaf\.key: contains a private key/);
    expect(r.stdout).not.toContain(leaf.keyPem.split('\n')[1]!.slice(0, 20));
  });

  test('--json gives the report to machines', () => {
    const r = trustbundle(['inspect', '--json', 'root.pem', 'leaf.crt', '--allow-non-ca'], opts);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.accepted).toBe(true);
    expect(report.bundleHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(report.certificates).toHaveLength(2);
    const rootEntry = report.certificates.find((c: { subject: string }) =>
      c.subject.includes('Banco Um Root'),
    );
    expect(rootEntry).toMatchObject({
      fingerprintSHA256: fp(root.pem),
      notAfter: '2040-05-06T00:00:00.000Z',
      keyAlgorithm: 'RSA',
      keySize: 2048,
      isCA: true,
      sources: ['root.pem'],
      status: 'Accepted',
      problems: [],
    });
    expect(rootEntry.der).toBeUndefined();
  });

  test('--json on a rejected input carries the problems and exits 1', () => {
    const r = trustbundle(['inspect', '--json', 'leaf.crt'], opts);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.accepted).toBe(false);
    expect(report.bundleHash).toBeUndefined();
    expect(report.problems.map((p: { code: string }) => p.code)).toEqual(['NotCA']);
    expect(report.certificates[0].problems).toEqual(['NotCA']);
  });

  test('stdin and policy flags work as in build', () => {
    const r = trustbundle(['inspect', '-', '--expiry-warning-days', '5'], { ...opts, input: soon.pem });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/ExpiresSoon/);
    const later = new Date(Date.now() + 20 * DAY).toISOString();
    const expired = trustbundle(['inspect', 'roots.pem', '--now', later, '--expired', 'reject'], opts);
    expect(expired.code).toBe(1);
    expect(expired.stdout).toMatch(/Rejected\s+ok\s+ok\s+ok\s+Expired/);
  });

  test.each([
    [[], /no input files/],
    [['missing.pem'], /cannot read missing\.pem: no such file/],
    [['root.pem', '--jsn'], /Unknown option '--jsn'/],
  ])('usage errors exit 2: %p', (args, why) => {
    const r = trustbundle(['inspect', ...args], opts);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).toMatch(/Run 'trustbundle inspect --help' for usage\./);
  });
});
