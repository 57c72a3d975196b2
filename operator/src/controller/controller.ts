// The TrustBundle controller: caches and reverse index in front, one work queue keyed by bundle,
// and the reconcile pipeline — gather → build (pure core) → publish to targets → status last.
import type { Logger } from 'pino';
import {
  API_VERSION,
  BUNDLE_HASH_ANNOTATION,
  BUNDLE_LABEL,
  FIELD_MANAGER,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  keyOf,
  LIMITS,
  resolvePolicy,
  type AuthorizationServerTargetStatus,
  type ObjectKeyReference,
  type RolloutTargetStatus,
  DEFAULT_DELETION_POLICY,
  DEFAULT_PASSWORD_KEY,
  DEFAULT_TRUSTSTORE_KEY,
  type FannedOutTarget,
  type LabelSelector,
  type ObjectTargetStatus,
  type SecretTarget as SecretTargetSpec,
  type SecretTargetStatus,
  type TrustBundle,
  type TrustBundleStatus,
} from '../api/v1alpha1.ts';
import { AuthorizationServerPool } from '../authserver/index.ts';
import { buildBundle, earliestNotAfter } from '../bundle/build.ts';
import { CertificateCache } from '../bundle/certificate.ts';
import type { BuildReport, Bundle, Policy, Source } from '../bundle/types.ts';
import { isConflict, isNotFound, type KubeClient } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import {
  objectKey,
  SourceCaches,
  TargetCaches,
  targetFingerprint,
  type SourceKind,
  type SourceObject,
  type TargetObject,
} from '../kube/objects.ts';
import { matches, selectorString } from '../kube/selector.ts';
import { FANOUT_CONCURRENCY, mapBounded, Namespaces, summarise } from './fanout.ts';
import { newerOrSame, Reflector } from '../kube/reflector.ts';
import type { OperatorMetrics } from '../observability/metrics.ts';
import { Rollouts, WorkloadCaches, workloadRef } from '../rollout/rollouts.ts';
import { ReferenceIndex } from './index-refs.ts';
import { WorkQueue, type ProcessResult } from './queue.ts';
import { gatherSources } from './sources.ts';
import { canonicalJSON, computeStatus, failedTarget, rfc3339, type PreviousTargetStatus } from './status.ts';
import { AuthorizationServerTargets, authorizationServerRef } from './authorization-servers.ts';
import { OWNER_UID_ANNOTATION, TrustBoundary } from './boundary.ts';
import {
  ClusterTrustBundleApi,
  ClusterTrustBundleTarget,
  TRUST_BUNDLE_KEY,
} from './targets/cluster-trust-bundle.ts';
import { ConfigMapTarget } from './targets/configmap.ts';
import { DEFAULT_TRUSTSTORE_PASSWORD, SecretTarget, type TruststoreSpec } from './targets/secret.ts';
import { digestOf, type Target, type TargetResult } from './targets/target.ts';

export interface ControllerOptions {
  client: KubeClient;
  log: Logger;
  events: EventRecorder;
  metrics?: OperatorMetrics;
  /** Bundles reconciled at once (one at a time per bundle). */
  concurrency?: number;
  /** Every bundle is reconciled at least this often, to catch what no event announced. */
  resyncMs?: number;
  /** A new bundle must be stable this long before workloads are restarted for it. */
  rolloutDebounceMs?: number;
  /** Rollout deadline for workloads without progressDeadlineSeconds. */
  rolloutDeadlineMs?: number;
  /** How often an authorization server's trust is read back to correct changes made there. */
  authServerCheckMs?: number;
  /** Where the operator may read and write; by default sources only from the trust namespace. */
  boundary?: TrustBoundary;
  now?: () => Date;
}

const BUNDLES_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
/** Set only with deletionPolicy Delete, so that published objects are removed with the bundle. */
export const CLEANUP_FINALIZER = `${GROUP}/cleanup`;
const DAY_MS = 86_400_000;
const targetRef = (kind: string, namespace: string, name: string): string =>
  objectKey(`Target${kind}`, namespace, name);

/** Where a published object is: namespace and key only for the kinds that have them. */
interface TargetIdentity {
  namespace?: string;
  name: string;
  key?: string;
}

interface PublishedState {
  fingerprints: Set<string>;
  resourceVersion?: string;
}

