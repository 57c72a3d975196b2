// Uses the cluster of KUBECONFIG as is; without one, starts a local control plane for this run
// in .cluster/e2e/run-<pid> (building the binaries first on a fresh machine, which can take
// 20 minutes).
import type * as Cluster from './cluster.ts';

// jest loads this file through a require hook whose output imports './cluster.js' (ts-jest
// rewrites relative .ts imports), which Node cannot resolve outside jest's own resolver; a
// computed specifier is left alone and Node loads the .ts module itself.
const loadCluster = (): Promise<typeof Cluster> => import(new URL('./cluster.ts', import.meta.url).href);

export default async function globalSetup(): Promise<void> {
  if (process.env.KUBECONFIG) {
    console.log(`\ne2e: using the cluster of KUBECONFIG=${process.env.KUBECONFIG}`);
    return;
  }
  const { STARTED_ENV, readClusterEnv, reapStaleRuns, runClusterDir, runClusterScript } = await loadCluster();
  await reapStaleRuns();
  const clusterDir = runClusterDir();
  console.log(`\ne2e: starting a local control plane in ${clusterDir}`);
  const t0 = Date.now();
  await runClusterScript(clusterDir, ['up']);
  process.env[STARTED_ENV] = clusterDir;
  const env = readClusterEnv(clusterDir);
  if (!env.KUBECONFIG) throw new Error(`${clusterDir}/env names no KUBECONFIG`);
  process.env.KUBECONFIG = env.KUBECONFIG;
  if (env.KUBECTL) process.env.KUBECTL = env.KUBECTL;
  console.log(
    `e2e: control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (KUBECONFIG=${env.KUBECONFIG})`,
  );
}
