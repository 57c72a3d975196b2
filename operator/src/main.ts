// The operator process: flags and environment → caches, controller, leader election, probes.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseNamespaceList, TrustBoundary } from './controller/boundary.ts';
import { TrustBundleController } from './controller/controller.ts';
import { KubeClient } from './kube/client.ts';
import { KubeEventRecorder } from './kube/events.ts';
import { LeaderElector } from './kube/lease.ts';
import { startHealthServer } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';

const USAGE = `Usage: trustbundle-operator [options]

Runs the TrustBundle controller against the cluster of KUBECONFIG (or the in-cluster config).

Options (each also read from the environment variable in brackets):
  --metrics-port N        /healthz, /readyz and /metrics port; 0 picks one [METRICS_PORT, default 8080]
  --leader-elect BOOL     use a Lease so that one replica acts [LEADER_ELECT, default: true in a pod]
  --lease-namespace NS    namespace of the Lease [LEASE_NAMESPACE, POD_NAMESPACE, default trustbundle-system]
  --lease-name NAME       [LEASE_NAME, default trustbundle-operator]
  --lease-duration S      seconds a standby waits for an unrenewed lease [LEASE_DURATION, default 15]
  --concurrency N         bundles reconciled at once [CONCURRENCY, default 16]
  --resync S              full resync period in seconds [RESYNC_SECONDS, default 600]
  --events-namespace NS   where Events about TrustBundles go [EVENTS_NAMESPACE, default default]
  --rollout-debounce S    a new bundle must be stable this long before workloads restart
                          [ROLLOUT_DEBOUNCE_SECONDS, default 2]
  --rollout-deadline S    rollout deadline when a workload sets none [ROLLOUT_DEADLINE_SECONDS, default 600]
  --authserver-check S    how often authorization servers are read back for drift
                          [AUTHSERVER_CHECK_SECONDS, default 300]
Trust boundary (docs/security.md):
  --trust-namespace NS    where credentials, CAs and truststore passwords are read, and sources by
                          default [TRUST_NAMESPACE, default: the operator's own namespace]
  --source-namespaces L   further namespaces sources may come from, comma-separated, or * for any
                          [SOURCE_NAMESPACES, default none]
  --target-namespaces L   namespaces targets and workloads may be in, or * [TARGET_NAMESPACES, default *]
  --cluster-trust-bundle-signers L  signer names ClusterTrustBundle targets may carry
                          [CLUSTER_TRUST_BUNDLE_SIGNERS, default none]
  --allow-insecure-authorization-servers BOOL  honour insecureSkipTLSVerify on AuthorizationServers
                          [ALLOW_INSECURE_AUTHORIZATION_SERVERS, default false]
  --metrics-bind-address A  address of the probes and metrics server [METRICS_BIND_ADDRESS, default 0.0.0.0]
  -h, --help
Logging: LOG_LEVEL (fatal, error, warn, info, debug, trace; default info), JSON on stdout.`;

