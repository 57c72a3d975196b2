// The per-bundle policy: safe defaults, and the judgement of one certificate against it.
import type { ParsedCertificate } from './certificate.ts';
import type { Finding } from './consumers.ts';
import type { CertificateStatus, Consumer, Policy, Problem, ProblemCode, Severity } from './types.ts';

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
  unusable: 'Reject',
  anchors: 'AllowIntermediates',
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

const CONSUMER_NAMES: Record<Consumer, string> = {
  nginx: 'nginx/OpenSSL',
  go: 'Go (Cloudentity ACP)',
  java: 'Java (PKCS#12 truststore)',
};

/** Codes that are errors whatever the consumers do: the engine's own refusals. */
const ALWAYS_ERRORS = new Set<ProblemCode>(['BadSignature', 'IntermediateCA']);

/** A finding of ./consumers.ts or ./issuers.ts as a problem, by the consumers published to. */
function findingProblem(f: Finding, published: readonly Consumer[], policy: Policy): [Severity, string] {
  const hit = f.breaks.filter((c) => published.includes(c));
  const names = f.breaks.map((c) => CONSUMER_NAMES[c]).join(', ');
  if (ALWAYS_ERRORS.has(f.code)) return ['error', f.what];
  if (f.advisory) return ['warning', f.what];
  if (f.breaks.length === 0) return ['warning', `${f.what}; no consumer here refuses it`];
  if (hit.length === 0)
    return [
      'warning',
      `${f.what}; unusable as a trust anchor by ${names}, which this bundle does not publish to`,
    ];
  const reject = policy.unusable === 'Reject';
  return [
    reject ? 'error' : 'warning',
    `${f.what}; unusable as a trust anchor by ${names}` +
      (reject ? ' (policy unusable: Reject)' : '; published anyway (policy unusable: Warn)'),
  ];
}

/**
 * Judges one parsed certificate; `sources` are the names it came from, for the messages;
 * `findings` are what ./consumers.ts and ./issuers.ts found, `published` the consumers the
 * bundle reaches.
 */
export function judge(
  cert: ParsedCertificate,
  sources: string[],
  policy: Policy,
  now: Date,
  findings: Finding[] = [],
  published: readonly Consumer[] = ['nginx', 'go', 'java'],
): Judgement {
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

  for (const f of findings) {
    const [severity, what] = findingProblem(f, published, policy);
    add(severity, f.code, what);
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
