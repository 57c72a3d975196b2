// Restarting the workloads that enforce a bundle: once per distinct bundle hash, by the pod
// template annotation (never a timestamp, so GitOps re-syncs and replays restart nothing), only
// when the bundle has been stable for a moment (a burst of edits gives one rollout), never while
// an earlier rollout is still in progress, never on a paused Deployment.
import {
  BUNDLE_HASH_ANNOTATION,
  FIELD_MANAGER,
  ROLLOUT_KINDS,
  type RolloutKind,
  type RolloutTarget,
  type RolloutTargetStatus,
} from '../api/v1alpha1.ts';
import { consents, RESTART_ON_ANNOTATION } from '../controller/boundary.ts';
import type { KubeClient } from '../kube/client.ts';
import { NamespacedCaches } from '../kube/objects.ts';
import type { Reflector } from '../kube/reflector.ts';
import { progressOf, toWorkload, type Workload } from './workload.ts';

const PLURALS: Record<RolloutKind, string> = {
  Deployment: 'deployments',
  DaemonSet: 'daemonsets',
  StatefulSet: 'statefulsets',
};

export const workloadRef = (kind: string, namespace: string, name: string): string =>
  `${kind}/${namespace}/${name}`;

export class WorkloadCaches extends NamespacedCaches<{ metadata?: { name?: string } }, Workload> {
  protected create(kind: string, namespace: string): Reflector<{ metadata?: { name?: string } }, Workload> {
    const k = kind as RolloutKind;
    return this.watch(
      `watch ${kind}s in ${namespace}`,
      `/apis/apps/v1/namespaces/${namespace}/${PLURALS[k]}`,
      (raw) =>
        toWorkload(k, raw as Parameters<typeof toWorkload>[1], BUNDLE_HASH_ANNOTATION, RESTART_ON_ANNOTATION),
    );
  }

  /**
   * The workloads a target names that consent to restarts by `bundle` (the Reloader convention:
   * the workload's own restart-on annotation); a named one without consent is `refused`.
   */
  async resolve(
    target: RolloutTarget,
    bundle: string,
  ): Promise<{ workloads: Workload[]; missing?: string; refused?: string }> {
    const r = await this.ready(target.kind, target.namespace);
    const consenting = (w: Workload) => consents(w.annotations, RESTART_ON_ANNOTATION, bundle);
    if (target.name) {
      const w = r.get(target.name);
      if (!w) return { workloads: [], missing: target.name };
      return consenting(w) ? { workloads: [w] } : { workloads: [], refused: target.name };
    }
    const want = Object.entries(target.selector?.matchLabels ?? {});
    const workloads = r
      .list()
      .filter((w) => want.every(([k, v]) => w.labels[k] === v) && consenting(w))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return { workloads };
  }
}

export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RolloutOutcome {
  statuses: RolloutTargetStatus[];
  events: RolloutEvent[];
  /** Come back then (debounce or deadline), even if no event arrives. */
  requeueAfterMs?: number;
}

export interface RolloutOptions {
  client: KubeClient;
  caches: WorkloadCaches;
  /** A bundle hash must be this old before workloads are restarted for it. */
  debounceMs: number;
  /** Deadline for workloads without progressDeadlineSeconds (DaemonSets, StatefulSets). */
  defaultDeadlineMs: number;
  onTriggered?: (kind: string) => void;
  /** Why workloads in a namespace may not be restarted (checked before any read), or undefined. */
  refused?: (namespace: string) => string | undefined;
}

