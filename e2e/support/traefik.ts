// A real Traefik (hack/build-tools.sh traefik: v3 from the Go module proxy) as a host process whose
// kubernetescrd provider reads the API server itself, with a ServiceAccount token and only the
// RBAC of docs/examples/traefik/rbac.yaml. It serves docs/examples/traefik/mtls.yaml: client
// certificates verified against the Secret the operator writes, the verified certificate passed to
// a backend that echoes it. Nothing of the project sits between the Secret and the handshake.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { kubeConfig, kubectl, waitFor } from '../harness/kube.ts';
import { cacheRoot, pinnedVersions, REPO_ROOT } from '../harness/tools.ts';
import type { IngressEndpoint, ObjectRef } from './enforcement.ts';
import { freePort, makeServerCertificate } from './nginx.ts';
import { forEachLine } from './operator.ts';

export const TRAEFIK_EXAMPLES = join(REPO_ROOT, 'docs', 'examples', 'traefik');

export const traefikDir = (): string => join(cacheRoot(), `traefik-${pinnedVersions().TRAEFIK_VERSION}`);

/**
 * Builds the pinned Traefik unless cached (hack/build-tools.sh traefik; 10–20 minutes the first
 * time, its progress on this process's stderr) and returns the binary's path.
 */
export function ensureTraefik(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, 'hack', 'build-tools.sh'), ['traefik'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve(join(traefikDir(), 'traefik'))
        : reject(new Error(`hack/build-tools.sh traefik failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** Traefik's CRDs, from the module it was built from (server-side: they are too big for apply's annotation). */
export async function installTraefikCrds(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(traefikDir(), 'crds.yaml')]);
  await kubectl([
    'wait', '--for=condition=Established', '--timeout=60s',
    'crd/tlsoptions.traefik.io', 'crd/ingressroutes.traefik.io', 'crd/middlewares.traefik.io',
  ]); // prettier-ignore
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  roleRef?: unknown;
  subjects?: { kind: string; name: string; namespace?: string }[];
}

export function loadExample(file: string): K8sObject[] {
  return yaml.loadAll(readFileSync(join(TRAEFIK_EXAMPLES, file), 'utf8')) as K8sObject[];
}

export interface Placement {
  /** Where the ingress's objects and the operator's Secret live (the docs' open-banking-apim). */
  namespace: string;
  /** Where Traefik's ServiceAccount lives (the docs' traefik). */
  traefikNamespace: string;
  /** The Host rule's host (the docs' matls-api.bank.example). */
  host: string;
  /** The backend's port (the docs' 8080). */
  backendPort: number;
}

/** docs/examples/traefik/*.yaml, moved to the test's namespaces, host and backend port. */
export function exampleObjects(p: Placement): K8sObject[] {
  const objects = [...loadExample('rbac.yaml'), ...loadExample('mtls.yaml')];
  for (const o of objects) {
    o.metadata.namespace = o.kind === 'ServiceAccount' ? p.traefikNamespace : p.namespace;
    for (const s of o.subjects ?? []) s.namespace = p.traefikNamespace;
  }
  const text = JSON.stringify(objects)
    .replaceAll('Host(`matls-api.bank.example`)', `Host(\`${p.host}\`)`)
    .replaceAll('"port":8080', `"port":${p.backendPort}`);
  return JSON.parse(text) as K8sObject[];
}

/**
 * What docs/examples/traefik/mtls.yaml refers to beside the operator's Secret: the server
 * certificate (`apitraffic-tls`) and the backend (`apitraffic`, a Service of type ExternalName on
 * loopback, where the echo backend listens).
 */
export function backendObjects(namespace: string, tlsDir: string, backendPort: number): object[] {
  const b64 = (file: string) => readFileSync(join(tlsDir, file)).toString('base64');
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace, name: 'apitraffic-tls' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64('server.crt'), 'tls.key': b64('server.key') },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace, name: 'apitraffic' },
      spec: { type: 'ExternalName', externalName: '127.0.0.1', ports: [{ port: backendPort }] },
    },
  ];
}

/** An HTTP backend that answers 200 with the client certificate Traefik passed (the header, verbatim). */
export class EchoBackend {
  readonly port: number;
  private readonly server: Server;

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static async start(port?: number): Promise<EchoBackend> {
    const server = createServer((req, res) => {
      const cert = req.headers['x-forwarded-tls-client-cert'];
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`x-forwarded-tls-client-cert: ${typeof cert === 'string' ? cert : ''}\n`);
    });
    const listenPort = port ?? (await freePort());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', resolve);
    });
    return new EchoBackend(server, listenPort);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface TraefikRouter {
  name: string;
  rule: string;
  status: string;
  error?: string[];
  tls?: { options?: string };
}

