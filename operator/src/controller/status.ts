// The TrustBundle status as a pure function of what a reconcile saw and did. Conditions follow
// the Kubernetes API conventions, so `kubectl wait`, Flux (kstatus) and Argo CD read them as is.
import {
  LIMITS,
  shortHash,
  type CertificateStatus,
  type Condition,
  type ConditionStatus,
  type ConditionType,
  type AuthorizationServerTargetStatus,
  type ClusterTrustBundleTargetStatus,
  type ConfigMapTargetStatus,
  type ProblemStatus,
  type RolloutTargetStatus,
  type SecretTargetStatus,
  type TrustBundleStatus,
} from '../api/v1alpha1.ts';
import { earliestNotAfter } from '../bundle/build.ts';
import {
  CONSUMERS,
  type Bundle,
  type CertificateInfo,
  type Consumer,
  type Problem,
} from '../bundle/types.ts';

export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Keeps lastTransitionTime when the status of a condition did not change. */
export function mergeConditions(
  previous: Condition[] | undefined,
  next: ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : rfc3339(now),
    };
  });
}

/** The consumers that cannot use a published certificate as an anchor (under policy unusable: Warn). */
function unusableFor(c: CertificateInfo): { unusableFor?: Consumer[] } {
  const list = CONSUMERS.filter((consumer) => c.consumers[consumer].length > 0);
  return list.length > 0 ? { unusableFor: list } : {};
}

export function certificateStatuses(bundle: Bundle): { list: CertificateStatus[]; truncated: boolean } {
  const list = bundle.certificates.slice(0, LIMITS.statusCertificates).map((c) => ({
    fingerprintSHA256: c.fingerprintSHA256,
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    notAfter: rfc3339(c.notAfter),
    sources: c.sources.slice(0, LIMITS.sources),
    ...unusableFor(c),
  }));
  return { list, truncated: bundle.certificates.length > list.length };
}

export function problemStatuses(problems: Problem[]): { list: ProblemStatus[]; truncated: boolean } {
  // Errors first: they are what a human must act on.
  const sorted = [...problems].sort((a, b) =>
    a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1,
  );
  const list = sorted.slice(0, LIMITS.statusProblems).map((p) => ({
    severity: p.severity,
    code: p.code,
    ...(p.source ? { source: p.source } : {}),
    ...(p.block ? { block: p.block, line: p.line } : {}),
    ...(p.certificate ? { certificate: p.certificate } : {}),
    message: p.message,
  }));
  return { list, truncated: problems.length > list.length };
}

export interface StatusInput {
  generation?: number;
  previous?: TrustBundleStatus;
  /** The bundle built now, or undefined when the sources were rejected. */
  bundle?: Bundle;
  problems: Problem[];
  secrets: SecretTargetStatus[];
  configMaps?: ConfigMapTargetStatus[];
  clusterTrustBundles?: ClusterTrustBundleTargetStatus[];
  authorizationServers?: AuthorizationServerTargetStatus[];
  /** Undefined when the bundle names no rollout targets. */
  rollouts?: RolloutTargetStatus[];
  now: Date;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function summarize(problems: Problem[]): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const first = errors[0] ?? problems[0];
  if (!first) return '';
  const more =
    errors.length > 1 ? ` (and ${plural(errors.length - 1, 'more error')}; see status.problems)` : '';
  return first.message + more;
}

const objectTargetId = (kind: string, t: SecretTargetStatus): string =>
  t.namespaceSelector !== undefined
    ? `${kind} ${t.name} (namespaces ${t.namespaceSelector || 'all'})`
    : `${kind} ${t.namespace}/${t.name}`;

/** SecretsSynced covers every published object: Secrets, ConfigMaps and ClusterTrustBundles. */
function publishedCondition(
  published: { id: string; state: string; bundleHash?: string; message?: string; synced?: number }[],
): ConditionInput {
  const type = 'SecretsSynced';
  if (published.length === 0)
    return {
      type,
      status: 'True',
      reason: 'NoTargets',
      message: 'no Secret, ConfigMap or ClusterTrustBundle targets',
    };
  const failed = published.filter((t) => t.state !== 'Synced');
  if (failed.length > 0) {
    const has = (text: string) => failed.some((t) => t.message?.includes(text));
    const reason = has('already published by')
      ? 'TargetConflict'
      : has('was not created by the operator')
        ? 'NotAdopted'
        : has('(rule ')
          ? 'NotAllowed'
          : failed.every((t) => t.state === 'Pending')
            ? failed.some((t) => t.message?.startsWith('publishing bundle'))
              ? 'Publishing'
              : 'TargetChanged'
            : 'WriteFailed';
    return {
      type,
      status: 'False',
      reason,
      message: failed.map((t) => t.message ?? `${t.id}: ${t.state}`).join('; '),
    };
  }
  const hash = published.find((t) => t.bundleHash)?.bundleHash ?? '';
  // A namespace-selected target counts once per namespace it is in force in.
  const n = published.reduce((sum, t) => sum + (t.synced ?? 1), 0);
  const what = published.every((t) => t.id.startsWith('Secret ')) ? plural(n, 'Secret') : plural(n, 'target');
  return {
    type,
    status: 'True',
    reason: 'Synced',
    message: `${what} ${n === 1 ? 'holds' : 'hold'} bundle ${shortHash(hash)}`,
  };
}

