// The fan-out benchmark's instruments: one watch over a controller's targets in every namespace,
// which tells when each namespace holds given certificates (timed by the watch event that shows
// it), and the API floor: the same N writes made by the benchmark itself, the way the operator
// makes them (a POST to create, a server-side apply to change), one after the other and 16 at once.
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../../operator/src/kube/client.ts';
import { pemBody } from './ca-corpus.ts';
import { pool } from './scale.ts';
import { EventStream } from './stream.ts';
import { FIELD_MANAGER, TARGET_KEY, type Target } from './subjects.ts';

export interface TargetKind {
  /** Cluster-wide collection, e.g. /api/v1/secrets. */
  collection: string;
  labelSelector: string;
  text(target: Target): string | undefined;
}

interface Waiter {
  missing: Set<string>;
  bodies: string[];
  resolve(at: number): void;
}

/** Every target of one controller, by namespace, with the certificates each holds. */
export class FanoutTargets {
  /** Namespace → the target's PEM text without whitespace. */
  private readonly held = new Map<string, string>();
  private readonly waiters = new Set<Waiter>();
  private readonly stream: EventStream<Target>;
  private readonly kind: TargetKind;

  private constructor(stream: EventStream<Target>, kind: TargetKind) {
    this.stream = stream;
    this.kind = kind;
    for (const t of stream.initial) this.record(t, performance.now());
    stream.subscribe((e) => {
      if (e.type === 'DELETED') this.held.delete(e.object.metadata?.namespace ?? '');
      else this.record(e.object, e.at);
    });
  }

  static async start(client: KubeClient, kind: TargetKind): Promise<FanoutTargets> {
    const stream = await EventStream.start<Target>(client, kind.collection, {
      labelSelector: kind.labelSelector,
    });
    return new FanoutTargets(stream, kind);
  }

  private record(target: Target, at: number): void {
    const ns = target.metadata?.namespace;
    if (!ns) return;
    const text = (this.kind.text(target) ?? '').replace(/\s+/g, '');
    this.held.set(ns, text);
    for (const w of this.waiters) {
      if (w.missing.has(ns) && w.bodies.every((b) => text.includes(b))) w.missing.delete(ns);
      if (w.missing.size === 0) {
        this.waiters.delete(w);
        w.resolve(at);
      }
    }
  }

  holds(namespace: string, bodies: string[]): boolean {
    const text = this.held.get(namespace);
    return text !== undefined && bodies.every((b) => text.includes(b));
  }

  /** Namespaces with a target at all. */
  get count(): number {
    return this.held.size;
  }

  /**
   * Resolves with the arrival time of the event after which every namespace of `namespaces` holds
   * every certificate of `pems` (now, if they already do). Call before causing the change.
   */
  waitAll(namespaces: readonly string[], pems: readonly string[], timeoutMs: number): Promise<number> {
    const bodies = pems.map(pemBody);
    const missing = new Set(namespaces.filter((ns) => !this.holds(ns, bodies)));
    if (missing.size === 0) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `${missing.size} of ${namespaces.length} targets (${this.kind.collection}) still lacked the certificates ` +
              `after ${timeoutMs / 1000} s, e.g. ${[...missing].slice(0, 3).join(', ')}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        missing,
        bodies,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.waiters.add(waiter);
    });
  }

  stop(): Promise<void> {
    return this.stream.stop();
  }
}

export const SECRET_TARGETS = (labelSelector: string): TargetKind => ({
  collection: '/api/v1/secrets',
  labelSelector,
  text: (t) => {
    const v = t.data?.[TARGET_KEY];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  },
});

export const CONFIGMAP_TARGETS = (labelSelector: string): TargetKind => ({
  collection: '/api/v1/configmaps',
  labelSelector,
  text: (t) => t.data?.[TARGET_KEY],
});

export interface FloorTimes {
  /** Seconds to create N Secrets, one after the other and 16 at once. */
  createSequential: number;
  createConcurrent: number;
  /** Seconds to change the N Secrets' data (server-side apply), one after the other and 16 at once. */
  updateSequential: number;
  updateConcurrent: number;
}

export const FLOOR_LABEL = 'bench.trustbundle.dev/fanout-floor';
const FLOOR_NAME = 'fanout-floor';
/** The operator's bound on writes in flight for one fanned-out target (controller/fanout.ts). */
export const FLOOR_CONCURRENCY = 16;

function floorSecret(namespace: string, pem: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: FLOOR_NAME, namespace, labels: { [FLOOR_LABEL]: 'true' } },
    data: { [TARGET_KEY]: Buffer.from(pem).toString('base64') },
  };
}

async function timed(work: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await work();
  return (performance.now() - t0) / 1000;
}

/**
 * What N writes of a target's size cost this API server now. Each round writes into all N
 * namespaces; the objects are deleted between rounds so that every create is a create.
 */
export async function apiFloor(
  client: KubeClient,
  namespaces: readonly string[],
  pems: { first: string; second: string },
): Promise<FloorTimes> {
  const remove = (): Promise<void> =>
    pool([...namespaces], FLOOR_CONCURRENCY, async (ns) => {
      await client.request('DELETE', `/api/v1/namespaces/${ns}/secrets/${FLOOR_NAME}`);
    });
  const create = (ns: string): Promise<unknown> =>
    client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: floorSecret(ns, pems.first),
      query: { fieldManager: FIELD_MANAGER },
    });
  let flip = false;
  const update = (ns: string): Promise<unknown> =>
    client.apply(
      `/api/v1/namespaces/${ns}/secrets/${FLOOR_NAME}`,
      floorSecret(ns, flip ? pems.first : pems.second),
      FIELD_MANAGER,
    );
  const sequentially = (write: (ns: string) => Promise<unknown>) => async (): Promise<void> => {
    for (const ns of namespaces) await write(ns);
  };
  const concurrently = (write: (ns: string) => Promise<unknown>) => (): Promise<void> =>
    pool([...namespaces], FLOOR_CONCURRENCY, async (ns) => void (await write(ns)));

  const createSequential = await timed(sequentially(create));
  const updateSequential = await timed(sequentially(update));
  flip = true;
  const updateConcurrent = await timed(concurrently(update));
  await remove();
  const createConcurrent = await timed(concurrently(create));
  await remove();
  return { createSequential, createConcurrent, updateSequential, updateConcurrent };
}

/**
 * What "a namespace created → its target exists" costs without a controller: the benchmark
 * creates the namespace and, as soon as the API server answers, the Secret in it. Milliseconds each.
 */
export async function namespaceFloor(
  client: KubeClient,
  names: readonly string[],
  labels: Record<string, string>,
  pem: string,
): Promise<number[]> {
  const samples: number[] = [];
  for (const ns of names) {
    const t0 = performance.now();
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    });
    await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: floorSecret(ns, pem),
      query: { fieldManager: FIELD_MANAGER },
    });
    samples.push(performance.now() - t0);
  }
  return samples;
}
