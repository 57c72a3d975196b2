// `make demo`: the operator's whole job on a local control plane, checked the way the runbook
// checks it — real nginx, curl and openssl against certificates from `trustbundle pki`.
//
//   node hack/demo.ts up      objects, PKI, the background services, the scenarios, the table
//   node hack/demo.ts serve   the background services (run by `up`, detached): stand-in ACP,
//                             operator, nginx and the sync step that plays kubelet + controller
//   node hack/demo.ts down    stops the background services
//
// DEMO_TRAEFIK=1 adds the Traefik lane: a real Traefik (built once by hack/build-tools.sh traefik)
// reads the same Secret through the API server itself, and every scenario is checked on both
// frontends (docs/examples/traefik/).
// hack/demo.sh starts and stops the control plane around these (CLUSTER_DIR=.cluster/demo).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import https from 'node:https';
import { dirname, join, relative } from 'node:path';
import yaml from 'js-yaml';
import { readClusterEnv } from '../e2e/harness/cluster.ts';
import { kubectl } from '../e2e/harness/kube.ts';
import { REPO_ROOT } from '../e2e/harness/tools.ts';
import { waitFor } from '../e2e/harness/wait.ts';
import { AcpContractServer } from '../e2e/support/acp-contract-server.ts';
import { tlsMaterialIn } from '../e2e/support/acp-tls.ts';
import { IngressSync, type IngressState } from '../e2e/support/enforcement.ts';
import { freePort, Nginx } from '../e2e/support/nginx.ts';
import { declareAuthorizationServer } from '../e2e/support/faults.ts';
import { installCrds } from '../e2e/support/operator.ts';
import {
  EchoBackend,
  Traefik,
  backendObjects,
  ensureTraefik,
  exampleObjects,
  installTraefikCrds,
} from '../e2e/support/traefik.ts';
import { TraefikLane } from '../e2e/support/traefik-lane.ts';
import {
  SCENARIOS,
  applyObjects,
  caSecrets,
  createRunbookPki,
  formatResults,
  runRunbook,
  trustBundle,
  type RunbookNames,
} from '../e2e/support/runbook.ts';
import { getBundle } from '../e2e/support/trustbundles.ts';
import { applyWorkload } from '../e2e/support/workloads.ts';

const DEMO = join(REPO_ROOT, '.demo');
const CLUSTER_DIR = process.env.CLUSTER_DIR ?? join(REPO_ROOT, '.cluster', 'demo');
const FILES = {
  pid: join(DEMO, 'serve.pid'),
  ready: join(DEMO, 'serve.json'),
  serveLog: join(DEMO, 'serve.log'),
  operatorLog: join(DEMO, 'operator.log'),
  acp: join(DEMO, 'acp.json'),
  ingress: join(DEMO, 'ingress.json'),
  traefik: join(DEMO, 'traefik.json'),
  bundle: join(DEMO, 'tpp-roots.yaml'),
};
/** The names of docs/examples/tpp-roots.yaml; only ACP's address differs (the stand-in's). */
const NAMES: Omit<RunbookNames, 'acp'> = {
  bundle: 'tpp-roots',
  caNamespace: 'tpp-cas',
  target: { namespace: 'open-banking-apim', name: 'apitraffic-mtls-rootca' },
  ingress: { namespace: 'ingress-nginx', name: 'ingress-nginx-controller' },
};
const SYSTEM_NAMESPACE = 'trustbundle-system';
const WITH_TRAEFIK = process.env.DEMO_TRAEFIK === '1';
const TRAEFIK_NAMESPACE = 'traefik';
const TRAEFIK_DIR = join(DEMO, 'traefik');

/** Where the Traefik lane listens (written by serve). */
interface TraefikInfo {
  url: string;
  host: string;
  port: number;
  serverCaFile: string;
  pid: number;
}
/** In the environment of every process the demo starts, so `down` finds them after a crash. */
const DEMO_MARKER = `TRUSTBUNDLE_DEMO=${DEMO}`;

const t0 = Date.now();
function log(message: string): void {
  const time = new Date().toTimeString().slice(0, 8);
  process.stderr.write(`[${time} +${Math.round((Date.now() - t0) / 1000)}s] ${message}\n`);
}

