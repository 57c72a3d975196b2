// The same fan-out declared to each controller: one bundle of inline CAs written into every
// namespace with the label NAMESPACE_LABEL. Ours: a TrustBundle with a namespace-selected Secret
// target and, beside the inline CAs, a label-selected (optional) Secret source; trust-manager's:
// a Bundle with a namespaceSelector to a ConfigMap target (Secret targets need flags naming each
// Secret it may write, so the benchmark uses its default target kind).
import { API_VERSION, BUNDLE_LABEL, KIND } from '../../operator/src/api/v1alpha1.ts';
import type { TrustBundle } from '../../operator/src/api/v1alpha1.ts';
import { CONFIGMAP_TARGETS, SECRET_TARGETS, type TargetKind } from './fanout-targets.ts';
import { buildOperator, OurOperator, TrustManager } from './peers.ts';
import type { BenchPlane } from './plane.ts';
import { ours, TARGET_KEY, TM_TRUST_NAMESPACE, trustManager, type Subject } from './subjects.ts';

export const BUNDLE_NAME = 'fanout';
export const NAMESPACE_LABEL = 'bench.trustbundle.dev/fanout';
/** Where the label-selected source Secrets are created (ours only). */
export const SOURCE_NAMESPACE = 'bench-fanout-sources';
export const SOURCE_LABEL = 'bench.trustbundle.dev/fanout-source';

/** What the benchmark needs of a running controller. */
export interface RunningController {
  readonly pid: number;
  readonly spawnedAt: number;
  memory(): { peakRssBytes: number; rssBytes: number };
  reconciles(): Promise<number>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface Side {
  /** Prefix of its figures: '' for ours, 'trust-manager-' for the peer. */
  prefix: string;
  subject: Subject;
  targets: TargetKind;
  /** The whole bundle, its inline sources being `cas` (PEM). */
  bundle(cas: string): object;
  /** The merge patch that makes the inline sources `cas`, leaving any other source as it is. */
  patch(cas: string): object;
  start(options: { resyncSeconds?: number; logFile: string }): Promise<RunningController>;
}

const selector = { matchLabels: { [NAMESPACE_LABEL]: 'true' } };

function ourSources(cas: string): NonNullable<TrustBundle['spec']>['sources'] {
  return [
    { inline: cas },
    {
      secret: {
        namespace: SOURCE_NAMESPACE,
        selector: { matchLabels: { [SOURCE_LABEL]: 'true' } },
        key: TARGET_KEY,
        optional: true,
      },
    },
  ];
}

export function oursSide(log: (line: string) => void): Side {
  return {
    prefix: '',
    subject: ours,
    targets: SECRET_TARGETS(`${BUNDLE_LABEL}=${BUNDLE_NAME}`),
    bundle: (cas): TrustBundle => ({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: BUNDLE_NAME },
      spec: {
        sources: ourSources(cas),
        targets: { secrets: [{ namespaceSelector: selector, name: `${BUNDLE_NAME}-ca`, key: TARGET_KEY }] },
      },
    }),
    patch: (cas) => ({ spec: { sources: ourSources(cas) } }),
    start: async ({ resyncSeconds, logFile }) =>
      OurOperator.start({
        build: buildOperator(log),
        logFile,
        ...(resyncSeconds ? { resyncSeconds } : {}),
      }),
  };
}

export function trustManagerSide(plane: BenchPlane): Side {
  return {
    prefix: 'trust-manager-',
    subject: trustManager,
    targets: CONFIGMAP_TARGETS(`trust.cert-manager.io/bundle=${BUNDLE_NAME}`),
    bundle: (cas) => ({
      apiVersion: 'trust.cert-manager.io/v1alpha1',
      kind: 'Bundle',
      metadata: { name: BUNDLE_NAME },
      spec: {
        sources: [{ inLine: cas }],
        target: { configMap: { key: TARGET_KEY }, namespaceSelector: selector },
      },
    }),
    patch: (cas) => ({ spec: { sources: [{ inLine: cas }] } }),
    // trust-manager has no resync setting: it runs with controller-runtime's defaults.
    start: async ({ logFile }) =>
      TrustManager.start({
        kubeconfig: plane.kubeconfigPath,
        trustNamespace: TM_TRUST_NAMESPACE,
        logFile,
      }),
  };
}
