// One HTTP exchange over node:http/https (not fetch: a per-target CA needs an https.Agent), with a
// deadline for the whole exchange, cancellation, and transport failures sorted into kinds.
import http from 'node:http';
import https from 'node:https';

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  agent: http.Agent;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type TransportFailure = 'timeout' | 'network' | 'tls' | 'aborted' | 'protocol';

export class TransportError extends Error {
  readonly kind: TransportFailure;
  readonly code: string | undefined;

  constructor(kind: TransportFailure, message: string, code?: string) {
    super(message);
    this.name = 'TransportError';
    this.kind = kind;
    this.code = code;
  }
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME/;

export interface AgentOptions {
  /** PEM of the CAs to trust instead of the system roots. */
  ca?: string;
  /** Accept any server certificate. Labs only. */
  insecureSkipTLSVerify?: boolean;
}

export function createAgent(url: URL, options: AgentOptions = {}): http.Agent {
  if (url.protocol === 'http:') return new http.Agent({ keepAlive: true, maxSockets: 4 });
  return new https.Agent({
    keepAlive: true,
    maxSockets: 4,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    rejectUnauthorized: options.insecureSkipTLSVerify !== true,
  });
}

function classify(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(err);
  if (code !== undefined && TLS_CODE.test(code)) return new TransportError('tls', `TLS: ${message}`, code);
  return new TransportError('network', message, code);
}

export function send(request: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    if (request.signal?.aborted) {
      reject(new TransportError('aborted', 'aborted before the request was sent'));
      return;
    }
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const headers: Record<string, string> = { ...request.headers };
    if (body !== undefined) headers['content-length'] = String(body.length);
    const transport = request.url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (error: TransportError | undefined, response?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    const req = transport.request(request.url, { method: request.method, headers, agent: request.agent });
    const timer = setTimeout(() => {
      const error = new TransportError('timeout', `no complete answer within ${request.timeoutMs} ms`);
      finish(error);
      req.destroy(error);
    }, request.timeoutMs);
    const onAbort = (): void => {
      const error = new TransportError('aborted', 'aborted');
      finish(error);
      req.destroy(error);
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(classify(err)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          const error = new TransportError('protocol', `answer larger than ${MAX_BODY_BYTES} bytes`);
          finish(error);
          req.destroy(error);
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(classify(err)));
      res.on('end', () =>
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.end(body);
  });
}
