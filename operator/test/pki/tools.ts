// Real peers for cross-checks: openssl and keytool as child processes, in throwaway directories.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string | Buffer } = {},
): Run {
  const r = spawnSync(command, args, { cwd: options.cwd, input: options.input });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

export const openssl = (args: string[], options: { cwd?: string; input?: string | Buffer } = {}): Run =>
  run('openssl', args, options);

/** openssl's verdict on `leaf` with `bundle` as the only trust anchors (and optional intermediates). */
export function verify(
  dir: string,
  bundlePem: string,
  leafPem: string,
  untrustedPem?: string,
  args: string[] = [],
): Run {
  const bundle = scratch(dir, 'bundle.pem', bundlePem);
  const leaf = scratch(dir, 'leaf.pem', leafPem);
  const untrusted = untrustedPem ? ['-untrusted', scratch(dir, 'untrusted.pem', untrustedPem)] : [];
  return openssl(['verify', ...args, '-CAfile', bundle, ...untrusted, leaf]);
}

export function text(pem: string): string {
  const r = openssl(['x509', '-noout', '-text'], { input: pem });
  if (r.code !== 0) throw new Error(`openssl x509 cannot read the certificate: ${r.stderr}`);
  return r.stdout;
}

let counter = 0;
export function scratch(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, `${++counter}-${name}`);
  writeFileSync(path, content);
  return path;
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'tb-test-'));
  file(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
