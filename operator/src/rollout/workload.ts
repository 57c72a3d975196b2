// What the operator keeps of a Deployment, DaemonSet or StatefulSet, and how far its rollout
// has come — judged the way `kubectl rollout status` judges it.
import type { RolloutKind } from '../api/v1alpha1.ts';

export interface Workload {
  kind: RolloutKind;
  namespace: string;
  name: string;
  /** Compared by a re-list, so changes made while a watch was down are still delivered. */
  resourceVersion: string;
  labels: Record<string, string>;
  /** The workload's consent: its `restart-on` annotation, the bundles that may restart it. */
  annotations: Record<string, string>;
  generation: number;
  observedGeneration: number;
  paused: boolean;
  /** The pod template's bundle-hash annotation. */
  templateHash?: string;
  replicas: number;
  updated: number;
  ready: number;
  available: number;
  /** Total Pods (old and new), for "old replicas are pending termination". */
  current: number;
  progressDeadlineSeconds?: number;
  deadlineExceeded: boolean;
  onDeleteStrategy: boolean;
  partition: number;
  currentRevision?: string;
  updateRevision?: string;
}

interface RawWorkload {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
  };
  spec?: {
    replicas?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
    template?: { metadata?: { annotations?: Record<string, string> } };
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    currentRevision?: string;
    updateRevision?: string;
    conditions?: { type?: string; reason?: string }[];
  };
}

/** Keeps of the workload's own annotations only the consent one (never kubectl's last-applied copy). */
export function toWorkload(
  kind: RolloutKind,
  raw: RawWorkload,
  annotation: string,
  consentAnnotation = '',
): Workload {
  const m = raw.metadata ?? {};
  const spec = raw.spec ?? {};
  const st = raw.status ?? {};
  const ds = kind === 'DaemonSet';
  const templateHash = spec.template?.metadata?.annotations?.[annotation];
  return {
    kind,
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    resourceVersion: m.resourceVersion ?? '',
    labels: m.labels ?? {},
    annotations:
      consentAnnotation && m.annotations?.[consentAnnotation] !== undefined
        ? { [consentAnnotation]: m.annotations[consentAnnotation] }
        : {},
    generation: m.generation ?? 0,
    observedGeneration: st.observedGeneration ?? 0,
    paused: kind === 'Deployment' && spec.paused === true,
    ...(templateHash ? { templateHash } : {}),
    replicas: ds ? (st.desiredNumberScheduled ?? 0) : (spec.replicas ?? 1),
    updated: ds ? (st.updatedNumberScheduled ?? 0) : (st.updatedReplicas ?? 0),
    ready: ds ? (st.numberReady ?? 0) : (st.readyReplicas ?? 0),
    available: ds ? (st.numberAvailable ?? 0) : (st.availableReplicas ?? 0),
    current: ds ? (st.currentNumberScheduled ?? 0) : (st.replicas ?? 0),
    ...(spec.progressDeadlineSeconds !== undefined
      ? { progressDeadlineSeconds: spec.progressDeadlineSeconds }
      : {}),
    deadlineExceeded: (st.conditions ?? []).some(
      (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
    ),
    onDeleteStrategy: spec.updateStrategy?.type === 'OnDelete',
    partition: spec.updateStrategy?.rollingUpdate?.partition ?? 0,
    ...(st.currentRevision ? { currentRevision: st.currentRevision } : {}),
    ...(st.updateRevision ? { updateRevision: st.updateRevision } : {}),
  };
}

export type Progress =
  | { state: 'Complete'; message: string }
  | { state: 'Progressing'; message: string }
  | { state: 'Failed'; message: string };

/** How far the rollout of the current pod template has come (kubectl rollout status). */
export function progressOf(w: Workload): Progress {
  const id = `${w.kind} ${w.namespace}/${w.name}`;
  if (w.generation > w.observedGeneration) {
    return { state: 'Progressing', message: `${id}: waiting for the controller to observe the new template` };
  }
  if (w.deadlineExceeded) {
    return {
      state: 'Failed',
      message: `${id} exceeded its progress deadline (${w.progressDeadlineSeconds ?? 600}s)`,
    };
  }
  if (w.kind === 'Deployment') {
    if (w.updated < w.replicas)
      return { state: 'Progressing', message: `${id}: ${w.updated} of ${w.replicas} updated replicas` };
    if (w.current > w.updated) {
      return {
        state: 'Progressing',
        message: `${id}: ${w.current - w.updated} old replicas are pending termination`,
      };
    }
    if (w.available < w.updated) {
      return {
        state: 'Progressing',
        message: `${id}: ${w.available} of ${w.updated} updated replicas are available`,
      };
    }
  } else if (w.kind === 'DaemonSet') {
    if (w.updated < w.replicas)
      return { state: 'Progressing', message: `${id}: ${w.updated} of ${w.replicas} updated Pods scheduled` };
    if (w.available < w.replicas)
      return {
        state: 'Progressing',
        message: `${id}: ${w.available} of ${w.replicas} updated Pods available`,
      };
  } else {
    const want = Math.max(0, w.replicas - w.partition);
    if (w.ready < w.replicas)
      return { state: 'Progressing', message: `${id}: ${w.ready} of ${w.replicas} Pods ready` };
    if (w.updated < want)
      return { state: 'Progressing', message: `${id}: ${w.updated} of ${want} Pods updated` };
    if (w.partition === 0 && w.updateRevision && w.currentRevision !== w.updateRevision) {
      return { state: 'Progressing', message: `${id}: waiting for the update to finish` };
    }
  }
  return {
    state: 'Complete',
    message: `${id}: rollout complete (${w.available || w.ready} of ${w.replicas} available)`,
  };
}
