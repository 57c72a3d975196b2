// A strict reader of the X.509 certificate fields the engine needs (RFC 5280 §4.1), in plain
// JavaScript over the DER bytes: node:crypto's X509Certificate getters cost tens of microseconds
// per certificate, this walks the structure once. OpenSSL still decides what parses (see
// certificate.ts); a differential test holds the facts read here to OpenSSL's.

import {
  children,
  DerError,
  integerHex,
  nameText,
  node,
  oidText,
  TAG,
  time,
  value,
  want,
  whole,
  type Node,
} from './asn1.ts';

export { DerError };

const CURVES: Record<string, { name: string; bits: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', bits: 256 },
  '1.3.132.0.34': { name: 'P-384', bits: 384 },
  '1.3.132.0.35': { name: 'P-521', bits: 521 },
};
const CURVE_NAMES: Record<string, string> = {
  '1.3.132.0.10': 'secp256k1',
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
};

export interface PublicKeyFacts {
  algorithm: 'RSA' | 'RSA-PSS' | 'EC' | 'Ed25519' | 'Ed448' | string;
  bits: number;
  curve?: string;
  /** The whole SubjectPublicKeyInfo, for node:crypto when a signature must be checked. */
  spki: Uint8Array;
}

function integerBits(d: Uint8Array, t: Node): number {
  let i = t.start;
  while (i < t.end - 1 && d[i] === 0) i++;
  const first = d[i]!;
  return (t.end - i - 1) * 8 + (first === 0 ? 0 : 32 - Math.clz32(first));
}

function publicKey(d: Uint8Array, spki: Node): PublicKeyFacts {
  const [alg, bits] = children(d, spki);
  if (!alg || alg.tag !== 0x30 || !bits || bits.tag !== 0x03) throw new DerError('bad SubjectPublicKeyInfo');
  const [oidT, params] = children(d, alg);
  const oid = oidText(value(d, want(oidT, TAG.oid, 'the public key algorithm')));
  const raw = whole(d, spki);
  if (bits.end - bits.start < 2 || d[bits.start] !== 0) throw new DerError('bad public key BIT STRING');
  if (oid === '1.2.840.113549.1.1.1' || oid === '1.2.840.113549.1.1.10') {
    const key = want(node(d, bits.start + 1, bits.end), TAG.sequence, 'RSAPublicKey');
    const n = want(node(d, key.start, key.end), TAG.integer, 'RSA modulus');
    return { algorithm: oid.endsWith('.1') ? 'RSA' : 'RSA-PSS', bits: integerBits(d, n), spki: raw };
  }
  if (oid === '1.2.840.10045.2.1') {
    const curveOid = params && params.tag === TAG.oid ? oidText(value(d, params)) : 'explicit parameters';
    const known = CURVES[curveOid];
    return {
      algorithm: 'EC',
      bits: known?.bits ?? 0,
      curve: known?.name ?? CURVE_NAMES[curveOid] ?? curveOid,
      spki: raw,
    };
  }
  if (oid === '1.3.101.112') return { algorithm: 'Ed25519', bits: 256, spki: raw };
  if (oid === '1.3.101.113') return { algorithm: 'Ed448', bits: 456, spki: raw };
  if (oid === '1.2.840.10040.4.1') return { algorithm: 'DSA', bits: 0, spki: raw };
  return { algorithm: `OID ${oid}`, bits: 0, spki: raw };
}

export interface CertificateFacts {
  serialNumber: string;
  issuer: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyFacts;
  isCA: boolean;
  /** False when a keyUsage extension leaves out cRLSign: OpenSSL then refuses CRLs it signed. */
  mayIssueCRLs: boolean;
  signatureOid: string;
  /** True when issuer and subject are the same bytes. */
  selfIssued: boolean;
  tbs: Uint8Array;
  signature: Uint8Array;
}

