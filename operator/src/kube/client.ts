// A small Kubernetes REST client over node:https with one keep-alive agent. The kubeconfig
// (files, in-cluster; exec plugins through client-node) comes from ./kubeconfig.ts; the requests are ours,
// so that server-side apply, metadata-only lists and watches cost one round trip each.
import type { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { defaultConnectionConfig, type ConnectionConfig } from './kubeconfig.ts';

export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409;
export const isGone = (err: unknown): boolean => err instanceof KubeError && err.status === 410;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export const APPLY_PATCH = 'application/apply-patch+yaml';
export const MERGE_PATCH = 'application/merge-patch+json';

interface Connection {
  base: URL;
  transport: typeof https | typeof http;
  agent: http.Agent;
  headers: Record<string, string>;
  tls: https.AgentOptions;
  refreshedAt: number;
}

/** A request the API server keeps answering 429 fails after this many attempts. */
const MAX_THROTTLED_ATTEMPTS = 8;

/** The server's Retry-After in seconds (capped at 30 s), else an exponential delay; jittered. */
export function retryAfterMs(header: string | string[] | undefined, attempt: number): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  const base =
    Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) * 1000 : 250 * 2 ** (attempt - 1);
  return Math.min(base, 30_000) * (1 + Math.random() * 0.2);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** Credentials are re-read this often, so rotated service-account tokens are picked up. */
const REFRESH_MS = 60_000;

export class KubeClient {
  readonly kubeConfig: ConnectionConfig;
  private connection?: Connection;
  /** Counts requests by verb, for metrics and benchmarks. */
  readonly requestCounts = new Map<string, number>();
  /**
   * Called right before any request other than a GET is sent; throwing refuses it. Leader election
   * uses it so that a replica whose lease may have run out (a frozen or partitioned leader waking
   * up with work in hand) never writes beside the new leader.
   */
  writeGuard?: (method: string, path: string) => void;

  constructor(kubeConfig: ConnectionConfig | KubeConfig) {
    this.kubeConfig = kubeConfig;
  }

  static fromDefault(): KubeClient {
    return new KubeClient(defaultConnectionConfig());
  }

  private async connect(): Promise<Connection> {
    const now = Date.now();
    if (this.connection && now - this.connection.refreshedAt < REFRESH_MS) return this.connection;
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const opts: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.auth) headers.Authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
    const base = new URL(cluster.server);
    const tls: https.AgentOptions = {};
    for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) {
      if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
    }
    const secure = base.protocol === 'https:';
    const agent =
      this.connection?.agent ??
      (secure
        ? new https.Agent({ keepAlive: true, maxSockets: 32, ...tls })
        : new http.Agent({ keepAlive: true, maxSockets: 32 }));
    this.connection = { base, transport: secure ? https : http, agent, headers, tls, refreshedAt: now };
    return this.connection;
  }

  private count(verb: string): void {
    this.requestCounts.set(verb, (this.requestCounts.get(verb) ?? 0) + 1);
  }

  private async open(
    method: string,
    path: string,
    options: RequestOptions,
    agent?: http.Agent,
  ): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    const conn = await this.connect();
    const url = new URL(path, conn.base);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...conn.headers, Accept: options.accept ?? 'application/json' };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    this.count(method === 'GET' && options.query?.watch ? 'WATCH' : method);
    return new Promise((resolve, reject) => {
      if (method !== 'GET') {
        try {
          this.writeGuard?.(method, path);
        } catch (err) {
          reject(err as Error);
          return;
        }
      }
      const req = conn.transport.request(
        url,
        { method, headers, agent: agent ?? conn.agent, signal: options.signal, ...conn.tls },
        (res) => resolve({ res, req }),
      );
      req.on('error', reject);
      const guard = method !== 'GET' ? this.writeGuard : undefined;
      if (guard) {
        // Asked again when the request gets its connection, right before the bytes leave: a
        // process frozen while a new connection was opened must not send a write allowed before.
        req.on('socket', (socket) => {
          const again = (): void => {
            try {
              guard(method, path);
            } catch (err) {
              req.destroy(err as Error);
            }
          };
          if (socket.connecting) socket.once('connect', again);
          else again();
        });
      }
      if (options.timeoutMs) {
        req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      }
      req.end(payload);
    });
  }

  private static async readBody(res: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private static errorFrom(method: string, path: string, status: number, text: string): KubeError {
    let reason = 'Unknown';
    let message = text.slice(0, 500);
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string };
      reason = s.reason ?? reason;
      message = s.message ?? message;
    } catch {
      /* not a Status object */
    }
    return new KubeError(status, reason, `${method} ${path}: ${status} ${reason}: ${message}`);
  }

  /**
   * One request. A 429 (API Priority and Fairness rejected it before it was executed, so even a
   * write is safe to send again) is retried after the server's Retry-After, a few times.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { res } = await this.open(method, path, { timeoutMs: 30_000, ...options });
      const text = await KubeClient.readBody(res);
      const status = res.statusCode ?? 0;
      if (status === 429 && attempt < MAX_THROTTLED_ATTEMPTS && !options.signal?.aborted) {
        this.count('THROTTLED');
        await sleep(retryAfterMs(res.headers['retry-after'], attempt), options.signal);
        continue;
      }
      if (status < 200 || status >= 300) throw KubeClient.errorFrom(method, path, status, text);
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  /** Server-side apply: the object is the whole intent of `fieldManager`; unchanged intent writes nothing. */
  apply<T>(path: string, object: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>('PATCH', path, {
      body: object,
      contentType: APPLY_PATCH,
      query: { fieldManager, force },
    });
  }

  mergePatch<T>(path: string, patch: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body: patch, contentType: MERGE_PATCH });
  }

  /**
   * Streams watch events until the server closes the stream, the signal aborts, or an error
   * occurs; resolves when the stream ends. A 410 Gone arrives as an ERROR event or an HTTP 410.
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    accept?: string,
  ): Promise<void> {
    // Watches get their own agent: a long-lived stream must not hold a pooled request socket.
    const conn = await this.connect();
    const watchAgent =
      conn.transport === https ? new https.Agent({ keepAlive: false, ...conn.tls }) : new http.Agent();
    try {
      const { res } = await this.open(
        'GET',
        path,
        { query: { ...query, watch: true }, signal, accept },
        watchAgent,
      );
      const status = res.statusCode ?? 0;
      if (status !== 200) throw KubeClient.errorFrom('WATCH', path, status, await KubeClient.readBody(res));
      let buffered = '';
      for await (const chunk of res) {
        buffered += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      }
    } finally {
      watchAgent.destroy();
    }
  }

  close(): void {
    this.connection?.agent.destroy();
  }
}
