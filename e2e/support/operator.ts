// Runs the real operator process (node operator/src/main.ts) against the e2e cluster, the way a
// user runs it with `make run`, and gives tests its logs and a way to kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/tools.ts';
import { kubectl, waitFor } from '../harness/kube.ts';

export interface OperatorOptions {
  env?: Record<string, string>;
  /** Wait until the controller has synced its caches (or, when a standby, until it serves). */
  waitReady?: boolean;
  /** Another build's entry point (the previous release, for the upgrade test). */
  main?: string;
}

export class OperatorProcess {
  readonly lines: string[] = [];
  private child?: ChildProcess;
  port = 0;
  private exited?: Promise<number | null>;

  static async start(options: OperatorOptions = {}): Promise<OperatorProcess> {
    const op = new OperatorProcess();
    await op.launch(options);
    return op;
  }

  private async launch(options: OperatorOptions): Promise<void> {
    const child = spawn(process.execPath, [options.main ?? join(REPO_ROOT, 'operator/src/main.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        METRICS_PORT: '0',
        LOG_LEVEL: 'debug',
        RESYNC_SECONDS: '600',
        // Suites read sources from their own test namespaces; the trust-boundary suite sets its own lists.
        SOURCE_NAMESPACES: '*',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    forEachLine(child, (line) => {
      this.lines.push(line);
      const m = /"port":(\d+)/.exec(line);
      if (m && !this.port) this.port = Number(m[1]);
    });
    await waitFor(
      'the operator to serve its probes',
      () => this.port > 0 || (child.exitCode !== null && Promise.reject(new Error(this.logTail()))),
      { timeoutMs: 20_000 },
    );
    if (options.waitReady ?? true) {
      await waitFor('the operator to be ready', async () => (await this.probe('/readyz')) === 200, {
        timeoutMs: 20_000,
      });
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async probe(path: string): Promise<number> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return res.text();
  }

  logTail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (!this.child || !this.running) return this.child?.exitCode ?? null;
    this.child.kill(signal);
    return this.exited!;
  }

  /** Resolves with the exit code once the process ends by itself. */
  waitExit(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }
}

/** Calls `onLine` with each complete line a child writes to stdout or stderr. */
export function forEachLine(child: ChildProcess, onLine: (line: string) => void): void {
  let partial = '';
  const onData = (chunk: Buffer): void => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    parts.forEach(onLine);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
}

/** Installs (or updates) the project's CRDs from crds/ and waits until they are served. */
export async function installCrds(): Promise<void> {
  await kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/trustbundles.mtls.openbanking.dev',
    'crd/authorizationservers.mtls.openbanking.dev',
  ]);
}

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}