function authorizationServersCondition(servers: AuthorizationServerTargetStatus[]): ConditionInput {
  const type = 'AuthorizationServersSynced';
  if (servers.length === 0)
    return { type, status: 'True', reason: 'NoTargets', message: 'no authorization-server targets' };
  const failed = servers.filter((s) => s.state !== 'Synced');
  if (failed.length > 0) {
    return {
      type,
      status: 'False',
      reason: failed.some((s) => s.message?.includes('inline cloudentity targets were removed'))
        ? 'MigrationRequired'
        : failed.some((s) => s.message?.includes('(rule '))
          ? 'NotAllowed'
          : failed.some((s) => s.state === 'Failed')
            ? 'PushFailed'
            : 'Pending',
      message: failed.map((s) => s.message ?? `${s.url} ${s.server}: ${s.state}`).join('; '),
    };
  }
  return {
    type,
    status: 'True',
    reason: 'Synced',
    message: `${plural(servers.length, 'authorization server')} ${servers.length === 1 ? 'trusts' : 'trust'} the bundle`,
  };
}

const ROLLOUT_REASONS: [RolloutTargetStatus['state'], string][] = [
  ['Failed', 'RolloutFailed'],
  ['NotFound', 'WorkloadNotFound'],
  ['NotAllowed', 'RestartNotAllowed'],
  ['Paused', 'RolloutPaused'],
  ['Progressing', 'RolloutInProgress'],
  ['Pending', 'RolloutPending'],
];

function rolloutsCondition(rollouts: RolloutTargetStatus[] | undefined): ConditionInput {
  const type = 'RolloutsComplete';
  if (rollouts === undefined)
    return { type, status: 'True', reason: 'NoTargets', message: 'no rollout targets' };
  if (rollouts.length === 0)
    return {
      type,
      status: 'True',
      reason: 'NoWorkloads',
      message: 'no workload matches the rollout targets',
    };
  for (const [state, reason] of ROLLOUT_REASONS) {
    const hit = rollouts.filter((r) => r.state === state);
    if (hit.length > 0)
      return {
        type,
        status: 'False',
        reason,
        message: hit.map((r) => r.message ?? `${r.kind} ${r.namespace}/${r.name}: ${state}`).join('; '),
      };
  }
  return {
    type,
    status: 'True',
    reason: 'Complete',
    message: `${plural(rollouts.length, 'workload')} ${rollouts.length === 1 ? 'runs' : 'run'} with the bundle`,
  };
}

/** Failures no retry will fix: the TrustBundle, a source or a workload needs a person. */
const STALLED_REASONS = new Set(['TargetConflict', 'RolloutFailed', 'RolloutPaused', 'WorkloadNotFound']);

/**
 * kstatus (Flux, Argo CD's kstatus users) reads Reconciling=True as in progress and Stalled=True
 * as failed; both are written False when they do not hold, as kstatus expects.
 */
function kstatusConditions(conditions: ConditionInput[]): ConditionInput[] {
  const stalled =
    conditions.find((c) => c.type === 'SourcesValid' && c.status === 'False') ??
    conditions.find((c) => c.status === 'False' && STALLED_REASONS.has(c.reason));
  const busy = conditions.find(
    (c) => c.status === 'False' && (c.reason === 'RolloutInProgress' || c.reason === 'RolloutPending'),
  );
  const reconciling: ConditionInput = busy
    ? { type: 'Reconciling', status: 'True', reason: busy.reason, message: busy.message }
    : { type: 'Reconciling', status: 'False', reason: 'Idle', message: 'nothing in progress' };
  const stall: ConditionInput = stalled
    ? {
        type: 'Stalled',
        status: 'True',
        reason: stalled.reason,
        message: `${stalled.type}: ${stalled.message}`,
      }
    : { type: 'Stalled', status: 'False', reason: 'NotStalled', message: 'no failure that needs a person' };
  return [reconciling, stall];
}

