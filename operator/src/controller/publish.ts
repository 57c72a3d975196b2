// The publish step of the pipeline: the bundle into every Secret, ConfigMap and ClusterTrustBundle
// target (one namespace, or every namespace a selector matches), under the consent rules of the
// targets themselves; the label-selected caches that see those objects; recognising the
// operator's own writes by content; and, before the status is written, checking that every
// target reported Synced still holds what was published.
import type { Logger } from 'pino';
import {
  BUNDLE_HASH_ANNOTATION,
  BUNDLE_LABEL,
  keyOf,
  DEFAULT_PASSWORD_KEY,
  DEFAULT_TRUSTSTORE_KEY,
  type FannedOutTarget,
  type ObjectKeyReference,
  type ObjectTargetStatus,
  type SecretTarget as SecretTargetSpec,
  type SecretTargetStatus,
  type TrustBundle,
  type TrustBundleStatus,
} from '../api/v1alpha1.ts';
import { CONSUMERS, type Bundle, type Consumer } from '../bundle/types.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import {
  TargetCaches,
  targetFingerprint,
  type NamespacedCacheOptions,
  type SourceCaches,
  type TargetObject,
} from '../kube/objects.ts';
import type { OperatorMetrics } from '../observability/metrics.ts';
import { OWNER_UID_ANNOTATION, type TrustBoundary } from './boundary.ts';
import type { Namespaces } from './fanout.ts';
import { FannedOutTargets, targetRef, type PublishOne, type TargetIdentity } from './fanned-out.ts';
import { failedTarget, rfc3339, type PreviousTargetStatus } from './status.ts';
import {
  ClusterTrustBundleApi,
  ClusterTrustBundleTarget,
  TRUST_BUNDLE_KEY,
} from './targets/cluster-trust-bundle.ts';
import { ConfigMapTarget } from './targets/configmap.ts';
import { DEFAULT_TRUSTSTORE_PASSWORD, SecretTarget, type TruststoreSpec } from './targets/secret.ts';
import { digestOf, type Target, type TargetResult } from './targets/target.ts';

interface PublishedState {
  fingerprints: Set<string>;
  resourceVersion?: string;
}

/**
 * The consumers a bundle's targets put it in front of, whose verdicts count under
 * `policy.unusable`: nginx/OpenSSL for Secrets, ConfigMaps and ClusterTrustBundles, Go for
 * authorization servers (ACP), Java for PKCS#12 truststores. A bundle with no target at all
 * (validation only) is judged for all three.
 */
export function consumersOf(targets: TrustBundle['spec']['targets']): Consumer[] {
  const out: Consumer[] = [];
  const pem =
    (targets?.secrets?.length ?? 0) +
    (targets?.configMaps?.length ?? 0) +
    (targets?.clusterTrustBundles?.length ?? 0);
  if (pem > 0) out.push('nginx');
  if ((targets?.authorizationServers?.length ?? 0) > 0) out.push('go');
  if (targets?.secrets?.some((t) => t.truststore)) out.push('java');
  return out.length > 0 ? out : [...CONSUMERS];
}

export type Published = Pick<
  NonNullable<TrustBundleStatus['targets']>,
  'secrets' | 'configMaps' | 'clusterTrustBundles'
>;

export interface PublisherOptions {
  client: KubeClient;
  events: EventRecorder;
  metrics?: OperatorMetrics;
  log: Logger;
  boundary: TrustBoundary;
  cacheOptions: NamespacedCacheOptions;
  /** Truststore passwords are read through the source caches. */
  sources: SourceCaches;
  namespaces: Namespaces;
  /** Does a TrustBundle of this name exist? (An owner label of a deleted bundle is not a claim.) */
  bundleExists: (name: string) => boolean;
  /** A target changed in a way the operator did not write: its owner and users are reconciled. */
  onTargetChanged: (ref: string, owner: string | undefined) => void;
}

export class Publisher {
  private readonly o: PublisherOptions;
  private readonly secretTargets: TargetCaches;
  private readonly configMapTargets: TargetCaches;
  private readonly clusterTrustBundleTargets: TargetCaches;
  private readonly clusterTrustBundleApi: ClusterTrustBundleApi;
  private clusterTrustBundlePath?: string;
  /**
   * Target → the states the last publish left there (the objects it wrote, or the one it found
   * holding the bundle), by content fingerprint, and the resourceVersion of its last write.
   */
  private readonly publishedStates = new Map<string, PublishedState>();
  private readonly fanned: FannedOutTargets;

