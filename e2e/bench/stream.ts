// A watch that timestamps each event on arrival and wakes waiters at once (no polling), so a
// latency is the time from a request to the watch event that shows its effect.
import { performance } from 'node:perf_hooks';
import type { KubeClient, Query, WatchEvent } from '../../operator/src/kube/client.ts';

export interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
}

export interface TimedEvent<T> {
  type: WatchEvent<T>['type'];
  object: T;
  /** performance.now() on arrival. */
  at: number;
}

interface Waiter<T> {
  matches: (e: TimedEvent<T>) => boolean;
  resolve: (e: TimedEvent<T>) => void;
}

export class EventStream<T extends Meta> {
  /** The objects as listed when the stream started. */
  readonly initial: T[];
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(e: TimedEvent<T>) => void>();
  private waiters: Waiter<T>[] = [];
  private resourceVersion: string;
  private failure?: Error;
  private ended: Promise<void> = Promise.resolve();

  private constructor(initial: T[], resourceVersion: string) {
    this.initial = initial;
    this.resourceVersion = resourceVersion;
  }

  static async start<T extends Meta>(
    client: KubeClient,
    path: string,
    query: Query = {},
  ): Promise<EventStream<T>> {
    const items: T[] = [];
    let rv: string;
    let cont: string | undefined;
    do {
      const page = await client.get<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>(
        path,
        { query: { ...query, limit: 500, continue: cont } },
      );
      items.push(...page.items);
      rv = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    const stream = new EventStream<T>(items, rv);
    stream.ended = stream.run(client, path, query);
    return stream;
  }

  private async run(client: KubeClient, path: string, query: Query): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await client.watch<T>(
          path,
          {
            ...query,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 3600,
          },
          (event) => this.deliver(event),
          this.abort.signal,
        );
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.failure = new Error(`watch ${path} failed: ${(err as Error).message}`);
        for (const w of this.waiters) w.resolve(undefined as never);
        return;
      }
    }
  }

  private deliver(event: WatchEvent<T>): void {
    const at = performance.now();
    if (event.type === 'ERROR') {
      const status = event.object as unknown as { message?: string };
      throw new Error(`watch error: ${status.message ?? 'unknown'}`);
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const timed: TimedEvent<T> = { type: event.type, object: event.object, at };
    for (const l of this.listeners) l(timed);
    if (this.waiters.length === 0) return;
    const remaining: Waiter<T>[] = [];
    for (const w of this.waiters) {
      if (w.matches(timed)) w.resolve(timed);
      else remaining.push(w);
    }
    this.waiters = remaining;
  }

  /** Calls `listener` for every later event; returns the function that unsubscribes it. */
  subscribe(listener: (e: TimedEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first later event that matches. Register before causing the change. */
  next(
    description: string,
    matches: (e: TimedEvent<T>) => boolean,
    timeoutMs: number,
  ): Promise<TimedEvent<T>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const waiter: Waiter<T> = {
        matches,
        resolve: (e) => {
          clearTimeout(timer);
          if (e) resolve(e);
          else reject(this.failure ?? new Error(`watch ended while waiting for ${description}`));
        },
      };
      this.waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.ended.catch(() => undefined);
  }
}
