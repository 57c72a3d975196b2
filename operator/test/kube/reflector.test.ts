import type { KubeClient, Query, WatchEvent } from '../../src/kube/client.ts';
import { Reflector } from '../../src/kube/reflector.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string; managedFields?: unknown[] };
  spec: { n: number };
}

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:n': {} } } }];

/** A list, then one watch that delivers `events` and stays open until aborted. */
function fakeClient(items: Obj[], events: WatchEvent<Obj>[]): KubeClient {
  return {
    get: async () => ({ metadata: { resourceVersion: '10' }, items: structuredClone(items) }),
    watch: async (_p: string, _q: Query, onEvent: (e: WatchEvent<Obj>) => void, signal: AbortSignal) => {
      for (const e of structuredClone(events)) onEvent(e);
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    },
  } as unknown as KubeClient;
}

describe('the reflector cache', () => {
  it('keeps listed and watched objects without their managedFields', async () => {
    const listed: Obj = { metadata: { name: 'a', resourceVersion: '5', managedFields }, spec: { n: 1 } };
    const watched: Obj = { metadata: { name: 'b', resourceVersion: '11', managedFields }, spec: { n: 2 } };
    const seen: Obj[] = [];
    const r = new Reflector<Obj, Obj>({
      client: fakeClient([listed], [{ type: 'ADDED', object: watched }]),
      path: '/apis/x/v1/things',
      transform: (o) => o,
      keyOf: (o) => o.metadata.name,
      resourceVersionOf: (o) => o.metadata.resourceVersion,
      handlers: { upsert: (o) => seen.push(o) },
    }).start();
    try {
      await r.synced;
      while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(r.get('a')).toEqual({ metadata: { name: 'a', resourceVersion: '5' }, spec: { n: 1 } });
      expect(r.get('b')).toEqual({ metadata: { name: 'b', resourceVersion: '11' }, spec: { n: 2 } });
      expect(seen.map((o) => o.metadata.managedFields)).toEqual([undefined, undefined]);
    } finally {
      r.stop();
    }
  });
});
