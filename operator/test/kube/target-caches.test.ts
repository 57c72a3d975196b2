// Target caches against a fake API server that records each list and watch: one cluster-wide
// watch when targets may be anywhere and RBAC allows it, one per namespace when it does not.
import { KubeError, type KubeClient, type Query, type WatchEvent } from '../../src/kube/client.ts';
import { TargetCaches, type RawTarget } from '../../src/kube/objects.ts';

const LABEL = 'mtls.openbanking.dev/bundle';

const secret = (namespace: string, name: string, rv: string): RawTarget => ({
  metadata: {
    namespace,
    name,
    resourceVersion: rv,
    labels: { [LABEL]: 'tb' },
    annotations: {
      'mtls.openbanking.dev/bundle-hash': 'h1',
      'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"ca.crt":"LS0t..."}}',
    },
  },
  data: { 'ca.crt': 'LS0t' },
});

/** Every labelled Secret of the cluster, served by path; `/api/v1/secrets` only when allowed. */
function apiServer(objects: RawTarget[], clusterListAllowed: boolean) {
  const requests: string[] = [];
  const watches: { path: string; query: Query; onEvent: (e: WatchEvent<RawTarget>) => void }[] = [];
  const inPath = (path: string) => {
    if (path === '/api/v1/secrets') {
      if (!clusterListAllowed) throw new KubeError(403, 'Forbidden', 'secrets is forbidden: cluster scope');
      return objects;
    }
    const ns = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(path)?.[1];
    if (!ns) throw new KubeError(404, 'NotFound', path);
    return objects.filter((o) => o.metadata?.namespace === ns);
  };
  const client = {
    get: async (path: string, options: { query?: Query } = {}) => {
      requests.push(`LIST ${path}${options.query?.limit === 1 ? ' limit=1' : ''}`);
      const items = inPath(path);
      return {
        metadata: { resourceVersion: '100' },
        items: options.query?.limit === 1 ? items.slice(0, 1) : items,
      };
    },
    watch: (path: string, query: Query, onEvent: (e: WatchEvent<RawTarget>) => void, signal: AbortSignal) => {
      requests.push(`WATCH ${path}`);
      watches.push({ path, query, onEvent });
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    },
  } as unknown as KubeClient;
  return { client, requests, watches };
}

function caches(
  client: KubeClient,
  clusterPath: string | undefined,
  errors: string[] = [],
  warnings?: string[],
) {
  const seen: string[] = [];
  const c = new TargetCaches(
    {
      client,
      resyncMs: 0,
      onError: (err) => errors.push((err as Error).message),
      ...(warnings ? { onWarning: (m: string) => warnings.push(m) } : {}),
    },
    {
      path: (ns) => `/api/v1/namespaces/${ns}/secrets`,
      contents: (raw) => raw.data ?? {},
      ...(clusterPath ? { clusterPath } : {}),
    },
    LABEL,
    (v) => `sha256:${v.length}`,
    { upsert: (t) => seen.push(`${t.namespace}/${t.name}@${t.resourceVersion}`) },
  );
  return { c, seen };
}

const objects = [secret('a', 'roots', '10'), secret('b', 'roots', '11'), secret('c', 'other', '12')];

