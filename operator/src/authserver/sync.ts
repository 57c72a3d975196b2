// Brings one authorization server's trusted CAs to the bundle, comparing certificate sets (SHA-256
// of the DER), so that order, line endings and comments the server keeps cause no write.
import { sha256Fingerprint } from '../bundle/certificate.ts';
import { readPem } from '../bundle/pem.ts';
import { AuthorizationServerError } from './errors.ts';
import type { AuthorizationServer, TrustSyncResult } from './types.ts';

function bundleFingerprints(server: AuthorizationServer, bundlePem: string): string[] {
  const parsed = readPem({ name: 'bundle', content: bundlePem });
  const refuse = (why: string): AuthorizationServerError =>
    new AuthorizationServerError(`${server.description}: not pushing the bundle: ${why}`, {
      kind: 'config',
      retriable: false,
    });
  if (parsed.problems.length > 0) throw refuse(parsed.problems.map((p) => p.message).join('; '));
  // An empty trust list makes ACP fall back to the system roots: it would widen trust, not narrow it.
  if (parsed.certificates.length === 0) throw refuse('it holds no certificate');
  return [...new Set(parsed.certificates.map((c) => sha256Fingerprint(c.der)))];
}

export async function syncTrust(
  server: AuthorizationServer,
  bundlePem: string,
  signal?: AbortSignal,
): Promise<TrustSyncResult> {
  const certificates = bundleFingerprints(server, bundlePem);
  const current = await server.readTrust(signal);
  let held: string[] = [];
  let previousUnreadable: string | undefined;
  if (current.trim() !== '') {
    const parsed = readPem({ name: 'root_cas', content: current });
    if (parsed.problems.length > 0) previousUnreadable = parsed.problems.map((p) => p.message).join('; ');
    else held = [...new Set(parsed.certificates.map((c) => sha256Fingerprint(c.der)))];
  }
  const wanted = new Set(certificates);
  const have = new Set(held);
  const added = certificates.filter((f) => !have.has(f));
  const removed = held.filter((f) => !wanted.has(f));
  if (previousUnreadable === undefined && added.length === 0 && removed.length === 0) {
    return { changed: false, certificates, added, removed };
  }
  await server.writeTrust(bundlePem, signal);
  return {
    changed: true,
    certificates,
    added,
    removed,
    ...(previousUnreadable ? { previousUnreadable } : {}),
  };
}
