// Collects the watch events of one kind of resource (for arrival, latency and ordering
// assertions). The watch starts at the resourceVersion of a list made first, so nothing that
// happens after `watchResource` resolves is missed; a dropped connection resumes from the last
// seen resourceVersion.
import { KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { performance } from 'node:perf_hooks';
import { waitFor } from './wait.ts';
import type { WaitOptions } from './wait.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
  /** performance.now() when the event arrived. */
  at: number;
}

export interface WatchTarget {
  apiVersion: string;
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Exposes the collection path that KubernetesObjectApi derives from API discovery. */
class CollectionPaths extends KubernetesObjectApi {
  collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: namespace ? { namespace } : {} }, 'list');
  }
}

const RECONNECT_DELAY_MS = 200;
const MAX_FAILED_RECONNECTS = 5;
const STOP_WAIT_MS = 2000;

export class ResourceWatch<T extends KubernetesObject = KubernetesObject> {
  /** Every ADDED/MODIFIED/DELETED event in arrival order. */
  readonly events: WatchEvent<T>[] = [];
  /** The resourceVersion the watch started from. */
  readonly startResourceVersion: string;
  /** Set when the watch gave up (expired resourceVersion, server error, repeated connect failures). */
  failure: Error | undefined;
  reconnects = 0;

  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #target: WatchTarget;
  #resourceVersion: string;
  #controller: AbortController | undefined;
  #ended: Promise<void> = Promise.resolve();
  #stopped = false;
  #failedReconnects = 0;

  private constructor(kc: KubeConfig, path: string, target: WatchTarget, resourceVersion: string) {
    this.#kc = kc;
    this.#path = path;
    this.#target = target;
    this.#resourceVersion = resourceVersion;
    this.startResourceVersion = resourceVersion;
  }

  static async start<T extends KubernetesObject>(
    kc: KubeConfig,
    target: WatchTarget,
  ): Promise<ResourceWatch<T>> {
    const paths = kc.makeApiClient(CollectionPaths);
    const path = await paths.collectionPath(target.apiVersion, target.kind, target.namespace);
    const list = await paths.list(
      target.apiVersion,
      target.kind,
      target.namespace,
      undefined,
      undefined,
      undefined,
      target.fieldSelector,
      target.labelSelector,
      1,
    );
    const rv = list.metadata?.resourceVersion;
    if (!rv) throw new Error(`listing ${describeTarget(target)} returned no resourceVersion`);
    const watch = new ResourceWatch<T>(kc, path, target, rv);
    const connectError = await watch.#connect();
    if (connectError)
      throw new Error(`watching ${describeTarget(target)} failed: ${messageOf(connectError)}`);
    return watch;
  }

  /** Events of one object (by name), optionally of one type. */
  eventsOf(name: string, type?: WatchEventType): WatchEvent<T>[] {
    return this.events.filter((e) => e.object.metadata?.name === name && (!type || e.type === type));
  }

  /** The first event (from index `from`) that matches; waits for it. */
  waitForEvent(
    description: string,
    matches: (event: WatchEvent<T>) => boolean,
    options: WaitOptions & { from?: number } = {},
  ): Promise<WatchEvent<T>> {
    const { from = 0, ...wait } = options;
    return waitFor(
      `${description} (watch on ${describeTarget(this.#target)})`,
      (seen) => {
        if (this.failure) throw this.failure;
        const found = this.events.slice(from).find(matches);
        seen({ events: this.events.slice(-10).map(summarize), total: this.events.length });
        return found;
      },
      { intervalMs: 20, ...wait },
    );
  }

  /** Closes the connection; resolves once the watch has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#controller?.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const capped = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([this.#ended, capped]);
    clearTimeout(timer);
  }

  /** Opens one watch connection; resolves with the error if it could not be opened. */
  async #connect(): Promise<unknown> {
    let ended!: () => void;
    this.#ended = new Promise((resolve) => (ended = resolve));
    let connectError: unknown;
    let connecting = true;
    const params = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: this.#target.labelSelector,
      fieldSelector: this.#target.fieldSelector,
    };
    this.#controller = await new Watch(this.#kc).watch(
      this.#path,
      params,
      (type, object) => this.#record(type, object),
      (err) => {
        ended();
        if (connecting) connectError = err ?? new Error('connection closed at once');
        else this.#resume(err);
      },
    );
    connecting = false;
    if (!connectError) this.#failedReconnects = 0;
    return connectError;
  }

  #record(type: string, object: unknown): void {
    const at = performance.now();
    const meta = (object as KubernetesObject | undefined)?.metadata;
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string } | undefined;
      this.failure = new Error(
        `watch on ${describeTarget(this.#target)} ended with ERROR ${status?.code ?? ''}: ${status?.message ?? ''}`,
      );
      this.#controller?.abort();
      return;
    }
    if (meta?.resourceVersion) this.#resourceVersion = meta.resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
      this.events.push({ type, object: object as T, at });
    }
  }

  /** A connection ended while not stopped: resume from the last resourceVersion. */
  #resume(err: unknown): void {
    if (this.#stopped || this.failure) return;
    this.reconnects++;
    setTimeout(() => {
      if (this.#stopped || this.failure) return;
      this.#connect().then(
        (connectError) => {
          if (!connectError) return;
          if (++this.#failedReconnects >= MAX_FAILED_RECONNECTS) {
            this.failure = new Error(
              `watch on ${describeTarget(this.#target)} could not reconnect: ${messageOf(connectError)} (first end: ${messageOf(err)})`,
            );
          } else {
            this.#resume(connectError);
          }
        },
        (e: unknown) => (this.failure = e instanceof Error ? e : new Error(String(e))),
      );
    }, RECONNECT_DELAY_MS).unref();
  }
}

function summarize(e: WatchEvent<KubernetesObject>): string {
  const m = e.object.metadata;
  return `${e.type} ${m?.namespace ? `${m.namespace}/` : ''}${m?.name ?? '?'} rv=${m?.resourceVersion ?? '?'}`;
}

function describeTarget(t: WatchTarget): string {
  const where = t.namespace ? ` in ${t.namespace}` : '';
  const sel = [t.labelSelector, t.fieldSelector].filter(Boolean).join(',');
  return `${t.kind} (${t.apiVersion})${where}${sel ? ` [${sel}]` : ''}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
