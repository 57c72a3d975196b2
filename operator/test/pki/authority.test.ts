import { X509Certificate } from 'node:crypto';
import {
  authorityOf,
  createCA,
  generateKeyPair,
  issueClientCertificate,
  loadAuthority,
  type KeySpec,
} from '../../src/pki/index.ts';
import { TempDir, openssl, text, verify } from './tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const CNPJ = '11.222.333/0001-81';
const DAY = 86_400_000;

describe('root CAs', () => {
  test.each<[string, KeySpec, RegExp]>([
    ['RSA 2048', { type: 'rsa', bits: 2048 }, /sha256WithRSAEncryption/],
    ['EC P-256', { type: 'ec', curve: 'P-256' }, /ecdsa-with-SHA256/],
    ['EC P-384', { type: 'ec', curve: 'P-384' }, /ecdsa-with-SHA384/],
    ['Ed25519', { type: 'ed25519' }, /ED25519/],
  ])('%s root: self-signed CA with critical basicConstraints and keyUsage, and an SKI', (_, key, sigAlg) => {
    const root = createCA({ subject: '/C=BR/O=Example Bank/CN=Example Root', key });
    const x509 = new X509Certificate(root.der);
    expect(x509.ca).toBe(true);
    expect(x509.subject).toBe('C=BR\nO=Example Bank\nCN=Example Root');
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.verify(x509.publicKey)).toBe(true);

    const out = text(root.pem);
    expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(out).toMatch(/X509v3 Subject Key Identifier:/);
    expect(out).toMatch(sigAlg);
    expect(verify(tmp.path, root.pem, root.pem)).toMatchObject({ code: 0 });
  });

  test('validity is exactly what was asked, including GeneralizedTime after 2049', () => {
    const notBefore = new Date('2030-01-02T03:04:05Z');
    const notAfter = new Date('2051-06-07T08:09:10Z');
    const root = createCA({
      subject: 'CN=Long Root',
      key: { type: 'ec', curve: 'P-256' },
      notBefore,
      notAfter,
    });
    const x509 = new X509Certificate(root.der);
    expect(x509.validFromDate).toEqual(notBefore);
    expect(x509.validToDate).toEqual(notAfter);
    expect(openssl(['x509', '-noout', '-enddate'], { input: root.pem }).stdout).toBe(
      'notAfter=Jun  7 08:09:10 2051 GMT\n',
    );
  });

  test('an inverted validity is refused', () => {
    expect(() =>
      createCA({ subject: 'CN=Bad', notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') }),
    ).toThrow(/notAfter .* must be later than notBefore/);
  });

  test('an intermediate chains to its root, and pathLength is written', () => {
    const root = createCA({ subject: 'CN=Chain Root', key: { type: 'ec', curve: 'P-256' }, pathLength: 1 });
    const inter = createCA({
      subject: 'CN=Chain Issuing CA',
      issuer: authorityOf(root),
      key: { type: 'ec', curve: 'P-256' },
      pathLength: 0,
    });
    expect(text(root.pem)).toMatch(/CA:TRUE, pathlen:1/);
    expect(text(inter.pem)).toMatch(/CA:TRUE, pathlen:0/);
    const rootSki = /Subject Key Identifier:\s+(\S+)/.exec(text(root.pem))![1];
    expect(text(inter.pem)).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
    const leaf = issueClientCertificate(authorityOf(inter), {
      cnpj: CNPJ,
      fqdn: 'tpp.example.com',
      organization: 'TPP',
      key: { type: 'ec', curve: 'P-256' },
    });
    expect(verify(tmp.path, root.pem, leaf.pem, inter.pem)).toMatchObject({ code: 0 });
    expect(verify(tmp.path, root.pem, leaf.pem).code).not.toBe(0);
  });

  test('an impostor root (same subject, other key) is not trusted in place of the real one', () => {
    const real = createCA({ subject: '/C=BR/O=Real CA/CN=Real Root', key: { type: 'ec', curve: 'P-256' } });
    const impostor = createCA({
      subject: '/C=BR/O=Real CA/CN=Real Root',
      key: { type: 'ec', curve: 'P-256' },
    });
    expect(new X509Certificate(impostor.der).subject).toBe(new X509Certificate(real.der).subject);
    const options = { cnpj: CNPJ, fqdn: 'tpp.example.com', organization: 'TPP', key: generateKeyPair() };
    const forged = issueClientCertificate(authorityOf(impostor), options);
    const genuine = issueClientCertificate(authorityOf(real), options);
    expect(verify(tmp.path, real.pem, genuine.pem).code).toBe(0);
    const refused = verify(tmp.path, real.pem, forged.pem);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/signature failure|unable to get local issuer/);
  });

  test('a reused key pair gives distinct certificates', () => {
    const keys = generateKeyPair({ type: 'ec', curve: 'P-256' });
    const a = createCA({ subject: 'CN=A', key: keys });
    const b = createCA({ subject: 'CN=B', key: keys });
    expect(a.keyPem).toBe(b.keyPem);
    expect(new X509Certificate(a.der).serialNumber).not.toBe(new X509Certificate(b.der).serialNumber);
  });
});

describe('loading a CA from PEM', () => {
  const root = createCA({ subject: 'CN=Loadable Root', key: { type: 'ec', curve: 'P-256' } });
  const other = createCA({ subject: 'CN=Other Root', key: { type: 'ec', curve: 'P-256' } });

  test('a matching certificate and key load', () => {
    const ca = loadAuthority(root.pem, root.keyPem);
    expect(ca.certificate.subject).toBe('CN=Loadable Root');
  });

  test('a key that is not the CA key is refused, without echoing the key', () => {
    let message = '';
    try {
      loadAuthority(root.pem, other.keyPem);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('the CA key does not belong to the CA certificate');
  });

  test('a leaf certificate cannot act as a CA', () => {
    const leaf = issueClientCertificate(authorityOf(root), {
      cnpj: CNPJ,
      fqdn: 'leaf.example.com',
      organization: 'TPP',
      key: { type: 'ec', curve: 'P-256' },
    });
    expect(() => loadAuthority(leaf.pem, leaf.keyPem)).toThrow(/is not a CA certificate/);
  });

  test('garbage in the key file is refused and not repeated', () => {
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC';
    const bad = `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`;
    expect(() => loadAuthority(root.pem, bad)).toThrow(
      /the CA key is not a readable unencrypted PEM private key/,
    );
    try {
      loadAuthority(root.pem, bad);
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe('expired and not-yet-valid certificates', () => {
  const root = createCA({ subject: 'CN=Dated Root', key: { type: 'ec', curve: 'P-256' } });
  const now = Date.now();

  test.each([
    ['expired', new Date(now - 30 * DAY), new Date(now - DAY), /certificate has expired/],
    ['not yet valid', new Date(now + DAY), new Date(now + 30 * DAY), /certificate is not yet valid/],
  ])('openssl refuses a %s client certificate', (_, notBefore, notAfter, why) => {
    const leaf = issueClientCertificate(authorityOf(root), {
      cnpj: CNPJ,
      fqdn: 'dated.example.com',
      organization: 'TPP',
      key: { type: 'ec', curve: 'P-256' },
      notBefore,
      notAfter,
    });
    const r = verify(tmp.path, root.pem, leaf.pem);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(why);
  });
});
