// Starts and stops the local control plane (hack/cluster.sh) for the e2e run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_SCRIPT, REPO_ROOT } from './tools.ts';

/** Where the e2e run keeps its own plane, apart from `make cluster-up`'s .cluster/. */
export const E2E_CLUSTER_DIR = join(REPO_ROOT, '.cluster', 'e2e');

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