test('targets allowed anywhere: one label-selected watch of the cluster serves every namespace', async () => {
  const api = apiServer(objects, true);
  const { c, seen } = caches(api.client, '/api/v1/secrets');
  try {
    expect((await c.read('Secret', 'a', 'roots'))?.resourceVersion).toBe('10');
    expect((await c.read('Secret', 'b', 'roots'))?.resourceVersion).toBe('11');
    expect(await c.read('Secret', 'a', 'other')).toBeUndefined();
    // The question (one item), then one list and one watch, whatever the number of namespaces.
    expect(api.requests).toEqual([
      'LIST /api/v1/secrets limit=1',
      'LIST /api/v1/secrets',
      'WATCH /api/v1/secrets',
    ]);
    expect(api.watches[0]!.query.labelSelector).toBe(LABEL);
    expect(seen.sort()).toEqual(['a/roots@10', 'b/roots@11', 'c/other@12']);
    expect(c.namespaces('Secret').sort()).toEqual(['a', 'b', 'c']);
    expect(c.peek('Secret', 'c', 'other')?.digests.get('ca.crt')).toBe('sha256:4');

    // Events of any namespace land in the one cache, keyed by namespace and name.
    api.watches[0]!.onEvent({ type: 'ADDED', object: secret('d', 'roots', '13') });
    expect(c.peek('Secret', 'd', 'roots')?.resourceVersion).toBe('13');
    expect(c.caughtUp('Secret', 'a', '13')).toBe(true);
    expect(c.caughtUp('Secret', 'a', '14')).toBe(false);

    // Released when no namespace of the kind is used any more.
    expect(c.retain(new Set(['Secret/a']))).toBe(0);
    expect(c.retain(new Set())).toBe(1);
    expect(c.peek('Secret', 'a', 'roots')).toBeUndefined();
  } finally {
    c.stop();
  }
});

test('only the operator annotations of a target are kept, not the data another tool copied into its own', async () => {
  const api = apiServer(objects, true);
  const { c } = caches(api.client, '/api/v1/secrets');
  try {
    expect((await c.read('Secret', 'a', 'roots'))?.annotations).toEqual({
      'mtls.openbanking.dev/bundle-hash': 'h1',
    });
  } finally {
    c.stop();
  }
});

test('a cluster-wide list refused by RBAC: each namespace is watched on its own, and the operator says why', async () => {
  const api = apiServer(objects, false);
  const errors: string[] = [];
  const warnings: string[] = [];
  const { c } = caches(api.client, '/api/v1/secrets', errors, warnings);
  try {
    expect((await c.read('Secret', 'a', 'roots'))?.resourceVersion).toBe('10');
    expect((await c.read('Secret', 'b', 'roots'))?.resourceVersion).toBe('11');
    expect(api.requests).toEqual([
      'LIST /api/v1/secrets limit=1',
      'LIST /api/v1/namespaces/a/secrets',
      'WATCH /api/v1/namespaces/a/secrets',
      'LIST /api/v1/namespaces/b/secrets',
      'WATCH /api/v1/namespaces/b/secrets',
    ]);
    // Said once, as a warning: the operator works, on more connections.
    expect(warnings).toEqual([expect.stringMatching(/may not list Secrets across the cluster .*forbidden/)]);
    expect(errors).toEqual([]);
    expect(c.namespaces('Secret').sort()).toEqual(['a', 'b']);
  } finally {
    c.stop();
  }
});

test('targets bounded to listed namespaces: no cluster-wide request at all', async () => {
  const api = apiServer(objects, true);
  const { c } = caches(api.client, undefined);
  try {
    await c.read('Secret', 'a', 'roots');
    expect(api.requests).toEqual(['LIST /api/v1/namespaces/a/secrets', 'WATCH /api/v1/namespaces/a/secrets']);
  } finally {
    c.stop();
  }
});

test('a question left unanswered (the API server down) is asked again on the next read', async () => {
  const api = apiServer(objects, true);
  let down = true;
  const get = api.client.get.bind(api.client);
  (api.client as { get: unknown }).get = async (path: string, options: { query?: Query }) => {
    if (down) throw new Error('connect ECONNREFUSED');
    return get(path, options);
  };
  const { c } = caches(api.client, '/api/v1/secrets');
  try {
    await expect(c.read('Secret', 'a', 'roots')).rejects.toThrow(/ECONNREFUSED/);
    down = false;
    expect((await c.read('Secret', 'a', 'roots'))?.resourceVersion).toBe('10');
    expect(api.requests.filter((r) => r.startsWith('WATCH'))).toEqual(['WATCH /api/v1/secrets']);
  } finally {
    c.stop();
  }
});
