// List, then watch from the list's resourceVersion; re-list on 410 Gone; reconnect with backoff
// after errors; keep a transformed copy of each object so caches stay small.
import { isGone, type KubeClient, type Query, type WatchEvent } from './client.ts';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ReflectorHandlers<T> {
  /** `old` is undefined for an add. Called for every change and for each cached object on resync. */
  upsert?(obj: T, old: T | undefined): void;
  remove?(obj: T): void;
}

export interface ReflectorOptions<R, T> {
  client: KubeClient;
  /** Collection path, e.g. `/api/v1/namespaces/pki/secrets`. */
  path: string;
  query?: Query;
  /** Keep only what the controller needs of each object. */
  transform: (raw: R) => T;
  keyOf: (obj: T) => string;
  resourceVersionOf: (obj: T) => string | undefined;
  handlers: ReflectorHandlers<T>;
  /** Re-deliver every cached object this often (no API call); 0 disables. */
  resyncMs?: number;
  onError?: (err: unknown) => void;
  /** Page size for lists. */
  limit?: number;
}

/**
 * Is resourceVersion `a` the same as or later than `b`? etcd's revisions are one increasing
 * integer (Kubernetes documents them as comparable since 1.33); anything else compares as unknown.
 */
export const newerOrSame = (a: string | undefined, b: string | undefined): boolean =>
  !!a && !!b && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) >= BigInt(b);

/** A watch open this long before it failed had a healthy server behind it. */
const HEALTHY_WATCH_MS = 5_000;

interface ListResponse<R> {
  metadata: { resourceVersion: string; continue?: string };
  items: R[];
}

export class Reflector<R extends { metadata?: ObjectMeta }, T> {
  private readonly store = new Map<string, T>();
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private syncedFlag = false;
  private resolveSynced!: () => void;
  readonly synced: Promise<void> = new Promise((resolve) => (this.resolveSynced = resolve));
  private resyncTimer?: NodeJS.Timeout;
  private readonly options: ReflectorOptions<R, T>;
  /** Lists performed, watches opened: for tests and benchmarks. */
  readonly stats = { lists: 0, watches: 0, errors: 0 };
  /** The last list or watch failure, to explain a cache that has not synced. */
  lastError?: unknown;

  constructor(options: ReflectorOptions<R, T>) {
    this.options = options;
  }

  /** The resourceVersion of the last list, event or bookmark this cache has taken in. */
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  get hasSynced(): boolean {
    return this.syncedFlag;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  start(): this {
    void this.run();
    const every = this.options.resyncMs ?? 0;
    if (every > 0) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.store.values()) this.options.handlers.upsert?.(obj, obj);
      }, every);
      this.resyncTimer.unref();
    }
    return this;
  }

  stop(): void {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  private async relist(): Promise<void> {
    const { client, path, query, transform, keyOf, handlers } = this.options;
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let rv: string;
    do {
      this.stats.lists++;
      const page = await client.get<ListResponse<R>>(path, {
        query: { ...query, limit: this.options.limit ?? 500, continue: continueToken },
        signal: this.abort.signal,
      });
      for (const raw of page.items) {
        const obj = transform(raw);
        fresh.set(keyOf(obj), obj);
      }
      continueToken = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (continueToken);
    const previous = new Map(this.store);
    this.store.clear();
    for (const [k, v] of fresh) this.store.set(k, v);
    this.resourceVersion = rv;
    for (const [k, v] of fresh) {
      const old = previous.get(k);
      if (!old || this.options.resourceVersionOf(old) !== this.options.resourceVersionOf(v))
        handlers.upsert?.(v, old);
    }
    for (const [k, old] of previous) if (!fresh.has(k)) handlers.remove?.(old);
  }

  private apply(event: WatchEvent<R>): void {
    const { transform, keyOf, handlers } = this.options;
    if (event.type === 'ERROR') {
      const status = event.object as unknown as { code?: number; message?: string };
      const err = new Error(`watch ${this.options.path}: ${status.message ?? 'error'}`);
      (err as Error & { code?: number }).code = status.code;
      throw err;
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const obj = transform(event.object);
    const key = keyOf(obj);
    if (event.type === 'DELETED') {
      const old = this.store.get(key);
      this.store.delete(key);
      handlers.remove?.(old ?? obj);
      return;
    }
    const old = this.store.get(key);
    this.store.set(key, obj);
    handlers.upsert?.(obj, old);
  }

  private async run(): Promise<void> {
    let backoff = 250;
    let needList = true;
    while (!this.abort.signal.aborted) {
      let watchingSince: number | undefined;
      try {
        if (needList) {
          await this.relist();
          needList = false;
          if (!this.syncedFlag) {
            this.syncedFlag = true;
            this.resolveSynced();
          }
        }
        this.stats.watches++;
        watchingSince = Date.now();
        await this.options.client.watch<R>(
          this.options.path,
          {
            ...this.options.query,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          },
          (event) => this.apply(event),
          this.abort.signal,
        );
        backoff = 250;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const gone = isGone(err) || (err as { code?: number }).code === 410;
        if (gone) {
          needList = true;
          continue;
        }
        this.stats.errors++;
        this.lastError = err;
        this.options.onError?.(err);
        // A watch that stayed open a while found the server healthy: this failure starts a new
        // episode. Without this, a few API-server restarts within one watch's lifetime (5-10 min)
        // left every later reconnection waiting up to 45 s, blind to changes.
        if (watchingSince !== undefined && Date.now() - watchingSince >= HEALTHY_WATCH_MS) backoff = 250;
        await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random())));
        backoff = Math.min(backoff * 2, 30_000);
        // After a failed watch, the cache may have missed events: list again.
        needList = true;
      }
    }
  }
}
