// The per-bundle policy: safe defaults, and the judgement of one certificate against it.
import type { ParsedCertificate } from './certificate.ts';
import type { CertificateStatus, Policy, Problem, ProblemCode, Severity } from './types.ts';

export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  requireCA: true,
  expired: 'Drop',
  notYetValid: 'Reject',
  expiryWarningDays: 30,
  minRSABits: 2048,
  minECBits: 256,
  allowSHA1Signatures: false,
  maxCertificates: 1000,
  maxInputBytes: 4 * 1024 * 1024,
  crl: 'PublishIfComplete',
});

export function resolvePolicy(policy?: Partial<Policy>): Policy {
  const resolved: Policy = { ...DEFAULT_POLICY };
  for (const [k, v] of Object.entries(policy ?? {})) {
    if (v !== undefined && v !== null) (resolved as unknown as Record<string, unknown>)[k] = v;
  }
  return resolved;
}

export interface Judgement {
  status: CertificateStatus;
  problems: Problem[];
}

const DAY_MS = 86_400_000;

/** Judges one parsed certificate; `sources` are the names it came from, for the messages. */
export function judge(cert: ParsedCertificate, sources: string[], policy: Policy, now: Date): Judgement {
  const problems: Problem[] = [];
  let status: CertificateStatus = 'Accepted';
  const ref = { subject: cert.subject, fingerprintSHA256: cert.fingerprintSHA256 };
  const who = `certificate "${cert.subject}" (SHA-256 ${cert.fingerprintSHA256}) from ${sources.join(', ')}`;
  const add = (severity: Severity, code: ProblemCode, what: string): void => {
    problems.push({ severity, code, source: sources[0]!, certificate: ref, message: `${who}: ${what}` });
    if (severity === 'error') status = 'Rejected';
  };
  const byAction = (action: Policy['expired'], code: ProblemCode, what: string): void => {
    if (action === 'Reject') add('error', code, `${what} (policy: Reject)`);
    else if (action === 'Drop') {
      add('warning', code, `${what}; left out of the bundle (policy: Drop)`);
      if (status === 'Accepted') status = 'Dropped';
    } else add('warning', code, `${what}; kept (policy: Allow)`);
  };

  if (cert.selfSignatureValid === false) {
    add(
      'error',
      'BadSignature',
      'self-signed, but its signature does not verify: the certificate is corrupted or forged',
    );
  }
  if (policy.requireCA && !cert.isCA) {
    add(
      'error',
      'NotCA',
      'not a CA certificate (basicConstraints cA is not TRUE); only CAs belong in a trust bundle',
    );
  }
  if (cert.signature.digest === 'broken') {
    add('error', 'WeakSignature', `signed with ${cert.signature.name}, which is broken`);
  } else if (cert.signature.digest === 'unknown') {
    add('error', 'WeakSignature', `signature algorithm ${cert.signature.name} is not recognised`);
  } else if (cert.signature.digest === 'sha1' && !policy.allowSHA1Signatures) {
    add(
      'error',
      'WeakSignature',
      `signed with ${cert.signature.name} (SHA-1 is refused unless allowSHA1Signatures)`,
    );
  }
  if (cert.keyAlgorithm === 'RSA' || cert.keyAlgorithm === 'RSA-PSS') {
    if (cert.keySize < policy.minRSABits) {
      add('error', 'WeakKey', `RSA key of ${cert.keySize} bits is below the minimum of ${policy.minRSABits}`);
    }
  } else if (cert.keyAlgorithm === 'EC') {
    if (cert.keySize === 0)
      add('error', 'UnsupportedKey', `EC curve ${cert.curve} is not supported (P-256, P-384, P-521)`);
    else if (cert.keySize < policy.minECBits) {
      add('error', 'WeakKey', `EC curve ${cert.curve} is below the minimum of ${policy.minECBits} bits`);
    }
  } else if (cert.keyAlgorithm !== 'Ed25519' && cert.keyAlgorithm !== 'Ed448') {
    add('error', 'UnsupportedKey', `${cert.keyAlgorithm} keys are not supported`);
  }
  const t = now.getTime();
  if (cert.notAfter.getTime() <= t) {
    byAction(policy.expired, 'Expired', `expired on ${cert.notAfter.toISOString()}`);
  } else if (cert.notBefore.getTime() > t) {
    byAction(policy.notYetValid, 'NotYetValid', `not valid before ${cert.notBefore.toISOString()}`);
  } else if (cert.notAfter.getTime() - t < policy.expiryWarningDays * DAY_MS) {
    const days = Math.floor((cert.notAfter.getTime() - t) / DAY_MS);
    add('warning', 'ExpiresSoon', `expires on ${cert.notAfter.toISOString()} (in ${days} days)`);
  }
  return { status, problems };
}
