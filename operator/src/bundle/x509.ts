// A strict reader of the X.509 certificate fields the engine needs (RFC 5280 §4.1), in plain
// JavaScript over the DER bytes: node:crypto's X509Certificate getters cost tens of microseconds
// per certificate, this walks the structure once. OpenSSL still decides what parses (see
// certificate.ts); a differential test holds the facts read here to OpenSSL's.

import {
  children,
  DerError,
  derViolations,
  hex,
  integerHex,
  leniently,
  nameKey,
  nameText,
  node,
  oidText,
  TAG,
  time,
  value,
  want,
  whole,
  type DerViolation,
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

/** An extension as written: its OID and whether it is marked critical. */
export interface ExtensionFacts {
  oid: string;
  critical: boolean;
}

/** authorityKeyIdentifier (RFC 5280 §4.2.1.1): what it says about the issuer. */
export interface AuthorityKeyFacts {
  keyId?: string;
  /** The first directoryName of authorityCertIssuer, as a nameKey. */
  issuerKey?: string;
  /** authorityCertSerialNumber, upper-case hex like serialNumber. */
  serial?: string;
}

/** A fault of nameConstraints (RFC 5280 §4.2.1.10) that some verifier trips over. */
export interface NameConstraintFault {
  kind: 'wildcard-dns' | 'ip-length' | 'ip-mask' | 'unsupported-form';
  permitted: boolean;
  what: string;
}

/** A place that is not DER, and what is wrong there. */
export interface DerFault {
  where: string;
  /** The extension it is in, when it is in one, and whether that is marked critical. */
  extension?: string;
  critical: boolean;
  kind: DerViolation | 'explicit-default';
}

export interface CertificateFacts {
  version: number;
  serialNumber: string;
  /** The serial's sign and size (RFC 5280 §4.1.2.2: positive, at most 20 octets). */
  serial: { negative: boolean; zero: boolean; octets: number };
  issuer: string;
  subject: string;
  /** RFC 5280 §7.1 comparison keys of the issuer and subject names. */
  issuerKey: string;
  subjectKey: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyFacts;
  isCA: boolean;
  /** False when a keyUsage extension leaves out cRLSign: OpenSSL then refuses CRLs it signed. */
  mayIssueCRLs: boolean;
  /** basicConstraints' cA, when the extension is present. */
  basicConstraintsCA?: boolean;
  /** The first byte of keyUsage's bits (digitalSignature … keyCertSign, cRLSign), when present. */
  keyUsage?: number;
  signatureOid: string;
  /** The TBS's own signature algorithm (OpenSSL takes a root for self-signed only when it fits the key). */
  innerSignatureOid: string;
  /** The outer AlgorithmIdentifier's parameters (RSASSA-PSS carries its hash and salt there). */
  signatureParameters?: Uint8Array;
  /** The TBS's AlgorithmIdentifier against the outer one (RFC 5280 §4.1.1.2: the same). */
  algorithms: 'same' | 'parameters-differ' | 'algorithms-differ';
  /** True when issuer and subject are the same name (RFC 5280 §7.1). */
  selfIssued: boolean;
  extensions: ExtensionFacts[];
  subjectKeyId?: string;
  authorityKey?: AuthorityKeyFacts;
  /** extendedKeyUsage purposes, when the extension is present. */
  extendedKeyUsage?: string[];
  nameConstraintFaults: NameConstraintFault[];
  /** GeneralName forms in nameConstraints other than dNSName, rfc822Name, iPAddress, URI. */
  nameConstraintForms: number[];
  derFaults: DerFault[];
  tbs: Uint8Array;
  signature: Uint8Array;
}

const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
};
/** The extensions the engine reads, which Go and Java also parse strictly. */
export const PARSED_EXTENSIONS = new Set(Object.values(EXT));

