// The same trust, declared to each controller: a TrustBundle (ours) and a Bundle (trust-manager)
// with inline sources and one target, how to change their sources, and how to recognize a target
// that holds a given certificate or a bundle whose status has caught up with a generation.
import {
  API_VERSION,
  KIND,
  PLURAL,
  VERSION,
  GROUP,
  type TrustBundle,
} from '../../operator/src/api/v1alpha1.ts';
import type { KubeClient } from '../../operator/src/kube/client.ts';
import { containsCertificate } from './ca-corpus.ts';
import type { BenchPlane } from './plane.ts';
import { EventStream } from './stream.ts';

export const FIELD_MANAGER = 'trustbundle-bench';
export const TARGET_KEY = 'ca.crt';

interface Conditioned {
  metadata?: { name?: string; generation?: number };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; observedGeneration?: number }[];
  };
}

interface Target {
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
}

/** What differs between the two controllers; everything else in a benchmark is shared. */
export interface Subject {
  readonly label: string;
  /** Collection path and query of the bundles, and of the targets in `namespace`. */
  bundlePath(name?: string): string;
  targetPath(namespace: string): string;
  /** Creates or replaces a bundle whose sources are `sources` (PEM texts), published to `targetNamespace`. */
  bundle(name: string, sources: string[], targetNamespace: string, policy?: Record<string, unknown>): object;
  /** The merge patch that replaces the bundle's sources. */
  sourcesPatch(sources: string[]): object;
  /** The target object's bundle text. */
  targetText(target: Target): string | undefined;
  /** The bundle's status describes generation `generation` (or a later one) and says Ready/Synced. */
  settled(bundle: Conditioned, generation: number): boolean;
  /** The name of the target a bundle writes. */
  targetName(bundleName: string): string;
  /** Prepares namespaces for a bundle that publishes into `targetNamespace`. */
  prepareTargetNamespace(plane: BenchPlane, namespace: string): Promise<void>;
}

const OUR_BUNDLES = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
const readyFor = (c: Conditioned, type: string, generation: number, observed?: number): boolean => {
  const cond = c.status?.conditions?.find((x) => x.type === type);
  return !!cond && cond.status === 'True' && (observed ?? cond.observedGeneration ?? 0) >= generation;
};

export const ours: Subject = {
  label: 'trustbundle-operator',
  bundlePath: (name) => (name ? `${OUR_BUNDLES}/${name}` : OUR_BUNDLES),
  targetPath: (ns) => `/api/v1/namespaces/${ns}/secrets`,
  bundle: (name, sources, ns, policy): TrustBundle => ({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      sources: sources.map((inline) => ({ inline })),
      ...(policy ? { policy } : {}),
      targets: { secrets: [{ namespace: ns, name: `${name}-ca`, key: TARGET_KEY }] },
    },
  }),
  sourcesPatch: (sources) => ({ spec: { sources: sources.map((inline) => ({ inline })) } }),
  targetText: (t) => {
    const v = t.data?.[TARGET_KEY];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  },
  settled: (b, gen) => readyFor(b, 'Ready', gen, b.status?.observedGeneration),
  targetName: (name) => `${name}-ca`,
  prepareTargetNamespace: (plane, ns) => plane.ensureNamespace(ns),
};

export const TM_GROUP_PATH = '/apis/trust.cert-manager.io/v1alpha1/bundles';
export const TM_TRUST_NAMESPACE = 'cert-manager';
const TM_TARGET_LABEL = 'bench.trustbundle.dev/trust-manager-target';

export const trustManager: Subject = {
  label: 'trust-manager',
  bundlePath: (name) => (name ? `${TM_GROUP_PATH}/${name}` : TM_GROUP_PATH),
  targetPath: (ns) => `/api/v1/namespaces/${ns}/configmaps`,
  bundle: (name, sources, ns) => ({
    apiVersion: 'trust.cert-manager.io/v1alpha1',
    kind: 'Bundle',
    metadata: { name },
    spec: {
      sources: sources.map((inLine) => ({ inLine })),
      target: {
        configMap: { key: TARGET_KEY },
        namespaceSelector: { matchLabels: { [TM_TARGET_LABEL]: ns } },
      },
    },
  }),
  sourcesPatch: (sources) => ({ spec: { sources: sources.map((inLine) => ({ inLine })) } }),
  targetText: (t) => t.data?.[TARGET_KEY],
  settled: (b, gen) => readyFor(b, 'Synced', gen),
  targetName: (name) => name,
  prepareTargetNamespace: async (plane, ns) => {
    await plane.ensureNamespace(TM_TRUST_NAMESPACE);
    await plane.ensureNamespace(ns, { [TM_TARGET_LABEL]: ns });
  },
};

export function targetHolds(subject: Subject, target: Target, body: string): boolean {
  const text = subject.targetText(target);
  return text !== undefined && containsCertificate(text, body);
}

/** Server-side apply of a whole bundle (create or replace). */
export async function applyBundle(
  client: KubeClient,
  subject: Subject,
  bundle: object,
): Promise<Conditioned> {
  const name = (bundle as { metadata: { name: string } }).metadata.name;
  return client.apply<Conditioned>(subject.bundlePath(name), bundle, FIELD_MANAGER);
}

/** Merge patch of the sources; resolves with the generation the change produced. */
export async function changeSources(
  client: KubeClient,
  subject: Subject,
  name: string,
  sources: string[],
): Promise<number> {
  const updated = await client.mergePatch<Conditioned>(
    subject.bundlePath(name),
    subject.sourcesPatch(sources),
  );
  return updated.metadata?.generation ?? 0;
}

export function watchBundles(
  client: KubeClient,
  subject: Subject,
  name?: string,
): Promise<EventStream<Conditioned>> {
  return EventStream.start<Conditioned>(
    client,
    subject.bundlePath(),
    name ? { fieldSelector: `metadata.name=${name}` } : {},
  );
}

export function watchTargets(
  client: KubeClient,
  subject: Subject,
  namespace: string,
  name?: string,
): Promise<EventStream<Target>> {
  return EventStream.start<Target>(
    client,
    subject.targetPath(namespace),
    name ? { fieldSelector: `metadata.name=${name}` } : {},
  );
}

export type { Conditioned, Target };
