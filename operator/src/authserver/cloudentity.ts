// Cloudentity ACP: the bundle is the `root_cas` ("Trusted client certificates") of one
// authorization server (workspace), read and written through ACP's admin API:
//   token   POST {tokenURL}                      client credentials, client_secret_basic (or _post)
//   read    GET  {adminURL}/servers/{server}     the server object and its `etag`
//   write   PUT  {adminURL}/servers/{server}     the whole object, `if-match: <etag>`; 412 when stale
// There is no PATCH for servers, so a write is read-modify-write of the whole object with the
// fields only the server computes left out. The object also carries the workspace's `secret` and
// private signing keys (`jwks`): it is passed through untouched and never logged, and a write is
// refused when the read looks like it withheld them (./redaction.ts).
// Whether ACP enforces `if-match` on this PUT is not in its spec; so a write re-reads the object
// right before it, and builds the body from that read: a concurrent edit is lost only if it lands
// in the few milliseconds between that GET and the PUT (docs/consumers.md gives the figure).
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { cloudentityEndpoints, keyOf, type CloudentityTarget } from '../api/v1alpha1.ts';
import { readPem } from '../bundle/pem.ts';
import {
  AuthorizationServerError,
  RedactedFieldsError,
  redact,
  serverErrorText,
  type FailureKind,
} from './errors.ts';
import { createAgent, send, TransportError, type HttpResponse } from './http.ts';
import { redactedFields } from './redaction.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, sleep, type RetryPolicy } from './retry.ts';
import type { AuthorizationServer, AuthServerLogger, ReadSecret, TrustRead } from './types.ts';

/**
 * Fields of ACP's `ServerResponse` that its `Server` (the PUT body) does not have: computed by
 * ACP, so they are left out of a write (admin OpenAPI spec, acp-client-go `spec/admin.yaml`).
 */
export const READ_ONLY_SERVER_FIELDS: readonly string[] = Object.freeze([
  'issuer_url',
  'mtls_issuer_url',
  'supported_application_purposes',
  'theme_id',
]);

export interface CloudentityOptions {
  readSecret: ReadSecret;
  logger?: AuthServerLogger;
  /** Deadline of one HTTP exchange, answer body included. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Re-reads after a 412 (someone else wrote the server in between) before giving up. */
  maxConflictRetries?: number;
  /**
   * Names where the client credentials come from in messages; default `Secret <ns>/<name>`
   * (the command line reads them from a file or the environment instead).
   */
  credentialsLabel?: string;
  /** Told of every HTTP exchange once it is answered (method, path, status, duration); no secrets. */
  onExchange?: (exchange: Exchange) => void;
}

export interface Exchange {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  /** 0 when no answer came. */
  status: number;
  ms: number;
}

type ServerObject = Record<string, unknown>;

interface ServerRead {
  object: ServerObject;
  etag: string | undefined;
}

type AuthStyle = 'client_secret_basic' | 'client_secret_post';