  constructor(o: PublisherOptions) {
    this.o = o;
    const onTarget = (kind: string) => {
      const changed = (t: TargetObject): void =>
        o.onTargetChanged(targetRef(kind, t.namespace, t.name), t.owner);
      return {
        // A state the operator wrote or found in sync brings nothing new, whichever order its
        // watch event and the write's answer arrive in: recognised by content, no second reconcile.
        upsert: (t: TargetObject): void => {
          const known = this.publishedStates.get(targetRef(kind, t.namespace, t.name));
          if (!known?.fingerprints.has(targetFingerprint(t))) changed(t);
        },
        // A deletion is never an echo.
        remove: changed,
      };
    };
    const caches = (
      kind: string,
      path: (ns: string) => string,
      contents: (raw: {
        data?: Record<string, string>;
        spec?: { trustBundle?: string };
      }) => Record<string, string>,
      clusterPath?: string,
    ) =>
      new TargetCaches(
        o.cacheOptions,
        { path, contents, ...(clusterPath ? { clusterPath } : {}) },
        BUNDLE_LABEL,
        digestOf,
        onTarget(kind),
      );
    // Targets allowed in any namespace: one cluster-wide watch per kind, not one per namespace.
    const anywhere = o.boundary.anyTargetNamespace;
    this.secretTargets = caches(
      'Secret',
      (ns) => `/api/v1/namespaces/${ns}/secrets`,
      (raw) => raw.data ?? {},
      anywhere ? '/api/v1/secrets' : undefined,
    );
    this.configMapTargets = caches(
      'ConfigMap',
      (ns) => `/api/v1/namespaces/${ns}/configmaps`,
      (raw) => raw.data ?? {},
      anywhere ? '/api/v1/configmaps' : undefined,
    );
    this.clusterTrustBundleApi = new ClusterTrustBundleApi(o.client);
    this.clusterTrustBundleTargets = caches(
      'ClusterTrustBundle',
      // Resolved when the first ClusterTrustBundle target is read; see clusterTrustBundleCache().
      () => this.clusterTrustBundlePath ?? '/apis/certificates.k8s.io/v1/clustertrustbundles',
      (raw) => {
        const out: Record<string, string> = {};
        if (raw.spec?.trustBundle !== undefined) out[TRUST_BUNDLE_KEY] = raw.spec.trustBundle;
        return out;
      },
    );
    this.fanned = new FannedOutTargets({
      client: o.client,
      events: o.events,
      boundary: o.boundary,
      namespaces: o.namespaces,
      caches: (kind) => this.targetCaches(kind),
      publishOne: this.publishOne,
      stillHolds: (kind, t, owner, hash) => this.stillHolds(kind, t, owner, hash),
      forgetPublished: (ref) => this.publishedStates.delete(ref),
    });
  }

  /** A bundle is gone: what was recorded of its targets goes with it. */
  forget(bundle: string, refs: string[]): void {
    for (const ref of refs) this.publishedStates.delete(ref);
    this.fanned.forget(bundle);
  }

  /** A namespace is gone: its target caches are stopped (a later read starts them again). */
  forgetNamespace(namespace: string): void {
    this.secretTargets.forgetNamespace(namespace);
    this.configMapTargets.forgetNamespace(namespace);
  }

  /** Stops the target caches (`kind/namespace`) not in `used`; returns how many were released. */
  retain(used: ReadonlySet<string>): number {
    return (
      this.secretTargets.retain(used) +
      this.configMapTargets.retain(used) +
      this.clusterTrustBundleTargets.retain(used)
    );
  }

  stop(): void {
    this.secretTargets.stop();
    this.configMapTargets.stop();
    this.clusterTrustBundleTargets.stop();
  }

