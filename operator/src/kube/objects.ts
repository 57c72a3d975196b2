// Per-namespace caches of the objects bundles read (source Secrets and ConfigMaps) and write
// (target Secrets), started on first use so the operator only watches where bundles point.
import { retainable } from '../bundle/retain.ts';
import type { KubeClient, Query } from './client.ts';
import { newerOrSame, Reflector, type ObjectMeta, type ReflectorHandlers } from './reflector.ts';
import { matches, type LabelSelector } from './selector.ts';

export type SourceKind = 'Secret' | 'ConfigMap';

/** What is kept of a source object: its data, decoded, and never any private-key entry. */
export interface SourceObject {
  kind: SourceKind;
  namespace: string;
  name: string;
  resourceVersion: string;
  type?: string;
  labels: Record<string, string>;
  /** Key → bytes; undefined when the object is not referenced by any bundle (data not kept). */
  data?: Map<string, Buffer>;
}

interface RawObject {
  metadata?: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Keys that by convention hold private keys; their values are dropped on arrival. */
export const isPrivateKeyName = (key: string): boolean => /(^|[._-])key$/i.test(key) || /private/i.test(key);

export const objectKey = (kind: string, namespace: string, name: string): string =>
  `${kind}/${namespace}/${name}`;

/** What every cached object keeps: its name and the resourceVersion a re-list compares. */
export interface CachedObject {
  name: string;
  resourceVersion: string;
}

export interface NamespacedCacheOptions {
  client: KubeClient;
  resyncMs: number;
  onError: (err: unknown, what: string) => void;
  /** Something an administrator should know that is not a failure (defaults to onError). */
  onWarning?: (message: string) => void;
}

/** How long a read waits for a cache's first list before it fails. */
const SYNC_TIMEOUT_MS = 10_000;

/** Waits for a reflector's first list, or explains why it has not come. */
async function synced<R extends { metadata?: ObjectMeta }, T>(
  r: Reflector<R, T>,
  what: string,
  timeoutMs = SYNC_TIMEOUT_MS,
): Promise<Reflector<R, T>> {
  if (r.hasSynced) return r;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = r.lastError instanceof Error ? r.lastError.message : 'no answer yet';
      reject(new Error(`the cache of ${what} is not synced: ${why}`));
    }, timeoutMs);
  });
  try {
    await Promise.race([r.synced, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return r;
}

export abstract class NamespacedCaches<R extends { metadata?: ObjectMeta }, T extends CachedObject> {
  protected readonly reflectors = new Map<string, Reflector<R, T>>();
  protected readonly options: NamespacedCacheOptions;
  protected readonly handlers: ReflectorHandlers<T>;

  constructor(options: NamespacedCacheOptions, handlers: ReflectorHandlers<T>) {
    this.options = options;
    this.handlers = handlers;
  }

  protected abstract create(kind: string, namespace: string): Reflector<R, T>;

  /** A reflector of one collection, objects keyed by name, errors reported as `what`. */
  protected watch(what: string, path: string, transform: (raw: R) => T, query?: Query): Reflector<R, T> {
    return new Reflector<R, T>({
      client: this.options.client,
      path,
      ...(query ? { query } : {}),
      transform,
      keyOf: (o) => o.name,
      resourceVersionOf: (o) => o.resourceVersion,
      handlers: this.handlers,
      resyncMs: this.options.resyncMs,
      onError: (err) => this.options.onError(err, what),
    });
  }

  protected reflector(kind: string, namespace: string): Reflector<R, T> {
    const id = `${kind}/${namespace}`;
    let r = this.reflectors.get(id);
    if (!r) {
      r = this.create(kind, namespace).start();
      this.reflectors.set(id, r);
    }
    return r;
  }

  /** Starts (if needed) and waits for the cache of a namespace, or explains why it is not ready. */
  async ready(kind: string, namespace: string, timeoutMs = SYNC_TIMEOUT_MS): Promise<Reflector<R, T>> {
    return synced(this.reflector(kind, namespace), `${kind}s in namespace ${namespace}`, timeoutMs);
  }

  /** Stops the caches (`kind/namespace`) no bundle uses any more; returns how many were released. */
  retain(keep: ReadonlySet<string>): number {
    let released = 0;
    for (const [id, r] of this.reflectors) {
      if (keep.has(id)) continue;
      r.stop();
      this.reflectors.delete(id);
      released++;
    }
    return released;
  }

  /** The namespaces whose cache of this kind has been started. */
  namespaces(kind: string): string[] {
    const prefix = `${kind}/`;
    return [...this.reflectors.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /** A namespace is gone: its caches are stopped (a later read starts them again). */
  forgetNamespace(namespace: string): void {
    for (const [id, r] of this.reflectors) {
      if (id.slice(id.indexOf('/') + 1) !== namespace) continue;
      r.stop();
      this.reflectors.delete(id);
    }
  }

  get allSynced(): boolean {
    return [...this.reflectors.values()].every((r) => r.hasSynced);
  }

  stop(): void {
    for (const r of this.reflectors.values()) r.stop();
  }
}

/** Is this object a source of some bundle (named, or matched by a selector)? Only then is its data kept. */
export type IsReferenced = (
  kind: SourceKind,
  namespace: string,
  name: string,
  labels: Record<string, string>,
) => boolean;

export class SourceCaches extends NamespacedCaches<RawObject, SourceObject> {
  private readonly isReferenced: IsReferenced;

  constructor(
    options: NamespacedCacheOptions,
    isReferenced: IsReferenced,
    handlers: ReflectorHandlers<SourceObject>,
  ) {
    super(options, handlers);
    this.isReferenced = isReferenced;
  }

  private transform(kind: SourceKind, raw: RawObject, keepData: boolean): SourceObject {
    const m = raw.metadata ?? {};
    const obj: SourceObject = {
      kind,
      namespace: m.namespace ?? '',
      name: m.name ?? '',
      resourceVersion: m.resourceVersion ?? '',
      ...(raw.type ? { type: raw.type } : {}),
      labels: m.labels ?? {},
    };
    if (keepData) {
      const data = new Map<string, Buffer>();
      for (const [k, v] of Object.entries(raw.data ?? {})) {
        if (isPrivateKeyName(k)) continue;
        data.set(k, retainable(kind === 'Secret' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8')));
      }
      for (const [k, v] of Object.entries(raw.binaryData ?? {})) {
        if (!isPrivateKeyName(k)) data.set(k, retainable(Buffer.from(v, 'base64')));
      }
      obj.data = data;
    }
    return obj;
  }

  protected create(kind: string, namespace: string): Reflector<RawObject, SourceObject> {
    const k = kind as SourceKind;
    return this.watch(
      `watch ${kind}s in ${namespace}`,
      `/api/v1/namespaces/${namespace}/${k === 'Secret' ? 'secrets' : 'configmaps'}`,
      (raw) =>
        this.transform(
          k,
          raw,
          this.isReferenced(k, namespace, raw.metadata?.name ?? '', raw.metadata?.labels ?? {}),
        ),
    );
  }

  /** The names of the objects of a namespace a label selector matches, sorted. */
  async select(kind: SourceKind, namespace: string, selector: LabelSelector): Promise<string[]> {
    const r = await this.ready(kind, namespace);
    return r
      .list()
      .filter((o) => matches(selector, o.labels))
      .map((o) => o.name)
      .sort();
  }

  /**
   * The object with its data, or undefined when it does not exist. An object cached before any
   * bundle referenced it has no data yet: it is read once and kept from then on.
   */
  async read(kind: SourceKind, namespace: string, name: string): Promise<SourceObject | undefined> {
    const r = await this.ready(kind, namespace);
    const cached = r.get(name);
    if (!cached || cached.data) return cached;
    const path = `/api/v1/namespaces/${namespace}/${kind === 'Secret' ? 'secrets' : 'configmaps'}/${name}`;
    try {
      const raw = await this.options.client.get<RawObject>(path);
      const full = this.transform(kind, raw, true);
      if (full.resourceVersion === cached.resourceVersion) Object.assign(cached, { data: full.data });
      return full;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }
}

/** What is kept of a published target: who owns it and digests of its content, never the content. */
export interface TargetObject {
  namespace: string;
  name: string;
  resourceVersion: string;
  owner?: string;
  annotations: Record<string, string>;
  /** Key → SHA-256 of the value as stored (Secret data: the base64 text). */
  digests: Map<string, string>;
}

export interface RawTarget {
  metadata?: ObjectMeta;
  data?: Record<string, string>;
  spec?: { trustBundle?: string };
}

/**
 * What identifies a target's state for the operator: its owner, the operator's annotations and
 * the digest of every data key. Two views with the same fingerprint need the same reconcile.
 */
export function targetFingerprint(t: TargetObject): string {
  const annotations = Object.entries(t.annotations)
    .filter(([k]) => k.startsWith(OPERATOR_PREFIX))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const digests = [...t.digests].sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([t.owner ?? '', annotations, digests]);
}

const OPERATOR_PREFIX = 'mtls.openbanking.dev/';

export interface TargetKindOptions {
  /** Collection path of a namespace (or of the cluster when namespace is ''). */
  path: (namespace: string) => string;
  /** The content worth a digest, by key (`spec.trustBundle` of a ClusterTrustBundle under its own key). */
  contents: (raw: RawTarget) => Record<string, string>;
  /**
   * The collection across every namespace (`/api/v1/secrets`). Given when targets may be in any
   * namespace: one label-selected watch then replaces one per namespace, if RBAC allows it.
   */
  clusterPath?: string;
}

/**
 * Label-selected caches of the objects the operator publishes to (Secrets, ConfigMaps,
 * ClusterTrustBundles): only metadata and digests are kept, so drift is seen without keeping data.
 *
 * With a cluster path, the first use asks whether the operator may list that kind across the
 * cluster. If it may, one watch (one connection, one LIST at start) serves every namespace, as
 * a namespace-selected target over hundreds of namespaces needs; if RBAC grants only some
 * namespaces (403), each namespace gets its own watch as before.
 */
export class TargetCaches extends NamespacedCaches<RawTarget, TargetObject> {
  private readonly label: string;
  private readonly digest: (value: string) => string;
  private readonly kind: TargetKindOptions;
  /** Decided on first use: does one cluster-wide watch serve every namespace? */
  private clusterWide?: Promise<boolean>;
  private cluster?: { kind: string; reflector: Reflector<RawTarget, TargetObject> };

  constructor(
    options: NamespacedCacheOptions,
    kind: TargetKindOptions,
    label: string,
    digest: (value: string) => string,
    handlers: ReflectorHandlers<TargetObject>,
  ) {
    super(options, handlers);
    this.kind = kind;
    this.label = label;
    this.digest = digest;
  }

  /** The cached view of a raw object, as the watch would deliver it (also for write responses). */
  view(raw: RawTarget, namespace = ''): TargetObject {
    const m = raw.metadata ?? {};
    const digests = new Map<string, string>();
    for (const [k, v] of Object.entries(this.kind.contents(raw))) digests.set(k, this.digest(v));
    // Only the operator's annotations: another tool's (a last-applied-configuration) may carry the data.
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.annotations ?? {}))
      if (k.startsWith(OPERATOR_PREFIX)) annotations[k] = v;
    return {
      namespace: m.namespace ?? namespace,
      name: m.name ?? '',
      resourceVersion: m.resourceVersion ?? '',
      ...(m.labels?.[this.label] ? { owner: m.labels[this.label] } : {}),
      annotations,
      digests,
    };
  }

  protected create(kind: string, namespace: string): Reflector<RawTarget, TargetObject> {
    return this.watch(
      `watch target ${kind}s in ${namespace || 'the cluster'}`,
      this.kind.path(namespace),
      (raw) => this.view(raw, namespace),
      { labelSelector: this.label },
    );
  }

  /** Is the cluster-wide watch allowed? Asked once (a LIST of one item); an unanswered question is asked again. */
  private useCluster(kind: string): Promise<boolean> {
    const path = this.kind.clusterPath;
    if (!path) return Promise.resolve(false);
    this.clusterWide ??= this.options.client
      .get(path, { query: { labelSelector: this.label, limit: 1 } })
      .then(
        () => true,
        (err: unknown) => {
          if ((err as { status?: number }).status === 403) {
            const message =
              `the operator may not list ${kind}s across the cluster (${(err as Error).message}); ` +
              'each target namespace is watched on its own connection instead';
            if (this.options.onWarning) this.options.onWarning(message);
            else this.options.onError(new Error(message), `watch target ${kind}s across the cluster`);
            return false;
          }
          this.clusterWide = undefined;
          throw err;
        },
      );
    return this.clusterWide;
  }

  private clusterReflector(kind: string): Reflector<RawTarget, TargetObject> {
    this.cluster ??= {
      kind,
      reflector: new Reflector<RawTarget, TargetObject>({
        client: this.options.client,
        path: this.kind.clusterPath!,
        query: { labelSelector: this.label },
        transform: (raw) => this.view(raw),
        keyOf: (o) => `${o.namespace}/${o.name}`,
        resourceVersionOf: (o) => o.resourceVersion,
        handlers: this.handlers,
        resyncMs: this.options.resyncMs,
        onError: (err) => this.options.onError(err, `watch target ${kind}s across the cluster`),
      }).start(),
    };
    return this.cluster.reflector;
  }

  /**
   * Has the cache of this namespace seen every change up to `resourceVersion`? etcd's revisions
   * are one increasing integer, so a watch that delivered a later one has delivered this one.
   */
  caughtUp(kind: string, namespace: string, resourceVersion: string): boolean {
    const r = this.cluster?.reflector ?? this.reflectors.get(`${kind}/${namespace}`);
    return newerOrSame(r?.lastResourceVersion, resourceVersion);
  }

  async read(kind: string, namespace: string, name: string): Promise<TargetObject | undefined> {
    if (await this.useCluster(kind)) {
      const r = await synced(this.clusterReflector(kind), `target ${kind}s across the cluster`);
      return r.get(`${namespace}/${name}`);
    }
    return (await this.ready(kind, namespace)).get(name);
  }

  /** The object as the cache holds it now, without waiting for a cache to start. */
  peek(kind: string, namespace: string, name: string): TargetObject | undefined {
    if (this.cluster) return this.cluster.reflector.get(`${namespace}/${name}`);
    return this.reflectors.get(`${kind}/${namespace}`)?.get(name);
  }

  /** The namespaces whose targets this cache sees: every one holding a labelled object, cluster-wide. */
  override namespaces(kind: string): string[] {
    if (!this.cluster) return super.namespaces(kind);
    return [...new Set(this.cluster.reflector.list().map((o) => o.namespace))];
  }

  /** The cluster-wide watch is released when no namespace of this kind is used any more. */
  override retain(keep: ReadonlySet<string>): number {
    let released = super.retain(keep);
    const cluster = this.cluster;
    if (cluster && ![...keep].some((id) => id.startsWith(`${cluster.kind}/`))) {
      cluster.reflector.stop();
      this.cluster = undefined;
      released++;
    }
    return released;
  }

  override get allSynced(): boolean {
    return super.allSynced && (this.cluster?.reflector.hasSynced ?? true);
  }

  override stop(): void {
    super.stop();
    this.cluster?.reflector.stop();
  }
}
