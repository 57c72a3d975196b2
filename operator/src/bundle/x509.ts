// A strict reader of the X.509 certificate fields the engine needs (RFC 5280 §4.1), in plain
// JavaScript over the DER bytes: node:crypto's X509Certificate getters cost tens of microseconds
// per certificate, this walks the structure once. OpenSSL still decides what parses (see
// certificate.ts); a differential test holds the facts read here to OpenSSL's.

export class DerError extends Error {}

interface Tlv {
  tag: number;
  start: number;
  end: number;
  /** Offset of the tag byte, for slicing the whole element (the TBS bytes that are signed). */
  head: number;
}

function tlv(d: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new DerError('truncated element');
  const tag = d[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used in certificates');
  let len = d[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 3 || start + n > limit) throw new DerError('length out of range');
    if (d[start] === 0) throw new DerError('non-minimal length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + d[start + i]!;
    if (len < 0x80) throw new DerError('non-minimal length');
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError('element runs past its parent');
  return { tag, start, end, head: at };
}

function expect(d: Uint8Array, at: number, limit: number, tag: number, what: string): Tlv {
  const t = tlv(d, at, limit);
  if (t.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

function children(d: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const c = tlv(d, at, parent.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

export function oidString(d: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end === t.start) throw new DerError('bad OBJECT IDENTIFIER');
  let out = '';
  let value = 0;
  let first = true;
  for (let i = t.start; i < t.end; i++) {
    const b = d[i]!;
    if (value === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (first) {
        const a = value < 80 ? Math.floor(value / 40) : 2;
        out = `${a}.${value - a * 40}`;
        first = false;
      } else out += `.${value}`;
      value = 0;
    }
  }
  if (d[t.end - 1]! & 0x80) throw new DerError('truncated OID');
  return out;
}

const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

function stringValue(d: Uint8Array, t: Tlv): string {
  const bytes = d.subarray(t.start, t.end);
  switch (t.tag) {
    case 0x0c: // UTF8String
      return utf8.decode(bytes);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (as Latin-1, as OpenSSL does)
    case 0x1a: // VisibleString
      return latin1.decode(bytes);
    case 0x1e: {
      // BMPString: UTF-16BE
      if (bytes.length % 2) throw new DerError('odd-length BMPString');
      let s = '';
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      return s;
    }
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (bytes.length % 4) throw new DerError('bad UniversalString');
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        s += String.fromCodePoint(
          ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0,
        );
      }
      return s;
    }
    case 0x12: // NumericString
      return latin1.decode(bytes);
    default:
      throw new DerError(`name attribute value of ASN.1 type 0x${t.tag.toString(16)} is not a string`);
  }
}

/** RFC 4514 escaping of an attribute value. */
function escapeValue(v: string): string {
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  // eslint-disable-next-line no-control-regex -- RFC 4514 escapes control characters
  return s.replace(/[\x00-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `C=BR, O=Bank, CN=Root`: attributes in DER order, multi-valued RDNs joined with `+`. */
function nameString(d: Uint8Array, name: Tlv): string {
  if (name.tag !== 0x30) throw new DerError('Name is not a SEQUENCE');
  const rdns: string[] = [];
  for (const rdn of children(d, name)) {
    if (rdn.tag !== 0x31) throw new DerError('RDN is not a SET');
    const parts: string[] = [];
    for (const atv of children(d, rdn)) {
      if (atv.tag !== 0x30) throw new DerError('AttributeTypeAndValue is not a SEQUENCE');
      const [type, value, ...rest] = children(d, atv);
      if (!type || !value || rest.length) throw new DerError('bad AttributeTypeAndValue');
      const oid = oidString(d, type);
      parts.push(`${NAME_ATTRIBUTES[oid] ?? oid}=${escapeValue(stringValue(d, value))}`);
    }
    if (parts.length === 0) throw new DerError('empty RDN');
    rdns.push(parts.join('+'));
  }
  return rdns.join(', ');
}

function digits(d: Uint8Array, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = d[i]! - 0x30;
    if (c < 0 || c > 9) throw new DerError('bad time');
    v = v * 10 + c;
  }
  return v;
}

function time(d: Uint8Array, t: Tlv): Date {
  const len = t.end - t.start;
  let year: number;
  let at = t.start;
  if (t.tag === 0x17) {
    if (len !== 13) throw new DerError('UTCTime must be YYMMDDHHMMSSZ');
    const yy = digits(d, at, 2);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    at += 2;
  } else if (t.tag === 0x18) {
    if (len !== 15) throw new DerError('GeneralizedTime must be YYYYMMDDHHMMSSZ');
    year = digits(d, at, 4);
    at += 4;
  } else throw new DerError('validity is not a time');
  if (d[t.end - 1] !== 0x5a) throw new DerError('time must end with Z');
  const month = digits(d, at, 2);
  const day = digits(d, at + 2, 2);
  const hour = digits(d, at + 4, 2);
  const minute = digits(d, at + 6, 2);
  const second = digits(d, at + 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new DerError('time out of range');
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) throw new DerError('no such day');
  return new Date(ms);
}

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

function integerBits(d: Uint8Array, t: Tlv): number {
  let i = t.start;
  while (i < t.end - 1 && d[i] === 0) i++;
  const first = d[i]!;
  return (t.end - i - 1) * 8 + (first === 0 ? 0 : 32 - Math.clz32(first));
}

function publicKey(d: Uint8Array, spki: Tlv): PublicKeyFacts {
  const [alg, bits] = children(d, spki);
  if (!alg || alg.tag !== 0x30 || !bits || bits.tag !== 0x03) throw new DerError('bad SubjectPublicKeyInfo');
  const [oidT, params] = children(d, alg);
  const oid = oidString(d, oidT!);
  const raw = d.subarray(spki.head, spki.end);
  if (bits.end - bits.start < 2 || d[bits.start] !== 0) throw new DerError('bad public key BIT STRING');
  if (oid === '1.2.840.113549.1.1.1' || oid === '1.2.840.113549.1.1.10') {
    const key = expect(d, bits.start + 1, bits.end, 0x30, 'RSAPublicKey');
    const n = expect(d, key.start, key.end, 0x02, 'RSA modulus');
    return { algorithm: oid.endsWith('.1') ? 'RSA' : 'RSA-PSS', bits: integerBits(d, n), spki: raw };
  }
  if (oid === '1.2.840.10045.2.1') {
    const curveOid = params && params.tag === 0x06 ? oidString(d, params) : 'explicit parameters';
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
  signatureOid: string;
  /** True when issuer and subject are the same bytes. */
  selfIssued: boolean;
  tbs: Uint8Array;
  signature: Uint8Array;
}

/** Reads a DER certificate; throws DerError when it is not one. */
export function readCertificate(d: Uint8Array): CertificateFacts {
  const cert = expect(d, 0, d.length, 0x30, 'Certificate');
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
  if (f[0]?.tag === 0xa0) {
    const v = expect(d, f[0].start, f[0].end, 0x02, 'version');
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
  const outerOid = oidString(d, children(d, sigAlg)[0]!);
  if (oidString(d, children(d, innerSig)[0]!) !== outerOid)
    throw new DerError('signature algorithms disagree');
  const [nb, na, ...more] = children(d, validity);
  if (!nb || !na || more.length) throw new DerError('bad validity');
  let basicCA = false;
  let keyCertSign: boolean | undefined;
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag === 0x81 || t.tag === 0x82) continue; // issuer/subject unique IDs
    if (t.tag !== 0xa3 || version !== 3) throw new DerError('unexpected field in tbsCertificate');
    const exts = expect(d, t.start, t.end, 0x30, 'extensions');
    const seen = new Set<string>();
    for (const ext of children(d, exts)) {
      const parts = children(d, ext);
      const oid = oidString(d, parts[0]!);
      if (seen.has(oid)) throw new DerError(`extension ${oid} appears twice`);
      seen.add(oid);
      const value = parts[parts.length - 1]!;
      if (value.tag !== 0x04) throw new DerError('extension value is not an OCTET STRING');
      if (oid === '2.5.29.19') {
        const bc = expect(d, value.start, value.end, 0x30, 'basicConstraints');
        const first = children(d, bc)[0];
        if (first?.tag === 0x01) basicCA = d[first.start] !== 0;
      } else if (oid === '2.5.29.15') {
        const ku = expect(d, value.start, value.end, 0x03, 'keyUsage');
        // Bit 5 (keyCertSign) is in the first content byte after the unused-bits count.
        keyCertSign = ku.end - ku.start >= 2 && (d[ku.start + 1]! & 0x04) !== 0;
      }
    }
  }
  // As OpenSSL judges it: a CA by basicConstraints, and allowed to sign certificates by keyUsage.
  const isCA = basicCA && keyCertSign !== false;
  let serialHex = Buffer.from(d.subarray(serial.start, serial.end)).toString('hex').toUpperCase();
  if (serialHex.length > 2 && serialHex.startsWith('00')) serialHex = serialHex.slice(2);
  const issuerBytes = d.subarray(issuer.head, issuer.end);
  const subjectBytes = d.subarray(subject.head, subject.end);
  return {
    serialNumber: serialHex,
    issuer: nameString(d, issuer),
    subject: nameString(d, subject),
    notBefore: time(d, nb),
    notAfter: time(d, na),
    publicKey: publicKey(d, spki),
    isCA,
    signatureOid: outerOid,
    selfIssued: Buffer.compare(issuerBytes, subjectBytes) === 0,
    tbs: d.subarray(tbs.head, tbs.end),
    signature: d.subarray(sig.start + 1, sig.end),
  };
}
