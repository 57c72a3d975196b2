import { request } from 'node:http';
import type { HealthServer, Readiness, ReadinessCheck } from '../../src/observability/health.ts';
import { startHealthServer } from '../../src/observability/health.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A plain node:http request on loopback (no keep-alive agent to outlive the server). */
function call(port: number, path: string, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A server on a random loopback port, with an empty operator registry unless one is given. */
function start(
  ready: ReadinessCheck = () => true,
  port = 0,
  registry = createMetrics({ processMetrics: false }).registry,
) {
  return startHealthServer({ port, host: '127.0.0.1', ready, registry });
}

describe('the health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers /healthz, and /readyz as the readiness check says, on a random port', async () => {
    let state: Readiness = { ready: false, reason: 'informers not synced' };
    server = await start(() => state);
    expect(server.port).toBeGreaterThan(0);

    const healthz = await call(server.port, '/healthz');
    expect(healthz).toMatchObject({ status: 200, body: 'ok\n' });
    expect(healthz.headers['content-type']).toMatch(/^text\/plain/);

    expect(await call(server.port, '/readyz')).toMatchObject({ status: 503, body: 'informers not synced\n' });
    state = { ready: true, reason: 'standby' };
    expect(await call(server.port, '/readyz')).toMatchObject({ status: 200, body: 'standby\n' });
    state = { ready: true };
    expect(await call(server.port, '/readyz?verbose')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('accepts boolean and asynchronous readiness checks, and reports a failing one as not ready', async () => {
    let mode: 'yes' | 'no' | 'throw' = 'no';
    server = await start(async () => {
      await new Promise((r) => setTimeout(r, 5));
      if (mode === 'throw') throw new Error('lost the API server');
      return mode === 'yes';
    });
    expect(await call(server.port, '/readyz')).toMatchObject({ status: 503, body: 'not ready\n' });
    mode = 'yes';
    expect(await call(server.port, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    mode = 'throw';
    expect(await call(server.port, '/readyz')).toMatchObject({
      status: 503,
      body: 'readiness check failed: lost the API server\n',
    });
    // Liveness does not depend on readiness.
    expect((await call(server.port, '/healthz')).status).toBe(200);
  });

  it('serves the registry on /metrics in the Prometheus text format', async () => {
    const metrics = createMetrics();
    metrics.reconciled('tpp-roots', 'success', 0.01);
    server = await start(() => true, 0, metrics.registry);
    const res = await call(server.port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(metrics.registry.contentType);
    expect(res.body).toContain('# TYPE trustbundle_reconciles_total counter');
    expect(res.body).toContain('trustbundle_reconciles_total{result="success"} 1');
    expect(res.body).toMatch(/^process_resident_memory_bytes \d+$/m);
  });

  it('answers HEAD without a body, refuses other methods and unknown paths', async () => {
    server = await start();
    expect(await call(server.port, '/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
    const post = await call(server.port, '/healthz', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await call(server.port, '/admin')).status).toBe(404);
  });

  it('closes: the port stops answering', async () => {
    const s = await start();
    expect((await call(s.port, '/healthz')).status).toBe(200);
    await s.close();
    await expect(call(s.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('fails to start, naming the cause, when the port is taken', async () => {
    server = await start();
    await expect(start(() => true, server.port)).rejects.toThrow(/EADDRINUSE/);
  });
});
