// The pinned Helm (hack/build-tools.sh helm) and the chart, for the install and RBAC suites.
import yaml from 'js-yaml';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { cacheRoot, pinnedVersions, REPO_ROOT } from '../harness/tools.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'trustbundle-operator');

export class CommandError extends Error {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stdout: string, stderr: string) {
    super(`${command} failed (${exitCode === null ? 'killed' : `exit ${exitCode}`}): ${stderr.trim()}`);
    this.name = 'CommandError';
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** Runs a program; resolves with stdout, rejects with a CommandError carrying stderr. */
export function run(
  file: string,
  args: readonly string[],
  { timeoutMs = 120_000, env = process.env }: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new CommandError(`${file} ${args.join(' ')}`, code, stdout, stderr));
    });
  });
}

export function helmPath(): string {
  return join(cacheRoot(), `helm-${pinnedVersions().HELM_VERSION}`, 'helm');
}

/** Builds the pinned Helm from the Go module proxy unless cached (about 2.5 min the first time). */
export async function ensureHelm(): Promise<string> {
  await run(join(REPO_ROOT, 'hack', 'build-tools.sh'), ['helm'], { timeoutMs: 900_000 });
  return helmPath();
}

/** `helm ARGS` against the cluster of KUBECONFIG. */
export function helm(args: readonly string[], timeoutMs = 180_000): Promise<string> {
  return run(helmPath(), args, { timeoutMs });
}

/** `--set-json key=value` for each top-level value: no file to write, no string escaping. */
export function valueArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

export interface RenderOptions {
  release: string;
  namespace: string;
  values?: Record<string, unknown>;
  /** Template files to render alone (`--show-only`), e.g. `templates/role.yaml`. */
  only?: string[];
}

/** `helm template` output as YAML text. */
export function template({ release, namespace, values = {}, only = [] }: RenderOptions): Promise<string> {
  return helm([
    'template',
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    ...valueArgs(values),
    ...only.flatMap((t) => ['--show-only', t]),
  ]);
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export function parseManifests(text: string): Manifest[] {
  return yaml.loadAll(text).filter((d): d is Manifest => !!d && typeof d === 'object');
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** The rules of a rendered Role or ClusterRole. */
export function rulesOf(m: Manifest): PolicyRule[] {
  return (m.rules as PolicyRule[] | undefined) ?? [];
}
