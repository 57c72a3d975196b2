// Output formats of a bundle besides its PEM (`bundle.pem`, the `ca.crt` ingress-nginx reads):
// the base64 Helm value Axway's chart takes, and a PKCS#12 truststore for Java gateways.
import { createHmac, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { Bundle, CertificateInfo } from './types.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export type OutputFormat = 'pem' | 'helm-value' | 'pkcs12';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['pem', 'helm-value', 'pkcs12'];

/** The value of `apitraffic.ingressMtlsRootCa`: base64 of the PEM, on one line (`base64 -w0`). */
export function toHelmValue(bundle: Bundle): string {
  return Buffer.from(bundle.pem, 'utf8').toString('base64');
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  // Java marks PKCS#12 trusted-certificate entries with this attribute; without it keytool
  // and TrustManagerFactory ignore a certificate that has no private key beside it.
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
  sha256: '2.16.840.1.101.3.4.2.1',
};

const bin = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');
const seq = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const oid = (dotted: string): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
const octets = (bytes: string): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const integer = (n: number): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit = (tag: number, inner: Asn1): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, [inner]);

// forge encodes a BMPSTRING's JavaScript string as UTF-16BE itself.
const bmpString = (text: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, text);

/** A readable, unique alias: the subject's CN (or whole subject) and the fingerprint's first bytes. */
export function truststoreAlias(cert: CertificateInfo): string {
  const cn = /(?:^|, )CN=([^,]+)/.exec(cert.subject)?.[1] ?? cert.subject;
  const label = cn
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
  const fp = cert.fingerprintSHA256.replace(/:/g, '').slice(0, 12).toLowerCase();
  return `${label || 'ca'}-${fp}`;
}

function certBag(cert: CertificateInfo): Asn1 {
  return seq([
    oid(OID.certBag),
    explicit(0, seq([oid(OID.x509Certificate), explicit(0, octets(bin(cert.der)))])),
    set([
      seq([oid(OID.friendlyName), set([bmpString(truststoreAlias(cert))])]),
      seq([oid(OID.oracleTrustedKeyUsage), set([oid(OID.anyExtendedKeyUsage)])]),
    ]),
  ]);
}

/** Throws unless Java can open a truststore protected by `password`. */
export function checkPkcs12Password(password: string): void {
  if (password.length === 0) throw new Error('a PKCS#12 truststore needs a non-empty password');
  if (!/^[\x20-\x7e]+$/.test(password)) {
    // keytool fails with "getSecretKey failed: Password is not ASCII" on anything else.
    throw new Error(
      'the PKCS#12 password must be printable ASCII: Java cannot open a truststore with any other',
    );
  }
}

export interface Pkcs12Options {
  /** PKCS#12 KDF iterations for the MAC key. */
  iterations?: number;
}

/**
 * A PKCS#12 truststore: one trusted-certificate entry per CA, integrity-protected by an
 * HMAC-SHA-256 MAC keyed from the password. The certificates are public, so they are not
 * encrypted (as `keytool -importcert` into PKCS12 with certProtectionAlgorithm NONE does).
 */
export function toPkcs12(bundle: Bundle, password: string, options: Pkcs12Options = {}): Buffer {
  checkPkcs12Password(password);
  const iterations = options.iterations ?? 10_000;
  const safeContents = asn1.toDer(seq(bundle.certificates.map(certBag))).getBytes();
  const authSafe = asn1.toDer(seq([seq([oid(OID.data), explicit(0, octets(safeContents))])])).getBytes();

  const salt = randomBytes(16);
  const macKey = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(bin(salt)),
    3, // the PKCS#12 KDF's "MAC key" diversifier (RFC 7292 B.3)
    iterations,
    32,
    forge.md.sha256.create(),
  );
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary'))
    .update(Buffer.from(authSafe, 'binary'))
    .digest();

  const pfx = seq([
    integer(3),
    seq([oid(OID.data), explicit(0, octets(authSafe))]),
    seq([
      seq([
        seq([oid(OID.sha256), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
        octets(bin(mac)),
      ]),
      octets(bin(salt)),
      integer(iterations),
    ]),
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}