type Published = Pick<
  NonNullable<TrustBundleStatus['targets']>,
  'secrets' | 'configMaps' | 'clusterTrustBundles'
>;

/**
 * What the cache keeps of a TrustBundle: managedFields and kubectl's last-applied annotation
 * repeat the whole spec (every inline PEM) and are never read, so they are dropped on arrival.
 */
function slimBundle(tb: TrustBundle): TrustBundle {
  const {
    managedFields: _managed,
    annotations,
    ...metadata
  } = tb.metadata as TrustBundle['metadata'] & {
    managedFields?: unknown;
  };
  if (annotations) {
    const { 'kubectl.kubernetes.io/last-applied-configuration': _last, ...rest } = annotations;
    if (Object.keys(rest).length > 0) (metadata as TrustBundle['metadata']).annotations = rest;
  }
  return { ...tb, metadata };
}

export class TrustBundleController {
  private readonly o: Required<Omit<ControllerOptions, 'metrics'>> & Pick<ControllerOptions, 'metrics'>;
  readonly bundles: Reflector<TrustBundle, TrustBundle>;
  private readonly index = new ReferenceIndex();
  private readonly sources: SourceCaches;
  private readonly secretTargets: TargetCaches;
  private readonly configMapTargets: TargetCaches;
  private readonly clusterTrustBundleTargets: TargetCaches;
  private readonly clusterTrustBundleApi: ClusterTrustBundleApi;
  private readonly workloads: WorkloadCaches;
  private readonly rollouts: Rollouts;
  private readonly authServers: AuthorizationServerTargets;
  private readonly pool: AuthorizationServerPool;
  readonly queue: WorkQueue;
  private readonly certificates = new CertificateCache();
  /** The status each bundle was last given by us, so a lagging cache never causes a rewrite. */
  private readonly lastStatus = new Map<string, { json: string; resourceVersion: string }>();
  private started = false;
  private clusterTrustBundlePath?: string;
  /**
   * Target → the states the last publish left there (the objects it wrote, or the one it found
   * holding the bundle), by content fingerprint, and the resourceVersion of its last write.
   */
  private readonly publishedStates = new Map<string, PublishedState>();
  /** Namespaces and the reverse index from their labels to namespace-selected targets. */
  private readonly namespaces: Namespaces;
  /** Bundle → its label-selected sources, so a labelled object's events reach it. */
  private readonly sourceSelectors = new Map<
    string,
    { kind: SourceKind; namespace: string; selector: LabelSelector }[]
  >();
  /** Bundle → namespace-selected target → the namespaces its last publish left in sync. */
  private readonly fannedSynced = new Map<string, Map<string, string[]>>();

