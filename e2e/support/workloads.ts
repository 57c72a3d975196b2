// Workloads for rollout tests: Deployments, DaemonSets and StatefulSets whose Pods KWOK runs.
import yaml from 'js-yaml';
import { RESTART_ON_ANNOTATION } from '../../operator/src/controller/boundary.ts';
import { clients, kubectlApply } from '../harness/kube.ts';

export type Kind = 'Deployment' | 'DaemonSet' | 'StatefulSet';

export interface WorkloadOptions {
  replicas?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
  /** Pods that can never be scheduled (no node matches), so the rollout never completes. */
  unschedulable?: boolean;
  labels?: Record<string, string>;
  /** The bundles that may restart it (`*` by default); null: no consent at all. */
  restartOn?: string | null;
}

export async function applyWorkload(
  kind: Kind,
  namespace: string,
  name: string,
  o: WorkloadOptions = {},
): Promise<void> {
  const app = { app: name };
  const template = {
    metadata: { labels: app },
    spec: {
      containers: [{ name: 'controller', image: 'registry.invalid/ingress-nginx/controller:v1' }],
      ...(o.unschedulable ? { nodeSelector: { 'no-such-node': 'true' } } : {}),
      tolerations: [{ operator: 'Exists' }],
    },
  };
  const spec: Record<string, unknown> = { selector: { matchLabels: app }, template };
  if (kind !== 'DaemonSet') spec.replicas = o.replicas ?? 2;
  if (kind === 'StatefulSet') spec.serviceName = name;
  if (o.paused) spec.paused = true;
  if (o.progressDeadlineSeconds) spec.progressDeadlineSeconds = o.progressDeadlineSeconds;
  await kubectlApply(
    yaml.dump({
      apiVersion: 'apps/v1',
      kind,
      metadata: {
        name,
        namespace,
        labels: { ...app, ...o.labels },
        // The workload's consent to restarts (mtls.openbanking.dev/restart-on), every bundle unless named.
        ...(o.restartOn === null ? {} : { annotations: { [RESTART_ON_ANNOTATION]: o.restartOn ?? '*' } }),
      },
      spec,
    }),
  );
}

/** ReplicaSets of a Deployment (each rollout adds one). */
export async function replicaSetCount(namespace: string, name: string): Promise<number> {
  const list = await clients().apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${name}` });
  return list.items.length;
}

/** ControllerRevisions of a DaemonSet or StatefulSet (each template change adds one). */
export async function revisionCount(namespace: string, name: string): Promise<number> {
  const list = await clients().apps.listNamespacedControllerRevision({
    namespace,
    labelSelector: `app=${name}`,
  });
  return list.items.length;
}

export async function templateHash(kind: Kind, namespace: string, name: string): Promise<string | undefined> {
  const { apps } = clients();
  const obj =
    kind === 'Deployment'
      ? await apps.readNamespacedDeployment({ namespace, name })
      : kind === 'DaemonSet'
        ? await apps.readNamespacedDaemonSet({ namespace, name })
        : await apps.readNamespacedStatefulSet({ namespace, name });
  return obj.spec?.template.metadata?.annotations?.['mtls.openbanking.dev/bundle-hash'];
}