function authorityKey(d: Uint8Array, aki: Node): AuthorityKeyFacts {
  const facts: AuthorityKeyFacts = {};
  for (const f of children(d, want(aki, TAG.sequence, 'authorityKeyIdentifier'))) {
    if (f.tag === 0x80) facts.keyId = hex(value(d, f));
    else if (f.tag === 0x82) facts.serial = integerHex(value(d, f));
    else if (f.tag === 0xa1 && facts.issuerKey === undefined) {
      const dirName = children(d, f).find((g) => g.tag === 0xa4);
      if (dirName)
        facts.issuerKey = nameKey(d, want(children(d, dirName)[0], TAG.sequence, 'a directoryName'));
    }
  }
  return facts;
}

function validMask(mask: Uint8Array): boolean {
  let ended = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const on = (byte >> bit) & 1;
      if (on && ended) return false;
      if (!on) ended = true;
    }
  }
  return true;
}

function nameConstraints(d: Uint8Array, nc: Node, facts: CertificateFacts): void {
  for (const trees of children(d, want(nc, TAG.sequence, 'nameConstraints'))) {
    const permitted = trees.tag === 0xa0;
    for (const subtree of children(d, trees)) {
      const base = children(d, want(subtree, TAG.sequence, 'a GeneralSubtree'))[0];
      if (!base) throw new DerError('a GeneralSubtree without a base');
      const bytes = value(d, base);
      const form = base.tag & 0x1f;
      if (base.tag === 0x82) {
        const text = Buffer.from(bytes).toString('latin1');
        if (!/^\.?([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/i.test(text))
          facts.nameConstraintFaults.push({ kind: 'wildcard-dns', permitted, what: `dNSName "${text}"` });
      } else if (base.tag === 0x87) {
        if (bytes.length !== 8 && bytes.length !== 32)
          facts.nameConstraintFaults.push({
            kind: 'ip-length',
            permitted,
            what: `iPAddress of ${bytes.length} bytes`,
          });
        else if (!validMask(bytes.subarray(bytes.length / 2)))
          facts.nameConstraintFaults.push({
            kind: 'ip-mask',
            permitted,
            what: `iPAddress mask ${hex(bytes.subarray(bytes.length / 2))}`,
          });
      } else if (base.tag !== 0x81 && base.tag !== 0x86 && !facts.nameConstraintForms.includes(form)) {
        facts.nameConstraintForms.push(form);
      }
    }
  }
}

/** Reads one extension into the facts; DER faults inside it are recorded, not thrown. */
function extension(d: Uint8Array, ext: Node, facts: CertificateFacts, seen: Set<string>): void {
  const parts = children(d, ext);
  const oid = oidText(value(d, want(parts[0], TAG.oid, 'an extension id')));
  if (seen.has(oid)) throw new DerError(`extension ${oid} appears twice`);
  seen.add(oid);
  let critical = false;
  if (parts.length === 3) {
    const flag = want(parts[1], TAG.boolean, `the critical flag of extension ${oid}`);
    if (flag.end - flag.start !== 1) throw new DerError(`the critical flag of extension ${oid} is malformed`);
    const byte = d[flag.start]!;
    critical = byte !== 0;
    const where = `the critical flag of ${oid}`;
    if (byte === 0) facts.derFaults.push({ where, extension: oid, kind: 'explicit-default', critical });
    else if (byte !== 0xff) facts.derFaults.push({ where, extension: oid, kind: 'ber-boolean', critical });
  } else if (parts.length !== 2) throw new DerError(`extension ${oid} is malformed`);
  facts.extensions.push({ oid, critical });
  const content = want(parts[parts.length - 1], TAG.octetString, `extension ${oid}`);
  for (const kind of derViolations(d, content.start, content.end))
    facts.derFaults.push({ where: `the value of ${oid}`, extension: oid, kind, critical });
  if (!PARSED_EXTENSIONS.has(oid)) return;
  try {
    leniently(() => extensionValue(d, oid, node(d, content.start, content.end), facts));
  } catch (err) {
    // What OpenSSL cannot read either (an indefinite length, a truncated value) is left unread.
    if (!(err instanceof DerError)) throw err;
  }
}

function extensionValue(d: Uint8Array, oid: string, inner: Node, facts: CertificateFacts): void {
  if (oid === EXT.basicConstraints) {
    const first = children(d, want(inner, TAG.sequence, 'basicConstraints'))[0];
    facts.basicConstraintsCA = first?.tag === TAG.boolean && d[first.start] !== 0;
    if (first?.tag === TAG.boolean) {
      facts.isCA = d[first.start] !== 0;
      if (d[first.start] === 0)
        facts.derFaults.push({
          where: 'basicConstraints cA',
          extension: oid,
          kind: 'explicit-default',
          critical: false,
        });
    }
  } else if (oid === EXT.keyUsage) {
    const ku = want(inner, TAG.bitString, 'keyUsage');
    // keyCertSign (bit 5) and cRLSign (bit 6) are in the first content byte after the unused-bits count.
    facts.keyUsage = ku.end - ku.start >= 2 ? d[ku.start + 1]! : 0;
  } else if (oid === EXT.subjectKeyIdentifier) {
    facts.subjectKeyId = hex(value(d, want(inner, TAG.octetString, 'subjectKeyIdentifier')));
  } else if (oid === EXT.authorityKeyIdentifier) {
    facts.authorityKey = authorityKey(d, inner);
  } else if (oid === EXT.extKeyUsage) {
    facts.extendedKeyUsage = children(d, want(inner, TAG.sequence, 'extendedKeyUsage')).map((p) =>
      oidText(value(d, want(p, TAG.oid, 'a key purpose'))),
    );
  } else if (oid === EXT.nameConstraints) {
    nameConstraints(d, inner, facts);
  }
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
  const [outerOidNode, outerParams] = children(d, sigAlg);
  const algorithm = (n: Node) => oidText(value(d, want(children(d, n)[0], TAG.oid, 'a signature algorithm')));
  const outerOid = algorithm(sigAlg);
  want(outerOidNode, TAG.oid, 'a signature algorithm');
  const algorithms =
    algorithm(innerSig) !== outerOid
      ? 'algorithms-differ'
      : Buffer.compare(whole(d, innerSig), whole(d, sigAlg)) !== 0
        ? 'parameters-differ'
        : 'same';
  const [nb, na, ...more] = children(d, validity);
  if (!nb || !na || more.length) throw new DerError('bad validity');
  const serialBytes = value(d, serial);
  const issuerKey = nameKey(d, issuer);
  const subjectKey = nameKey(d, subject);
  const facts: CertificateFacts = {
    version,
    serialNumber: integerHex(serialBytes),
    serial: {
      negative: (serialBytes[0]! & 0x80) !== 0,
      zero: serialBytes.every((b) => b === 0),
      octets: serialBytes.length,
    },
    issuer: nameText(d, issuer),
    subject: nameText(d, subject),
    issuerKey,
    subjectKey,
    notBefore: time(d, nb, 'notBefore'),
    notAfter: time(d, na, 'notAfter'),
    publicKey: publicKey(d, spki),
    isCA: false,
    mayIssueCRLs: true,
    signatureOid: outerOid,
    innerSignatureOid: algorithm(innerSig),
    ...(outerParams ? { signatureParameters: whole(d, outerParams) } : {}),
    algorithms,
    selfIssued: issuerKey === subjectKey,
    extensions: [],
    nameConstraintFaults: [],
    nameConstraintForms: [],
    derFaults: [],
    tbs: whole(d, tbs),
    signature: d.subarray(sig.start + 1, sig.end),
  };
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag === 0x81 || t.tag === 0x82) continue; // issuer/subject unique IDs
    if (t.tag !== 0xa3 || version !== 3) throw new DerError('unexpected field in tbsCertificate');
    const exts = want(node(d, t.start, t.end), TAG.sequence, 'extensions');
    const seen = new Set<string>();
    for (const ext of children(d, exts)) extension(d, ext, facts, seen);
  }
  // As OpenSSL judges it: a CA by basicConstraints, and allowed to sign certificates by keyUsage.
  const ku = facts.keyUsage;
  if (ku !== undefined) {
    if ((ku & 0x04) === 0) facts.isCA = false;
    facts.mayIssueCRLs = (ku & 0x02) !== 0;
  }
  return facts;
}
