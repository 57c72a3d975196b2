// Starts and stops the local control plane (hack/cluster.sh) for the e2e run.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_SCRIPT, REPO_ROOT } from './tools.ts';

/**
 * Each e2e run keeps its own plane in .cluster/e2e/run-<pid of the jest process>, apart from
 * `make cluster-up`'s .cluster/ and from other runs in the same checkout (several people or
 * terminals running the suites at once must not stop each other's plane).
 */
export const E2E_CLUSTERS_DIR = join(REPO_ROOT, '.cluster', 'e2e');
export const runClusterDir = (pid = process.pid): string => join(E2E_CLUSTERS_DIR, `run-${pid}`);
/** A run dir with this file was kept on purpose (E2E_KEEP_CLUSTER=1) and is not reaped. */
const KEPT_MARK = 'kept';

/** Set when this run started the plane, so the teardown stops only what the setup started. */
export const STARTED_ENV = 'TRUSTBUNDLE_E2E_STARTED_CLUSTER';

/** Runs hack/cluster.sh with its progress streamed to this process's stderr. */
export function runClusterScript(clusterDir: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLUSTER_SCRIPT, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CLUSTER_DIR: clusterDir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `hack/cluster.sh ${args.join(' ')} failed (${signal ?? `exit ${code}`}); logs in ${clusterDir}/logs`,
          ),
        );
    });
  });
}

/** The `export NAME='value'` lines of $CLUSTER_DIR/env. */
export function readClusterEnv(clusterDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(clusterDir, 'env'), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)='([^']*)'$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Marks a run's plane as kept, so later runs leave it alone. */
export function markKept(clusterDir: string): void {
  writeFileSync(
    join(clusterDir, KEPT_MARK),
    'stop with: hack/cluster.sh down (CLUSTER_DIR=this directory)\n',
  );
}

/** Stops and removes the planes of earlier runs whose jest process is gone (a crash or Ctrl-C). */
export async function reapStaleRuns(): Promise<void> {
  if (!existsSync(E2E_CLUSTERS_DIR)) return;
  for (const entry of readdirSync(E2E_CLUSTERS_DIR)) {
    const pid = /^run-(\d+)$/.exec(entry)?.[1];
    const dir = join(E2E_CLUSTERS_DIR, entry);
    if (!pid || existsSync(join(dir, KEPT_MARK)) || processExists(Number(pid))) continue;
    console.log(`e2e: stopping the leftover plane of an earlier run in ${dir}`);
    await runClusterScript(dir, ['down']);
    rmSync(dir, { recursive: true, force: true });
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
