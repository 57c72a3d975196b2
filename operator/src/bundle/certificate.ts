// One DER certificate → the facts the policy and the report need. Parsing is the engine's
// dominant cost, so results are cached by the DER's SHA-256: a resync re-parses nothing.
import { createHash, X509Certificate } from 'node:crypto';
import { signatureAlgorithm, type SignatureAlgorithm } from './der.ts';

export interface ParsedCertificate {
  subject: string;
  issuer: string;
  serialNumber: string;
  fingerprintSHA256: string;
  notBefore: Date;
  notAfter: Date;
  keyAlgorithm: string;
  keySize: number;
  curve?: string;
  signature: SignatureAlgorithm;
  isCA: boolean;
  selfSigned: boolean;
  /** For a self-issued certificate: does its signature verify with its own key? */
  selfSignatureValid?: boolean;
  der: Buffer;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

const EDDSA_BITS: Record<string, number> = { ed25519: 256, ed448: 456 };

/** One-line name in DER order, as `openssl x509 -subject` prints it: `C=BR, O=Bank, CN=Root`. */
function oneLineName(name: string): string {
  return name
    .split('\n')
    .filter((part) => part.length > 0)
    .join(', ');
}

function colonHex(digest: Buffer): string {
  const hex = digest.toString('hex').toUpperCase();
  let out = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) out += ':' + hex.slice(i, i + 2);
  return out;
}

export function sha256Fingerprint(der: Uint8Array): string {
  return colonHex(createHash('sha256').update(der).digest());
}

/** Throws when node:crypto cannot parse the certificate. */
export function parseCertificate(der: Buffer, fingerprintSHA256 = sha256Fingerprint(der)): ParsedCertificate {
  const x509 = new X509Certificate(der);
  const key = x509.publicKey;
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  let keyAlgorithm: string;
  let keySize = 0;
  let curve: string | undefined;
  if (type === 'rsa' || type === 'rsa-pss') {
    keyAlgorithm = type === 'rsa' ? 'RSA' : 'RSA-PSS';
    keySize = details.modulusLength ?? 0;
  } else if (type === 'ec') {
    keyAlgorithm = 'EC';
    const known = details.namedCurve ? CURVES[details.namedCurve] : undefined;
    curve = known?.name ?? details.namedCurve ?? 'unknown';
    keySize = known?.bits ?? 0;
  } else if (type in EDDSA_BITS) {
    keyAlgorithm = type === 'ed25519' ? 'Ed25519' : 'Ed448';
    keySize = EDDSA_BITS[type]!;
  } else {
    keyAlgorithm = type.toUpperCase();
  }
  const selfIssued = x509.subject === x509.issuer;
  let selfSignatureValid: boolean | undefined;
  if (selfIssued) {
    try {
      selfSignatureValid = x509.verify(key);
    } catch {
      selfSignatureValid = false;
    }
  }
  return {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    serialNumber: x509.serialNumber.toUpperCase(),
    fingerprintSHA256,
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    keyAlgorithm,
    keySize,
    ...(curve ? { curve } : {}),
    signature: signatureAlgorithm(der),
    isCA: x509.ca,
    selfSigned: selfIssued && selfSignatureValid === true,
    ...(selfSignatureValid !== undefined ? { selfSignatureValid } : {}),
    der,
  };
}

export type ParseOutcome = { ok: true; cert: ParsedCertificate } | { ok: false; reason: string };

/**
 * A bounded cache of parse outcomes keyed by DER fingerprint. Entries unused for a whole
 * generation (see `sweep`) are dropped, so the cache tracks what the live bundles reference.
 */
export class CertificateCache {
  private current = new Map<string, ParseOutcome>();
  private previous = new Map<string, ParseOutcome>();
  private readonly maxEntries: number;

  constructor(maxEntries = 200_000) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  parse(der: Buffer): ParseOutcome {
    const fp = sha256Fingerprint(der);
    let outcome = this.current.get(fp);
    if (outcome) return outcome;
    outcome = this.previous.get(fp);
    if (!outcome) {
      try {
        outcome = { ok: true, cert: parseCertificate(der, fp) };
      } catch (err) {
        outcome = { ok: false, reason: err instanceof Error ? err.message : String(err) };
      }
    }
    this.current.set(fp, outcome);
    if (this.current.size >= this.maxEntries) this.sweep();
    return outcome;
  }

  /** Starts a new generation: what was not used since the last sweep is forgotten. */
  sweep(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}