interface Token {
  value: string;
  refreshAt: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CONFLICT_RETRIES = 5;
/** When `expires_in` is missing. */
const DEFAULT_TOKEN_TTL_S = 60;
const USER_AGENT = 'trustbundle-operator';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function configError(message: string, cause?: unknown): AuthorizationServerError {
  return new AuthorizationServerError(message, { kind: 'config', retriable: false, cause });
}

function parseEndpoint(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw configError(`cloudentity ${name} is not a URL`, err);
  }
  if (url.username !== '' || url.password !== '') {
    throw configError(`cloudentity ${name} must not carry credentials; use credentialsSecret`);
  }
  if (url.protocol === 'https:') return url;
  // Plain http only where nothing can listen in: tests and local demos on loopback.
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  throw configError(`cloudentity ${name} must be an https:// URL (got ${url.protocol}//${url.host})`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sameRead(a: ServerRead, b: ServerRead): boolean {
  if (a.etag !== undefined && b.etag !== undefined) return a.etag === b.etag;
  return JSON.stringify(a.object) === JSON.stringify(b.object);
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class CloudentityAuthorizationServer implements AuthorizationServer {
  readonly description: string;
  private readonly target: CloudentityTarget;
  private readonly tokenURL: URL;
  private readonly serverURL: URL;
  private readonly clientIDKey: string;
  private readonly clientSecretKey: string;
  private readonly readSecret: ReadSecret;
  private readonly logger: AuthServerLogger | undefined;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly maxConflictRetries: number;
  private readonly credentialsLabel: string;
  private readonly onExchange: ((exchange: Exchange) => void) | undefined;
  /** Values that must never appear in a message: the client secret and the tokens. */
  private readonly secrets = new Set<string>();
  private token: Token | undefined;
  private tokenPending: Promise<string> | undefined;
  private authStyle: AuthStyle | undefined;
  private agent: { key: string; agent: http.Agent } | undefined;
  private lastRead: ServerRead | undefined;

  constructor(target: CloudentityTarget, options: CloudentityOptions) {
    this.target = target;
    const endpoints = cloudentityEndpoints(target);
    this.tokenURL = parseEndpoint('tokenURL', endpoints.tokenURL);
    const admin = parseEndpoint('adminURL', endpoints.adminURL);
    parseEndpoint('url', target.url);
    if (admin.protocol !== this.tokenURL.protocol) {
      throw configError('cloudentity tokenURL and adminURL must use the same scheme');
    }
    this.serverURL = new URL(
      `${admin.href.replace(/\/+$/, '')}/servers/${encodeURIComponent(target.server)}`,
    );
    this.clientIDKey = endpoints.clientIDKey;
    this.clientSecretKey = endpoints.clientSecretKey;
    const base = new URL(target.url);
    this.description = `cloudentity ${base.origin}${base.pathname.replace(/\/+$/, '')} tenant ${target.tenant} server ${target.server}`;
    this.readSecret = options.readSecret;
    this.logger = options.logger;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.maxConflictRetries = options.maxConflictRetries ?? DEFAULT_CONFLICT_RETRIES;
    const ref = target.credentialsSecret;
    this.credentialsLabel = options.credentialsLabel ?? `Secret ${ref.namespace}/${ref.name}`;
    this.onExchange = options.onExchange;
  }

  async readTrust(signal?: AbortSignal): Promise<string> {
    return (await this.readServer(signal)).rootCAs;
  }

  /** `root_cas`, and what a write back would have to refuse (the guard's findings). */
  async readServer(signal?: AbortSignal): Promise<TrustRead> {
    const read = await this.getServer(signal);
    this.lastRead = read;
    const rootCAs = read.object.root_cas;
    return {
      rootCAs: typeof rootCAs === 'string' ? rootCAs : '',
      redacted: redactedFields(read.object),
    };
  }

  /**
   * Replaces `root_cas`. Reads the object again first and writes on top of that read, refusing
   * (`RedactedFieldsError`) when the read looks like it withheld secrets or private keys.
   */
  async writeTrust(pem: string, signal?: AbortSignal): Promise<void> {
    const earlier = this.lastRead;
    this.lastRead = undefined;
    let current = await this.getServer(signal);
    if (earlier && !sameRead(earlier, current)) {
      this.logger?.warn(
        { authorizationServer: this.description },
        'the server object changed since it was checked; writing root_cas on top of the newer version',
      );
    }
    for (let conflicts = 0; ; conflicts++) {
      // Also ends a retry whose earlier PUT did go through before its answer was lost.
      if (current.object.root_cas === pem) return;
      const redacted = redactedFields(current.object);
      if (redacted.length > 0) throw new RedactedFieldsError(this.description, redacted);
      const body: ServerObject = {};
      for (const [k, v] of Object.entries(current.object)) {
        if (!READ_ONLY_SERVER_FIELDS.includes(k)) body[k] = v;
      }
      body.root_cas = pem;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (current.etag !== undefined) headers['if-match'] = current.etag;
      const res = await this.admin('PUT', headers, JSON.stringify(body), signal);
      if (res.status >= 200 && res.status < 300) return;
      if (res.status !== 412) throw this.failure(res, 'PUT', 1);
      if (conflicts >= this.maxConflictRetries) {
        throw this.failure(res, 'PUT', 1, `still changing after ${conflicts + 1} attempts`);
      }
      current = await this.getServer(signal);
    }
  }

  /** Releases pooled connections. */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }

  private async getServer(signal?: AbortSignal): Promise<ServerRead> {
    const res = await this.admin('GET', {}, undefined, signal);
    if (res.status !== 200) throw this.failure(res, 'GET', 1);
    let object: unknown;
    try {
      object = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw this.error(
        'protocol',
        `GET ${this.serverURL.pathname} answered 200 with a body that is not JSON`,
        {
          cause: err,
        },
      );
    }
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      throw this.error('protocol', `GET ${this.serverURL.pathname} answered 200 without a server object`);
    }
    return { object: object as ServerObject, etag: header(res, 'etag') };
  }

  /**
   * An admin API call with a bearer token. A 401 or 403 gets one fresh token and one more try, as
   * acp-client-go does: a token minted before the client was granted its role lacks the scope.
   */
  private async admin(
    method: 'GET' | 'PUT',
    headers: Record<string, string>,
    body: string | undefined,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    for (let renewed = false; ; renewed = true) {
      const token = await this.bearer(signal);
      const res = await this.exchange(
        method,
        this.serverURL,
        { ...headers, accept: 'application/json', authorization: `Bearer ${token}` },
        body,
        signal,
      );
      if ((res.status !== 401 && res.status !== 403) || renewed) return res;
      if (this.token?.value === token) this.token = undefined;
    }
  }

  private async bearer(signal?: AbortSignal): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return this.token.value;
    this.tokenPending ??= this.fetchToken(signal).finally(() => {
      this.tokenPending = undefined;
    });
    return this.tokenPending;
  }

