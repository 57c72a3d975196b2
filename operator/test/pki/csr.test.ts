import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  authorityOf,
  createCA,
  parseCertificationRequest,
  signCertificationRequest,
} from '../../src/pki/index.ts';
import { TempDir, openssl, text, verify } from './tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const root = createCA({
  subject: '/C=BR/O=Sandbox/CN=Sandbox Client CA',
  key: { type: 'ec', curve: 'P-256' },
});

/** A CSR exactly as a TPP makes it by hand, with openssl req. */
function opensslCsr(name: string, keyArgs: string[], subject: string, extra: string[] = []): string {
  const r = openssl(
    ['req', '-new', '-nodes', ...keyArgs, '-keyout', tmp.file(`${name}.key`), '-subj', subject, ...extra],
    { cwd: tmp.path },
  );
  expect(r.code).toBe(0);
  return r.stdout;
}

const OFB_SUBJECT =
  '/C=BR/ST=SP/L=Sao Paulo/O=TPP Exemplo/organizationIdentifier=OFBBR-1234/CN=tpp.example.com' +
  '/serialNumber=11222333000181/businessCategory=Private Organization/jurisdictionC=BR/UID=ss-1';

describe('signing a CSR made by openssl req', () => {
  test('RSA request with SAN: subject kept byte for byte, SAN kept, client profile, chain verifies', () => {
    const csr = opensslCsr('rsa', ['-newkey', 'rsa:2048'], OFB_SUBJECT, [
      '-addext',
      'subjectAltName=DNS:tpp.example.com,DNS:mtls.tpp.example.com',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    const signed = signCertificationRequest(authorityOf(root), csr, { days: 90 });
    const reqSubject = openssl(['req', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: csr }).stdout;
    const certSubject = openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], {
      input: signed.certificate.pem,
    }).stdout;
    expect(certSubject).toBe(reqSubject);
    const out = text(signed.certificate.pem);
    expect(out).toMatch(/DNS:tpp.example.com, DNS:mtls.tpp.example.com/);
    // Requested extensions other than the SAN are not copied: the CA decides the usage.
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(out).toMatch(/TLS Web Client Authentication/);
    expect(out).not.toMatch(/Certificate Sign/);

    const x509 = new X509Certificate(signed.certificate.der);
    expect(x509.validToDate.getTime() - x509.validFromDate.getTime()).toBe(90 * 86_400_000);
    const key = readFileSync(tmp.file('rsa.key'), 'utf8');
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);

    // The output is the client certificate, then the CA.
    const blocks = signed.chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g)!;
    expect(blocks).toEqual([signed.certificate.pem, root.pem]);
    expect(verify(tmp.path, root.pem, signed.certificate.pem)).toMatchObject({ code: 0 });
  });

  test('EC request without SAN: the CN becomes the dNSName', () => {
    const csr = opensslCsr(
      'ec',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/C=BR/CN=ec.example.com',
    );
    const parsed = parseCertificationRequest(csr);
    expect(parsed.commonName).toBe('ec.example.com');
    expect(parsed.dnsNames).toEqual([]);
    const signed = signCertificationRequest(authorityOf(root), csr);
    expect(text(signed.certificate.pem)).toMatch(/DNS:ec.example.com/);
    expect(verify(tmp.path, root.pem, signed.certificate.pem).code).toBe(0);
  });

  test('Ed25519 request is signed too', () => {
    const csr = opensslCsr('ed', ['-newkey', 'ed25519'], '/CN=ed.example.com');
    const signed = signCertificationRequest(authorityOf(root), csr);
    expect(new X509Certificate(signed.certificate.der).publicKey.asymmetricKeyType).toBe('ed25519');
    expect(verify(tmp.path, root.pem, signed.certificate.pem).code).toBe(0);
  });

  test('a request whose signature does not verify is refused (no proof of possession)', () => {
    const csr = opensslCsr(
      'tamper',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/CN=t.example.com',
    );
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0x01; // inside the signature value
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => signCertificationRequest(authorityOf(root), tampered)).toThrow(
      /invalid certificate request: its signature does not verify/,
    );
  });

  test('a file without a CSR is refused', () => {
    expect(() => signCertificationRequest(authorityOf(root), root.pem)).toThrow(
      /no PEM CERTIFICATE REQUEST block/,
    );
  });
});
