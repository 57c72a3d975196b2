// Runs the real `bin/trustbundle.js` as a child process, the way users and pipelines do.
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, type Run } from '../pki/tools.ts';

export const BIN = resolve('bin/trustbundle.js');

export function trustbundle(args: string[], options: { cwd?: string; input?: string | Buffer } = {}): Run {
  // process.execPath: the Node 24 running jest, not whatever `node` is first on PATH.
  return run(process.execPath, [BIN, ...args], options);
}

/**
 * Like `trustbundle`, without blocking the event loop: for commands that talk to a server the
 * test itself runs. `env` replaces the environment (PATH and HOME are kept).
 */
export function trustbundleAsync(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env };
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

export function write(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Files in `dir` (temporary files of an atomic write must not be left behind). */
export const listing = (dir: string): string[] => readdirSync(dir).sort();

export const certCount = (pem: string): number => (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
