// The DER certificate reader against OpenSSL (node:crypto's X509Certificate): the same facts for
// real certificates, and never accepting bytes OpenSSL refuses.
import fc from 'fast-check';
import { X509Certificate } from 'node:crypto';
import { parseCertificate } from '../../src/bundle/certificate.ts';
import { readCertificate } from '../../src/bundle/x509.ts';
import { authorityOf, createCA, issueClientCertificate } from '../../src/pki/index.ts';
import { OpenSSL } from '../support/openssl.ts';

const ssl = new OpenSSL();
afterAll(() => ssl.cleanup());

const root = createCA({
  subject: 'C=BR, O=Banco Um S.A., CN=Banco Um Root',
  key: { type: 'ec', curve: 'P-256' },
});
const tpp = issueClientCertificate(authorityOf(root), {
  cnpj: '11.222.333/0001-81',
  fqdn: 'tpp1.example.com',
  organization: 'TPP Um, Ltda',
  key: { type: 'ec', curve: 'P-256' },
});
const DAY = 86_400_000;
const samples: [string, Buffer][] = [
  ['openssl RSA 2048', ssl.cert({ key: 'rsa:2048', subject: '/C=BR/O=Bank/CN=RSA Root' }).der],
  ['openssl RSA 3072 SHA-384', ssl.cert({ key: 'rsa:3072', digest: 'sha384' }).der],
  ['openssl EC P-256', ssl.cert({ key: 'ec:P-256' }).der],
  ['openssl EC P-384', ssl.cert({ key: 'ec:P-384' }).der],
  ['openssl EC P-521', ssl.cert({ key: 'ec:P-521' }).der],
  ['openssl Ed25519', ssl.cert({ key: 'ed25519' }).der],
  ['openssl secp256k1', ssl.cert({ key: 'ec:secp256k1' }).der],
  ['openssl leaf', ssl.cert({ ca: false, subject: '/CN=leaf.example.com' }).der],
  [
    'forge RSA, GeneralizedTime after 2049',
    ssl.datedCert({ subject: 'Far Future', notBefore: new Date(), notAfter: new Date(Date.UTC(2051, 0, 1)) })
      .der,
  ],
  [
    'forge RSA, expired',
    ssl.datedCert({
      subject: 'Old',
      notBefore: new Date(Date.now() - 9 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }).der,
  ],
  ['pki root', root.der],
  ['pki Open Finance Brasil client', tpp.der],
];

test.each(samples)('%s: the same facts as OpenSSL', (_name, der) => {
  const x = new X509Certificate(der);
  const f = readCertificate(der);
  expect(f.serialNumber.replace(/^0+/, '')).toBe(x.serialNumber.toUpperCase().replace(/^0+/, ''));
  expect(f.notBefore.getTime()).toBe(x.validFromDate.getTime());
  expect(f.notAfter.getTime()).toBe(x.validToDate.getTime());
  expect(f.isCA).toBe(x.ca);
  expect(f.selfIssued).toBe(x.subject === x.issuer);
  const k = x.publicKey;
  const type = k.asymmetricKeyType;
  if (type === 'rsa')
    expect(f.publicKey).toMatchObject({ algorithm: 'RSA', bits: k.asymmetricKeyDetails!.modulusLength });
  if (type === 'ed25519') expect(f.publicKey.algorithm).toBe('Ed25519');
  if (type === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp256k1: 'secp256k1' }[
      k.asymmetricKeyDetails!.namedCurve!
    ];
    expect(f.publicKey.curve).toBe(curve);
  }
  // Names: OpenSSL prints one attribute a line; ours joins them, with RFC 4514 escaping.
  const unescape = (s: string) => s.replace(/\\(.)/g, '$1');
  expect(unescape(f.subject)).toBe(unescape(x.subject.split('\n').join(', ')));
  expect(unescape(f.issuer)).toBe(unescape(x.issuer.split('\n').join(', ')));
});

test('the Open Finance Brasil subject reads as its attributes', () => {
  const f = readCertificate(tpp.der);
  expect(f.subject).toMatch(
    /^C=BR, .*O=TPP Um\\, Ltda.*organizationIdentifier=.*CN=tpp1\.example\.com.*serialNumber=11222333000181.*businessCategory=.*jurisdictionC=BR.*UID=/,
  );
});

test('mutated certificates: whatever the engine parses, OpenSSL parses, and the facts agree', () => {
  const base = samples.map(([, der]) => der);
  fc.assert(
    fc.property(
      fc.nat(base.length - 1),
      fc.array(fc.record({ at: fc.nat(4000), value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
      (which, flips) => {
        const der = Buffer.from(base[which]!);
        for (const f of flips) der[f.at % der.length] = f.value;
        let parsed: ReturnType<typeof parseCertificate>;
        try {
          parsed = parseCertificate(der);
        } catch {
          return;
        }
        const x = new X509Certificate(der);
        expect(parsed.notAfter.getTime()).toBe(x.validToDate.getTime());
        expect(parsed.isCA).toBe(x.ca);
      },
    ),
    { numRuns: 3000 },
  );
});

test('structural errors are refused with a reason', () => {
  const der = Buffer.from(samples[0]![1]);
  expect(() => readCertificate(der.subarray(0, der.length - 1))).toThrow(/past its container|truncated/);
  expect(() => readCertificate(Buffer.concat([der, Buffer.from([0])]))).toThrow(
    /bytes after the certificate/,
  );
});