/** What the stand-in ACP tells `up` (its own made-up test client; the file is 0600). */
interface AcpInfo {
  url: string;
  tenant: string;
  server: string;
  tokenURL: string;
  adminURL: string;
  clientId: string;
  clientSecret: string;
  caFile: string;
}

interface ServeInfo {
  pid: number;
  operatorPid: number;
  metricsPort: number;
  nginxPort: number;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

// ---- up ----

async function up(): Promise<number> {
  useDemoCluster();
  rmSync(DEMO, { recursive: true, force: true });
  mkdirSync(DEMO, { recursive: true });

  log('installing the TrustBundle CRD');
  await installCrds();

  log(
    'creating the test PKI in .demo/pki with `trustbundle pki` (CA1, CA2, TPP1, TPP2, TPP3, the impostor, CRLs)',
  );
  const pki = await createRunbookPki(join(DEMO, 'pki'));

  log(
    `namespaces, CA Secrets ${NAMES.caNamespace}/ca1 + ca2, Deployment ${ref(NAMES.ingress)} (Pods by KWOK)`,
  );
  const namespaces = [NAMES.caNamespace, NAMES.target.namespace, NAMES.ingress.namespace, SYSTEM_NAMESPACE];
  await applyObjects([
    ...namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    ...caSecrets(NAMES, pki),
  ]);
  // Its consent to restarts, as the ingress-nginx chart's controller.annotations would set it.
  await applyWorkload('Deployment', NAMES.ingress.namespace, NAMES.ingress.name, {
    replicas: 2,
    restartOn: NAMES.bundle,
  });
  const backendPort = WITH_TRAEFIK ? await prepareTraefik() : 0;

  log(
    `starting the stand-in ACP, the operator, nginx${WITH_TRAEFIK ? ' and Traefik' : ''} in the background (logs in .demo/)`,
  );
  await startServe(backendPort);
  const acp = readJson<AcpInfo>(FILES.acp);
  await applyObjects([
    secret('acp-admin', { client_id: acp.clientId, client_secret: acp.clientSecret }),
    secret('acp-ca', { 'ca.crt': readFileSync(acp.caFile, 'utf8') }),
  ]);
  const names: RunbookNames = { ...NAMES, acp: 'acp-openbanking' };
  log(
    `the administrator's AuthorizationServer ${names.acp} for the stand-in ACP (credentials in ${SYSTEM_NAMESPACE}), ` +
      `which allows the bundle ${names.bundle}`,
  );
  await declareAuthorizationServer(names.acp!, {
    allowedBundles: [names.bundle],
    cloudentity: {
      url: acp.url,
      tenant: acp.tenant,
      server: acp.server,
      credentialsSecret: { name: 'acp-admin' },
      caSecret: { name: 'acp-ca', key: 'ca.crt' },
    },
  });
  writeFileSync(FILES.bundle, yaml.dump(trustBundle(names, SCENARIOS[0]!.sources!(names, pki))));
  log(`the first scenario applies the sample TrustBundle: .demo/tpp-roots.yaml`);

  const traefik = WITH_TRAEFIK ? readJson<TraefikInfo>(FILES.traefik) : undefined;
  const lane = traefik && new TraefikLane({ names, pki, endpoint: traefik, log: (line) => log(line) });
  const results = await runRunbook({
    names,
    pki,
    ingress: async () => readJson<IngressState>(FILES.ingress),
    acpRootCas: () => acpRootCas(acp),
    log: (line) => log(line),
    ...(lane ? { lanes: [lane] } : {}),
  });
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(`\n${formatResults(results)}\n\n${await summary(names.bundle)}\n\n`);
  if (lane) {
    const times = lane.enforcements.map((e) => `  ${(e.ms / 1000).toFixed(2)} s  ${e.scenario}`);
    process.stdout.write(
      `edit → Traefik enforces (it watches the Secret; no rollout):\n${times.join('\n')}\n\n`,
    );
  }
  process.stdout.write(
    failed === 0
      ? `Every check as expected (${results.length}).\n\n`
      : `${failed} of ${results.length} checks differ from the expectation.\n\n`,
  );
  process.stdout.write(howToPlay(names.bundle, readJson<IngressState>(FILES.ingress), traefik));
  return failed === 0 ? 0 : 1;
}

/**
 * Builds Traefik once (cached), installs its CRDs, and applies docs/examples/traefik/ (RBAC,
 * TLSOption, Middleware, IngressRoute; host localhost) with the server certificate and the
 * backend's Service. Returns the backend's port, for serve.
 */
async function prepareTraefik(): Promise<number> {
  log(
    'Traefik lane: building Traefik unless cached (hack/build-tools.sh traefik; 10–20 minutes the first time)',
  );
  await ensureTraefik();
  await installTraefikCrds();
  const backendPort = await freePort();
  const tls = await Traefik.serverCertificate(TRAEFIK_DIR);
  await applyObjects([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TRAEFIK_NAMESPACE } },
    ...exampleObjects({
      namespace: NAMES.target.namespace,
      traefikNamespace: TRAEFIK_NAMESPACE,
      host: 'localhost',
      backendPort,
    }),
    ...backendObjects(NAMES.target.namespace, tls, backendPort),
  ]);
  log(
    `Traefik lane: docs/examples/traefik/ applied in ${NAMES.target.namespace}, ServiceAccount ${TRAEFIK_NAMESPACE}/traefik`,
  );
  return backendPort;
}

