// The probe and metrics endpoint: /healthz (the process answers), /readyz (the controller says it is
// ready: informers synced, whether leader or standby) and /metrics (Prometheus text format).
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from './prometheus.ts';

export interface Readiness {
  ready: boolean;
  /** Why not ready (or a short state when ready), returned as the probe's body. */
  reason?: string;
}

export type ReadinessCheck = () => Readiness | boolean | Promise<Readiness | boolean>;

export interface HealthServerOptions {
  /** 0 picks a free port; `port` on the returned server tells which. */
  port: number;
  /** Defaults to all interfaces, as a kubelet probes the pod IP. */
  host?: string;
  ready: ReadinessCheck;
  registry: Registry;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

type Reply = { status: number; type: string; body: string };

const text = (status: number, body: string): Reply => ({
  status,
  type: 'text/plain; charset=utf-8',
  body: `${body}\n`,
});

async function readiness(check: ReadinessCheck): Promise<Reply> {
  try {
    const result = await check();
    const { ready, reason } = typeof result === 'boolean' ? { ready: result, reason: undefined } : result;
    return text(ready ? 200 : 503, reason ?? (ready ? 'ok' : 'not ready'));
  } catch (err) {
    return text(503, `readiness check failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function route(req: IncomingMessage, options: HealthServerOptions): Promise<Reply> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed');
  switch (path) {
    case '/healthz':
    case '/livez':
      return text(200, 'ok');
    case '/readyz':
      return readiness(options.ready);
    case '/metrics':
      return { status: 200, type: options.registry.contentType, body: await options.registry.metrics() };
    default:
      return text(404, 'not found: try /healthz, /readyz or /metrics');
  }
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, {
    'content-type': reply.type,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
    ...(reply.status === 405 ? { allow: 'GET, HEAD' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => {
    route(req, options).then(
      (reply) => send(req, res, reply),
      (err: unknown) =>
        send(req, res, text(500, `internal error: ${err instanceof Error ? err.message : String(err)}`)),
    );
  });
  // Probes are short; do not let an idle keep-alive connection hold close() up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
