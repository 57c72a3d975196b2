// Runs the pinned kubectl against the e2e cluster (KUBECONFIG).
import { spawn } from 'node:child_process';
import { kubectlPath } from './tools.ts';

export interface KubectlOptions {
  /** Written to stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  timeoutMs?: number;
}

export class KubectlError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super(
      `kubectl ${args.join(' ')} failed (${exitCode === null ? 'killed' : `exit ${exitCode}`}): ${stderr.trim()}`,
    );
    this.name = 'KubectlError';
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Resolves with stdout; rejects with a KubectlError carrying stderr. */
export function kubectl(
  args: readonly string[],
  { input, timeoutMs = 120_000 }: KubectlOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(), args, {
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new KubectlError(args, code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.end(input ?? '');
  });
}

/** `kubectl apply -f -` of one or more YAML documents. */
export function kubectlApply(manifest: string): Promise<string> {
  return kubectl(['apply', '-f', '-'], { input: manifest });
}
