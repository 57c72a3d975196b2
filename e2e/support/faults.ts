// Tools of the fault suites (e2e/faults/): the local control plane's components stopped and
// started, the history of a stored object read back from etcd (what was really written, even
// while the API server was down), a recording proxy that tells which operator replica sent each
// request, rollouts counted per bundle hash, and a seeded random source so a run can be replayed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { AuthorizationServerSpec } from '../../operator/src/api/authorization-server.ts';
import {
  API_VERSION,
  type AuthorizationServerReference,
  type TrustBundleSpec,
} from '../../operator/src/api/v1alpha1.ts';
import { buildBundle } from '../../operator/src/bundle/index.ts';
import { readClusterEnv, STARTED_ENV } from '../harness/cluster.ts';
import { clients, kubeConfig, kubectlApply } from '../harness/kube.ts';
import { CLUSTER_SCRIPT, kubectlPath, REPO_ROOT } from '../harness/tools.ts';
import type { AcpContractServer } from './acp-contract-server.ts';

export const BUNDLE_HASH = 'mtls.openbanking.dev/bundle-hash';
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- declaring objects (server-side apply: the whole intent, one round trip, no kubectl process) ----

const FIELD_MANAGER = 'e2e-faults';
const applyPatch = () => setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export async function declareBundle(name: string, spec: TrustBundleSpec): Promise<void> {
  await clients().custom.patchClusterCustomObject(
    {
      group: 'mtls.openbanking.dev',
      version: 'v1alpha1',
      plural: 'trustbundles',
      name,
      body: { apiVersion: 'mtls.openbanking.dev/v1alpha1', kind: 'TrustBundle', metadata: { name }, spec },
      fieldManager: FIELD_MANAGER,
      force: true,
    },
    applyPatch(),
  );
}

/** Deletes TrustBundles through the API (many kubectl processes at once trip over their stdin). */
export async function removeBundles(names: string[]): Promise<void> {
  await Promise.all(
    names.map((name) =>
      clients()
        .custom.deleteClusterCustomObject({
          group: 'mtls.openbanking.dev',
          version: 'v1alpha1',
          plural: 'trustbundles',
          name,
        })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 404) throw err;
        }),
    ),
  );
}

export async function declareSecret(
  namespace: string,
  name: string,
  data: Record<string, string | Uint8Array>,
  { type, labels }: { type?: string; labels?: Record<string, string> } = {},
): Promise<void> {
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  await clients().core.patchNamespacedSecret(
    {
      namespace,
      name,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, ...(labels ? { labels } : {}) },
        ...(type ? { type } : {}),
        data: encoded,
      },
      fieldManager: FIELD_MANAGER,
      force: true,
    },
    applyPatch(),
  );
}

/**
 * An AuthorizationServer for a contract server, as an administrator declares it, with the Secrets it
 * names in the operator's trust namespace: `<prefix>-admin` (the client credentials) and, unless
 * `ca` is null, `<prefix>-ca` (the CA to verify ACP with). `allowedBundles` are the TrustBundles
 * that may publish to it. Returns the bundle's reference to it.
 */
export async function contractServerTarget(
  acp: AcpContractServer,
  trustNamespace: string,
  allowedBundles: string[],
  {
    prefix = 'acp',
    ca = acp.caPem,
    insecure = false,
    mode,
  }: { prefix?: string; ca?: string | null; insecure?: boolean; mode?: 'Enforce' | 'DryRun' } = {},
): Promise<AuthorizationServerReference> {
  await declareSecret(trustNamespace, `${prefix}-admin`, {
    client_id: acp.clientId,
    client_secret: acp.clientSecret,
  });
  if (ca) await declareSecret(trustNamespace, `${prefix}-ca`, { 'ca.crt': ca });
  const name = `${prefix}-${trustNamespace}`;
  await declareAuthorizationServer(
    name,
    contractServerSpec(acp, allowedBundles, { prefix, ca: ca !== null, insecure, ...(mode ? { mode } : {}) }),
  );
  return { name };
}

