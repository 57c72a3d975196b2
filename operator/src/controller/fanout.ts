// Namespace-selected targets: a cache of the cluster's namespaces (names and labels only), the
// reverse index from namespace events to the bundles whose selectors they concern, bounded fan-out,
// and the per-target summary that keeps the status bounded however many namespaces match.
import { LIMITS, type ObjectTargetStatus } from '../api/v1alpha1.ts';
import type { KubeClient } from '../kube/client.ts';
import { Reflector, type ObjectMeta } from '../kube/reflector.ts';
import { matches, type LabelSelector } from '../kube/selector.ts';

/** Writes in flight at once for one fanned-out target. */
export const FANOUT_CONCURRENCY = 16;

export interface NamespaceView {
  name: string;
  resourceVersion: string;
  labels: Record<string, string>;
  /** Being deleted: nothing can be created there any more. */
  terminating: boolean;
}

interface RawNamespace {
  metadata?: ObjectMeta & { deletionTimestamp?: string };
  status?: { phase?: string };
}

export interface NamespacesOptions {
  client: KubeClient;
  onError: (err: unknown) => void;
  /** A namespace event concerns this bundle (it matches one of its selectors, now or before). */
  enqueue: (bundle: string) => void;
  /** A namespace is gone: caches of its objects may be dropped. */
  removed: (namespace: string) => void;
}

/** The namespaces, watched from the first bundle with a namespaceSelector on. */
export class Namespaces {
  private reflector?: Reflector<RawNamespace, NamespaceView>;
  private readonly selectors = new Map<string, LabelSelector[]>();
  private readonly o: NamespacesOptions;

  constructor(o: NamespacesOptions) {
    this.o = o;
  }

  /** The namespace selectors of a bundle's targets (none: the bundle is forgotten). */
  setSelectors(bundle: string, selectors: LabelSelector[]): void {
    if (selectors.length === 0) {
      this.selectors.delete(bundle);
      return;
    }
    this.selectors.set(bundle, selectors);
    this.start();
  }

  private start(): Reflector<RawNamespace, NamespaceView> {
    if (this.reflector) return this.reflector;
    const concerned = (ns: NamespaceView, old?: NamespaceView): void => {
      for (const [bundle, selectors] of this.selectors) {
        if (selectors.some((s) => matches(s, ns.labels) || (old !== undefined && matches(s, old.labels))))
          this.o.enqueue(bundle);
      }
    };
    this.reflector = new Reflector<RawNamespace, NamespaceView>({
      client: this.o.client,
      path: '/api/v1/namespaces',
      transform: (raw) => ({
        name: raw.metadata?.name ?? '',
        resourceVersion: raw.metadata?.resourceVersion ?? '',
        labels: raw.metadata?.labels ?? {},
        terminating: !!raw.metadata?.deletionTimestamp || raw.status?.phase === 'Terminating',
      }),
      keyOf: (n) => n.name,
      resourceVersionOf: (n) => n.resourceVersion,
      handlers: {
        // Only what a selector reads or a write depends on: labels and termination.
        upsert: (ns, old) => {
          if (
            !old ||
            old.terminating !== ns.terminating ||
            JSON.stringify(old.labels) !== JSON.stringify(ns.labels)
          )
            concerned(ns, old);
        },
        remove: (ns) => {
          concerned(ns);
          this.o.removed(ns.name);
        },
      },
      resyncMs: 0,
      onError: this.o.onError,
    }).start();
    return this.reflector;
  }

  /** The namespaces some bundle's selectors match now, as far as the cache knows. */
  selected(): Set<string> {
    const out = new Set<string>();
    const all = [...this.selectors.values()].flat();
    for (const ns of this.reflector?.list() ?? [])
      if (all.some((s) => matches(s, ns.labels))) out.add(ns.name);
    return out;
  }

  /** The live namespaces a selector matches, by name; waits for the first list. */
  async matching(selector: LabelSelector, timeoutMs = 10_000): Promise<string[]> {
    const r = this.start();
    if (!r.hasSynced) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        r.synced,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const why = r.lastError instanceof Error ? r.lastError.message : 'no answer yet';
            reject(new Error(`the cache of namespaces is not synced: ${why}`));
          }, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    return r
      .list()
      .filter((n) => !n.terminating && matches(selector, n.labels))
      .map((n) => n.name)
      .sort();
  }

  stop(): void {
    this.reflector?.stop();
  }
}

/** `fn` over every item, at most `limit` at once; results in the items' order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One namespace's outcome. */
export interface NamespaceResult {
  namespace: string;
  state: 'Synced' | 'Failed' | 'Pending';
  message?: string;
  lastSyncTime?: string;
}

type Base = Pick<ObjectTargetStatus, 'namespaceSelector' | 'name' | 'key'>;

/**
 * The status of a namespace-selected target: counts, the first failures by name, the latest
 * sync. Synced only when every matching namespace holds `hash`.
 */
export function summarise(
  kind: string,
  base: Base,
  results: NamespaceResult[],
  notAllowed: number,
  hash: string | undefined,
  previous: ObjectTargetStatus | undefined,
): ObjectTargetStatus {
  const synced = results.filter((r) => r.state === 'Synced').length;
  const failed = results.filter((r) => r.state === 'Failed').length;
  const bad = results.filter((r) => r.state !== 'Synced');
  const state = failed > 0 ? 'Failed' : bad.length > 0 ? 'Pending' : 'Synced';
  const latest = results
    .map((r) => r.lastSyncTime)
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
  const failures = bad
    .slice(0, LIMITS.statusFailures)
    .map((r) => ({ namespace: r.namespace, message: r.message ?? r.state }));
  const id = `${kind} ${base.name} (namespaces ${base.namespaceSelector || 'all'})`;
  const message =
    bad.length > 0
      ? `${id}: not in force in ${bad.length} of ${results.length} namespaces: ${failures[0]!.message}` +
        (bad.length > 1 ? ` (and ${bad.length - 1} more; see failures)` : '')
      : results.length === 0
        ? `${id}: no namespace matches inside --target-namespaces`
        : undefined;
  const bundleHash = state === 'Synced' ? hash : previous?.bundleHash;
  const lastSyncTime = latest ?? previous?.lastSyncTime;
  return {
    ...base,
    state,
    matched: results.length,
    synced,
    failed,
    ...(notAllowed > 0 ? { notAllowed } : {}),
    ...(failures.length > 0 ? { failures } : {}),
    ...(bundleHash ? { bundleHash } : {}),
    ...(lastSyncTime ? { lastSyncTime } : {}),
    ...(message ? { message } : {}),
  };
}
