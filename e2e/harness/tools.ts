// Where the repository, its hack/ scripts and the cached control-plane binaries are.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLUSTER_SCRIPT = join(REPO_ROOT, 'hack', 'cluster.sh');

/** The pinned versions of hack/versions.env (KEY=value lines). */
export function pinnedVersions(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'hack', 'versions.env'), 'utf8');
  const versions: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)/.exec(line);
    if (m) versions[m[1]!] = m[2]!;
  }
  return versions;
}

/** Same rule as hack/lib.sh. */
export function cacheRoot(): string {
  if (process.env.TRUSTBUNDLE_CACHE) return process.env.TRUSTBUNDLE_CACHE;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'trustbundle-operator');
}

/** KUBECTL from the environment, else the cached build of the pinned version, else `kubectl` on PATH. */
export function kubectlPath(): string {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const version = pinnedVersions().K8S_VERSION;
  const cached = version ? join(cacheRoot(), `k8s-${version}`, 'kubectl') : '';
  return cached && existsSync(cached) ? cached : 'kubectl';
}