/** `kubectl get tb` and the TrustBundle's conditions. */
async function summary(bundle: string): Promise<string> {
  const tb = await getBundle(bundle);
  const rows = (tb?.status?.conditions ?? []).map(
    (c) => `  ${c.type}=${c.status}  ${c.reason}: ${c.message}`,
  );
  return [
    '$ kubectl get tb',
    (await kubectl(['get', 'tb'])).trimEnd(),
    '',
    tb ? `conditions of ${bundle} (generation ${tb.metadata.generation}):` : `TrustBundle ${bundle} is gone`,
    ...rows,
  ].join('\n');
}

function howToPlay(bundle: string, ingress: IngressState, traefik?: TraefikInfo): string {
  const path = process.env.KUBECTL ? ` PATH=${dirname(process.env.KUBECTL)}:$PATH` : '';
  const ca = relative(REPO_ROOT, ingress.serverCaFile);
  return `Still running (stop everything with: make demo-down):
  export KUBECONFIG=${process.env.KUBECONFIG}${path}
  kubectl get tb ${bundle} -o yaml     # status: certificates, targets, conditions
  kubectl edit tb ${bundle}            # change the trust; nginx follows after the rollout
  curl --cacert ${ca} --cert .demo/pki/tpp1.crt --key .demo/pki/tpp1.key ${ingress.url}
  curl --cacert ${ca} --cert .demo/pki/tpp3.crt --key .demo/pki/tpp3.key ${ingress.url}   # revoked by CA1: 400
  curl --cacert ${ca} ${ingress.url}   # no certificate: 400
${traefik ? `  curl --cacert ${relative(REPO_ROOT, traefik.serverCaFile)} --cert .demo/pki/tpp1.crt --key .demo/pki/tpp1.key ${traefik.url}   # Traefik\n` : ''}  logs: .demo/operator.log, .demo/serve.log, .demo/nginx/logs/
`;
}

function useDemoCluster(): void {
  const envFile = join(CLUSTER_DIR, 'env');
  if (!existsSync(envFile)) throw new Error(`no control plane in ${CLUSTER_DIR} (hack/demo.sh up starts it)`);
  const env = readClusterEnv(CLUSTER_DIR);
  if (!env.KUBECONFIG) throw new Error(`${envFile} names no KUBECONFIG`);
  process.env.KUBECONFIG = env.KUBECONFIG;
  if (env.KUBECTL) process.env.KUBECTL = env.KUBECTL;
}

const ref = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`;

function secret(name: string, stringData: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: SYSTEM_NAMESPACE, name },
    type: 'Opaque',
    stringData,
  };
}