export interface TraefikOptions {
  /** Configuration, token, logs and the server certificate's CA. */
  dir: string;
  /** The only namespace the provider watches (its Role is there). */
  namespace: string;
  serviceAccount: ObjectRef;
  /** Traefik's log level (INFO by default). */
  logLevel?: string;
  log?: (line: string) => void;
}

export class Traefik {
  readonly lines: string[] = [];
  readonly dir: string;
  readonly port: number;
  readonly pingPort: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(dir: string, port: number, pingPort: number) {
    this.dir = dir;
    this.port = port;
    this.pingPort = pingPort;
  }

  /** Where clients connect; SNI and Host `localhost`, server certificate from serverCaFile. */
  get endpoint(): IngressEndpoint {
    return { host: '127.0.0.1', port: this.port, serverCaFile: join(this.dir, 'tls', 'server-ca.crt') };
  }

  get url(): string {
    return `https://localhost:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The test server certificate (for backendObjects) without starting anything. */
  static async serverCertificate(dir: string): Promise<string> {
    const tls = join(dir, 'tls');
    mkdirSync(tls, { recursive: true });
    await makeServerCertificate(tls);
    return tls;
  }

  /**
   * Starts the cached binary against the API server of KUBECONFIG, authenticated as the
   * ServiceAccount (a token from the TokenRequest API), and waits until it answers its ping.
   */
  static async start(o: TraefikOptions): Promise<Traefik> {
    await Traefik.serverCertificate(o.dir);
    const t = new Traefik(o.dir, await freePort(), await freePort());
    const cluster = kubeConfig().getCurrentCluster()!;
    const caFile = join(o.dir, 'apiserver-ca.crt');
    if (cluster.caData) writeFileSync(caFile, Buffer.from(cluster.caData, 'base64'));
    else if (cluster.caFile) writeFileSync(caFile, readFileSync(cluster.caFile));
    const tokenFile = join(o.dir, 'token');
    const { name, namespace } = o.serviceAccount;
    const token = await kubectl(['create', 'token', name, '-n', namespace, '--duration=4h']);
    writeFileSync(tokenFile, token.trim(), { mode: 0o600 });
    const args = [
      `--entryPoints.websecure.address=127.0.0.1:${t.port}`,
      `--entryPoints.traefik.address=127.0.0.1:${t.pingPort}`,
      '--ping=true',
      // Its API (routers and their errors) on the same loopback-only entry point as the ping.
      '--api.insecure=true',
      '--api.dashboard=false',
      '--global.checkNewVersion=false',
      '--global.sendAnonymousUsage=false',
      `--log.level=${o.logLevel ?? 'INFO'}`,
      '--log.noColor=true',
      '--providers.kubernetescrd=true',
      `--providers.kubernetescrd.endpoint=${cluster.server}`,
      `--providers.kubernetescrd.token=${tokenFile}`,
      `--providers.kubernetescrd.certAuthFilePath=${caFile}`,
      `--providers.kubernetescrd.namespaces=${o.namespace}`,
      '--providers.kubernetescrd.disableClusterScopeResources=true',
      // The test's backend is a host process: an ExternalName Service on loopback reaches it.
      '--providers.kubernetescrd.allowExternalNameServices=true',
    ];
    const child = spawn(join(traefikDir(), 'traefik'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    t.child = child;
    t.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    forEachLine(child, (line) => {
      t.lines.push(line);
      o.log?.(`traefik: ${line}`);
    });
    await waitFor(
      `Traefik to answer its ping on 127.0.0.1:${t.pingPort}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`traefik exited: ${t.lines.slice(-20).join('\n')}`);
        const res = await fetch(`http://127.0.0.1:${t.pingPort}/ping`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    return t;
  }

  /** The HTTP routers Traefik has loaded, as its API shows them (name, status, error). */
  async routers(): Promise<TraefikRouter[]> {
    const res = await fetch(`http://127.0.0.1:${this.pingPort}/api/http/routers`);
    if (res.status !== 200) throw new Error(`Traefik's API: HTTP ${res.status}`);
    return (await res.json()) as TraefikRouter[];
  }

  /** Traefik's own log lines at level ERR (or worse). */
  errors(): string[] {
    return this.lines.filter((l) => /\b(ERR|FTL|PNC)\b/.test(l));
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
