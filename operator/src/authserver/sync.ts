// Brings one authorization server's trusted CAs to the bundle, comparing certificate sets (SHA-256
// of the DER), so that order, line endings and comments the server keeps cause no write.
// `diffTrust` is the same comparison without the write (a dry run).
import { parseCertificate, sha256Fingerprint } from '../bundle/certificate.ts';
import { readPem } from '../bundle/pem.ts';
import { AuthorizationServerError } from './errors.ts';
import type { AuthorizationServer, CertificateRef, TrustDiff, TrustRead, TrustSyncResult } from './types.ts';

function references(pem: string, name: string): { refs: CertificateRef[]; problem?: string } {
  const parsed = readPem({ name, content: pem });
  if (parsed.problems.length > 0)
    return { refs: [], problem: parsed.problems.map((p) => p.message).join('; ') };
  const refs = new Map<string, CertificateRef>();
  for (const c of parsed.certificates) {
    const sha256 = sha256Fingerprint(c.der);
    if (refs.has(sha256)) continue;
    let subject: string;
    try {
      subject = parseCertificate(c.der, sha256).subject;
    } catch {
      subject = '(not a parsable certificate)';
    }
    refs.set(sha256, { subject, sha256 });
  }
  return { refs: [...refs.values()] };
}

function bundleCertificates(server: AuthorizationServer, bundlePem: string): CertificateRef[] {
  const { refs, problem } = references(bundlePem, 'bundle');
  const refuse = (why: string): AuthorizationServerError =>
    new AuthorizationServerError(`${server.description}: not pushing the bundle: ${why}`, {
      kind: 'config',
      retriable: false,
    });
  if (problem !== undefined) throw refuse(problem);
  // An empty trust list makes ACP fall back to the system roots: it would widen trust, not narrow it.
  if (refs.length === 0) throw refuse('it holds no certificate');
  return refs;
}

async function read(server: AuthorizationServer, signal?: AbortSignal): Promise<TrustRead> {
  if (server.readServer) return server.readServer(signal);
  return { rootCAs: await server.readTrust(signal), redacted: [] };
}

/**
 * What `syncTrust` would do, without writing: the certificates the server's `root_cas` would gain
 * and lose (by subject and SHA-256), and whether the write would be refused as redacted.
 */
export async function diffTrust(
  server: AuthorizationServer,
  bundlePem: string,
  signal?: AbortSignal,
): Promise<TrustDiff> {
  return compare(server, bundleCertificates(server, bundlePem), signal);
}

/** The server's `root_cas`, read now, against the bundle's certificates. */
async function compare(
  server: AuthorizationServer,
  certificates: CertificateRef[],
  signal?: AbortSignal,
): Promise<TrustDiff> {
  const current = await read(server, signal);
  let held: CertificateRef[] = [];
  let previousUnreadable: string | undefined;
  if (current.rootCAs.trim() !== '') {
    const found = references(current.rootCAs, 'root_cas');
    previousUnreadable = found.problem;
    held = found.refs;
  }
  const wanted = new Set(certificates.map((c) => c.sha256));
  const have = new Set(held.map((c) => c.sha256));
  const added = certificates.filter((c) => !have.has(c.sha256));
  const removed = held.filter((c) => !wanted.has(c.sha256));
  const inSync = previousUnreadable === undefined && added.length === 0 && removed.length === 0;
  return {
    inSync,
    added,
    removed,
    certificates,
    ...(previousUnreadable === undefined ? {} : { previousUnreadable }),
    ...(!inSync && current.redacted.length > 0 ? { redacted: current.redacted } : {}),
  };
}

export async function syncTrust(
  server: AuthorizationServer,
  bundlePem: string,
  signal?: AbortSignal,
): Promise<TrustSyncResult> {
  const diff = await diffTrust(server, bundlePem, signal);
  const fingerprints = (refs: CertificateRef[]): string[] => refs.map((c) => c.sha256);
  const result = {
    certificates: fingerprints(diff.certificates),
    added: fingerprints(diff.added),
    removed: fingerprints(diff.removed),
  };
  if (diff.inSync) return { changed: false, ...result };
  // The write reads again and applies the redaction guard to that read.
  await server.writeTrust(bundlePem, signal);
  // A 2xx is not what the status promises: the server is read back, and must hold the bundle.
  const after = await compare(server, diff.certificates, signal);
  if (!after.inSync) {
    const why =
      after.previousUnreadable ??
      `${after.added.length} certificate(s) of the bundle missing, ${after.removed.length} not in it`;
    throw new AuthorizationServerError(
      `${server.description}: root_cas were written, but reading them back does not show the bundle (${why})`,
      { kind: 'protocol', retriable: true },
    );
  }
  return {
    changed: true,
    ...result,
    ...(diff.previousUnreadable ? { previousUnreadable: diff.previousUnreadable } : {}),
  };
}