/** Starts `serve` in its own session (Ctrl-C in the terminal does not reach it; `down` stops it). */
async function startServe(traefikBackendPort: number): Promise<void> {
  const out = openSync(FILES.serveLog, 'a');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'hack', 'demo.ts'), 'serve'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      TRUSTBUNDLE_DEMO: DEMO,
      ...(traefikBackendPort ? { DEMO_TRAEFIK_BACKEND_PORT: String(traefikBackendPort) } : {}),
    },
  });
  closeSync(out);
  writeFileSync(FILES.pid, `${child.pid}\n`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  child.unref();
  await waitFor(
    'the background services to be ready',
    () => {
      if (gone !== undefined) throw new Error(`serve exited (${gone}):\n${tail(FILES.serveLog)}`);
      return existsSync(FILES.ready);
    },
    { timeoutMs: 60_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n--- .demo/serve.log ---\n${tail(FILES.serveLog)}`, {
      cause: err,
    });
  });
}

function tail(file: string, lines = 30): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
}

/** ACP's root_cas, read through its admin API as any client would (token, then GET). */
async function acpRootCas(acp: AcpInfo): Promise<string> {
  const ca = readFileSync(acp.caFile);
  const basic = Buffer.from(`${encodeURIComponent(acp.clientId)}:${encodeURIComponent(acp.clientSecret)}`);
  const token = (await httpsJson(acp.tokenURL, ca, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic.toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  })) as { access_token?: string };
  if (!token.access_token) throw new Error('ACP issued no token');
  const server = (await httpsJson(`${acp.adminURL}/servers/${acp.server}`, ca, {
    headers: { authorization: `Bearer ${token.access_token}` },
  })) as { root_cas?: string };
  return server.root_cas ?? '';
}

function httpsJson(
  url: string,
  ca: Buffer,
  o: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: o.method ?? 'GET', headers: o.headers, ca, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${url}: HTTP ${res.statusCode}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

// ---- serve ----

async function serve(): Promise<void> {
  useDemoCluster();
  const stops: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      log('stopping');
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(String(err)));
      rmSync(FILES.ready, { force: true });
      log('stopped');
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void stopAll(0));
  process.on('SIGINT', () => void stopAll(0));

  try {
    const acp = new AcpContractServer({
      tls: tlsMaterialIn(join(DEMO, 'acp')),
      servers: ['openbanking_brasil'],
      tokenTTLSeconds: 3600,
    });
    await acp.start();
    stops.push(() => acp.stop());
    const info: AcpInfo = {
      url: acp.url,
      tenant: acp.tenant,
      server: 'openbanking_brasil',
      tokenURL: acp.tokenURL,
      adminURL: acp.adminURL,
      clientId: acp.clientId,
      clientSecret: acp.clientSecret,
      caFile: join(DEMO, 'acp', 'ca.crt'),
    };
    writeFileSync(FILES.acp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    log(`stand-in ACP (contract server) on ${acp.url}, tenant ${acp.tenant}, server openbanking_brasil`);

    const metricsPort = await freePort();
    const operator = startOperator(metricsPort);
    stops.push(() => stopChild(operator));
    operator.once('exit', (code, signal) => {
      if (stopping) return;
      log(`the operator exited (${signal ?? code}); see .demo/operator.log`);
      void stopAll(1);
    });
    await waitFor('the operator to be ready', async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
      return res?.status === 200;
    });
    log(`operator ready (pid ${operator.pid}, metrics on 127.0.0.1:${metricsPort})`);

    const nginx = await Nginx.create({ dir: join(DEMO, 'nginx') });
    stops.push(() => nginx.stop());
    const sync = await IngressSync.start({
      nginx,
      deployment: NAMES.ingress,
      secret: NAMES.target,
      stateFile: FILES.ingress,
      log,
    });
    stops.push(() => sync.stop());
    log(`nginx will listen on ${nginx.url} once the operator has rolled ${ref(NAMES.ingress)}`);

    const backendPort = Number(process.env.DEMO_TRAEFIK_BACKEND_PORT ?? 0);
    if (backendPort) {
      const echo = await EchoBackend.start(backendPort);
      stops.push(() => echo.stop());
      const traefik = await Traefik.start({
        dir: TRAEFIK_DIR,
        namespace: NAMES.target.namespace,
        serviceAccount: { namespace: TRAEFIK_NAMESPACE, name: 'traefik' },
        log,
      });
      stops.push(() => traefik.stop());
      const info: TraefikInfo = { url: traefik.url, ...traefik.endpoint, pid: traefik.pid! };
      writeFileSync(FILES.traefik, JSON.stringify(info, null, 2) + '\n');
      log(`Traefik on ${traefik.url}, reading ${ref(NAMES.target)} through the API server`);
    }

    const ready: ServeInfo = {
      pid: process.pid,
      operatorPid: operator.pid!,
      metricsPort,
      nginxPort: nginx.httpsPort,
    };
    writeFileSync(FILES.ready, JSON.stringify(ready) + '\n');
  } catch (err) {
    log(`serve failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll(1);
  }
}

function startOperator(metricsPort: number): ChildProcess {
  const out = openSync(FILES.operatorLog, 'a');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'operator', 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      METRICS_PORT: String(metricsPort),
      LEADER_ELECT: 'false',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ROLLOUT_DEBOUNCE_SECONDS: '1',
      AUTHSERVER_CHECK_SECONDS: '10',
      // The trust boundary as the chart sets it: credentials in the system namespace, CAs in tpp-cas.
      TRUST_NAMESPACE: SYSTEM_NAMESPACE,
      SOURCE_NAMESPACES: NAMES.caNamespace,
      TARGET_NAMESPACES: [NAMES.target.namespace, NAMES.ingress.namespace].join(','),
    },
  });
  closeSync(out);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---- down ----

