import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from '../../src/kube/client.ts';
import { Reflector } from '../../src/kube/reflector.ts';

interface Seen {
  watch: boolean;
  resourceVersion: string | null;
}

/**
 * An API server of one Secret: lists answer at resourceVersion 10 (then 20), the first watch ends
 * with 410 Gone, later watches stay open. Records the resourceVersion each request asked for.
 */
async function apiServer() {
  const seen: Seen[] = [];
  let lists = 0;
  let watches = 0;
  const open: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true';
    seen.push({ watch, resourceVersion: url.searchParams.get('resourceVersion') });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (!watch) {
      lists++;
      const rv = String(lists * 10);
      res.end(
        JSON.stringify({
          metadata: { resourceVersion: rv },
          items: [{ metadata: { name: 'a', namespace: 'ns', resourceVersion: rv } }],
        }),
      );
      return;
    }
    if (++watches === 1) {
      res.end(
        JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } }) + '\n',
      );
      return;
    }
    open.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = new KubeClient({
    getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
    applyToHTTPSOptions: async () => undefined,
  } as never);
  const close = (): void => {
    for (const r of open) r.end();
    client.close();
    server.close();
  };
  return { seen, client, close };
}

describe('Reflector lists', () => {
  it("the first list is served from the API server's watch cache; the relist after 410 Gone is consistent", async () => {
    const s = await apiServer();
    const reflector = new Reflector<{ metadata?: { name?: string; resourceVersion?: string } }, string>({
      client: s.client,
      path: '/api/v1/namespaces/ns/secrets',
      transform: (raw) => `${raw.metadata?.name}@${raw.metadata?.resourceVersion}`,
      keyOf: (o) => o.slice(0, o.indexOf('@')),
      resourceVersionOf: (o) => o.slice(o.indexOf('@') + 1),
      handlers: {},
    }).start();
    try {
      await reflector.synced;
      const deadline = Date.now() + 5_000;
      while (s.seen.filter((r) => r.watch).length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(s.seen).toEqual([
        { watch: false, resourceVersion: '0' },
        { watch: true, resourceVersion: '10' },
        { watch: false, resourceVersion: null },
        { watch: true, resourceVersion: '20' },
      ]);
      expect(reflector.list()).toEqual(['a@20']);
    } finally {
      reflector.stop();
      s.close();
    }
  });
});