/** Reads a DER certificate; throws DerError when it is not one. */
export function readCertificate(d: Uint8Array): CertificateFacts {
  const cert = want(node(d, 0, d.length), TAG.sequence, 'Certificate');
  if (cert.end !== d.length) throw new DerError('bytes after the certificate');
  const [tbs, sigAlg, sig, ...extra] = children(d, cert);
  if (
    !tbs ||
    tbs.tag !== 0x30 ||
    !sigAlg ||
    sigAlg.tag !== 0x30 ||
    !sig ||
    sig.tag !== 0x03 ||
    extra.length
  ) {
    throw new DerError('Certificate is not tbsCertificate, signatureAlgorithm, signatureValue');
  }
  const f = children(d, tbs);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === TAG.explicit0) {
    const v = want(node(d, f[0].start, f[0].end), TAG.integer, 'version');
    if (v.end - v.start !== 1) throw new DerError('bad version');
    version = d[v.start]! + 1;
    if (version < 2 || version > 3) throw new DerError(`unknown version ${version}`);
    i = 1;
  }
  const serial = f[i++];
  const innerSig = f[i++];
  const issuer = f[i++];
  const validity = f[i++];
  const subject = f[i++];
  const spki = f[i++];
  if (!serial || serial.tag !== 0x02 || serial.end === serial.start) throw new DerError('bad serialNumber');
  if (
    !innerSig ||
    innerSig.tag !== 0x30 ||
    !issuer ||
    !validity ||
    validity.tag !== 0x30 ||
    !subject ||
    !spki ||
    spki.tag !== 0x30
  ) {
    throw new DerError('tbsCertificate is missing fields');
  }
  const algorithm = (n: Node) => oidText(value(d, want(children(d, n)[0], TAG.oid, 'a signature algorithm')));
  const outerOid = algorithm(sigAlg);
  if (algorithm(innerSig) !== outerOid) throw new DerError('signature algorithms disagree');
  const [nb, na, ...more] = children(d, validity);
  if (!nb || !na || more.length) throw new DerError('bad validity');
  let basicCA = false;
  let keyCertSign: boolean | undefined;
  let cRLSign: boolean | undefined;
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag === 0x81 || t.tag === 0x82) continue; // issuer/subject unique IDs
    if (t.tag !== 0xa3 || version !== 3) throw new DerError('unexpected field in tbsCertificate');
    const exts = want(node(d, t.start, t.end), TAG.sequence, 'extensions');
    const seen = new Set<string>();
    for (const ext of children(d, exts)) {
      const parts = children(d, ext);
      const oid = oidText(value(d, want(parts[0], TAG.oid, 'an extension id')));
      if (seen.has(oid)) throw new DerError(`extension ${oid} appears twice`);
      seen.add(oid);
      const content = want(parts[parts.length - 1], TAG.octetString, `extension ${oid}`);
      if (oid === '2.5.29.19') {
        const bc = want(node(d, content.start, content.end), TAG.sequence, 'basicConstraints');
        const first = children(d, bc)[0];
        if (first?.tag === 0x01) basicCA = d[first.start] !== 0;
      } else if (oid === '2.5.29.15') {
        const ku = want(node(d, content.start, content.end), TAG.bitString, 'keyUsage');
        // Bit 5 (keyCertSign) is in the first content byte after the unused-bits count.
        keyCertSign = ku.end - ku.start >= 2 && (d[ku.start + 1]! & 0x04) !== 0;
        // Bit 6 (cRLSign), the next one.
        cRLSign = ku.end - ku.start >= 2 && (d[ku.start + 1]! & 0x02) !== 0;
      }
    }
  }
  // As OpenSSL judges it: a CA by basicConstraints, and allowed to sign certificates by keyUsage.
  const isCA = basicCA && keyCertSign !== false;
  const issuerBytes = whole(d, issuer);
  const subjectBytes = whole(d, subject);
  return {
    serialNumber: integerHex(value(d, serial)),
    issuer: nameText(d, issuer),
    subject: nameText(d, subject),
    notBefore: time(d, nb, 'notBefore'),
    notAfter: time(d, na, 'notAfter'),
    publicKey: publicKey(d, spki),
    isCA,
    mayIssueCRLs: cRLSign !== false,
    signatureOid: outerOid,
    selfIssued: Buffer.compare(issuerBytes, subjectBytes) === 0,
    tbs: whole(d, tbs),
    signature: d.subarray(sig.start + 1, sig.end),
  };
}
