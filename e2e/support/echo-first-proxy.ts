// A proxy in front of the API server that forces one order of arrival: the answer to a write
// (server-side apply or merge patch) of a watched object is held until the watch event carrying
// the write's resourceVersion has been delivered to the client. A controller that recognises its
// own writes by remembering their resourceVersions from the answers sees every echo first. It
// forwards to the API server of KUBECONFIG with its admin token.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { apiServerUpstream, writeProxyKubeconfig } from './faults.ts';

const WRITES = new Set(['PATCH', 'PUT', 'POST']);

export class EchoFirstProxy {
  /** Write answers held until their watch event had been delivered. */
  held = 0;
  /** Write answers released after the deadline with no watch event seen for them. */
  timedOut = 0;
  /** Watch streams cut by cutWatches(). */
  cut = 0;
  private readonly watches = new Set<http.ServerResponse>();
  private readonly delivered = new Set<string>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly server: http.Server;
  private readonly upstream: ReturnType<typeof apiServerUpstream>;
  private readonly agent: https.Agent;
  private readonly holds: (method: string, path: string) => boolean;
  private readonly deadlineMs: number;

  /** `holds(method, path)`: which writes to hold (e.g. those to the test's target collections). */
  constructor(holds: (method: string, path: string) => boolean, deadlineMs = 5_000) {
    this.holds = holds;
    this.deadlineMs = deadlineMs;
    this.upstream = apiServerUpstream();
    this.agent = new https.Agent({ keepAlive: true, ...(this.upstream.ca ? { ca: this.upstream.ca } : {}) });
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig through the proxy, for the operator. */
  writeKubeconfig(path: string): string {
    return writeProxyKubeconfig(path, this.url, this.upstream.token, 'admin');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  /**
   * Ends every open watch stream at once, as a network partition or an API server going away
   * would: the client must notice, reconnect and catch up on what it missed. Returns how many.
   */
  cutWatches(): number {
    const open = [...this.watches];
    for (const res of open) res.destroy();
    this.cut += open.length;
    return open.length;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url ?? '/';
    const watching = /[?&]watch=(true|1)/.test(path);
    const hold = WRITES.has(req.method ?? '') && this.holds(req.method!, path.split('?')[0]!);
    const up = https.request(
      {
        host: this.upstream.url.hostname,
        port: this.upstream.url.port,
        method: req.method,
        path,
        agent: watching ? false : this.agent,
        headers: { ...req.headers, host: this.upstream.url.host },
        ...(this.upstream.ca ? { ca: this.upstream.ca } : {}),
      },
      (upRes) => {
        if (watching) return this.relayWatch(upRes, res);
        if (!hold) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          let rv: string | undefined;
          try {
            rv = (JSON.parse(body.toString()) as { metadata?: { resourceVersion?: string } }).metadata
              ?.resourceVersion;
          } catch {
            rv = undefined;
          }
          const release = (): void => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(body);
          };
          if (!rv || (upRes.statusCode ?? 500) >= 300) return release();
          void this.afterDelivery(rv).then(release);
        });
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    // The client going away ends the exchange (a request's own 'close' only means its body was read).
    res.on('close', () => {
      if (watching) up.destroy();
    });
    req.pipe(up);
  }

  private relayWatch(upRes: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    res.flushHeaders();
    this.watches.add(res);
    let partial = '';
    upRes.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      const rvs: string[] = [];
      for (const line of lines) {
        try {
          const rv = (JSON.parse(line) as { object?: { metadata?: { resourceVersion?: string } } }).object
            ?.metadata?.resourceVersion;
          if (rv) rvs.push(rv);
        } catch {
          /* not an event line */
        }
      }
      res.write(chunk, () => {
        for (const rv of rvs) this.markDelivered(rv);
      });
    });
    upRes.on('end', () => res.end());
    upRes.on('error', () => res.destroy());
    res.on('close', () => {
      this.watches.delete(res);
      upRes.destroy();
    });
  }

  private markDelivered(rv: string): void {
    this.delivered.add(rv);
    for (const wake of this.waiters.get(rv) ?? []) wake();
    this.waiters.delete(rv);
  }

  /** Resolves once the watch event of `rv` was written to the client, and a moment later. */
  private afterDelivery(rv: string): Promise<void> {
    return new Promise((resolve) => {
      const settle = (wasHeld: boolean) => {
        if (wasHeld) this.held++;
        else this.timedOut++;
        // The event has left the socket; give the client a moment to take it in first.
        setTimeout(resolve, 50);
      };
      if (this.delivered.has(rv)) return settle(true);
      const timer = setTimeout(() => settle(false), this.deadlineMs);
      const list = this.waiters.get(rv) ?? [];
      list.push(() => {
        clearTimeout(timer);
        settle(true);
      });
      this.waiters.set(rv, list);
    });
  }
}
