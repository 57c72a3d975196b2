// The operator's Prometheus metrics, on a registry of its own (so two operators in one process, or
// a test, do not share counters), behind a facade the controller calls.
import { Counter, Gauge, Histogram, Registry, registerProcessMetrics } from './prometheus.ts';

export type ReconcileResult = 'success' | 'rejected' | 'error';
export type PushResult = 'success' | 'unchanged' | 'error';

export interface BundleBuilt {
  certificates: number;
  /** Earliest notAfter among the bundle's certificates; absent for an empty bundle. */
  earliestNotAfter?: Date;
  /** The CRLs published with the bundle (`ca.crl`); none when it publishes none. */
  crls?: { thisUpdate: Date; nextUpdate?: Date }[];
  /** CAs left without a current CRL while the sources carry CRLs (revocation not enforced for them). */
  casWithoutCrl?: number;
}

export interface OperatorMetrics {
  readonly registry: Registry;
  /** One reconcile of `bundle` ended with `result` after `seconds`. */
  reconciled(bundle: string, result: ReconcileResult, seconds: number): void;
  /** A bundle was built and accepted: its size and the next expiry. */
  bundleBuilt(bundle: string, built: BundleBuilt): void;
  queueDepth(depth: number): void;
  /** A target of `kind` (e.g. `Secret`) was written. */
  targetWritten(kind: string): void;
  authorizationServerPushed(adapter: string, result: PushResult): void;
  /** A workload of `kind` was restarted for a new bundle. */
  rolloutTriggered(kind: string): void;
  /** The bundle was deleted: drop its per-bundle series. */
  forgetBundle(bundle: string): void;
  /** The Prometheus text exposition of every metric. */
  expose(): Promise<string>;
}

export interface MetricsOptions {
  /** Node.js process metrics (RSS, CPU, event loop lag, GC, heap). Defaults to true. */
  processMetrics?: boolean;
}

const unixSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);

// Reconciles should take milliseconds; a slow API server or ACP can stretch one to seconds.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(options: MetricsOptions = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>(`trustbundle_${name}`, help, labelNames, registry);
  const perBundle = (name: string, help: string) =>
    new Gauge<'bundle'>(`trustbundle_bundle_${name}`, help, ['bundle'], registry);

  const reconciles = counter(
    'reconciles_total',
    'Reconciles of TrustBundles, by result (success, rejected: the policy refused the sources, error).',
    ['result'],
  );
  const reconcileDuration = new Histogram<'result'>(
    'trustbundle_reconcile_duration_seconds',
    'Time taken by one reconcile of a TrustBundle, by result.',
    ['result'],
    DURATION_BUCKETS,
    registry,
  );
  const queueDepth = new Gauge(
    'trustbundle_workqueue_depth',
    'TrustBundles waiting in the work queue.',
    [],
    registry,
  );
  const certificates = perBundle('certificates', 'Certificates in the bundle currently in force.');
  const earliestExpiry = perBundle(
    'earliest_expiry_timestamp_seconds',
    'Earliest notAfter among the certificates of the bundle in force, as a Unix time.',
  );
  // A CRL in force that passes its nextUpdate makes nginx refuse every client of its CA; a new one
  // must come through the sources before then (else PublishIfComplete withdraws ca.crl).
  const crlNextUpdate = perBundle(
    'crl_next_update_timestamp_seconds',
    'Earliest nextUpdate among the CRLs published with the bundle in force (ca.crl), as a Unix time.',
  );
  const crlThisUpdate = perBundle(
    'crl_this_update_timestamp_seconds',
    'Oldest thisUpdate among the CRLs published with the bundle in force, as a Unix time (time() minus it is the age).',
  );
  const casWithoutCrl = perBundle(
    'cas_without_crl',
    'CAs of the bundle in force without a current CRL although its sources carry CRLs: no ca.crl is ' +
      'published (policy crl PublishIfComplete), so revocation is not enforced.',
  );
  const rejected = perBundle(
    'rejected',
    '1 when the last build of the bundle was rejected by its policy (the previous bundle stays in force).',
  );
  const targetWrites = counter('target_writes_total', 'Writes of the bundle to targets, by kind of target.', [
    'kind',
  ]);
  const pushes = counter(
    'authorization_server_pushes_total',
    'Updates of authorization-server trusted CAs, by adapter and result.',
    ['adapter', 'result'],
  );
  const rollouts = counter(
    'rollouts_triggered_total',
    'Workload restarts triggered by a new bundle, by kind of workload.',
    ['kind'],
  );

  // Make the result series exist from the start, so rate() and absent() work before the first event.
  for (const result of ['success', 'rejected', 'error'] as const) {
    reconciles.inc({ result }, 0);
    reconcileDuration.zero({ result });
  }

  return {
    registry,
    reconciled(bundle, result, seconds) {
      reconciles.inc({ result });
      reconcileDuration.observe({ result }, seconds);
      // An error (an API server or ACP failure) says nothing about whether the sources were acceptable.
      if (result === 'rejected') rejected.set({ bundle }, 1);
      else if (result === 'success') rejected.set({ bundle }, 0);
    },
    bundleBuilt(bundle, built) {
      certificates.set({ bundle }, built.certificates);
      if (built.earliestNotAfter) earliestExpiry.set({ bundle }, unixSeconds(built.earliestNotAfter));
      else earliestExpiry.remove({ bundle });
      const crls = built.crls ?? [];
      const nextUpdates = crls.flatMap((c) => (c.nextUpdate ? [unixSeconds(c.nextUpdate)] : []));
      if (nextUpdates.length > 0) crlNextUpdate.set({ bundle }, Math.min(...nextUpdates));
      else crlNextUpdate.remove({ bundle });
      if (crls.length > 0)
        crlThisUpdate.set({ bundle }, Math.min(...crls.map((c) => unixSeconds(c.thisUpdate))));
      else crlThisUpdate.remove({ bundle });
      casWithoutCrl.set({ bundle }, built.casWithoutCrl ?? 0);
    },
    queueDepth(depth) {
      queueDepth.set({}, depth);
    },
    targetWritten(kind) {
      targetWrites.inc({ kind });
    },
    authorizationServerPushed(adapter, result) {
      pushes.inc({ adapter, result });
    },
    rolloutTriggered(kind) {
      rollouts.inc({ kind });
    },
    forgetBundle(bundle) {
      for (const gauge of [
        certificates,
        earliestExpiry,
        crlNextUpdate,
        crlThisUpdate,
        casWithoutCrl,
        rejected,
      ])
        gauge.remove({ bundle });
    },
    expose() {
      return registry.metrics();
    },
  };
}