function config() {
  const { values } = parseArgs({
    options: {
      'metrics-port': { type: 'string' },
      'leader-elect': { type: 'string' },
      'lease-namespace': { type: 'string' },
      'lease-name': { type: 'string' },
      'lease-duration': { type: 'string' },
      concurrency: { type: 'string' },
      resync: { type: 'string' },
      'events-namespace': { type: 'string' },
      'rollout-debounce': { type: 'string' },
      'rollout-deadline': { type: 'string' },
      'authserver-check': { type: 'string' },
      'trust-namespace': { type: 'string' },
      'source-namespaces': { type: 'string' },
      'target-namespaces': { type: 'string' },
      'cluster-trust-bundle-signers': { type: 'string' },
      'allow-insecure-authorization-servers': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const num = (
    flag: string | undefined,
    envValue: string | undefined,
    dflt: number,
    what: string,
  ): number => {
    const raw = flag ?? envValue;
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a non-negative number, got "${raw}"`);
    return n;
  };
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  const elect = values['leader-elect'] ?? env.LEADER_ELECT;
  return {
    metricsPort: num(values['metrics-port'], env.METRICS_PORT, 8080, '--metrics-port'),
    leaderElect: elect === undefined || elect === '' ? inCluster : /^(1|true|yes)$/i.test(elect),
    leaseNamespace:
      values['lease-namespace'] ?? env.LEASE_NAMESPACE ?? env.POD_NAMESPACE ?? 'trustbundle-system',
    leaseName: values['lease-name'] ?? env.LEASE_NAME ?? 'trustbundle-operator',
    leaseDurationMs: num(values['lease-duration'], env.LEASE_DURATION, 15, '--lease-duration') * 1000,
    concurrency: Math.max(1, num(values.concurrency, env.CONCURRENCY, 16, '--concurrency')),
    resyncMs: num(values.resync, env.RESYNC_SECONDS, 600, '--resync') * 1000,
    eventsNamespace: values['events-namespace'] ?? env.EVENTS_NAMESPACE ?? 'default',
    rolloutDebounceMs:
      num(values['rollout-debounce'], env.ROLLOUT_DEBOUNCE_SECONDS, 2, '--rollout-debounce') * 1000,
    rolloutDeadlineMs:
      num(values['rollout-deadline'], env.ROLLOUT_DEADLINE_SECONDS, 600, '--rollout-deadline') * 1000,
    authServerCheckMs:
      num(values['authserver-check'], env.AUTHSERVER_CHECK_SECONDS, 300, '--authserver-check') * 1000,
    identity: `${env.POD_NAME ?? hostname()}_${process.pid}`,
    boundary: {
      trustNamespace:
        values['trust-namespace'] ?? env.TRUST_NAMESPACE ?? env.POD_NAMESPACE ?? 'trustbundle-system',
      sourceNamespaces: parseNamespaceList(values['source-namespaces'] ?? env.SOURCE_NAMESPACES, []),
      targetNamespaces: parseNamespaceList(values['target-namespaces'] ?? env.TARGET_NAMESPACES, '*'),
      clusterTrustBundleSigners: parseNamespaceList(
        values['cluster-trust-bundle-signers'] ?? env.CLUSTER_TRUST_BUNDLE_SIGNERS,
        [],
      ) as string[],
      allowInsecureAuthorizationServers: /^(1|true|yes)$/i.test(
        values['allow-insecure-authorization-servers'] ?? env.ALLOW_INSECURE_AUTHORIZATION_SERVERS ?? '',
      ),
    },
    metricsBindAddress: values['metrics-bind-address'] ?? env.METRICS_BIND_ADDRESS ?? '0.0.0.0',
  };
}

function electLeader(
  cfg: ReturnType<typeof config>,
  controller: TrustBundleController,
  client: KubeClient,
  log: ReturnType<typeof createLogger>,
): LeaderElector {
  return new LeaderElector({
    client,
    namespace: cfg.leaseNamespace,
    name: cfg.leaseName,
    identity: cfg.identity,
    leaseDurationMs: cfg.leaseDurationMs,
    renewDeadlineMs: Math.round(cfg.leaseDurationMs * (2 / 3)),
    retryPeriodMs: Math.max(500, Math.round(cfg.leaseDurationMs / 7.5)),
    onStartedLeading: () => {
      log.info({ identity: cfg.identity }, 'became leader; starting the controller');
      controller.start();
    },
    onStoppedLeading: () => {
      // Never two writers: a replica that lost its lease stops at once and restarts as a standby.
      log.error({ identity: cfg.identity }, 'lost the leader lease; exiting');
      process.exit(1);
    },
    onError: (err) => log.warn({ err: (err as Error).message }, 'leader election'),
  });
}

async function main(): Promise<void> {
  let cfg: ReturnType<typeof config>;
  try {
    cfg = config();
  } catch (err) {
    console.error(`trustbundle-operator: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const log = createLogger();
  const metrics = createMetrics();
  const client = KubeClient.fromDefault();
  const events = new KubeEventRecorder(client, {
    component: 'trustbundle-operator',
    namespace: cfg.eventsNamespace,
    onError: (err) => log.warn({ err: (err as Error).message }, 'could not record an Event'),
  });
  const controller = new TrustBundleController({
    client,
    log,
    events,
    metrics,
    concurrency: cfg.concurrency,
    resyncMs: cfg.resyncMs,
    rolloutDebounceMs: cfg.rolloutDebounceMs,
    rolloutDeadlineMs: cfg.rolloutDeadlineMs,
    authServerCheckMs: cfg.authServerCheckMs,
    boundary: new TrustBoundary(cfg.boundary),
  });

  const elector = cfg.leaderElect ? electLeader(cfg, controller, client, log) : undefined;
  if (elector) {
    const leases = elector.leasePath.replace(/\/[^/]+$/, '');
    client.writeGuard = (method, path) => {
      if (path.startsWith(leases) || elector.holdsLease) return;
      throw new Error(`${method} ${path} not sent: this replica does not hold a current leader lease`);
    };
  }
  const health = await startHealthServer({
    port: cfg.metricsPort,
    host: cfg.metricsBindAddress,
    registry: metrics.registry,
    ready: () => {
      if (elector && !elector.isLeader) return { ready: true, reason: 'standby' };
      return controller.synced
        ? { ready: true, reason: 'leader, caches synced' }
        : { ready: false, reason: 'caches syncing' };
    },
  });
  log.info(
    {
      port: health.port,
      leaderElection: cfg.leaderElect,
      identity: cfg.identity,
      trustNamespace: cfg.boundary.trustNamespace,
      sourceNamespaces: cfg.boundary.sourceNamespaces,
      targetNamespaces: cfg.boundary.targetNamespaces,
    },
    'trustbundle-operator starting',
  );

  let stopping = false;
  const shutdown = async (signal: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    controller.queue.stop();
    await Promise.race([controller.queue.idle(), new Promise((r) => setTimeout(r, 10_000))]);
    controller.stop();
    await elector?.stop();
    await health.close();
    client.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (elector) elector.start();
  else controller.start();
}

main().catch((err) => {
  console.error(`trustbundle-operator: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