/**
 * The AuthorizationServer spec of a contract server, its Secrets `<prefix>-admin` and `<prefix>-ca`,
 * that the TrustBundles `allowedBundles` may publish to.
 */
export function contractServerSpec(
  acp: AcpContractServer,
  allowedBundles: string[],
  {
    prefix = 'acp',
    ca = true,
    insecure = false,
    mode,
  }: { prefix?: string; ca?: boolean; insecure?: boolean; mode?: 'Enforce' | 'DryRun' } = {},
): AuthorizationServerSpec {
  return {
    allowedBundles,
    ...(mode ? { mode } : {}),
    cloudentity: {
      url: acp.url,
      tenant: acp.tenant,
      server: acp.servers[0]!,
      credentialsSecret: { name: `${prefix}-admin` },
      ...(ca ? { caSecret: { name: `${prefix}-ca` } } : {}),
      ...(insecure ? { insecureSkipTLSVerify: true } : {}),
    },
  };
}

/** Creates or replaces an AuthorizationServer (cluster-scoped), as an administrator would. */
export async function declareAuthorizationServer(name: string, spec: AuthorizationServerSpec): Promise<void> {
  await kubectlApply(
    yaml.dump({ apiVersion: API_VERSION, kind: 'AuthorizationServer', metadata: { name }, spec }),
  );
}

/** kubectl with both outputs and the exit code, for commands that partly fail (a batch of objects). */
export function kubectlAll(
  args: string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(), args, { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

// ---- the local control plane ------------------------------------------------------------------

/** The directory of the hack/cluster.sh plane the suites run against. */
export function planeDir(): string {
  const kubeconfig = process.env.KUBECONFIG;
  for (const dir of [process.env[STARTED_ENV], process.env.CLUSTER_DIR, kubeconfig && dirname(kubeconfig)]) {
    if (dir && existsSync(join(dir, 'run', 'kube-apiserver.pid')) && existsSync(join(dir, 'env'))) return dir;
  }
  throw new Error(
    'the fault suites need a local control plane of hack/cluster.sh (they restart its components and ' +
      'read etcd): run them without KUBECONFIG, or with KUBECONFIG=$CLUSTER_DIR/kubeconfig of `hack/cluster.sh up`',
  );
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

/** `hack/cluster.sh stop|start|restart COMPONENT [--kill]`; resolves with the time it took. */
export function plane(
  action: 'stop' | 'start' | 'restart',
  component: Component,
  { kill = false }: { kill?: boolean } = {},
): Promise<number> {
  const args = [action, component, ...(kill && action !== 'start' ? ['--kill'] : [])];
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(CLUSTER_SCRIPT, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CLUSTER_DIR: planeDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(Date.now() - t0)
        : reject(new Error(`hack/cluster.sh ${args.join(' ')} failed (exit ${code}):\n${out}`)),
    );
  });
}

// ---- etcd: what was really stored ---------------------------------------------------------------

export interface StoredVersion {
  /** etcd revision of the write. */
  revision: number;
  deleted: boolean;
  /** The object as the API server stored it (Kubernetes protobuf). */
  value: Buffer;
}

const etcdURL = (): string => {
  const url = readClusterEnv(planeDir()).CLUSTER_ETCD;
  if (!url) throw new Error(`${planeDir()}/env names no CLUSTER_ETCD`);
  return url;
};

function etcdPost(path: string, body: unknown, signal?: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, etcdURL()), { method: 'POST', signal }, resolve);
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function etcdJSON<T>(path: string, body: unknown): Promise<T> {
  const res = await etcdPost(path, body);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The current revision of the whole store: versions written after it are "new". */
export async function etcdRevision(): Promise<number> {
  const r = await etcdJSON<{ header: { revision: string } }>('/v3/kv/range', { key: b64('/registry/') });
  return Number(r.header.revision);
}

export const secretKey = (namespace: string, name: string): string =>
  `/registry/secrets/${namespace}/${name}`;

/**
 * Streams every version of `key` (with `prefix`, of every key under it) written after
 * `fromRevision`, in revision order, to `onVersion`, until the returned stop() is called.
 * `onEnd` is told when the stream ends by itself.
 */
export async function watchEtcd(
  key: string,
  fromRevision: number,
  onVersion: (v: StoredVersion & { key: string }) => void,
  { prefix = false, onEnd }: { prefix?: boolean; onEnd?: () => void } = {},
): Promise<() => void> {
  const abort = new AbortController();
  const rangeEnd = (): string => {
    const bytes = Buffer.from(key);
    bytes[bytes.length - 1]!++;
    return bytes.toString('base64');
  };
  const res = await etcdPost(
    '/v3/watch',
    {
      create_request: {
        key: b64(key),
        ...(prefix ? { range_end: rangeEnd() } : {}),
        start_revision: String(fromRevision + 1),
      },
    },
    abort.signal,
  );
  let buffered = '';
  res.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as {
        result?: { events?: { type?: string; kv: { key: string; mod_revision: string; value?: string } }[] };
      };
      for (const e of msg.result?.events ?? []) {
        onVersion({
          key: Buffer.from(e.kv.key, 'base64').toString('utf8'),
          revision: Number(e.kv.mod_revision),
          deleted: e.type === 'DELETE',
          value: Buffer.from(e.kv.value ?? '', 'base64'),
        });
      }
    }
  });
  res.on('end', () => onEnd?.());
  res.on('error', () => onEnd?.());
  return () => abort.abort();
}

