// The pinned Helm (hack/build-tools.sh helm) and the chart, for the install and RBAC suites.
import yaml from 'js-yaml';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl } from '../harness/kube.ts';
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
  {
    timeoutMs = 120_000,
    env = process.env,
    cwd,
  }: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { env, cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 };
    execFile(file, args, options, (err, stdout, stderr) => {
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

/** prometheus-operator, whose CRDs (ServiceMonitor, PrometheusRule) the chart's optional objects use. */
export const PROMETHEUS_OPERATOR_MODULE = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';

/**
 * Installs the real ServiceMonitor and PrometheusRule CRDs, taken from the prometheus-operator Go
 * module (the Go module proxy is reachable here, its container registry is not), so the API
 * server validates the chart's objects against their published schemas.
 */
export async function installMonitoringCrds(): Promise<void> {
  const info = JSON.parse(
    await run('go', ['mod', 'download', '-json', PROMETHEUS_OPERATOR_MODULE], {
      cwd: tmpdir(),
      env: { ...process.env, GOFLAGS: '-mod=mod' },
    }),
  ) as { Dir?: string };
  if (!info.Dir) throw new Error(`go mod download ${PROMETHEUS_OPERATOR_MODULE} gave no directory`);
  const dir = join(info.Dir, 'example', 'prometheus-operator-crd');
  const crds = ['servicemonitors', 'prometheusrules'];
  for (const plural of crds) {
    await kubectl(['apply', '--server-side', '-f', join(dir, `monitoring.coreos.com_${plural}.yaml`)]);
  }
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crds.map((p) => `crd/${p}.monitoring.coreos.com`),
  ]);
}