export function computeStatus(input: StatusInput): TrustBundleStatus {
  const { previous, bundle, problems, now } = input;
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.length - errors.length;
  const conditions: ConditionInput[] = [];

  if (bundle) {
    conditions.push({
      type: 'SourcesValid',
      status: 'True',
      reason: warnings > 0 ? 'ValidWithWarnings' : 'Valid',
      message:
        `${plural(bundle.certificates.length, 'certificate')} accepted` +
        (warnings > 0 ? `; ${plural(warnings, 'warning')}: ${summarize(problems)}` : ''),
    });
  } else {
    conditions.push({
      type: 'SourcesValid',
      status: 'False',
      reason: errors[0]?.code ?? 'Invalid',
      message: `${summarize(problems)}. No target was changed; the last good bundle stays in force.`,
    });
  }

  const secrets = input.secrets;
  conditions.push(
    publishedCondition([
      ...secrets.map((t) => ({ ...t, id: objectTargetId('Secret', t) })),
      ...(input.configMaps ?? []).map((t) => ({ ...t, id: objectTargetId('ConfigMap', t) })),
      ...(input.clusterTrustBundles ?? []).map((t) => ({ ...t, id: `ClusterTrustBundle ${t.name}` })),
    ]),
  );
  conditions.push(authorizationServersCondition(input.authorizationServers ?? []));
  conditions.push(rolloutsCondition(input.rollouts));

  const notReady = conditions.find((c) => c.status !== 'True');
  const kstatus = kstatusConditions(conditions);
  conditions.unshift(
    notReady
      ? {
          type: 'Ready',
          status: 'False',
          reason: notReady.type === 'SourcesValid' ? 'SourcesInvalid' : notReady.reason,
          message: `${notReady.type}: ${notReady.message}`,
        }
      : {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: `bundle ${shortHash(bundle?.hash ?? '')} with ${plural(bundle?.certificates.length ?? 0, 'certificate')} is in force`,
        },
  );

  const status: TrustBundleStatus = { observedGeneration: input.generation };
  if (bundle) {
    const certs = certificateStatuses(bundle);
    const nextExpiry = earliestNotAfter(bundle);
    Object.assign(status, {
      bundleHash: bundle.hash,
      shortHash: shortHash(bundle.hash),
      certificateCount: bundle.certificates.length,
      ...(nextExpiry ? { nextExpiry: rfc3339(nextExpiry) } : {}),
      certificates: certs.list,
      ...(certs.truncated ? { certificatesTruncated: true } : {}),
      ...(bundle.crls.length > 0
        ? {
            crls: bundle.crls.slice(0, LIMITS.statusCertificates).map((c) => ({
              issuer: c.issuer,
              thisUpdate: rfc3339(c.thisUpdate),
              ...(c.nextUpdate ? { nextUpdate: rfc3339(c.nextUpdate) } : {}),
              revokedCount: c.revokedCount,
            })),
          }
        : {}),
    });
  } else if (previous?.bundleHash) {
    // Rejected: report the bundle still in force.
    for (const k of [
      'bundleHash',
      'shortHash',
      'certificateCount',
      'nextExpiry',
      'certificates',
      'certificatesTruncated',
      'crls',
    ] as const) {
      if (previous[k] !== undefined) (status as Record<string, unknown>)[k] = previous[k];
    }
  }
  const probs = problemStatuses(problems);
  if (probs.list.length > 0) status.problems = probs.list;
  if (probs.truncated) status.problemsTruncated = true;
  const targets: NonNullable<TrustBundleStatus['targets']> = {};
  if (secrets.length > 0) targets.secrets = secrets;
  if (input.configMaps?.length) targets.configMaps = input.configMaps;
  if (input.clusterTrustBundles?.length) targets.clusterTrustBundles = input.clusterTrustBundles;
  if (input.authorizationServers?.length) targets.authorizationServers = input.authorizationServers;
  if (input.rollouts?.length) targets.rollouts = input.rollouts.slice(0, LIMITS.statusRollouts);
  if (Object.keys(targets).length > 0) status.targets = targets;
  status.conditions = mergeConditions(
    previous?.conditions,
    [...conditions, ...kstatus],
    input.generation,
    now,
  );
  return status;
}

/** JSON with sorted keys, so two statuses compare equal whatever order the server kept. */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** What publishing continues from: a target's entry in the previous status. */
export interface PreviousTargetStatus {
  state: string;
  bundleHash?: string;
  lastSyncTime?: string;
}

/**
 * A target that could not be brought to the new bundle: it still holds what it held, so its
 * status keeps the hash and time of its last sync.
 */
export function failedTarget<B>(
  base: B,
  message: string,
  prev: PreviousTargetStatus | undefined,
): B & { state: 'Failed'; message: string; bundleHash?: string; lastSyncTime?: string } {
  return {
    ...base,
    state: 'Failed',
    message,
    ...(prev?.bundleHash ? { bundleHash: prev.bundleHash } : {}),
    ...(prev?.lastSyncTime ? { lastSyncTime: prev.lastSyncTime } : {}),
  };
}
