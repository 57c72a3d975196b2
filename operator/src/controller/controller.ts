// The TrustBundle controller: caches and reverse index in front, one work queue keyed by bundle,
// and the reconcile pipeline — gather → build (pure core) → publish to targets → status last.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  API_VERSION,
  FIELD_MANAGER,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  resolvePolicy,
  shortHash,
  type AuthorizationServerTargetStatus,
  type RolloutTargetStatus,
  DEFAULT_DELETION_POLICY,
  type LabelSelector,
  type TrustBundle,
  type TrustBundleStatus,
} from '../api/v1alpha1.ts';
import { AuthorizationServerPool } from '../authserver/index.ts';
import { buildBundle, earliestNotAfter } from '../bundle/build.ts';
import { CertificateCache } from '../bundle/certificate.ts';
import type { BuildReport, Bundle, Policy, Problem, Source } from '../bundle/types.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { objectKey, SourceCaches, type SourceKind, type SourceObject } from '../kube/objects.ts';
import { matches } from '../kube/selector.ts';
import { Namespaces } from './fanout.ts';
import { newerOrSame, Reflector } from '../kube/reflector.ts';
import type { OperatorMetrics } from '../observability/metrics.ts';
import { Rollouts, WorkloadCaches, workloadRef } from '../rollout/rollouts.ts';
import { ReferenceIndex } from './index-refs.ts';
import { WorkQueue, type ProcessResult } from './queue.ts';
import { targetRef } from './fanned-out.ts';
import { consumersOf, Publisher, type Published } from './publish.ts';
import { gatherSources } from './sources.ts';
import { canonicalJSON, computeStatus } from './status.ts';
import { AuthorizationServerTargets, authorizationServerRef } from './authorization-servers.ts';
import { TrustBoundary } from './boundary.ts';

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

/**
 * The status while a new bundle is being published: nothing is claimed of the bundle before, whose
 * bytes are about to be replaced in the targets (and then at the servers and in the workloads),
 * until the status after the publish says what holds it.
 */
function publishingStatus(
  tb: TrustBundle,
  bundle: Bundle,
  problems: Problem[],
  now: Date,
): TrustBundleStatus {
  const previous = tb.status;
  const message = `publishing bundle ${shortHash(bundle.hash)}`;
  // Every target is tried again with the new bundle; a workload's own state (paused, missing,
  // without consent) stays what it is.
  const settled = new Set(['Paused', 'NotFound', 'NotAllowed']);
  const pending = <E extends { state: string; message?: string }>(list: E[] | undefined): E[] =>
    (list ?? []).map((e) => (settled.has(e.state) ? e : { ...e, state: 'Pending', message }));
  const t = previous?.targets ?? {};
  return computeStatus({
    generation: tb.metadata.generation,
    previous,
    bundle,
    problems,
    secrets: pending(t.secrets),
    configMaps: pending(t.configMaps),
    clusterTrustBundles: pending(t.clusterTrustBundles),
    authorizationServers: pending(t.authorizationServers),
    ...(tb.spec.targets?.rollouts?.length ? { rollouts: pending(t.rollouts) } : {}),
    now,
  });
}

/** What identifies a status: kept per bundle instead of the status itself (~8 KB of JSON with 10 CAs). */
const statusDigest = (status: TrustBundle['status']): string =>
  createHash('sha256')
    .update(canonicalJSON(status ?? {}))
    .digest('base64');

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
  private readonly publisher: Publisher;
  private readonly workloads: WorkloadCaches;
  private readonly rollouts: Rollouts;
  private readonly authServers: AuthorizationServerTargets;
  private readonly pool: AuthorizationServerPool;
  readonly queue: WorkQueue;
  private readonly certificates = new CertificateCache();
  /** The status each bundle was last given by us, so a lagging cache never causes a rewrite. */
  /** Bundle → SHA-256 of the canonical JSON of the status last written, and that write's resourceVersion. */
  private readonly lastStatus = new Map<string, { digest: string; resourceVersion: string }>();
  private started = false;
  /** Namespaces and the reverse index from their labels to namespace-selected targets. */
  private readonly namespaces: Namespaces;
  /** Bundle → its label-selected sources, so a labelled object's events reach it. */
  private readonly sourceSelectors = new Map<
    string,
    { kind: SourceKind; namespace: string; selector: LabelSelector }[]
  >();
  /** Bundle → namespace-selected target → the namespaces its last publish left in sync. */

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
      onWarning: (message: string) => log.warn(message),
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
      removed: (ns) => this.publisher.forgetNamespace(ns),
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
    this.publisher = new Publisher({
      client: this.o.client,
      events: this.o.events,
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      log,
      boundary: this.o.boundary,
      cacheOptions,
      sources: this.sources,
      namespaces: this.namespaces,
      bundleExists: (owner) => this.bundles.get(owner) !== undefined,
      onTargetChanged: (ref, owner) => {
        if (owner) this.queue.add(owner);
        this.enqueueUsers(ref);
      },
    });
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
          const ours = this.lastStatus.get(name)?.digest;
          if (
            !old ||
            old === tb ||
            old.metadata.generation !== tb.metadata.generation ||
            old.metadata.deletionTimestamp !== tb.metadata.deletionTimestamp ||
            (ours !== undefined && statusDigest(tb.status ?? {}) !== ours)
          ) {
            this.queue.add(name);
          }
        },
        remove: (tb) => {
          const name = tb.metadata.name!;
          const refs = this.index.refsOf(name);
          this.publisher.forget(name, refs);
          this.index.remove(name);
          this.namespaces.setSelectors(name, []);
          this.sourceSelectors.delete(name);
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
      this.sources.retain(used) + this.workloads.retain(used) + this.publisher.retain(usedTargets);
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
    this.publisher.stop();
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
      if (previous?.bundleHash && previous.bundleHash !== bundle.hash)
        await this.writeStatus(tb, publishingStatus(tb, bundle, problems, now));
      published = await this.publisher.publishAll(tb, bundle, now);
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

    const confirmed = this.publisher.confirmPublished(name, published, bundle !== undefined);
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
    const options = { now, cache: this.certificates, consumers: consumersOf(tb.spec.targets) };
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
    await this.publisher.removeCreated(tb);
    await setFinalizer(false);
    return false;
  }

  private async writeStatus(tb: TrustBundle, status: TrustBundle['status']): Promise<void> {
    const name = tb.metadata.name!;
    const wanted = statusDigest(status);
    if (wanted === statusDigest(tb.status ?? {})) return;
    // The cache may lag behind our own last status write; once it has seen that write, a status
    // that differs was written by someone else and is put right.
    const ours = this.lastStatus.get(name);
    if (wanted === ours?.digest && !newerOrSame(tb.metadata.resourceVersion, ours.resourceVersion)) return;
    try {
      const written = await this.o.client.apply<TrustBundle>(
        `${BUNDLES_PATH}/${name}/status`,
        { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status },
        FIELD_MANAGER,
      );
      this.lastStatus.set(name, {
        digest: wanted,
        resourceVersion: written?.metadata?.resourceVersion ?? '',
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
