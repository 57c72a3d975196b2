// One DER certificate → the facts the policy and the report need: OpenSSL (node:crypto's
// X509Certificate) decides whether it parses, ./x509.ts reads the facts, node:crypto checks the
// self-signature of self-issued certificates (./signature.ts). Results are cached by the DER's SHA-256, so
// a resync re-parses nothing.
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { signatureAlgorithmByOid, type SignatureAlgorithm } from './der.ts';
import { retainable } from './retain.ts';
import { signedBy } from './signature.ts';
import type { CertificateInfo } from './types.ts';
import { readCertificate, type CertificateFacts } from './x509.ts';

/** A certificate's facts, before the policy gives it a status and dedupe lists its sources. */
export type ParsedCertificate = Omit<
  CertificateInfo,
  'signatureAlgorithm' | 'sources' | 'status' | 'consumers'
> & {
  signature: SignatureAlgorithm;
  /** For a self-issued certificate: does its signature verify with its own key? */
  selfSignatureValid?: boolean;
  /** What the consumer rules and the issuer checks read (./consumers.ts, ./issuers.ts). */
  facts: CertificateFacts;
};

/**
 * A certificate's public key, to check what it signed; undefined when node:crypto cannot load it.
 * Made on demand: cached certificates do not each hold a key object.
 */
export function publicKeyOf(c: { facts: CertificateFacts }): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.from(c.facts.publicKey.spki), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
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

/** Throws when the bytes are not a well-formed certificate. */
export function parseCertificate(der: Buffer, fingerprintSHA256 = sha256Fingerprint(der)): ParsedCertificate {
  // OpenSSL (what nginx and the JDK's peers use) is the judge of what parses; its getters are
  // slow, so the facts come from our own reader of the same bytes.
  const x509 = new X509Certificate(der);
  const facts = readCertificate(der);
  const key = facts.publicKey;
  // Self-issued by RFC 5280 name matching (case and string type aside), then really verified.
  const publicKey = facts.selfIssued ? publicKeyOf({ facts }) : undefined;
  const valid = !facts.selfIssued ? undefined : publicKey ? signedBy(facts, publicKey) : false;
  return {
    subject: facts.subject,
    issuer: facts.issuer,
    serialNumber: facts.serialNumber,
    fingerprintSHA256,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    keyAlgorithm: key.algorithm,
    keySize: key.bits,
    ...(key.curve ? { curve: key.curve } : {}),
    signature: signatureAlgorithmByOid(facts.signatureOid),
    // OpenSSL's own answer: cA in basicConstraints and keyCertSign allowed. (nginx also anchors on
    // a v1 root; whether each consumer can use it is ./consumers.ts's question.)
    isCA: x509.ca,
    mayIssueCRLs: facts.mayIssueCRLs,
    selfSigned: facts.selfIssued && valid === true,
    ...(valid !== undefined ? { selfSignatureValid: valid } : {}),
    der,
    facts,
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
        outcome = { ok: true, cert: parseCertificate(retainable(der), fp) };
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