  constructor(options: ControllerOptions) {
    this.o = {
      concurrency: 16,
      resyncMs: 600_000,
      rolloutDebounceMs: 2_000,
      rolloutDeadlineMs: 600_000,
      authServerCheckMs: 300_000,
      boundary: new TrustBoundary({ trustNamespace: 'trustbundle-system' }),
      now: () => new Date(),
      ...options,
    };
    const log = this.o.log;
    const cacheOptions = {
      client: this.o.client,
      resyncMs: 0,
      onError: (err: unknown, what: string) =>
        log.warn({ err: (err as Error).message }, `${what} failed; retrying`),
    };
    this.queue = new WorkQueue(
      async (key) => {
        try {
          return await this.reconcile(key);
        } catch (err) {
          log.warn({ bundle: key, err: (err as Error).message }, 'reconcile failed; retrying with backoff');
          throw err;
        }
      },
      {
        concurrency: this.o.concurrency,
        onDepth: (d) => this.o.metrics?.queueDepth(d),
      },
    );
    this.namespaces = new Namespaces({
      client: this.o.client,
      onError: (err) => log.warn({ err: (err as Error).message }, 'watch of namespaces failed; retrying'),
      enqueue: (bundle) => this.queue.add(bundle),
      removed: (ns) => {
        this.secretTargets.forgetNamespace(ns);
        this.configMapTargets.forgetNamespace(ns);
      },
    });
    this.sources = new SourceCaches(
      cacheOptions,
      (kind, ns, n, labels) =>
        this.index.isReferenced(objectKey(kind, ns, n)) || this.selectedBy(kind, ns, labels).length > 0,
      {
        upsert: (obj, old) => this.sourceChanged(obj, old),
        remove: (obj) => this.sourceChanged(obj),
      },
    );
    const onTarget = (kind: string) => {
      const changed = (t: TargetObject): void => {
        if (t.owner) this.queue.add(t.owner);
        this.enqueueUsers(targetRef(kind, t.namespace, t.name));
      };
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
    const targetCaches = (
      kind: string,
      path: (ns: string) => string,
      contents: (raw: {
        data?: Record<string, string>;
        spec?: { trustBundle?: string };
      }) => Record<string, string>,
    ) => new TargetCaches(cacheOptions, { path, contents }, BUNDLE_LABEL, digestOf, onTarget(kind));
    this.secretTargets = targetCaches(
      'Secret',
      (ns) => `/api/v1/namespaces/${ns}/secrets`,
      (raw) => raw.data ?? {},
    );
    this.configMapTargets = targetCaches(
      'ConfigMap',
      (ns) => `/api/v1/namespaces/${ns}/configmaps`,
      (raw) => raw.data ?? {},
    );
    this.clusterTrustBundleApi = new ClusterTrustBundleApi(this.o.client);
    this.clusterTrustBundleTargets = targetCaches(
      'ClusterTrustBundle',
      // Resolved when the first ClusterTrustBundle target is read; see clusterTrustBundleCache().
      () => this.clusterTrustBundlePath ?? '/apis/certificates.k8s.io/v1/clustertrustbundles',
      (raw) => {
        const out: Record<string, string> = {};
        if (raw.spec?.trustBundle !== undefined) out[TRUST_BUNDLE_KEY] = raw.spec.trustBundle;
        return out;
      },
    );
    const onWorkload = (w: { kind: string; namespace: string; name: string }) => {
      this.enqueueUsers(workloadRef(w.kind, w.namespace, w.name));
      this.enqueueUsers(workloadRef(w.kind, w.namespace, '*'));
    };
    this.workloads = new WorkloadCaches(cacheOptions, { upsert: onWorkload, remove: onWorkload });
    this.rollouts = new Rollouts({
      client: this.o.client,
      caches: this.workloads,
      debounceMs: this.o.rolloutDebounceMs,
      defaultDeadlineMs: this.o.rolloutDeadlineMs,
      onTriggered: (kind) => this.o.metrics?.rolloutTriggered(kind),
      refused: (ns) => this.o.boundary.targetRefused(ns),
    });
    const pool = (this.pool = new AuthorizationServerPool({
      readSecret: async (namespace, name) => {
        const refused = this.o.boundary.secretRefused(namespace, 'authorization-server');
        if (refused) throw new Error(refused);
        const secret = await this.sources.read('Secret', namespace, name);
        if (!secret?.data) throw new Error(`Secret ${namespace}/${name} does not exist`);
        return Object.fromEntries(secret.data);
      },
      logger: log,
    }));
    this.authServers = new AuthorizationServerTargets({
      client: this.o.client,
      boundary: this.o.boundary,
      pool,
      events: this.o.events,
      log,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      bundles: () => this.bundles.list(),
      onChange: (server) => this.enqueueUsers(authorizationServerRef(server)),
      checkMs: this.o.authServerCheckMs,
    });
    this.bundles = new Reflector<TrustBundle, TrustBundle>({
      client: this.o.client,
      path: BUNDLES_PATH,
      transform: slimBundle,
      keyOf: (tb) => tb.metadata.name!,
      resourceVersionOf: (tb) => tb.metadata.resourceVersion,
      resyncMs: this.o.resyncMs,
      onError: (err) => log.warn({ err: (err as Error).message }, 'watch of TrustBundles failed; retrying'),
      handlers: {
        upsert: (tb, old) => {
          this.indexBundle(tb);
          // Our own status writes bring nothing new: recognised by content (the status we wrote),
          // so a status written by anyone else is put right.
          const name = tb.metadata.name!;
          const ours = this.lastStatus.get(name)?.json;
          if (
            !old ||
            old === tb ||
            old.metadata.generation !== tb.metadata.generation ||
            old.metadata.deletionTimestamp !== tb.metadata.deletionTimestamp ||
            (ours !== undefined && canonicalJSON(tb.status ?? {}) !== ours)
          ) {
            this.queue.add(name);
          }
        },
        remove: (tb) => {
          const name = tb.metadata.name!;
          const refs = this.index.refsOf(name);
          for (const ref of refs) this.publishedStates.delete(ref);
          this.index.remove(name);
          this.namespaces.setSelectors(name, []);
          this.sourceSelectors.delete(name);
          this.fannedSynced.delete(name);
          this.lastStatus.delete(name);
          this.rollouts.forget(name);
          this.queue.forget(name);
          this.o.metrics?.forgetBundle(name);
          // Deleting a bundle leaves its targets as they are (deletionPolicy Retain). Another bundle
          // that was refused because this one owned a target may now take it over.
          for (const ref of refs) this.enqueueUsers(ref);
          this.releaseUnused();
          log.info({ bundle: name }, 'TrustBundle deleted; its targets are left in place');
        },
      },
    });
  }

  /**
   * Namespace caches and authorization-server clients no bundle uses any more are released, so
   * that a namespace named once (by mistake, or by a bundle since deleted) is not watched forever.
   */
  private releaseUnused(): void {
    const used = new Set<string>();
    const usedTargets = new Set<string>();
    for (const ref of this.index.allRefs()) {
      const [kind = '', namespace = ''] = ref.split('/');
      if (kind.startsWith('Target')) usedTargets.add(`${kind.slice('Target'.length)}/${namespace}`);
      else used.add(`${kind}/${namespace}`);
    }
    for (const list of this.sourceSelectors.values())
      for (const { kind, namespace } of list) used.add(`${kind}/${namespace}`);
    // Namespaces a selector fans a target out to keep their target caches (drift, clean-up).
    for (const ns of this.namespaces.selected()) {
      usedTargets.add(`Secret/${ns}`);
      usedTargets.add(`ConfigMap/${ns}`);
    }
    const released =
      this.sources.retain(used) +
      this.workloads.retain(used) +
      this.secretTargets.retain(usedTargets) +
      this.configMapTargets.retain(usedTargets) +
      this.clusterTrustBundleTargets.retain(usedTargets);
    this.authServers.retainClients();
    if (released > 0) this.o.log.info({ released }, 'released namespace caches no bundle uses');
  }

  private enqueueUsers(ref: string): void {
    for (const b of this.index.bundlesUsing(ref)) this.queue.add(b);
  }

  /** The bundles whose label-selected sources match an object with these labels. */
  private selectedBy(kind: SourceKind, namespace: string, labels: Record<string, string>): string[] {
    const out: string[] = [];
    for (const [bundle, selectors] of this.sourceSelectors) {
      if (selectors.some((s) => s.kind === kind && s.namespace === namespace && matches(s.selector, labels)))
        out.push(bundle);
    }
    return out;
  }

  /** A source object changed: the bundles naming it, and those selecting it now or before. */
  private sourceChanged(obj: SourceObject, old?: SourceObject): void {
    this.enqueueUsers(objectKey(obj.kind, obj.namespace, obj.name));
    for (const b of this.selectedBy(obj.kind, obj.namespace, obj.labels)) this.queue.add(b);
    if (old) for (const b of this.selectedBy(old.kind, old.namespace, old.labels)) this.queue.add(b);
  }

  private indexBundle(tb: TrustBundle): void {
    const refs: string[] = [];
    const bundleName = tb.metadata.name!;
    const selected: { kind: SourceKind; namespace: string; selector: LabelSelector }[] = [];
    for (const s of tb.spec?.sources ?? []) {
      const ref = s.secret ?? s.configMap;
      const kind: SourceKind = s.secret ? 'Secret' : 'ConfigMap';
      if (ref?.name !== undefined) refs.push(objectKey(kind, ref.namespace, ref.name));
      else if (ref?.selector) selected.push({ kind, namespace: ref.namespace, selector: ref.selector });
    }
    if (selected.length > 0) this.sourceSelectors.set(bundleName, selected);
    else this.sourceSelectors.delete(bundleName);
    const targets = tb.spec?.targets;
    const namespaceSelectors: LabelSelector[] = [];
    for (const t of targets?.secrets ?? []) {
      if (t.namespace !== undefined) refs.push(targetRef('Secret', t.namespace, t.name));
      else if (t.namespaceSelector) namespaceSelectors.push(t.namespaceSelector);
      const pw = t.truststore?.passwordSecret;
      if (pw) refs.push(objectKey('Secret', pw.namespace, pw.name));
    }
    const trust = this.o.boundary.trustNamespace;
    for (const t of targets?.configMaps ?? []) {
      if (t.namespace !== undefined) refs.push(targetRef('ConfigMap', t.namespace, t.name));
      else if (t.namespaceSelector) namespaceSelectors.push(t.namespaceSelector);
    }
    this.namespaces.setSelectors(bundleName, namespaceSelectors);
    // A changed AuthorizationServer, fixed credentials or a new CA for it are acted on at once.
    for (const { name } of targets?.authorizationServers ?? []) {
      if (!name) continue;
      refs.push(authorizationServerRef(name));
      const c = this.authServers.reflector.get(name)?.spec.cloudentity;
      if (c) refs.push(objectKey('Secret', trust, c.credentialsSecret.name));
      if (c?.caSecret) refs.push(objectKey('Secret', trust, c.caSecret.name));
    }
    for (const t of targets?.clusterTrustBundles ?? [])
      refs.push(targetRef('ClusterTrustBundle', '', t.name));
    for (const r of tb.spec?.targets?.rollouts ?? [])
      refs.push(workloadRef(r.kind, r.namespace, r.name ?? '*'));
    this.index.set(tb.metadata.name!, refs);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.authServers.start();
    this.bundles.start();
  }

  get synced(): boolean {
    return this.bundles.hasSynced;
  }

  stop(): void {
    this.queue.stop();
    this.bundles.stop();
    this.sources.stop();
    this.secretTargets.stop();
    this.configMapTargets.stop();
    this.clusterTrustBundleTargets.stop();
    this.workloads.stop();
    this.namespaces.stop();
    this.authServers.stop();
    this.pool.close();
  }

  /** One pass over one bundle. Throws to be retried with backoff. */
  async reconcile(name: string): Promise<ProcessResult> {
    const tb = this.bundles.get(name);
    if (!tb) return;
    try {
      if (!(await this.ensureFinalizer(tb))) return;
    } catch (err) {
      // Without the finalizer the bundle still works; only the clean-up on deletion is at risk.
      const message = `cannot set the cleanup finalizer for deletionPolicy Delete: ${(err as Error).message}`;
      this.o.events.record({ name, uid: tb.metadata.uid }, 'Warning', 'FinalizerFailed', message);
      this.o.log.warn({ bundle: name, err: (err as Error).message }, 'cleanup finalizer');
      if (tb.metadata.deletionTimestamp) throw err;
    }
    const started = performance.now();
    const now = this.o.now();
    const log = this.o.log.child({ bundle: name });
    const policy = resolvePolicy(tb.spec.policy);

    const gathered = await gatherSources(
      tb.spec.sources ?? [],
      (kind, ns, n) => this.sources.read(kind, ns, n),
      {
        refused: (ns) => this.o.boundary.sourceRefused(ns),
        select: (kind, ns, selector) => this.sources.select(kind, ns, selector),
      },
    );
    const gatheringFailed = gathered.problems.some((p) => p.severity === 'error');
    const { report, lapsed } = this.build(tb, gathered.sources, policy, now);
    const problems = [...gathered.problems, ...report.problems];
    const bundle = gatheringFailed ? undefined : report.bundle;
    const previous = tb.status;
    const ref = { name, uid: tb.metadata.uid };
    if (bundle && lapsed && bundle.hash !== previous?.bundleHash) {
      this.o.events.record(
        ref,
        'Warning',
        'CRLLapsed',
        'a CRL in force passed its nextUpdate with no newer CRL in the sources; ca.crl is withdrawn so that ' +
          'nginx does not refuse every client of its CA, and revocation is not enforced until every CA has ' +
          'a current CRL (policy crl: PublishIfComplete)',
      );
    }

    let published: Published;
    let rollouts: RolloutTargetStatus[] | undefined = tb.spec.targets?.rollouts?.length
      ? (previous?.targets?.rollouts ?? [])
      : undefined;
    let authorizationServers: AuthorizationServerTargetStatus[] =
      previous?.targets?.authorizationServers ?? [];
    let requeueAfterMs: number | undefined;
    /** A server's own Retry-After: the earliest retry after a failure (else the queue's backoff). */
    let retryAfterMs: number | undefined;
    let failed = false;
    if (bundle) {
      published = await this.publishAll(tb, bundle, now);
      failed = Object.values(published).some((list) => list?.some((s) => s.state === 'Failed'));
      // Authorization servers and workloads follow once every Secret holds the new bundle; a
      // failing authorization server never holds back the Secrets, nor the rollouts.
      const [servers, rolled] = await Promise.all([
        this.authServers.push(tb, bundle, now),
        !failed && rollouts ? this.rollWorkloads(tb, bundle, rollouts, now) : undefined,
      ]);
      authorizationServers = servers.statuses;
      if (servers.failed) failed = true;
      if (servers.checkAfterMs !== undefined) requeueAfterMs = servers.checkAfterMs;
      retryAfterMs = servers.retryAfterMs;
      if (!rolled && rollouts) {
        // Not attempted: the Secrets do not hold the new bundle yet, so no workload restarts.
        const waiting = 'waiting for every Secret target to hold the new bundle before restarting';
        rollouts = rollouts.length
          ? rollouts.map((r) =>
              r.bundleHash === bundle.hash ? r : { ...r, state: 'Pending', message: waiting },
            )
          : tb.spec.targets!.rollouts!.map((r) => ({
              kind: r.kind,
              namespace: r.namespace,
              name: r.name ?? '*',
              state: 'Pending',
              message: waiting,
            }));
      }
      if (rolled) {
        rollouts = rolled.statuses;
        if (rolled.failed) failed = true;
        if (rolled.requeueAfterMs !== undefined)
          requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, rolled.requeueAfterMs);
      }
      this.o.metrics?.bundleBuilt(name, {
        certificates: bundle.certificates.length,
        earliestNotAfter: earliestNotAfter(bundle),
        crls: bundle.crls,
        casWithoutCrl: problems.filter((p) => p.code === 'MissingCRL').length,
      });
    } else {
      // Rejected: no target is touched; the status keeps describing what is in force.
      published = {
        secrets: previous?.targets?.secrets ?? [],
        configMaps: previous?.targets?.configMaps ?? [],
        clusterTrustBundles: previous?.targets?.clusterTrustBundles ?? [],
      };
      const first = problems.find((p) => p.severity === 'error');
      this.o.events.record(ref, 'Warning', 'BundleRejected', first?.message ?? 'the bundle was rejected');
      log.warn(
        { problems: problems.filter((p) => p.severity === 'error').map((p) => p.message) },
        'bundle rejected; targets left unchanged',
      );
    }

    const confirmed = this.confirmPublished(name, published, bundle !== undefined);
    published = confirmed.published;
    if (confirmed.changed) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, 1_000);