  private async fetchToken(signal?: AbortSignal): Promise<string> {
    const { id, secret } = await this.credentials();
    const styles: AuthStyle[] = this.authStyle
      ? [this.authStyle]
      : ['client_secret_basic', 'client_secret_post'];
    const refusals: string[] = [];
    for (const style of styles) {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      };
      if (style === 'client_secret_basic') {
        // RFC 6749 §2.3.1: both parts form-encoded before base64.
        const pair = `${encodeURIComponent(id)}:${encodeURIComponent(secret)}`;
        headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
      } else {
        form.set('client_id', id);
        form.set('client_secret', secret);
      }
      const res = await this.exchange('POST', this.tokenURL, headers, form.toString(), signal);
      if (res.status === 200) {
        this.authStyle = style;
        return this.acceptToken(res);
      }
      if (res.status !== 400 && res.status !== 401)
        throw this.failure(res, 'POST', 1, undefined, this.tokenURL);
      refusals.push(`${style}: ${serverErrorText(res.body, [...this.secrets]) ?? `HTTP ${res.status}`}`);
    }
    throw this.error(
      'auth',
      `the token endpoint ${this.tokenURL.pathname} refused the client credentials from ${this.credentialsLabel} (${refusals.join('; ')})`,
    );
  }

  private acceptToken(res: HttpResponse): string {
    let parsed: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw this.error('protocol', `the token endpoint answered 200 with a body that is not JSON`, {
        cause: err,
      });
    }
    const value = parsed.access_token;
    if (typeof value !== 'string' || value === '') {
      throw this.error('protocol', 'the token endpoint answered 200 without an access_token');
    }
    if (typeof parsed.token_type === 'string' && parsed.token_type.toLowerCase() !== 'bearer') {
      throw this.error(
        'protocol',
        `the token endpoint issued a ${parsed.token_type} token; only Bearer is supported`,
      );
    }
    this.secrets.add(value);
    const ttlS =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0
        ? parsed.expires_in
        : DEFAULT_TOKEN_TTL_S;
    // Renewed shortly before it expires: a tenth of its life, at most a minute.
    const marginMs = Math.min(60_000, (ttlS * 1000) / 10);
    this.token = { value, refreshAt: Date.now() + ttlS * 1000 - marginMs };
    return value;
  }

  private async credentials(): Promise<{ id: string; secret: string }> {
    const ref = this.target.credentialsSecret;
    const data = await this.secretData(ref.namespace, ref.name, 'credentialsSecret');
    const id = data[this.clientIDKey]?.toString('utf8').trim();
    const secret = data[this.clientSecretKey]?.toString('utf8').trim();
    if (!id || !secret) {
      const missing = [!id && this.clientIDKey, !secret && this.clientSecretKey]
        .filter(Boolean)
        .join(' and ');
      throw configError(`${this.credentialsLabel} has no ${missing} (credentialsSecret)`);
    }
    this.secrets.add(secret);
    return { id, secret };
  }

  private async secretData(namespace: string, name: string, role: string): Promise<Record<string, Buffer>> {
    try {
      return await this.readSecret(namespace, name);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new AuthorizationServerError(`cannot read Secret ${namespace}/${name} (${role}): ${reason}`, {
        kind: 'config',
        retriable: true,
        cause: err,
      });
    }
  }

  /** The connection pool, rebuilt when the CA from `caSecret` changes. */
  private async connectionAgent(): Promise<http.Agent> {
    let ca: string | undefined;
    const ref = this.target.caSecret;
    if (ref) {
      const data = await this.secretData(ref.namespace, ref.name, 'caSecret');
      const key = keyOf(ref);
      ca = data[key]?.toString('utf8');
      if (ca === undefined)
        throw configError(`Secret ${ref.namespace}/${ref.name} has no key ${key} (caSecret)`);
      const parsed = readPem({ name: `Secret ${ref.namespace}/${ref.name} key ${key}`, content: ca });
      if (parsed.problems.length > 0) {
        throw configError(`caSecret: ${parsed.problems.map((p) => p.message).join('; ')}`);
      }
    }
    const insecure = this.target.insecureSkipTLSVerify === true;
    const key = `${insecure}:${ca === undefined ? '' : sha256(ca)}`;
    if (this.agent?.key === key) return this.agent.agent;
    this.agent?.agent.destroy();
    if (insecure && this.serverURL.protocol === 'https:') {
      this.logger?.warn(
        { authorizationServer: this.description, insecureSkipTLSVerify: true },
        'TLS VERIFICATION IS OFF for this authorization server: anyone on the path can read the admin credentials and change its trusted CAs. Use caSecret instead; insecureSkipTLSVerify is for labs only.',
      );
    }
    const agent = createAgent(this.serverURL, {
      ...(ca === undefined ? {} : { ca }),
      insecureSkipTLSVerify: insecure,
    });
    this.agent = { key, agent };
    return agent;
  }

  /**
   * One request with bounded retries of what is worth retrying: connection errors, timeouts, 5xx
   * and 429 (after the server's Retry-After when it names one). Other answers are returned.
   */
  private async exchange(
    method: 'GET' | 'PUT' | 'POST',
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const agent = await this.connectionAgent();
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      const started = Date.now();
      const told = (status: number): void =>
        this.onExchange?.({ method, path: url.pathname, status, ms: Date.now() - started });
      try {
        res = await send({
          method,
          url,
          headers: { 'user-agent': USER_AGENT, ...headers },
          ...(body === undefined ? {} : { body }),
          timeoutMs: this.timeoutMs,
          ...(signal ? { signal } : {}),
          agent,
        });
      } catch (err) {
        told(0);
        const failure = err instanceof TransportError ? err : new TransportError('network', String(err));
        const transient = failure.kind === 'network' || failure.kind === 'timeout';
        if (transient && attempt < this.retry.maxAttempts) {
          await this.pause(backoffDelay(attempt, this.retry), signal);
          continue;
        }
        const tries = attempt > 1 ? ` (gave up after ${attempt} attempts)` : '';
        const message = `${method} ${url.pathname}: ${redact(failure.message, [...this.secrets])}${tries}`;
        throw this.error(failure.kind, message, { retriable: failure.kind !== 'tls', cause: failure });
      }
      told(res.status);
      const throttled = res.status === 429;
      if (!throttled && res.status < 500) return res;
      const retryAfter = parseRetryAfter(header(res, 'retry-after'), Date.now());
      if (retryAfter !== undefined && retryAfter > this.retry.maxRetryAfterMs) {
        throw this.failure(
          res,
          method,
          attempt,
          `asked to retry after ${Math.ceil(retryAfter / 1000)} s`,
          url,
          retryAfter,
        );
      }
      if (attempt >= this.retry.maxAttempts) throw this.failure(res, method, attempt, undefined, url);
      await this.pause(retryAfter ?? backoffDelay(attempt, this.retry), signal);
    }
  }

  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await sleep(ms, signal);
    } catch (err) {
      throw this.error('aborted', 'aborted while waiting to retry', { cause: err });
    }
  }

  private error(
    kind: FailureKind,
    message: string,
    extra: {
      retriable?: boolean;
      cause?: unknown;
      status?: number;
      serverMessage?: string;
      retryAfterMs?: number;
    } = {},
  ): AuthorizationServerError {
    const retriable =
      extra.retriable ??
      ['conflict', 'throttled', 'unavailable', 'timeout', 'network', 'aborted'].includes(kind);
    return new AuthorizationServerError(`${this.description}: ${message}`, { kind, retriable, ...extra });
  }

  /** The error for an answer the adapter does not go on with, with the server's own text. */
  private failure(
    res: HttpResponse,
    method: string,
    attempts: number,
    note?: string,
    url: URL = this.serverURL,
    retryAfterMs?: number,
  ): AuthorizationServerError {
    const text = serverErrorText(res.body, [...this.secrets]);
    const s = res.status;
    const kind: FailureKind =
      s === 401
        ? 'auth'
        : s === 403
          ? 'forbidden'
          : s === 404
            ? 'notFound'
            : s === 400 || s === 422
              ? 'rejected'
              : s === 412
                ? 'conflict'
                : s === 429
                  ? 'throttled'
                  : s >= 500
                    ? 'unavailable'
                    : 'protocol';
    const hints: Partial<Record<FailureKind, string>> = {
      auth: 'the admin API refused a freshly issued token',
      forbidden: 'the client may not manage this server',
      notFound: `no server ${this.target.server} in tenant ${this.target.tenant}`,
    };
    const parts = [`${method} ${url.pathname} → ${s}`];
    if (text) parts.push(text);
    if (hints[kind]) parts.push(hints[kind]!);
    if (attempts > 1) parts.push(`gave up after ${attempts} attempts`);
    if (note) parts.push(note);
    return this.error(kind, parts.join(': '), {
      status: s,
      ...(text === undefined ? {} : { serverMessage: text }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
}
