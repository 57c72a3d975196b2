// The two controllers under measurement, as real processes against the bench plane: our operator
// (compiled, from the working tree or from a commit: see buildOperator) and
// cert-manager's trust-manager (built from the Go module proxy at the version pinned in
// hack/versions.env).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cacheRoot, pinnedVersions, REPO_ROOT } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import { freePort, memoryOf } from './process.ts';

/** Sum of the samples of one metric (any labels) in a Prometheus text exposition. */
export function metricSum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A controller process: its output in a log file, its probes on loopback, its memory from /proc. */
class Controller {
  protected readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  readonly logFile: string;
  /** performance.now() just before the process was spawned. */
  readonly spawnedAt: number;
  readonly probeBase: string;

  protected constructor(
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    logFile: string,
    probePort: number,
  ) {
    const log = createWriteStream(logFile);
    this.logFile = logFile;
    this.probeBase = `http://127.0.0.1:${probePort}`;
    this.spawnedAt = performance.now();
    this.child = spawn(command, args, { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // One file for both streams: neither may end it while the other still writes.
    this.child.stdout!.pipe(log, { end: false });
    this.child.stderr!.pipe(log, { end: false });
    this.child.once('close', () => log.end());
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until `path` answers 200; fails at once if the process exits. */
  async waitProbe(path: string, timeoutMs = 60_000): Promise<number> {
    const url = `${this.probeBase}${path}`;
    let exited: Error | undefined;
    await waitFor(
      `${url} to answer 200`,
      async () => {
        if (!this.running) {
          exited = new Error(
            `the process exited (${this.child.exitCode ?? this.child.signalCode}); log: ${this.logFile}`,
          );
          return true;
        }
        try {
          const res = await fetch(url);
          await res.arrayBuffer();
          return res.status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs, intervalMs: 25 },
    );
    if (exited) throw exited;
    return performance.now();
  }

  memory(): { peakRssBytes: number; rssBytes: number } {
    return memoryOf(this.pid);
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.probeBase}/metrics`)).text();
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/**
 * The operator as it is deployed (the Dockerfile runs `node operator/dist/main.js`): compiled by
 * tsc from the working tree, from a commit (BENCH_OPERATOR_REF=HEAD, extracted with git archive)
 * so that a run is not disturbed by sources being edited meanwhile, or from a patched copy
 * (BENCH_OPERATOR_DIR). Running the .ts
 * sources directly (BENCH_OPERATOR_RUN=ts) adds Node's type-stripping compiler to the process.
 */
export interface OperatorBuild {
  main: string;
  description: string;
}

let built: OperatorBuild | undefined;

export function buildOperator(log: (line: string) => void): OperatorBuild {
  if (built) return built;
  const ref = process.env.BENCH_OPERATOR_REF;
  let root = REPO_ROOT;
  let description = 'working tree';
  if (process.env.BENCH_OPERATOR_DIR) {
    // A copy with a patch to try (operator/src, package.json and the tsconfigs).
    root = resolve(process.env.BENCH_OPERATOR_DIR);
    description = `directory ${root}`;
  } else if (ref) {
    const sha = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short=12', ref], {
      encoding: 'utf8',
    }).trim();
    // Inside the repository, so that node_modules resolves from its parent directories.
    root = join(REPO_ROOT, '.cluster', 'bench-src', sha);
    description = `commit ${sha} (${ref})`;
    if (!existsSync(join(root, 'operator', 'src', 'main.ts'))) {
      mkdirSync(root, { recursive: true });
      execFileSync('bash', [
        '-o',
        'pipefail',
        '-c',
        'git -C "$1" archive --format=tar "$2" operator/src package.json tsconfig.json tsconfig.build.json | tar -x -C "$3"',
        '-',
        REPO_ROOT,
        sha,
        root,
      ]);
    }
  }
  if (process.env.BENCH_OPERATOR_RUN === 'ts') {
    built = { main: join(root, 'operator', 'src', 'main.ts'), description: `${description}, .ts sources` };
    return built;
  }
  const out = join(root === REPO_ROOT ? join(REPO_ROOT, '.cluster', 'bench-build') : root, 'dist');
  rmSync(out, { recursive: true, force: true });
  log(`compiling the operator (${description}) with tsc into ${out}`);
  try {
    execFileSync(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', join(root, 'tsconfig.build.json'), '--outDir', out],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
  } catch (err) {
    // tsc emits despite type errors; an operator that does not start fails later, clearly.
    const output = String((err as { stdout?: string }).stdout ?? '')
      .trim()
      .split('\n');
    log(`tsc reported ${output.length} type error line(s), first: ${output[0]}`);
  }
  const main = join(out, 'main.js');
  if (!existsSync(main)) throw new Error(`tsc produced no ${main}`);
  built = { main, description: `${description}, compiled (node dist/main.js)` };
  return built;
}

export interface OurOperatorOptions {
  build: OperatorBuild;
  logFile: string;
  resyncSeconds?: number;
  /** Directory for a V8 CPU profile (`--cpu-prof`), written when the process exits. */
  cpuProfileDir?: string;
}

/**
 * The NODE_OPTIONS the operator runs with: the image's (the Dockerfile's `ENV NODE_OPTIONS`), so
 * the figures are those of the process as shipped; BENCH_OPERATOR_NODE_OPTIONS overrides it for
 * what-if runs (empty: Node's defaults).
 */
export function operatorNodeOptions(): string {
  const override = process.env.BENCH_OPERATOR_NODE_OPTIONS;
  if (override !== undefined) return override;
  return (
    /^ENV NODE_OPTIONS=(.*)$/m
      .exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1]
      ?.trim()
      .replace(/^"(.*)"$/, '$1') ?? ''
  );
}

/** Where the benchmarks put the authorization server's credentials. */
export const BENCH_TRUST_NAMESPACE = 'bench-trust';

export class OurOperator extends Controller {
  static async start(options: OurOperatorOptions): Promise<OurOperator> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      METRICS_PORT: String(port),
      LOG_LEVEL: 'info',
      RESYNC_SECONDS: String(options.resyncSeconds ?? 600),
      LEADER_ELECT: 'false',
      // The benchmarks' sources live in their own namespaces; ACP credentials in the trust namespace.
      SOURCE_NAMESPACES: '*',
      TRUST_NAMESPACE: BENCH_TRUST_NAMESPACE,
    };
    const nodeOptions = operatorNodeOptions();
    if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
    else delete env.NODE_OPTIONS;
    const nodeArgs: string[] = [];
    if (options.cpuProfileDir) {
      rmSync(options.cpuProfileDir, { recursive: true, force: true });
      mkdirSync(options.cpuProfileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
    }
    const op = new OurOperator(
      process.execPath,
      [...nodeArgs, options.build.main],
      env,
      options.logFile,
      port,
    );
    await op.waitProbe('/healthz');
    return op;
  }

  async reconciles(): Promise<number> {
    return metricSum(await this.metrics(), 'trustbundle_reconciles_total');
  }

  /** The .cpuprofile the process wrote on exit, if profiling was on. */
  static profileIn(dir: string): string | undefined {
    if (!existsSync(dir)) return undefined;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return file ? join(dir, file) : undefined;
  }
}

export const TRUST_MANAGER_VERSION = pinnedVersions().TRUST_MANAGER_VERSION ?? 'unknown';
const TM_DIR = join(cacheRoot(), `trust-manager-${TRUST_MANAGER_VERSION}`);
export const TRUST_MANAGER_CRDS = join(TM_DIR, 'crds');

/** Builds trust-manager (once; cached by version) with hack/build-tools.sh. */
export function ensureTrustManagerBuilt(log: (line: string) => void): void {
  if (existsSync(join(TM_DIR, '.complete'))) return;
  log(`building trust-manager ${TRUST_MANAGER_VERSION} from the Go module proxy (a few minutes, once)`);
  execFileSync(join(REPO_ROOT, 'hack', 'build-tools.sh'), ['trust-manager'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export interface TrustManagerOptions {
  kubeconfig: string;
  trustNamespace: string;
  logFile: string;
}

export class TrustManager extends Controller {
  private certDir = '';

  static async start(options: TrustManagerOptions): Promise<TrustManager> {
    // Its webhook server will not start without a serving certificate; any self-signed one does,
    // since the webhook is not registered with the API server.
    const certDir = mkdtempSync(join(tmpdir(), 'tb-bench-tm-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat(
        ['-subj', '/CN=trust-manager-webhook', '-keyout', 'tls.key', '-out', 'tls.crt'],
      ),
      { cwd: certDir, stdio: 'ignore' },
    );
    const [webhook, readiness, metrics] = [await freePort(), await freePort(), await freePort()];
    const args = [
      `--kubeconfig=${options.kubeconfig}`,
      '--leader-elect=false',
      `--trust-namespace=${options.trustNamespace}`,
      `--webhook-certificate-dir=${certDir}`,
      '--webhook-host=127.0.0.1',
      `--webhook-port=${webhook}`,
      `--readiness-probe-port=${readiness}`,
      `--metrics-port=${metrics}`,
    ];
    const tm = new TrustManager(join(TM_DIR, 'trust-manager'), args, process.env, options.logFile, readiness);
    tm.certDir = certDir;
    tm.metricsBase = `http://127.0.0.1:${metrics}`;
    await tm.waitProbe('/readyz');
    return tm;
  }

  private metricsBase = '';

  override async metrics(): Promise<string> {
    return (await fetch(`${this.metricsBase}/metrics`)).text();
  }

  /** Reconciles so far (controller-runtime's counter, all controllers). */
  async reconciles(): Promise<number> {
    return metricSum(await this.metrics(), 'controller_runtime_reconcile_total');
  }

  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.certDir, { recursive: true, force: true });
  }
}