    const status = computeStatus({
      generation: tb.metadata.generation,
      previous,
      bundle,
      problems,
      secrets: published.secrets ?? [],
      configMaps: published.configMaps ?? [],
      clusterTrustBundles: published.clusterTrustBundles ?? [],
      authorizationServers,
      rollouts,
      now,
    });
    await this.writeStatus(tb, status);

    const seconds = (performance.now() - started) / 1000;
    this.o.metrics?.reconciled(name, failed ? 'error' : bundle ? 'success' : 'rejected', seconds);
    if (failed) {
      // Retried with backoff: the periodic check and the rollout deadline are no retry delays.
      throw Object.assign(new Error(`bundle ${name}: some targets failed`), { retryAfterMs });
    }
    const expiryCheck = this.nextCheckMs(bundle, previous, policy.expiryWarningDays, now);
    const after = Math.min(expiryCheck ?? Infinity, requeueAfterMs ?? Infinity);
    return { requeueAfterMs: Number.isFinite(after) ? after : undefined };
  }

  /**
   * The bundle from the gathered sources. A stale CRL keeps the last good state, unless that state
   * is no longer good or has no ca.crl to protect: under PublishIfComplete, when a CRL in force has
   * passed its nextUpdate (nginx now refuses every client of its CA) or no ca.crl is in force,
   * stale CRLs are left out, as for a CA without a CRL. A stale CRL arriving while current CRLs
   * are in force is still refused. `lapsed`: a CRL in force has passed its nextUpdate.
   */
  private build(
    tb: TrustBundle,
    sources: Source[],
    policy: Policy,
    now: Date,
  ): { report: BuildReport; lapsed: boolean } {
    const options = { now, cache: this.certificates };
    const report = buildBundle(sources, policy, options);
    const stale = report.problems.some((p) => p.severity === 'error' && p.code === 'StaleCRL');
    if (report.bundle || !stale || policy.crl !== 'PublishIfComplete') return { report, lapsed: false };
    const inForce = tb.status?.crls ?? [];
    const lapsed = inForce.some(
      (c) => c.nextUpdate !== undefined && Date.parse(c.nextUpdate) <= now.getTime(),
    );
    if (!lapsed && inForce.length > 0) return { report, lapsed: false };
    return { report: buildBundle(sources, policy, { ...options, dropLapsedCrls: true }), lapsed };
  }

  /**
   * When a certificate expires or enters the warning window, or a CRL in force reaches its
   * nextUpdate (nginx then refuses every client of its CA), the bundle must be rebuilt. With the
   * last build rejected, the CRLs in force are those of the status.
   */
  private nextCheckMs(
    bundle: Bundle | undefined,
    inForce: TrustBundleStatus | undefined,
    warningDays: number,
    now: Date,
  ): number | undefined {
    let next = Infinity;
    const moments = (bundle?.certificates ?? []).flatMap((c) => [
      c.notAfter.getTime(),
      c.notAfter.getTime() - warningDays * DAY_MS,
    ]);
    if (bundle) {
      for (const crl of bundle.crls) if (crl.nextUpdate) moments.push(crl.nextUpdate.getTime());
    } else {
      for (const crl of inForce?.crls ?? []) if (crl.nextUpdate) moments.push(Date.parse(crl.nextUpdate));
    }
    for (const t of moments) if (t > now.getTime()) next = Math.min(next, t - now.getTime() + 1000);
    return next < this.o.resyncMs ? next : undefined;
  }

  private async rollWorkloads(
    tb: TrustBundle,
    bundle: Bundle,
    previous: RolloutTargetStatus[],
    now: Date,
  ): Promise<{ statuses: RolloutTargetStatus[]; failed: boolean; requeueAfterMs?: number }> {
    const name = tb.metadata.name!;
    const ref = { name, uid: tb.metadata.uid };
    const targets = tb.spec.targets!.rollouts!;
    try {
      const outcome = await this.rollouts.reconcile(name, targets, bundle.hash, previous, now);
      for (const e of outcome.events) this.o.events.record(ref, e.type, e.reason, e.message);
      return {
        statuses: outcome.statuses,
        failed: false,
        ...(outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : {}),
      };
    } catch (err) {
      const message = `rollout: ${(err as Error).message}`;
      this.o.events.record(ref, 'Warning', 'RolloutFailed', message);
      const statuses: RolloutTargetStatus[] = previous.length
        ? previous.map((r) => ({ ...r, state: 'Failed', message }))
        : targets.map((r) => ({
            kind: r.kind,
            namespace: r.namespace,
            name: r.name ?? '*',
            state: 'Failed',
            message,
          }));
      return { statuses, failed: true };
    }
  }

  /** Every published object (Secrets, ConfigMaps, ClusterTrustBundles), all at once. */
  private async publishAll(tb: TrustBundle, bundle: Bundle, now: Date): Promise<Published> {
    const t = tb.spec.targets ?? {};
    const prev = tb.status?.targets ?? {};
    const deps = (read: () => Promise<TargetObject | undefined>) => ({
      client: this.o.client,
      current: read,
      bundleExists: (owner: string) => this.bundles.get(owner) !== undefined,
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
      this.publishObjects(
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
      this.publishObjects(
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

  /**
   * The Secret or ConfigMap targets of one kind: each named one as it is, each namespace-selected
   * one into every matching namespace. Then what the operator created in a namespace that no
   * longer matches is removed when the bundle's deletionPolicy is Delete (left with Retain).
   */
  private async publishObjects<S extends FannedOutTarget>(
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
      matching = await this.namespaces.matching(spec.namespaceSelector ?? {});
    } catch (err) {
      return { status: failedTarget(base, `${kind} ${spec.name}: ${(err as Error).message}`, prev) };
    }
    // Outside --target-namespaces a namespace is neither read nor written, whatever its labels.
    const allowed = matching.filter((ns) => !this.o.boundary.targetRefused(ns));
    const tally = { wrote: 0 };
    const results = await mapBounded(allowed, FANOUT_CONCURRENCY, async (ns) => {
      const r = await this.publishOne(
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
    let synced = this.fannedSynced.get(owner);
    if (!synced) this.fannedSynced.set(owner, (synced = new Map()));
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
    const caches = this.targetCaches(kind);
    const remove = (tb.spec.deletionPolicy ?? DEFAULT_DELETION_POLICY) === 'Delete';
    let removed = 0;
    for (const ns of caches.namespaces(kind)) {
      if (keep.has(ns)) continue;
      const t = caches.peek(kind, ns, name);
      if (!t || t.owner !== tb.metadata.name) continue;
      this.publishedStates.delete(targetRef(kind, ns, name));
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
        const secret = await this.sources.read('Secret', ref.namespace, ref.name);
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

  private async publishOne<B extends TargetIdentity>(
    tb: TrustBundle,
    bundle: Bundle,
    now: Date,
    target: Target,
    base: B,
    prev: PreviousTargetStatus | undefined,
    kind: string,
    refused: string | undefined,
    /** For one namespace of a fanned-out target: writes are counted here and no Event is recorded. */
    tally?: { wrote: number },
  ): Promise<
    B & { state: 'Synced' | 'Failed'; bundleHash?: string; lastSyncTime?: string; message?: string }
  > {
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
  }

  /**
   * deletionPolicy Delete: a finalizer lets the operator remove the objects it published (only
   * those still labelled with this bundle) before the TrustBundle goes. Authorization servers are
   * never emptied: an empty root_cas would make ACP trust the system roots. With Retain (the
   * default) no finalizer is set and deleting the bundle leaves every target in place.
   * Returns false when the bundle is being deleted and there is nothing more to reconcile.
   */
  private async ensureFinalizer(tb: TrustBundle): Promise<boolean> {
    const name = tb.metadata.name!;
    const wanted = (tb.spec.deletionPolicy ?? DEFAULT_DELETION_POLICY) === 'Delete';
    const has = (tb.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER);
    const path = `${BUNDLES_PATH}/${name}`;
    const setFinalizer = (on: boolean) =>
      this.o.client.apply(
        path,
        {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name, ...(on ? { finalizers: [CLEANUP_FINALIZER] } : {}) },
        },
        FIELD_MANAGER,
      );
    if (!tb.metadata.deletionTimestamp) {
      if (wanted !== has) await setFinalizer(wanted);
      return true;
    }
    if (!has) return false;
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
                  ...(await this.namespaces.matching(s.namespaceSelector ?? {})).filter(
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
    await setFinalizer(false);
    return false;
  }

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
  private confirmPublished(
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
          const fanned = this.confirmFanned(kind, owner, e as ObjectTargetStatus, restoring);
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

  /** confirmPublished for a namespace-selected target: each namespace its last publish left in sync. */
  private confirmFanned(
    kind: string,
    owner: string,
    e: ObjectTargetStatus,
    restoring: boolean,
  ): ObjectTargetStatus {
    const id = `${kind}|${e.namespaceSelector}|${e.name}|${e.key}`;
    const synced = this.fannedSynced.get(owner)?.get(id) ?? [];
    const lost = synced.filter(
      (ns) => !this.stillHolds(kind, { namespace: ns, name: e.name }, owner, e.bundleHash),
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

  private async writeStatus(tb: TrustBundle, status: TrustBundle['status']): Promise<void> {
    const name = tb.metadata.name!;
    const wanted = canonicalJSON(status);
    if (wanted === canonicalJSON(tb.status ?? {})) return;
    // The cache may lag behind our own last status write; once it has seen that write, a status
    // that differs was written by someone else and is put right.
    const ours = this.lastStatus.get(name);
    if (wanted === ours?.json && !newerOrSame(tb.metadata.resourceVersion, ours.resourceVersion)) return;
    try {
      const written = await this.o.client.apply<TrustBundle>(
        `${BUNDLES_PATH}/${name}/status`,
        { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status },
        FIELD_MANAGER,
      );
      this.lastStatus.set(name, { json: wanted, resourceVersion: written?.metadata?.resourceVersion ?? '' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