async function down(): Promise<void> {
  const pid = existsSync(FILES.pid) ? Number(readFileSync(FILES.pid, 'utf8').trim()) : 0;
  if (pid > 0 && isServe(pid)) {
    log(`stopping the demo's background services (pid ${pid})`);
    process.kill(pid, 'SIGTERM');
    const stopped = await waitFor('the background services to stop', () => !alive(pid), {
      timeoutMs: 15_000,
    }).catch(() => false);
    // Still running: its process group (serve and the operator and nginx it started) is ours.
    if (!stopped) signal(-pid, 'SIGKILL');
  }
  // Whatever a serve that was killed outright left behind.
  for (const leftover of leftovers()) {
    log(`stopping leftover process ${leftover}`);
    signal(leftover, 'SIGKILL');
  }
  rmSync(FILES.pid, { force: true });
  rmSync(FILES.ready, { force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

function alive(pid: number): boolean {
  const stat = procStat(pid);
  return !!stat && stat.state !== 'Z';
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

const procFile = (pid: number, file: string): string => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
};

/** The pid is a `hack/demo.ts serve` (a recycled pid belongs to something else). */
function isServe(pid: number): boolean {
  const args = procFile(pid, 'cmdline').split('\0');
  return args.some((a) => a.endsWith(join('hack', 'demo.ts'))) && args.includes('serve');
}

/**
 * Processes of this demo still alive: those carrying its marker in their environment (serve, the
 * operator), nginx masters running from .demo/nginx (nginx rewrites its environment area with its
 * title, which keeps the arguments), and their workers.
 */
function leftovers(): number[] {
  const ours = new Set<number>();
  const all = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
  for (const pid of all) {
    if (pid === process.pid || !alive(pid)) continue;
    const marked = procFile(pid, 'environ').split('\0').includes(DEMO_MARKER);
    const nginxHere = procFile(pid, 'cmdline').includes(`nginx -p ${join(DEMO, 'nginx')}/`);
    if (marked || nginxHere) ours.add(pid);
  }
  for (const pid of all) {
    const ppid = procStat(pid)?.ppid;
    if (ppid && ours.has(ppid) && alive(pid)) ours.add(pid);
  }
  return [...ours];
}

// ---- main ----

const command = process.argv[2];
try {
  if (command === 'up') process.exitCode = await up();
  else if (command === 'serve') await serve();
  else if (command === 'down') await down();
  else {
    process.stderr.write('usage: node hack/demo.ts up | serve | down\n');
    process.exitCode = 2;
  }
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exitCode = 1;
}