/**
 * Every version of `key` written after `fromRevision`, in order, replayed by an etcd watch from
 * that revision (the API server compacts history older than 5 minutes).
 */
export async function etcdHistory(key: string, fromRevision: number): Promise<StoredVersion[]> {
  const now = await etcdJSON<{ kvs?: { mod_revision: string }[] }>('/v3/kv/range', { key: b64(key) });
  const last = now.kvs?.[0] ? Number(now.kvs[0].mod_revision) : undefined;
  if (last !== undefined && last <= fromRevision) return [];
  const versions: StoredVersion[] = [];
  let idle: NodeJS.Timeout | undefined;
  let stop = (): void => undefined;
  await new Promise<void>((resolve) => {
    const arm = (ms: number) => {
      clearTimeout(idle);
      idle = setTimeout(resolve, ms);
    };
    arm(last === undefined ? 1500 : 10_000);
    void watchEtcd(
      key,
      fromRevision,
      ({ revision, deleted, value }) => {
        versions.push({ revision, deleted, value });
        if (last !== undefined && revision >= last) resolve();
        if (last === undefined) arm(500);
      },
      { onEnd: resolve },
    ).then((s) => (stop = s), resolve);
  });
  clearTimeout(idle);
  stop();
  return versions;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g;

/** The PEM certificates inside a stored Secret or ConfigMap value (one PEM-valued key). */
export const storedPem = (value: Buffer): string =>
  (value.toString('latin1').match(CERT_BLOCK) ?? []).join('');
/** The bundle-hash annotation of a stored object (the only `sha256:` value it carries). */
export const storedHash = (value: Buffer): string | undefined =>
  /sha256:[0-9a-f]{64}/.exec(value.toString('latin1'))?.[0];
export const pemHash = (pem: string): string => 'sha256:' + createHash('sha256').update(pem).digest('hex');

/** The hash the operator must publish for these source texts (default policy). */
export function expectedHash(sources: string[]): string {
  const r = buildBundle(sources.map((content, i) => ({ name: `s${i}`, content })));
  if (!r.bundle) throw new Error(`test sources do not build: ${r.problems.map((p) => p.message).join('; ')}`);
  return r.bundle.hash;
}

export interface WriteCheck {
  writes: number;
  /** Writes whose hash was never the bundle's, or older than one written before them. */
  stale: string[];
  /** Writes whose content does not match their hash annotation (a half-written bundle). */
  torn: string[];
  finalHash?: string;
}

/**
 * Checks a target's stored history against the sequence of hashes its bundle had (oldest first):
 * every write carries one of them, never one older than a write before it, and content and hash
 * annotation always agree.
 */
export function checkWrites(history: StoredVersion[], declared: string[]): WriteCheck {
  const out: WriteCheck = { writes: 0, stale: [], torn: [] };
  let highest = -1;
  for (const v of history) {
    if (v.deleted) continue;
    out.writes++;
    const hash = storedHash(v.value);
    const pem = storedPem(v.value);
    if (!hash) {
      out.torn.push(`revision ${v.revision}: no bundle-hash annotation`);
      continue;
    }
    if (pemHash(pem) !== hash) out.torn.push(`revision ${v.revision}: content does not match ${hash}`);
    const index = declared.lastIndexOf(hash);
    if (index < 0) out.stale.push(`revision ${v.revision}: ${hash} was never the bundle's hash`);
    else if (index < highest)
      out.stale.push(`revision ${v.revision}: ${hash} (state ${index}) after state ${highest} was written`);
    highest = Math.max(highest, index);
    out.finalHash = hash;
  }
  return out;
}

// ---- rollouts -------------------------------------------------------------------------------------

/**
 * Secrets before rollout, from etcd's history: for each bundle hash a workload's pod template came
 * to carry, a version of the Secret holding that hash was stored at a lower revision. Returns the
 * hashes checked and the violations.
 */
export function secretsBeforeTemplates(
  secret: StoredVersion[],
  workload: StoredVersion[],
): { checked: number; violations: string[] } {
  const firstHeld = new Map<string, number>();
  for (const v of secret) {
    const hash = v.deleted ? undefined : storedHash(v.value);
    if (hash && !firstHeld.has(hash)) firstHeld.set(hash, v.revision);
  }
  const seen = new Set<string>();
  const violations: string[] = [];
  for (const v of workload) {
    const hash = v.deleted ? undefined : storedHash(v.value);
    if (!hash || seen.has(hash)) continue;
    seen.add(hash);
    const held = firstHeld.get(hash);
    if (held === undefined || held > v.revision)
      violations.push(
        `pod template carries ${hash.slice(0, 19)} at revision ${v.revision}, ` +
          (held === undefined ? 'no Secret ever held it' : `the Secret only from revision ${held}`),
      );
  }
  return { checked: seen.size, violations };
}

export const deploymentKey = (namespace: string, name: string): string =>
  `/registry/deployments/${namespace}/${name}`;

export interface RolloutCount {
  /** Rollouts to each bundle hash (a ReplicaSet rolled to again counts again). */
  byHash: Map<string, number>;
  /** Rollouts to a pod template without a bundle hash, after the first. */
  unhashed: number;
}

/**
 * Rollouts of a Deployment, counted from its ReplicaSets: each carries the pod template's bundle
 * hash, and `deployment.kubernetes.io/revision-history` lists the earlier revisions of a
 * ReplicaSet that was rolled back to.
 */
export async function rolloutsOf(namespace: string, deployment: string): Promise<RolloutCount> {
  const list = await clients().apps.listNamespacedReplicaSet({
    namespace,
    labelSelector: `app=${deployment}`,
  });
  const byHash = new Map<string, number>();
  let unhashed = 0;
  for (const rs of list.items) {
    const history = rs.metadata?.annotations?.['deployment.kubernetes.io/revision-history'];
    const times = 1 + (history ? history.split(',').length : 0);
    const hash = rs.spec?.template?.metadata?.annotations?.[BUNDLE_HASH];
    if (hash) byHash.set(hash, (byHash.get(hash) ?? 0) + times);
    else unhashed += times - 1;
  }
  return { byHash, unhashed };
}

/** Rollouts beyond one per declared hash, and rollouts to a hash never declared. */
export function extraRollouts(
  count: RolloutCount,
  declared: Iterable<string>,
): { extra: number; why: string[] } {
  const known = new Set(declared);
  const why: string[] = [];
  let extra = count.unhashed;
  if (count.unhashed) why.push(`${count.unhashed} rollout(s) to a template without bundle hash`);
  for (const [hash, n] of count.byHash) {
    if (!known.has(hash)) {
      extra += n;
      why.push(`${n} rollout(s) to ${hash}, never declared`);
    } else if (n > 1) {
      extra += n - 1;
      why.push(`${n} rollouts to ${hash}`);
    }
  }
  return { extra, why };
}

// ---- a recording proxy in front of the API server, one per operator replica -------------------

/** The API server of the e2e cluster (KUBECONFIG) as a proxy forwards to it: URL, CA and admin token. */
export function apiServerUpstream(): { url: URL; ca?: Buffer; token: string } {
  const kc = kubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const token = kc.getCurrentUser()?.token;
  if (!token) throw new Error('a proxy in front of the API server needs a token user in the kubeconfig');
  const ca = cluster.caData
    ? Buffer.from(cluster.caData, 'base64')
    : cluster.caFile
      ? readFileSync(cluster.caFile)
      : undefined;
  return { url: new URL(cluster.server), token, ...(ca ? { ca } : {}) };
}

/** A kubeconfig that reaches the API server through a proxy on plain http; returns its path. */
export function writeProxyKubeconfig(path: string, server: string, token: string, user: string): string {
  writeFileSync(
    path,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain http unless told to skip TLS verification (there is no TLS).
      clusters: [{ name: 'proxy', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user } }],
      'current-context': 'proxy',
    }),
    { mode: 0o600 },
  );
  return path;
}

