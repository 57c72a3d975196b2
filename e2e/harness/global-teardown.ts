// Stops the local control plane if the global setup started it (E2E_KEEP_CLUSTER=1 keeps it).
// Its logs stay in the run directory until the next run's setup removes it.
import type * as Cluster from './cluster.ts';

// Loaded like global-setup.ts: see the note there.
const loadCluster = (): Promise<typeof Cluster> => import(new URL('./cluster.ts', import.meta.url).href);

export default async function globalTeardown(): Promise<void> {
  const { STARTED_ENV, markKept, runClusterScript } = await loadCluster();
  const clusterDir = process.env[STARTED_ENV];
  if (!clusterDir) return;
  if (process.env.E2E_KEEP_CLUSTER === '1') {
    markKept(clusterDir);
    console.log(
      `\ne2e: keeping the control plane; KUBECONFIG=${process.env.KUBECONFIG}; stop it with CLUSTER_DIR=${clusterDir} hack/cluster.sh down`,
    );
    return;
  }
  await runClusterScript(clusterDir, ['down']);
  delete process.env[STARTED_ENV];
}
