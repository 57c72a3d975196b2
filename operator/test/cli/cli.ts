// Runs the real `bin/trustbundle.js` as a child process, the way users and pipelines do.
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, type Run } from '../pki/tools.ts';

export const BIN = resolve('bin/trustbundle.js');

export function trustbundle(args: string[], options: { cwd?: string; input?: string | Buffer } = {}): Run {
  // process.execPath: the Node 24 running jest, not whatever `node` is first on PATH.
  return run(process.execPath, [BIN, ...args], options);
}

export function write(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Files in `dir` (temporary files of an atomic write must not be left behind). */
export const listing = (dir: string): string[] => readdirSync(dir).sort();

export const certCount = (pem: string): number => (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
