import { X509Certificate } from 'node:crypto';
import { authorityOf, createCA, issueClientCertificate, randomSerial } from '../../src/pki/index.ts';
import { TempDir, openssl, text, verify } from './tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const root = createCA({ subject: '/C=BR/O=Sandbox Directory/CN=Sandbox Issuing CA' });
const other = createCA({ subject: '/C=BR/O=Other Directory/CN=Other Issuing CA' });

const profile = {
  cnpj: '11.222.333/0001-81',
  fqdn: 'tpp1.example.com.br',
  organization: 'Fintech Exemplo Ltda',
  organizationIdentifier: 'OFBBR-2f9b4a9e-6c8f-4d7b-9a34-0d2f4e6f8a1b',
  softwareStatementId: '8a2f1c6e-3b5d-4e7f-9a1b-2c3d4e5f6a7b',
  locality: 'São Paulo',
  state: 'SP',
};

describe('Open Finance Brasil client certificate', () => {
  const tpp = issueClientCertificate(authorityOf(root), profile);
  const out = text(tpp.pem);

  test('the subject carries every field of the profile, as openssl reads them', () => {
    const subject = openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'], {
      input: tpp.pem,
    });
    expect(subject.stdout.trim()).toBe(
      'subject=UID=8a2f1c6e-3b5d-4e7f-9a1b-2c3d4e5f6a7b,jurisdictionC=BR,' +
        'businessCategory=Private Organization,serialNumber=11222333000181,CN=tpp1.example.com.br,' +
        'organizationIdentifier=OFBBR-2f9b4a9e-6c8f-4d7b-9a34-0d2f4e6f8a1b,O=Fintech Exemplo Ltda,L=São Paulo,ST=SP,C=BR',
    );
    for (const field of [
      'C = BR',
      'ST = SP',
      'O = Fintech Exemplo Ltda',
      'organizationIdentifier = OFBBR-2f9b4a9e-6c8f-4d7b-9a34-0d2f4e6f8a1b',
      'CN = tpp1.example.com.br',
      'serialNumber = 11222333000181',
      'businessCategory = Private Organization',
      'jurisdictionC = BR',
      'UID = 8a2f1c6e-3b5d-4e7f-9a1b-2c3d4e5f6a7b',
    ]) {
      expect(out).toContain(field);
    }
  });

  test('country codes and the CNPJ are PrintableString, the other fields UTF8String', () => {
    const der = openssl(['x509', '-outform', 'DER'], { input: tpp.pem });
    expect(der.code).toBe(0);
    const dump = openssl(['asn1parse', '-inform', 'PEM'], { input: tpp.pem }).stdout;
    const typeOf = (oidName: string): string | undefined => {
      const lines = dump.split('\n');
      const i = lines.findIndex((l) => l.includes(`:${oidName}`));
      return /(PRINTABLESTRING|UTF8STRING|IA5STRING)/.exec(lines[i + 1] ?? '')?.[1];
    };
    expect(typeOf('countryName')).toBe('PRINTABLESTRING');
    expect(typeOf('jurisdictionCountryName')).toBe('PRINTABLESTRING');
    expect(typeOf('serialNumber')).toBe('PRINTABLESTRING');
    expect(typeOf('commonName')).toBe('UTF8STRING');
    expect(typeOf('businessCategory')).toBe('UTF8STRING');
    expect(typeOf('localityName')).toBe('UTF8STRING');
    expect(typeOf('organizationIdentifier')).toBe('UTF8STRING');
  });

  test('key usage, extended key usage, SAN and key identifiers follow the profile', () => {
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(out).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
    expect(out).toMatch(/X509v3 Subject Alternative Name: \s*\n\s+DNS:tpp1.example.com.br\n/);
    expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    const rootSki = /Subject Key Identifier:\s+(\S+)/.exec(text(root.pem))![1];
    expect(out).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
    expect(out).toMatch(/Subject Key Identifier:/);
    expect(new X509Certificate(tpp.der).ca).toBe(false);
  });

  test('openssl accepts it for TLS client authentication under its CA only', () => {
    expect(verify(tmp.path, root.pem, tpp.pem, undefined, ['-purpose', 'sslclient'])).toMatchObject({
      code: 0,
    });
    // The same certificate is no TLS server certificate.
    expect(verify(tmp.path, root.pem, tpp.pem, undefined, ['-purpose', 'sslserver']).code).not.toBe(0);
    expect(verify(tmp.path, other.pem, tpp.pem).code).not.toBe(0);
    expect(verify(tmp.path, root.pem + other.pem, tpp.pem).code).toBe(0);
  });

  test('the private key matches the certificate', () => {
    expect(new X509Certificate(tpp.der).checkPrivateKey(tpp.privateKey)).toBe(true);
    expect(tpp.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });
});

describe('profile options', () => {
  test('defaults fill organizationIdentifier, UID, businessCategory, L and ST', () => {
    const tpp = issueClientCertificate(authorityOf(root), {
      cnpj: '11222333000181',
      fqdn: 'tpp.example.com',
      organization: 'TPP',
      key: { type: 'ec', curve: 'P-256' },
    });
    const out = text(tpp.pem);
    expect(out).toMatch(/organizationIdentifier = OFBBR-[0-9a-f-]{36}/);
    expect(out).toMatch(/UID = [0-9a-f-]{36}/);
    expect(out).toMatch(/businessCategory = Private Organization/);
    expect(out).toMatch(/L = Sao Paulo/);
    // EC keys cannot encipher keys: digitalSignature only.
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
  });

  test('extra DNS names, a chosen serial and SHA-384 are honoured', () => {
    const serial = randomSerial();
    const tpp = issueClientCertificate(authorityOf(root), {
      ...profile,
      dnsNames: ['alt.example.com'],
      serialNumber: serial,
      hash: 'sha384',
      key: { type: 'ec', curve: 'P-256' },
    });
    const out = text(tpp.pem);
    expect(out).toMatch(/DNS:tpp1.example.com.br, DNS:alt.example.com/);
    expect(out).toMatch(/Signature Algorithm: sha384WithRSAEncryption/);
    expect(new X509Certificate(tpp.der).serialNumber).toBe(serial.toString('hex').toUpperCase());
  });

  test.each([
    [{ cnpj: '11.222.333/0001-82' }, /check digits do not match/],
    [{ cnpj: '1122233300018' }, /invalid CNPJ/],
    [{ fqdn: 'not a host' }, /not a valid DNS name/],
    [{ dnsNames: ['bad_name!'] }, /not a valid DNS name/],
  ])('invalid input %p is refused', (override, why) => {
    expect(() => issueClientCertificate(authorityOf(root), { ...profile, ...override })).toThrow(why);
  });
});