const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Rollouts {
  private readonly o: RolloutOptions;
  /** When each bundle's current hash was first seen, for the debounce. */
  private readonly hashSince = new Map<string, { hash: string; since: number }>();

  constructor(options: RolloutOptions) {
    this.o = options;
  }

  forget(bundle: string): void {
    this.hashSince.delete(bundle);
  }

  /**
   * Brings every workload of `targets` to `hash`: restarts what is not there yet, reports what
   * is progressing, complete, paused, missing or failed.
   */
  async reconcile(
    bundle: string,
    targets: RolloutTarget[],
    hash: string,
    previous: RolloutTargetStatus[],
    now: Date,
  ): Promise<RolloutOutcome> {
    const out: RolloutOutcome = { statuses: [], events: [] };
    const t = now.getTime();
    let seen = this.hashSince.get(bundle);
    if (!seen || seen.hash !== hash) this.hashSince.set(bundle, (seen = { hash, since: t }));
    const settled = t - seen.since >= this.o.debounceMs;
    const later = (ms: number) => {
      out.requeueAfterMs = Math.max(1, Math.min(out.requeueAfterMs ?? Infinity, ms));
    };

    for (const target of targets) {
      if (!ROLLOUT_KINDS.includes(target.kind)) continue;
      const notAllowed = (name: string, message: string): RolloutTargetStatus => ({
        kind: target.kind,
        namespace: target.namespace,
        name,
        state: 'NotAllowed',
        message,
      });
      const outside = this.o.refused?.(target.namespace);
      if (outside) {
        out.statuses.push(
          notAllowed(target.name ?? '*', `${target.kind}s in ${target.namespace}: ${outside}`),
        );
        continue;
      }
      const { workloads, missing, refused } = await this.o.caches.resolve(target, bundle);
      if (refused) {
        const id = `${target.kind} ${target.namespace}/${refused}`;
        if (!previous.some((p) => p.name === refused && p.state === 'NotAllowed'))
          out.events.push({
            type: 'Warning',
            reason: 'RestartNotAllowed',
            message: `${id} was not restarted`,
          });
        out.statuses.push(
          notAllowed(
            refused,
            `${id} does not consent to restarts by this bundle: it is never patched. Its owner may add the ` +
              `annotation ${RESTART_ON_ANNOTATION}=${bundle}`,
          ),
        );
        continue;
      }
      if (missing) {
        out.statuses.push({
          kind: target.kind,
          namespace: target.namespace,
          name: missing,
          state: 'NotFound',
          message: `${target.kind} ${target.namespace}/${missing} does not exist`,
        });
        continue;
      }
      for (const w of workloads) {
        out.statuses.push(await this.one(w, hash, previous, now, settled, seen.since, later, out.events));
      }
    }
    return out;
  }

  private async one(
    w: Workload,
    hash: string,
    previous: RolloutTargetStatus[],
    now: Date,
    settled: boolean,
    since: number,
    later: (ms: number) => void,
    events: RolloutEvent[],
  ): Promise<RolloutTargetStatus> {
    const id = `${w.kind} ${w.namespace}/${w.name}`;
    const base = { kind: w.kind, namespace: w.namespace, name: w.name };
    const prev = previous.find((p) => p.kind === w.kind && p.namespace === w.namespace && p.name === w.name);
    const t = now.getTime();

    if (w.templateHash === hash) {
      const p = progressOf(w);
      const triggered =
        prev?.bundleHash === hash && prev.lastSyncTime ? Date.parse(prev.lastSyncTime) : undefined;
      const deadline = (w.progressDeadlineSeconds ?? this.o.defaultDeadlineMs / 1000) * 1000;
      let state: RolloutTargetStatus['state'] = p.state;
      let message = p.message;
      if (p.state === 'Progressing' && triggered !== undefined) {
        // Our own clock as a backstop: progressDeadlineSeconds is only enforced for Deployments.
        const left = triggered + deadline + (w.kind === 'Deployment' ? 30_000 : 0) - t;
        if (left <= 0) {
          state = 'Failed';
          message = `${id} did not finish its rollout within ${Math.round(deadline / 1000)}s: ${p.message}`;
        } else later(left);
      }
      if (prev?.state !== state) {
        if (state === 'Complete')
          events.push({
            type: 'Normal',
            reason: 'RolloutComplete',
            message: `${id} runs with bundle ${hash}`,
          });
        if (state === 'Failed') events.push({ type: 'Warning', reason: 'RolloutFailed', message });
      }
      return {
        ...base,
        state,
        bundleHash: hash,
        ...(prev?.lastSyncTime ? { lastSyncTime: prev.lastSyncTime } : {}),
        message,
      };
    }

    if (w.paused) {
      if (prev?.state !== 'Paused') {
        events.push({
          type: 'Warning',
          reason: 'RolloutPaused',
          message: `${id} is paused; it was not restarted for bundle ${hash}`,
        });
      }
      return {
        ...base,
        state: 'Paused',
        ...(w.templateHash ? { bundleHash: w.templateHash } : {}),
        message: `${id} is paused: resume it (kubectl rollout resume) to enforce bundle ${hash}`,
      };
    }

    // An earlier rollout still in progress finishes first: a burst of changes is one more rollout, not many.
    if (w.templateHash) {
      const p = progressOf(w);
      if (p.state === 'Progressing') {
        later(2_000);
        return {
          ...base,
          state: 'Pending',
          bundleHash: w.templateHash,
          message: `waiting for the rollout of the previous bundle to finish: ${p.message}`,
        };
      }
    }
    if (!settled) {
      later(since + this.o.debounceMs - t);
      return {
        ...base,
        state: 'Pending',
        ...(w.templateHash ? { bundleHash: w.templateHash } : {}),
        message: `restart for bundle ${hash} scheduled`,
      };
    }

    await this.o.client.apply(
      `/apis/apps/v1/namespaces/${w.namespace}/${PLURALS[w.kind]}/${w.name}`,
      {
        apiVersion: 'apps/v1',
        kind: w.kind,
        metadata: { name: w.name, namespace: w.namespace },
        spec: { template: { metadata: { annotations: { [BUNDLE_HASH_ANNOTATION]: hash } } } },
      },
      FIELD_MANAGER,
    );
    this.o.onTriggered?.(w.kind);
    events.push({
      type: 'Normal',
      reason: 'RolloutTriggered',
      message: `${id} restarted to enforce bundle ${hash}`,
    });
    later(this.o.defaultDeadlineMs);
    return {
      ...base,
      state: 'Progressing',
      bundleHash: hash,
      lastSyncTime: rfc3339(now),
      message: `${id} restarted for bundle ${hash}`,
    };
  }
}
