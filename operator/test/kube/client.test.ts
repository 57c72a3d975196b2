import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient, retryAfterMs } from '../../src/kube/client.ts';

/** A server answering 429 with Retry-After `times` times, then 201; it records when each request came. */
async function throttling(times: number, retryAfter: string) {
  const arrivals: number[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    arrivals.push(Date.now());
    if (arrivals.length <= times) {
      res.writeHead(429, { 'Retry-After': retryAfter, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'too many requests' }));
      return;
    }
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ metadata: { name: 'x' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = new KubeClient({
    getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
    applyToHTTPSOptions: async () => undefined,
  } as never);
  return { arrivals, client, close: () => (client.close(), server.close()) };
}

describe('API Priority and Fairness', () => {
  it("a 429 is sent again after the server's Retry-After, then succeeds", async () => {
    const s = await throttling(2, '1');
    try {
      const out = await s.client.request<{ metadata: { name: string } }>(
        'POST',
        '/api/v1/namespaces/a/secrets',
        {
          body: {},
        },
      );
      expect(out.metadata.name).toBe('x');
      expect(s.arrivals).toHaveLength(3);
      expect(s.arrivals[1]! - s.arrivals[0]!).toBeGreaterThanOrEqual(990);
      expect(s.arrivals[2]! - s.arrivals[1]!).toBeGreaterThanOrEqual(990);
      expect(s.client.requestCounts.get('THROTTLED')).toBe(2);
    } finally {
      s.close();
    }
  });

  it('a server that keeps answering 429 fails the request in the end', async () => {
    const s = await throttling(100, '0');
    try {
      await expect(s.client.request('GET', '/api/v1/namespaces')).rejects.toThrow(/429 TooManyRequests/);
      expect(s.arrivals).toHaveLength(8);
    } finally {
      s.close();
    }
  });

  it('Retry-After is capped at 30 s; without it the delay grows', () => {
    expect(retryAfterMs('600', 1)).toBeLessThanOrEqual(36_000);
    expect(retryAfterMs('600', 1)).toBeGreaterThanOrEqual(30_000);
    expect(retryAfterMs(undefined, 1)).toBeLessThan(retryAfterMs(undefined, 4));
  });
});
