// X.509 v3 certificates: node-forge's ASN.1 model builds the TBSCertificate, node:crypto signs it.
import { createHash, randomBytes, sign, type KeyObject, type X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { toPem } from '../bundle/build.ts';
import { signatureScheme, type HashName } from './keys.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue's content, before it is wrapped in an OCTET STRING. */
  value: Asn1;
}

export interface CertificateTemplate {
  /** Positive serial number bytes; 16 random bytes when omitted. */
  serialNumber?: Buffer;
  subject: Asn1;
  issuer: Asn1;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  extensions: Extension[];
}

export interface Certificate {
  der: Buffer;
  pem: string;
}

export const OIDS = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export const toBinary = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');
export const fromBinary = (bytes: string): Buffer => Buffer.from(bytes, 'binary');
export const derOf = (node: Asn1): Buffer => fromBinary(asn1.toDer(node).getBytes());
/** Parses DER without trying to read BIT STRING contents as nested ASN.1. */
export const parseDer = (der: Uint8Array): Asn1 =>
  (asn1.fromDer as unknown as (b: string, o: object) => Asn1)(toBinary(der), {
    strict: true,
    decodeBitStrings: false,
  });

export const seq = (items: Asn1[]): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
export const prim = (type: forge.asn1.Type, bytes: string): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, type, false, bytes);
const oid = (dotted: string): Asn1 => prim(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
const octets = (bytes: Buffer): Asn1 => prim(asn1.Type.OCTETSTRING, toBinary(bytes));

export function time(date: Date): Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const year = date.getUTCFullYear();
  return year < 2050 && year >= 1950
    ? prim(asn1.Type.UTCTIME, asn1.dateToUtcTime(date))
    : prim(asn1.Type.GENERALIZEDTIME, asn1.dateToGeneralizedTime(date));
}

export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  return serial;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = parseDer(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = (spki.value as Asn1[])[1]!.value as string;
  return createHash('sha1').update(fromBinary(bits).subarray(1)).digest();
}

export const basicConstraints = (ca: boolean, pathLength?: number): Extension => {
  const items: Asn1[] = [];
  if (ca) items.push(prim(asn1.Type.BOOLEAN, '\xff'));
  if (ca && pathLength !== undefined)
    items.push(prim(asn1.Type.INTEGER, asn1.integerToDer(pathLength).getBytes()));
  return { oid: OIDS.basicConstraints, critical: true, value: seq(items) };
};

const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export function keyUsage(usages: KeyUsage[]): Extension {
  let byte = 0;
  for (const usage of usages) byte |= 0x80 >> KEY_USAGE_BITS.indexOf(usage);
  let unused = 0;
  while (unused < 7 && !(byte & (1 << unused))) unused++;
  const bits = byte === 0 ? '\x00' : String.fromCharCode(unused, byte);
  return { oid: OIDS.keyUsage, critical: true, value: prim(asn1.Type.BITSTRING, bits) };
}

export const extKeyUsage = (purposes: string[]): Extension => ({
  oid: OIDS.extKeyUsage,
  critical: false,
  value: seq(purposes.map(oid)),
});

export const subjectKeyIdentifier = (id: Buffer): Extension => ({
  oid: OIDS.subjectKeyIdentifier,
  critical: false,
  value: octets(id),
});

export const authorityKeyIdentifier = (id: Buffer): Extension => ({
  oid: OIDS.authorityKeyIdentifier,
  critical: false,
  value: seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, toBinary(id))]),
});

export const dnsSubjectAltName = (names: string[]): Extension => ({
  oid: OIDS.subjectAltName,
  critical: false,
  value: seq(names.map((n) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, n))),
});

/** Extensions, wrapped in the EXPLICIT context tag a TBSCertificate ([3]) or TBSCertList ([0]) gives them. */
export function extensionsAsn1(extensions: Extension[], tag: 0 | 3): Asn1 {
  const items = extensions.map((e) =>
    seq([
      oid(e.oid),
      ...(e.critical ? [prim(asn1.Type.BOOLEAN, '\xff')] : []),
      prim(asn1.Type.OCTETSTRING, asn1.toDer(e.value).getBytes()),
    ]),
  );
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, [seq(items)]);
}

/**
 * Signs a to-be-signed structure (TBSCertificate, TBSCertList): `tbsFields` gets the signature
 * AlgorithmIdentifier, which goes both inside the TBS and after it.
 */
export function signStructure(
  tbsFields: (algorithm: Asn1) => Asn1[],
  issuerKey: KeyObject,
  hash?: HashName,
): Buffer {
  const scheme = signatureScheme(issuerKey, hash);
  const algorithm = seq([oid(scheme.oid), ...(scheme.nullParameters ? [prim(asn1.Type.NULL, '')] : [])]);
  const tbs = seq(tbsFields(algorithm));
  const signature = sign(scheme.digest, derOf(tbs), issuerKey);
  return derOf(seq([tbs, algorithm, prim(asn1.Type.BITSTRING, '\x00' + toBinary(signature))]));
}

/** Builds the TBSCertificate from the template and signs it with the issuer's key. */
export function signCertificate(
  template: CertificateTemplate,
  issuerKey: KeyObject,
  hash?: HashName,
): Certificate {
  const der = signStructure(
    (algorithm) => [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [prim(asn1.Type.INTEGER, '\x02')]),
      prim(asn1.Type.INTEGER, toBinary(template.serialNumber ?? randomSerial())),
      algorithm,
      template.issuer,
      seq([time(template.notBefore), time(template.notAfter)]),
      template.subject,
      parseDer(template.publicKey.export({ type: 'spki', format: 'der' })),
      ...(template.extensions.length > 0 ? [extensionsAsn1(template.extensions, 3)] : []),
    ],
    issuerKey,
    hash,
  );
  return { der, pem: toPem(der) };
}

/** What an issuer needs from its own certificate: its exact subject Name and key identifier. */
export interface IssuerFacts {
  subject: Asn1;
  keyIdentifier: Buffer;
}

export function issuerFacts(certificate: X509Certificate): IssuerFacts {
  const tbs = (parseDer(certificate.raw).value as Asn1[])[0]!.value as Asn1[];
  const hasVersion = tbs[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC && tbs[0]!.type === 0;
  const subject = tbs[hasVersion ? 5 : 4]!;
  let ski: Buffer | undefined;
  const extensions = tbs.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  for (const ext of ((extensions?.value as Asn1[] | undefined)?.[0]?.value as Asn1[] | undefined) ?? []) {
    const parts = ext.value as Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== OIDS.subjectKeyIdentifier) continue;
    const inner = parseDer(fromBinary(parts[parts.length - 1]!.value as string));
    ski = fromBinary(inner.value as string);
  }
  return { subject, keyIdentifier: ski ?? keyIdentifier(certificate.publicKey) };
}