export interface ProxyRecord {
  identity: string;
  method: string;
  path: string;
  /** HTTP status, 0 when the exchange failed. */
  status: number;
  start: number;
  end: number;
}

const isWatch = (url: string): boolean => /[?&]watch=(true|1)/.test(url);

/**
 * An HTTP proxy on loopback that forwards to the API server and logs each request with the
 * identity of the replica that sent it. The replica gets a kubeconfig pointing at the proxy.
 */
export class RecordingProxy {
  readonly identity: string;
  readonly kubeconfigPath: string;
  private readonly server: http.Server;
  private readonly agent: https.Agent;
  private readonly dir: string;

  private constructor(
    identity: string,
    server: http.Server,
    agent: https.Agent,
    dir: string,
    kubeconfigPath: string,
  ) {
    this.identity = identity;
    this.server = server;
    this.agent = agent;
    this.dir = dir;
    this.kubeconfigPath = kubeconfigPath;
  }

  /**
   * `log` is shared by every proxy of a test, so the records of all replicas interleave in it.
   * Watches are recorded only with `watches` (a test of what is read at all).
   */
  static async start(identity: string, log: ProxyRecord[], watches = false): Promise<RecordingProxy> {
    const { url: upstream, ca, token } = apiServerUpstream();
    const agent = new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
    const server = http.createServer((req, res) => {
      const record: ProxyRecord = {
        identity,
        method: req.method ?? '',
        path: req.url ?? '',
        status: 0,
        start: Date.now(),
        end: 0,
      };
      if (watches || !isWatch(record.path)) log.push(record);
      const out = https.request(
        new URL(req.url ?? '/', upstream),
        { method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
        (up) => {
          record.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          up.on('end', () => (record.end = Date.now()));
        },
      );
      out.on('error', () => {
        record.end = Date.now();
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      res.on('close', () => out.destroy());
      req.pipe(out);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), 'tb-proxy-'));
    const kubeconfigPath = writeProxyKubeconfig(
      join(dir, 'kubeconfig'),
      `http://127.0.0.1:${port}`,
      token,
      identity,
    );
    return new RecordingProxy(identity, server, agent, dir, kubeconfigPath);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- replayable randomness --------------------------------------------------------------------------

/** mulberry32: a small seeded generator; the seed is printed so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FAULTS_SEED replays a run; otherwise a fresh seed. */
export const faultSeed = (): number => Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));

export const median = (xs: number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
