// Namespace-selected targets: one Secret or ConfigMap target written into every namespace its
// selector matches inside --target-namespaces, summarised in one status entry; what the operator
// created where the selector no longer matches is removed under deletionPolicy Delete; and, before
// the status is written, each namespace the last publish left in sync is checked again.
import {
  DEFAULT_DELETION_POLICY,
  keyOf,
  LIMITS,
  type FannedOutTarget,
  type ObjectTargetStatus,
  type TrustBundle,
} from '../api/v1alpha1.ts';
import type { Bundle } from '../bundle/types.ts';
import { isConflict, isNotFound, type KubeClient } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { objectKey, type TargetCaches } from '../kube/objects.ts';
import { selectorString } from '../kube/selector.ts';
import { OWNER_UID_ANNOTATION, type TrustBoundary } from './boundary.ts';
import { FANOUT_CONCURRENCY, mapBounded, summarise, type Namespaces } from './fanout.ts';
import { failedTarget, type PreviousTargetStatus } from './status.ts';
import type { Target } from './targets/target.ts';

/** The index key of a published object (the reconcile of its users follows its changes). */
export const targetRef = (kind: string, namespace: string, name: string): string =>
  objectKey(`Target${kind}`, namespace, name);

/** Where a published object is: namespace and key only for the kinds that have them. */
export interface TargetIdentity {
  namespace?: string;
  name: string;
  key?: string;
}

export type PublishedEntry<B> = B & {
  state: 'Synced' | 'Failed';
  bundleHash?: string;
  lastSyncTime?: string;
  message?: string;
};

/** Publishes to one target (Publisher.publishOne); with `tally`, one namespace of a fanned-out one. */
export type PublishOne = <B extends TargetIdentity>(
  tb: TrustBundle,
  bundle: Bundle,
  now: Date,
  target: Target,
  base: B,
  prev: PreviousTargetStatus | undefined,
  kind: string,
  refused: string | undefined,
  tally?: { wrote: number },
) => Promise<PublishedEntry<B>>;

export interface FannedOutOptions {
  client: KubeClient;
  events: EventRecorder;
  boundary: TrustBoundary;
  namespaces: Namespaces;
  caches: (kind: string) => TargetCaches;
  publishOne: PublishOne;
  /** Does the target, as its cache shows it now, still hold what was published? */
  stillHolds: (kind: string, t: TargetIdentity, owner: string, hash: string | undefined) => boolean;
  /** What the last publish left in a target is no longer the operator's concern. */
  forgetPublished: (ref: string) => void;
}

export class FannedOutTargets {
  private readonly o: FannedOutOptions;
  /** Bundle → fanned-out target → the namespaces published in sync by the last reconcile. */
  private readonly synced = new Map<string, Map<string, string[]>>();

  constructor(o: FannedOutOptions) {
    this.o = o;
  }

  /** A bundle is gone: what was recorded of its targets goes with it. */
  forget(bundle: string): void {
    this.synced.delete(bundle);
  }

  /**
   * The Secret or ConfigMap targets of one kind: each named one as it is, each namespace-selected
   * one into every matching namespace. Then what the operator created in a namespace that no
   * longer matches is removed when the bundle's deletionPolicy is Delete (left with Retain).
   */
  async publishObjects<S extends FannedOutTarget>(
    kind: 'Secret' | 'ConfigMap',
    tb: TrustBundle,
    bundle: Bundle,
    now: Date,
    specs: S[],
    previous: ObjectTargetStatus[] | undefined,
    make: (spec: S, namespace: string) => Target,
    single: (spec: S, target: Target) => Promise<ObjectTargetStatus>,
  ): Promise<ObjectTargetStatus[]> {
    /** Target name → the namespaces where this bundle wants it (undefined: not known now). */
    const keep = new Map<string, Set<string> | undefined>();
    const want = (name: string, namespaces: string[] | undefined): void => {
      if (!namespaces) keep.set(name, undefined);
      else if (!keep.has(name) || keep.get(name))
        keep.set(name, new Set([...(keep.get(name) ?? []), ...namespaces]));
    };
    const fanned = specs.filter((s) => s.namespace === undefined && s.namespaceSelector);
    const statuses = await Promise.all(
      specs.map(async (s) => {
        if (s.namespace !== undefined) {
          if (fanned.some((f) => f.name === s.name)) want(s.name, [s.namespace]);
          return single(s, make(s, s.namespace));
        }
        const out = await this.publishFanOut(kind, tb, bundle, now, s, previous, (ns) => make(s, ns));
        want(s.name, out.namespaces);
        return out.status;
      }),
    );
    for (const [name, namespaces] of keep)
      if (namespaces) await this.removeUnmatched(kind, tb, name, namespaces);
    return statuses;
  }

