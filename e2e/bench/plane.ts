// The control plane the benchmarks run on: the cluster of KUBECONFIG when set, else a plane of
// our own in .cluster/bench (etcd + kube-apiserver only) that is stopped at the end. Also reads
// the API server's request counters, so requests can be attributed to the operator under test.
import { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { isNotFound, KubeClient } from '../../operator/src/kube/client.ts';
import { readClusterEnv, runClusterScript } from '../harness/cluster.ts';
import { kubectl } from '../harness/kubectl.ts';
import { REPO_ROOT } from '../harness/tools.ts';

export const BENCH_CLUSTER_DIR = join(REPO_ROOT, '.cluster', 'bench');

/** `VERB resource[/subresource]` → requests served, from `apiserver_request_total`. */
export type RequestCounts = Map<string, number>;

/** Verbs that change something (a no-op server-side apply is still counted: it is a request). */
export const MUTATING_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

let savedKubectl: string | undefined;

export class BenchPlane {
  readonly kubeConfig: KubeConfig;
  readonly client: KubeClient;
  readonly owned: boolean;
  readonly kubeconfigPath: string;

  private constructor(kubeconfigPath: string, owned: boolean) {
    this.kubeconfigPath = kubeconfigPath;
    this.owned = owned;
    this.kubeConfig = new KubeConfig();
    this.kubeConfig.loadFromFile(kubeconfigPath);
    this.client = new KubeClient(this.kubeConfig);
  }

  /** `workloads`: also kube-controller-manager, kube-scheduler and a KWOK node, so rollouts complete. */
  static async open(options: { workloads?: boolean } = {}): Promise<BenchPlane> {
    if (process.env.KUBECONFIG) {
      console.log(`bench: using the cluster of KUBECONFIG=${process.env.KUBECONFIG}`);
      return new BenchPlane(process.env.KUBECONFIG, false);
    }
    const what = options.workloads
      ? 'etcd, kube-apiserver, controllers, a KWOK node'
      : 'etcd + kube-apiserver';
    console.log(`bench: starting a control plane (${what}) in ${BENCH_CLUSTER_DIR}`);
    const t0 = Date.now();
    await runClusterScript(BENCH_CLUSTER_DIR, options.workloads ? ['up'] : ['up', '--no-workloads']);
    const env = readClusterEnv(BENCH_CLUSTER_DIR);
    if (!env.KUBECONFIG) throw new Error(`${BENCH_CLUSTER_DIR}/env names no KUBECONFIG`);
    // Children (operators, kubectl) inherit them, until close().
    savedKubectl = process.env.KUBECTL;
    process.env.KUBECONFIG = env.KUBECONFIG;
    if (env.KUBECTL) process.env.KUBECTL = env.KUBECTL;
    console.log(`bench: control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return new BenchPlane(env.KUBECONFIG, true);
  }

  async close(): Promise<void> {
    this.client.close();
    if (!this.owned) return;
    // The next benchmark starts a plane of its own.
    delete process.env.KUBECONFIG;
    if (savedKubectl === undefined) delete process.env.KUBECTL;
    else process.env.KUBECTL = savedKubectl;
    if (process.env.BENCH_KEEP_CLUSTER !== '1') await runClusterScript(BENCH_CLUSTER_DIR, ['down']);
  }

  /** Pids of the plane's own processes (none when the cluster is KUBECONFIG's). */
  componentPids(): Record<string, number> {
    if (!this.owned) return {};
    const pids: Record<string, number> = {};
    for (const name of ['kube-apiserver', 'etcd']) {
      try {
        pids[name] = Number(readFileSync(join(BENCH_CLUSTER_DIR, 'run', `${name}.pid`), 'utf8').trim());
      } catch {
        /* not running */
      }
    }
    return pids;
  }

  /** The server's own request counters; undefined when /metrics is not readable (no permission). */
  async requestCounts(): Promise<RequestCounts | undefined> {
    let text: string;
    try {
      text = await this.rawGet('/metrics');
    } catch {
      return undefined;
    }
    const counts: RequestCounts = new Map();
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const),
      );
      if (!labels.resource) continue;
      const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return counts;
  }

  private async rawGet(path: string): Promise<string> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster');
    const opts: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const url = new URL(path, cluster.server);
    return new Promise((resolve, reject) => {
      https
        .get(url, opts, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks).toString('utf8'))
              : reject(new Error(`GET ${path}: ${res.statusCode}`)),
          );
        })
        .on('error', reject);
    });
  }

  async ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.client.apply(
      `/api/v1/namespaces/${name}`,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } },
      'trustbundle-bench',
    );
  }

  /** Deletes what matches, ignoring a collection that does not exist (yet). */
  async deleteCollection(path: string, labelSelector?: string): Promise<void> {
    try {
      await this.client.request('DELETE', path, { query: { labelSelector } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async applyManifests(pathOrDir: string): Promise<void> {
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', pathOrDir]);
  }

  async waitCrdEstablished(name: string): Promise<void> {
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${name}`]);
  }
}

/** What happened between two snapshots, restricted to some resources. */
export function requestDelta(
  before: RequestCounts | undefined,
  after: RequestCounts | undefined,
  resources: readonly string[],
): Map<string, number> | undefined {
  if (!before || !after) return undefined;
  const delta = new Map<string, number>();
  for (const [key, n] of after) {
    const resource = key.slice(key.indexOf(' ') + 1).split('/')[0]!;
    if (!resources.includes(resource)) continue;
    const d = n - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return delta;
}

export function sumRequests(delta: Map<string, number> | undefined, verbs?: ReadonlySet<string>): number {
  if (!delta) return NaN;
  let total = 0;
  for (const [key, n] of delta) {
    const verb = key.slice(0, key.indexOf(' '));
    if (verb === 'WATCH') continue; // counted when a watch ends, so not comparable between runs
    if (!verbs || verbs.has(verb)) total += n;
  }
  return total;
}