  /**
   * deletionPolicy Delete: removes what the operator created for this very bundle (its UID);
   * an adopted object keeps its keys.
   */
  async removeCreated(tb: TrustBundle): Promise<void> {
    const name = tb.metadata.name!;
    const t = tb.spec.targets ?? {};
    // Only what the operator created for this very bundle: an adopted object keeps its keys.
    const owned = async (read: () => Promise<TargetObject | undefined>) =>
      (await read())?.annotations[OWNER_UID_ANNOTATION] === tb.metadata.uid;
    const removals: { id: string; path: Promise<string | undefined> }[] = [];
    const objects = async (kind: 'Secret' | 'ConfigMap', specs: FannedOutTarget[]) => {
      const caches = this.targetCaches(kind);
      for (const s of specs) {
        // A namespace-selected target: every namespace it matches and every one it was written into.
        const namespaces =
          s.namespace !== undefined
            ? [s.namespace]
            : [
                ...new Set([
                  ...(await this.o.namespaces.matching(s.namespaceSelector ?? {})).filter(
                    (ns) => !this.o.boundary.targetRefused(ns),
                  ),
                  ...caches.namespaces(kind),
                ]),
              ];
        for (const ns of namespaces) {
          removals.push({
            id: `${kind} ${ns}/${s.name}`,
            path: owned(() => caches.read(kind, ns, s.name)).then((o) =>
              o ? `/api/v1/namespaces/${ns}/${kind.toLowerCase()}s/${s.name}` : undefined,
            ),
          });
        }
      }
    };
    await objects('Secret', t.secrets ?? []);
    await objects('ConfigMap', t.configMaps ?? []);
    for (const c of t.clusterTrustBundles ?? []) {
      removals.push({
        id: `ClusterTrustBundle ${c.name}`,
        path: (async () => {
          const base = await this.clusterTrustBundleApi.collectionPath();
          if (!base || !(await this.clusterTrustBundleCache())) return undefined;
          return (await owned(() => this.clusterTrustBundleTargets.read('ClusterTrustBundle', '', c.name)))
            ? `${base}/${c.name}`
            : undefined;
        })(),
      });
    }
    for (const r of removals) {
      const p = await r.path;
      if (!p) continue;
      try {
        await this.o.client.request('DELETE', p);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.o.events.record(
        { name, uid: tb.metadata.uid },
        'Normal',
        'TargetDeleted',
        `${r.id} deleted (deletionPolicy: Delete)`,
      );
    }
  }

  /** Every published object (Secrets, ConfigMaps, ClusterTrustBundles), all at once. */
  async publishAll(tb: TrustBundle, bundle: Bundle, now: Date): Promise<Published> {
    const t = tb.spec.targets ?? {};
    const prev = tb.status?.targets ?? {};
    const deps = (read: () => Promise<TargetObject | undefined>) => ({
      client: this.o.client,
      current: read,
      bundleExists: (owner: string) => this.o.bundleExists(owner),
    });
    /** Publishes to one target, continuing from its entry in the previous status. */
    const publish = <B extends TargetIdentity>(
      kind: string,
      base: B,
      target: Target,
      previous: (TargetIdentity & PreviousTargetStatus)[] | undefined,
      refused: string | undefined,
    ) =>
      this.publishOne(
        tb,
        bundle,
        now,
        target,
        base,
        previous?.find((p) => p.namespace === base.namespace && p.name === base.name && p.key === base.key),
        kind,
        refused,
      );
    const boundary = this.o.boundary;
    const keyed = (r: ObjectKeyReference) => ({ namespace: r.namespace, name: r.name, key: keyOf(r) });
    const secretTarget = (s: SecretTargetSpec, namespace: string) =>
      new SecretTarget(
        {
          namespace,
          name: s.name,
          key: keyOf(s),
          ...(s.truststore ? { truststore: this.truststore(s) } : {}),
        },
        deps(() => this.secretTargets.read('Secret', namespace, s.name)),
      );
    const configMapTarget = (c: FannedOutTarget, namespace: string) =>
      new ConfigMapTarget(
        { namespace, name: c.name, key: keyOf(c) },
        deps(() => this.configMapTargets.read('ConfigMap', namespace, c.name)),
      );
    const [secrets, configMaps, clusterTrustBundles] = await Promise.all([
      this.fanned.publishObjects(
        'Secret',
        tb,
        bundle,
        now,
        t.secrets ?? [],
        prev.secrets,
        secretTarget,
        (s, target) =>
          publish(
            'Secret',
            keyed(s as ObjectKeyReference),
            target,
            prev.secrets,
            boundary.targetRefused(s.namespace!),
          ),
      ),
      this.fanned.publishObjects(
        'ConfigMap',
        tb,
        bundle,
        now,
        t.configMaps ?? [],
        prev.configMaps,
        configMapTarget,
        (c, target) =>
          publish(
            'ConfigMap',
            keyed(c as ObjectKeyReference),
            target,
            prev.configMaps,
            boundary.targetRefused(c.namespace!),
          ),
      ),
      Promise.all(
        (t.clusterTrustBundles ?? []).map((c) => {
          const target = new ClusterTrustBundleTarget(
            { name: c.name, ...(c.signerName ? { signerName: c.signerName } : {}) },
            this.clusterTrustBundleApi,
            deps(async () =>
              (await this.clusterTrustBundleCache())
                ? this.clusterTrustBundleTargets.read('ClusterTrustBundle', '', c.name)
                : undefined,
            ),
          );
          return publish(
            'ClusterTrustBundle',
            { name: c.name },
            target,
            prev.clusterTrustBundles,
            boundary.signerRefused(c.signerName),
          );
        }),
      ),
    ]);
    return {
      secrets: secrets as SecretTargetStatus[],
      configMaps: configMaps as Published['configMaps'],
      clusterTrustBundles: clusterTrustBundles as Published['clusterTrustBundles'],
    };
  }

  /** The ClusterTrustBundle cache can start only once discovery said which version is served. */
  private async clusterTrustBundleCache(): Promise<boolean> {
    if (this.clusterTrustBundlePath) return true;
    const path = await this.clusterTrustBundleApi.collectionPath();
    if (path) this.clusterTrustBundlePath = path;
    return path !== undefined;
  }

  private truststore(s: SecretTargetSpec): TruststoreSpec {
    const ref = s.truststore?.passwordSecret;
    return {
      key: s.truststore?.key || DEFAULT_TRUSTSTORE_KEY,
      password: async () => {
        if (!ref) return { password: DEFAULT_TRUSTSTORE_PASSWORD, from: 'default' };
        const refused = this.o.boundary.secretRefused(ref.namespace, 'truststore password');
        if (refused) throw new Error(`truststore password: ${refused}`);
        const key = ref.key || DEFAULT_PASSWORD_KEY;
        const secret = await this.o.sources.read('Secret', ref.namespace, ref.name);
        const value = secret?.data?.get(key);
        if (!secret || value === undefined) {
          throw new Error(
            `truststore password: Secret ${ref.namespace}/${ref.name} key "${key}" does not exist`,
          );
        }
        return {
          password: value.toString('utf8').trim(),
          from: `Secret ${ref.namespace}/${ref.name}@${secret.resourceVersion}`,
        };
      },
    };
  }

  /** With `tally`, one namespace of a fanned-out target: writes are counted there and no Event is recorded. */
  private readonly publishOne: PublishOne = async (
    tb,
    bundle,
    now,
    target,
    base,
    prev,
    kind,
    refused,
    tally,
  ) => {
    const ref = { name: tb.metadata.name!, uid: tb.metadata.uid };
    const events = tally ? { record: () => undefined } : this.o.events;
    if (refused) {
      // Refused before any API call: the object is neither read nor written.
      const message = `${target.id}: ${refused}`;
      events.record(ref, 'Warning', 'NotAllowed', message);
      return failedTarget(base, message, prev);
    }
    try {
      const result = await target.publish(bundle, { name: ref.name, uid: tb.metadata.uid ?? '' });
      this.recordPublished(kind, base.namespace ?? '', base.name, result);
      if (result.state === 'Conflict' || result.state === 'NotAdopted') {
        const reason = result.state === 'Conflict' ? 'TargetConflict' : 'NotAdopted';
        events.record(ref, 'Warning', reason, result.message ?? target.id);
        return { ...base, state: 'Failed', ...(result.message ? { message: result.message } : {}) };
      }
      if (result.wrote) {
        this.o.metrics?.targetWritten(kind);
        if (tally) tally.wrote++;
        // Pending: it was Synced, then seen changed (confirmPublished) before this repair.
        const drift =
          (prev?.state === 'Synced' || prev?.state === 'Pending') && prev.bundleHash === bundle.hash;
        // Each repair is its own Event (the recorder folds identical ones): the version it wrote.
        const version = result.written?.at(-1)?.metadata?.resourceVersion;
        events.record(
          ref,
          drift ? 'Warning' : 'Normal',
          drift ? 'DriftCorrected' : 'Published',
          drift
            ? `${target.id} had been changed or deleted outside the operator; bundle ${bundle.hash} restored` +
                (version ? ` (resourceVersion ${version})` : '')
            : `${target.id} now holds bundle ${bundle.hash} (${bundle.certificates.length} certificates)`,
        );
      }
      return {
        ...base,
        state: 'Synced',
        bundleHash: bundle.hash,
        lastSyncTime: result.wrote || !prev?.lastSyncTime ? rfc3339(now) : prev.lastSyncTime,
      };
    } catch (err) {
      const message = `${target.id}: ${(err as Error).message}`;
      events.record(ref, 'Warning', 'PublishFailed', message);
      return failedTarget(base, message, prev);
    }
  };

  private targetCaches(kind: string): TargetCaches {
    if (kind === 'Secret') return this.secretTargets;
    if (kind === 'ConfigMap') return this.configMapTargets;
    return this.clusterTrustBundleTargets;
  }

  /** Remembers what a publish left in a target, for echo recognition and the status check. */
  private recordPublished(kind: string, namespace: string, name: string, result: TargetResult): void {
    const ref = targetRef(kind, namespace, name);
    if (result.state !== 'Synced') {
      this.publishedStates.delete(ref);
      return;
    }
    const caches = this.targetCaches(kind);
    const views = result.written?.map((raw) => caches.view(raw, namespace)) ?? [];
    if (result.held) views.push(result.held);
    const last = result.written?.at(-1)?.metadata?.resourceVersion;
    this.publishedStates.set(ref, {
      fingerprints: new Set(views.map(targetFingerprint)),
      ...(last ? { resourceVersion: last } : {}),
    });
  }

  /**
   * Does the target, as its cache last saw it, still hold what was published? Until the cache
   * has seen the operator's last write, the API server's answer to that write is the truth.
   * Without a record (a rejected bundle after a restart), the owner label and hash annotation
   * of the bundle in force must be there.
   */
  private stillHolds(kind: string, t: TargetIdentity, owner: string, hash: string | undefined): boolean {
    const namespace = t.namespace ?? '';
    const caches = this.targetCaches(kind);
    const known = this.publishedStates.get(targetRef(kind, namespace, t.name));
    if (known?.resourceVersion && !caches.caughtUp(kind, namespace, known.resourceVersion)) return true;
    const current = caches.peek(kind, namespace, t.name);
    if (!current) return false;
    if (known) return known.fingerprints.has(targetFingerprint(current));
    return current.owner === owner && current.annotations[BUNDLE_HASH_ANNOTATION] === hash;
  }

  /**
   * The status claims only what the caches show at the moment it is written: a target deleted
   * or changed since it was published is not reported Synced (its watch event has queued the
   * reconcile that restores it).
   */
  confirmPublished(
    owner: string,
    published: Published,
    restoring: boolean,
  ): { published: Published; changed: boolean } {
    let changed = false;
    const confirm = <E extends TargetIdentity & { state: string; bundleHash?: string; message?: string }>(
      kind: string,
      entries: E[] | undefined,
    ): E[] =>
      (entries ?? []).map((e) => {
        if ((e as ObjectTargetStatus).namespaceSelector !== undefined) {
          const fanned = this.fanned.confirm(kind, owner, e as ObjectTargetStatus, restoring);
          if (fanned !== e) changed = true;
          return fanned as unknown as E;
        }
        if (e.state !== 'Synced' || this.stillHolds(kind, e, owner, e.bundleHash)) return e;
        changed = true;
        const id = `${kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}`;
        return {
          ...e,
          state: 'Pending',
          message: restoring
            ? `${id} was deleted or changed outside the operator after it was published; restoring it`
            : `${id} no longer holds the bundle in force, and the sources are rejected: it is restored once they are fixed`,
        };
      });
    return {
      published: {
        secrets: confirm('Secret', published.secrets),
        configMaps: confirm('ConfigMap', published.configMaps),
        clusterTrustBundles: confirm('ClusterTrustBundle', published.clusterTrustBundles),
      },
      changed,
    };
  }
}