  private async publishFanOut(
    kind: 'Secret' | 'ConfigMap',
    tb: TrustBundle,
    bundle: Bundle,
    now: Date,
    spec: FannedOutTarget,
    previous: ObjectTargetStatus[] | undefined,
    make: (namespace: string) => Target,
  ): Promise<{ status: ObjectTargetStatus; namespaces?: string[] }> {
    const owner = tb.metadata.name!;
    const selector = selectorString(spec.namespaceSelector ?? {});
    const base = { namespaceSelector: selector, name: spec.name, key: keyOf(spec) };
    const id = `${kind}|${selector}|${spec.name}|${base.key}`;
    const prev = previous?.find(
      (p) => p.namespaceSelector === selector && p.name === spec.name && p.key === base.key,
    );
    let matching: string[];
    try {
      matching = await this.o.namespaces.matching(spec.namespaceSelector ?? {});
    } catch (err) {
      return { status: failedTarget(base, `${kind} ${spec.name}: ${(err as Error).message}`, prev) };
    }
    // Outside --target-namespaces a namespace is neither read nor written, whatever its labels.
    const allowed = matching.filter((ns) => !this.o.boundary.targetRefused(ns));
    const tally = { wrote: 0 };
    const results = await mapBounded(allowed, FANOUT_CONCURRENCY, async (ns) => {
      const r = await this.o.publishOne(
        tb,
        bundle,
        now,
        make(ns),
        { namespace: ns, name: spec.name, key: base.key },
        prev,
        kind,
        undefined,
        tally,
      );
      return { ...r, namespace: ns };
    });
    let synced = this.synced.get(owner);
    if (!synced) this.synced.set(owner, (synced = new Map()));
    synced.set(
      id,
      results.filter((r) => r.state === 'Synced').map((r) => r.namespace),
    );
    const status = summarise(kind, base, results, matching.length - allowed.length, bundle.hash, prev);
    const ref = { name: owner, uid: tb.metadata.uid };
    if (tally.wrote > 0) {
      this.o.events.record(
        ref,
        'Normal',
        'Published',
        `${kind} ${spec.name} now holds bundle ${bundle.hash} in ${tally.wrote} more namespaces ` +
          `(${status.synced} of ${status.matched} matching ${selector || 'every namespace'})`,
      );
    }
    if (status.state === 'Failed')
      this.o.events.record(ref, 'Warning', 'PublishFailed', status.message ?? '');
    return { status, namespaces: allowed };
  }

  /** The objects of a namespace-selected target left where it no longer applies. */
  private async removeUnmatched(
    kind: 'Secret' | 'ConfigMap',
    tb: TrustBundle,
    name: string,
    keep: Set<string>,
  ): Promise<void> {
    const caches = this.o.caches(kind);
    const remove = (tb.spec.deletionPolicy ?? DEFAULT_DELETION_POLICY) === 'Delete';
    let removed = 0;
    for (const ns of caches.namespaces(kind)) {
      if (keep.has(ns)) continue;
      const t = caches.peek(kind, ns, name);
      if (!t || t.owner !== tb.metadata.name) continue;
      this.o.forgetPublished(targetRef(kind, ns, name));
      // Only what the operator created for this very bundle; an adopted object keeps the bundle.
      if (!remove || t.annotations[OWNER_UID_ANNOTATION] !== tb.metadata.uid) continue;
      try {
        await this.o.client.request('DELETE', `/api/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}`, {
          body: {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            preconditions: { resourceVersion: t.resourceVersion },
          },
        });
        removed++;
      } catch (err) {
        // Changed meanwhile (its event brings the bundle back) or gone already.
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    if (removed > 0) {
      this.o.events.record(
        { name: tb.metadata.name!, uid: tb.metadata.uid },
        'Normal',
        'TargetDeleted',
        `${kind} ${name} deleted from ${removed} namespaces that no longer match (deletionPolicy: Delete)`,
      );
    }
  }

  /** confirmPublished for a namespace-selected target: each namespace its last publish left in sync. */
  confirm(kind: string, owner: string, e: ObjectTargetStatus, restoring: boolean): ObjectTargetStatus {
    const id = `${kind}|${e.namespaceSelector}|${e.name}|${e.key}`;
    const synced = this.synced.get(owner)?.get(id) ?? [];
    const lost = synced.filter(
      (ns) => !this.o.stillHolds(kind, { namespace: ns, name: e.name }, owner, e.bundleHash),
    );
    if (lost.length === 0) return e;
    const why = restoring
      ? 'was deleted or changed outside the operator after it was published; restoring it'
      : 'no longer holds the bundle in force, and the sources are rejected: it is restored once they are fixed';
    const failures = [
      ...lost.map((ns) => ({ namespace: ns, message: `${kind} ${ns}/${e.name} ${why}` })),
      ...(e.failures ?? []),
    ].slice(0, LIMITS.statusFailures);
    return {
      ...e,
      state: e.state === 'Failed' ? 'Failed' : 'Pending',
      synced: Math.max(0, (e.synced ?? 0) - lost.length),
      failures,
      message: `${kind} ${e.name}: ${lost.length} of ${e.matched ?? lost.length} namespaces changed: ${failures[0]!.message}`,
    };
  }
}
