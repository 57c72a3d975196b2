// A contract server for Cloudentity ACP's admin API, as strict as the real one where it matters to
// the operator, for tests and the local demo (no ACP tenant can run here).
//
// What ACP's admin API is, and where that comes from:
// - Source: ACP's admin OpenAPI 2.0 spec in github.com/cloudentity/acp-client-go, `spec/admin.yaml`
//   (commit a4a107b, 2025-04-25), the Go models generated from it (`clients/admin/models/server.go`,
//   `server_response.go`, `error.go`), `clients/admin/client/servers/update_authorization_server_*.go`,
//   the client's `client.go` and `retry.go`, and `spec/oauth2.yaml` for the token endpoint.
// - Paths: base `/api/admin/{tid}`; `GET /servers/{wid}` answers the server (`ServerResponse`) with an
//   `etag` header; `PUT /servers/{wid}` takes the whole object (`Server`) and answers 200, 400, 401,
//   403, 404, 422 or 429. Both take an optional `if-match` header ("a server will only return
//   requested resources if the resource matches one of the listed ETag values"); the spec's shared
//   responses include `preconditionFailedHTTPError` (412), the answer to a stale etag. There is no
//   PATCH for a server.
// - `Server` has 64 properties, `tenant_id` required, none marked `readOnly`. `ServerResponse` adds
//   four that only ACP computes: `issuer_url`, `mtls_issuer_url`, `supported_application_purposes`,
//   `theme_id` (the full field list and types: ./acp-server-schema.ts).
// - `root_cas`: "root CA certificates encoded to PEM … used for the `tls_client_auth` and
//   `self_signed_tls_client_auth` client authentication methods … If not set, the system root CA
//   certificates are used instead."
// - The server object also carries `secret`, `subject_identifier_algorithm_salt`, `rotated_secrets`
//   and private JWKs (`jwks.keys[].d` …): a client must pass them through and never log them.
// - Errors: `{error, error_code, details, status_code}` (`Error`); the OAuth endpoints answer
//   `{error, error_description, error_hint, …}`.
// - Token: `POST /{tid}/admin/oauth2/token` (security definition `admin`, OAuth2), form-encoded;
//   clients authenticate with their `token_endpoint_auth_method`, `client_secret_basic` by default
//   (`client_secret_post` and others possible). acp-client-go uses golang.org/x/oauth2
//   clientcredentials (Basic first, then form parameters) and renews its token on 401 or 403.
//   The answer is `{access_token, expires_in, token_type, scope}`.
// - Vanity domains drop the `/{tid}` prefix (acp-client-go `apiPathPrefix`): base and token URLs
//   are configuration.
// - Shapes: every accepted body and every returned object follows the spec's schemas
//   (./acp-admin-spec.json, extracted from `spec/admin.yaml` by ./acp-spec-extract.ts; the checks
//   are in ./acp-server-schema.ts): types, enums, `duration`/`date-time`/`int64` formats, `required`.
//   `response_types` is an array of strings (`ResponseTypes`).
//
// What the spec leaves open, what this server does, and why:
// | Behaviour                       | Spec                                   | Here (option)                         |
// |---------------------------------|----------------------------------------|---------------------------------------|
// | 412 on a stale `if-match` (PUT) | `preconditionFailedHTTPError` defined, | enforced by default; `ignoreIfMatch`  |
// |                                 | listed on no operation                 | turns it off, as a real ACP might     |
// | `secret`, salt, private JWKs    | returned by GET? not said; "if not     | returned by default; `redactSecrets`: |
// | on GET                          | provided, it is generated" (secret,    | 'mask' (`********`), 'empty' ('') or  |
// |                                 | salt)                                  | 'omit' (fields left out)              |
// | fields the spec does not define | allowed (no additionalProperties)      | 400 by default, to catch a client     |
// | (or read-only ones) in a PUT    |                                        | that invents fields; `unknownFields:  |
// |                                 |                                        | 'drop'` ignores them like Go's decoder|
// | `null` for a field              | `x-nullable: false` everywhere         | accepted where ACP's Go client sends  |
// |                                 |                                        | it (`goNullable`: no omitempty), 422  |
// |                                 |                                        | elsewhere                             |
// | formats `serverID`, `tenantID`, | named, not defined                     | any string                            |
// | `label`, `jwkSource` …          |                                        |                                       |
// | `root_cas` content              | "PEM"                                  | PEM certificates and nothing else     |
// |                                 |                                        | (422), as the admin console requires  |
// | absent fields in a PUT          | a PUT takes the whole object           | the object becomes the body: absent   |
// |                                 |                                        | fields are gone                       |
//
// Run it alone: `node e2e/support/acp-contract-server.ts --port 8443 [--tls-dir DIR]` prints one
// JSON line with the URLs and the test client's credentials.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { checkServerBody, type UnknownFields } from './acp-server-schema.ts';
import { generateTlsMaterial, tlsMaterialIn, type TlsMaterial } from './acp-tls.ts';

export type Route = 'token' | 'get' | 'put';

/** What the next requests to a route get instead of (or before) the normal answer. */
export type Fault =
  /** An error answer: `{error, status_code}` JSON, with `Retry-After` when given. */
  | { status: number; retryAfter?: string; error?: string }
  /** The normal answer, after a delay. */
  | { delayMs: number }
  /** No answer at all, until the client gives up or the server stops. */
  | { hang: true }
  /** The connection is dropped. */
  | { reset: true }
  /** Runs first (e.g. another writer's change), then the normal answer. */
  | { before: () => void }
  /** The normal answer, then this runs (a change that lands right after a read). */
  | { after: () => void };

export interface RecordedRequest {
  method: string;
  path: string;
  route: Route | undefined;
  /** Credentials in `authorization` are replaced by `[redacted]`. */
  headers: Record<string, string>;
  /** For the token endpoint, `client_secret` is `[redacted]`. */
  body: string;
  /** The client authentication the token endpoint saw. */
  clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'none' | 'both';
  status: number;
  /** `Date.now()` at arrival. */
  at: number;
  /** `performance.now()` at arrival, for sub-millisecond intervals. */
  hrAt: number;
  fault?: string;
  /** The server object answered to a GET or PUT (JSON text). */
  response?: string;
}

export interface ContractServerOptions {
  port?: number;
  host?: string;
  /** `true`: TLS with material generated for the run. */
  tls?: boolean | TlsMaterial;
  tenant?: string;
  /** Authorization servers (workspaces) the tenant holds. */
  servers?: string[];
  clientId?: string;
  clientSecret?: string;
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  tokenTTLSeconds?: number;
  /** A PUT with a stale `if-match` is applied instead of answered 412. */
  ignoreIfMatch?: boolean;
  /** How a GET hides `secret`, `subject_identifier_algorithm_salt` and private JWK members. */
  redactSecrets?: false | Redaction;
  unknownFields?: UnknownFields;
}

export type Redaction = 'mask' | 'empty' | 'omit';

/** Private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

type ServerObject = Record<string, unknown>;

interface Stored {
  object: ServerObject;
  revision: number;
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function apiError(
  res: http.ServerResponse,
  status: number,
  error: string,
  extra: Record<string, unknown> = {},
): void {
  json(res, status, { error, status_code: status, ...extra });
}

/** What a GET that withholds secrets could look like; which one a real ACP does, if any, is unknown. */
function redact(object: ServerObject, how: Redaction): void {
  const hide = (o: Record<string, unknown>, field: string): void => {
    if (!(field in o)) return;
    if (how === 'omit') delete o[field];
    else o[field] = how === 'mask' ? '********' : '';
  };
  hide(object, 'secret');
  hide(object, 'subject_identifier_algorithm_salt');
  const jwks = object.jwks as Record<string, unknown> | undefined;
  for (const list of ['keys', 'revoked_signing_keys', 'revoked_encryption_keys']) {
    const keys = jwks?.[list];
    if (Array.isArray(keys)) for (const key of keys) for (const m of PRIVATE_JWK_MEMBERS) hide(key, m);
  }
  for (const single of ['next_signing_key', 'next_encryption_key']) {
    const key = jwks?.[single];
    if (key && typeof key === 'object')
      for (const m of PRIVATE_JWK_MEMBERS) hide(key as Record<string, unknown>, m);
  }
}

function formDecode(v: string): string {
  return decodeURIComponent(v.replace(/\+/g, ' '));
}

function deepCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export class AcpContractServer {
  readonly tenant: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
  tokenTTLSeconds: number;
  ignoreIfMatch: boolean;
  redactSecrets: false | Redaction;
  unknownFields: UnknownFields;
  /** Every request, in order of arrival. */
  readonly requests: RecordedRequest[] = [];
  /** Tokens issued so far, and the last one (tests check that it never shows up in messages). */
  tokensIssued = 0;
  lastIssuedToken: string | undefined;
  private readonly options: ContractServerOptions;
  private readonly tls: TlsMaterial | undefined;
  private readonly stored = new Map<string, Stored>();
  private readonly tokens = new Map<string, number>();
  private readonly faults: Record<Route, { fault: Fault; remaining: number }[]> = {
    token: [],
    get: [],
    put: [],
  };
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  private baseURL = '';

  constructor(options: ContractServerOptions = {}) {
    this.options = options;
    this.tenant = options.tenant ?? 'default';
    this.clientId = options.clientId ?? `trustbundle-${randomBytes(4).toString('hex')}`;
    this.clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
    this.tokenEndpointAuthMethod = options.tokenEndpointAuthMethod ?? 'client_secret_basic';
    this.tokenTTLSeconds = options.tokenTTLSeconds ?? 300;
    this.ignoreIfMatch = options.ignoreIfMatch ?? false;
    this.redactSecrets = options.redactSecrets ?? false;
    this.unknownFields = options.unknownFields ?? 'reject';
    this.tls = options.tls === true ? generateTlsMaterial() : options.tls || undefined;
    for (const wid of options.servers ?? ['openbanking_brasil']) {
      this.stored.set(wid, { object: this.initialServer(wid), revision: 1 });
    }
  }

  /** The CA that signed the server's certificate (TLS only). */
  get caPem(): string | undefined {
    return this.tls?.caPem;
  }

  get url(): string {
    return this.baseURL;
  }

  get tokenURL(): string {
    return `${this.baseURL}/${this.tenant}/admin/oauth2/token`;
  }

  get adminURL(): string {
    return `${this.baseURL}/api/admin/${this.tenant}`;
  }

  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      void this.handle(req, res);
    };
    const server = this.tls
      ? https.createServer({ cert: this.tls.certPem, key: this.tls.keyPem }, handler)
      : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.baseURL = `${this.tls ? 'https' : 'http'}://${shownHost}:${port}`;
    return this.baseURL;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `times` requests to `route` get `fault`. Faults queue in order. */
  inject(route: Route, fault: Fault, times = 1): void {
    this.faults[route].push({ fault, remaining: times });
  }

  /** The ids of the servers (workspaces) the tenant holds. */
  get servers(): string[] {
    return [...this.stored.keys()];
  }

  /** The server object as a GET returns it, read-only fields included (a copy). */
  serverObject(wid = this.firstServer()): ServerObject {
    return { ...deepCopy(this.entry(wid).object), ...this.computedFields(wid) };
  }

  etag(wid = this.firstServer()): string {
    const { object, revision } = this.entry(wid);
    const digest = createHash('sha256').update(JSON.stringify(object)).digest('hex').slice(0, 16);
    return `"${revision}-${digest}"`;
  }

  /** A change by someone else (the console, another tool): a new revision and etag. */
  edit(mutate: (server: ServerObject) => void, wid = this.firstServer()): void {
    const entry = this.entry(wid);
    const object = deepCopy(entry.object);
    mutate(object);
    for (const field of Object.keys(this.computedFields(wid))) delete object[field];
    this.stored.set(wid, { object, revision: entry.revision + 1 });
  }

  /** Every token issued so far is expired from now on. */
  expireTokens(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  /** Every access token issued so far (tests check that none shows up in output). */
  get issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  requestsTo(route: Route): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  private firstServer(): string {
    return this.stored.keys().next().value!;
  }

  private entry(wid: string): Stored {
    const entry = this.stored.get(wid);
    if (!entry) throw new Error(`no server ${wid}`);
    return entry;
  }

  private initialServer(wid: string): ServerObject {
    const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const encryption = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'jwk',
    });
    const kid = (): string => randomBytes(8).toString('hex');
    return {
      tenant_id: this.tenant,
      id: wid,
      name: 'Open Banking Brasil',
      description: 'Open Finance Brasil workspace',
      profile: 'openbanking_br',
      type: 'regular',
      version: 3,
      color: '#007FFF',
      access_token_strategy: 'jwt',
      access_token_ttl: '5m0s',
      id_token_ttl: '5m0s',
      authorization_code_ttl: '1m0s',
      refresh_token_ttl: '720h0m0s',
      grant_types: [
        'authorization_code',
        'client_credentials',
        'refresh_token',
        'urn:openid:params:grant-type:ciba',
      ],
      token_endpoint_auth_methods: ['tls_client_auth', 'private_key_jwt'],
      subject_identifier_types: ['public', 'pairwise'],
      enforce_pkce: true,
      require_pushed_authorization_requests: true,
      key_type: 'ecdsa',
      secret: randomBytes(24).toString('base64url'),
      subject_identifier_algorithm_salt: randomBytes(24).toString('base64url'),
      jwks: {
        keys: [
          { ...signing, kid: kid(), use: 'sig', alg: 'ES256', x5c: null },
          { ...encryption, kid: kid(), use: 'enc', alg: 'RSA-OAEP-256', x5c: null },
        ],
        revoked_signing_keys: null,
        revoked_encryption_keys: null,
      },
      response_types: ['code', 'code id_token'],
      // ACP's Go models marshal an unset list without omitempty as null.
      rotated_secrets: null,
      token_endpoint_auth_signing_alg_values: null,
      settings: { default_client_id: '' },
      metadata: { payload: { owner: { team: 'open-banking-apim' } } },
      root_cas: '',
    };
  }

  /** What ACP computes and returns, never takes. */
  private computedFields(wid: string): ServerObject {
    return {
      issuer_url: `${this.baseURL}/${this.tenant}/${wid}`,
      mtls_issuer_url: `${this.baseURL}/${this.tenant}/${wid}`,
      supported_application_purposes: ['single_page', 'server_web', 'mobile_desktop', 'service'],
      theme_id: 'default',
    };
  }

  private takeFault(route: Route): Fault | undefined {
    const queue = this.faults[route];
    const head = queue[0];
    if (!head) return undefined;
    head.remaining--;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const serverPath = new RegExp(`^/api/admin/([^/]+)/servers/([^/]+)$`).exec(path);
    const route: Route | undefined =
      path === `/${this.tenant}/admin/oauth2/token` && req.method === 'POST'
        ? 'token'
        : serverPath && req.method === 'GET'
          ? 'get'
          : serverPath && req.method === 'PUT'
            ? 'put'
            : undefined;
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      route,
      headers: this.recordHeaders(req),
      body: route === 'token' ? body.replace(/(client_secret=)[^&]*/, '$1[redacted]') : body,
      status: 0,
      at: Date.now(),
      hrAt: performance.now(),
    };
    this.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));

    const fault = route ? this.takeFault(route) : undefined;
    if (fault) {
      record.fault = JSON.stringify(fault, (_k, v: unknown) => (typeof v === 'function' ? 'function' : v));
      if ('hang' in fault) return;
      if ('reset' in fault) {
        req.socket.destroy();
        return;
      }
      if ('status' in fault) {
        const headers: Record<string, string> = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
        json(
          res,
          fault.status,
          { error: fault.error ?? http.STATUS_CODES[fault.status], status_code: fault.status },
          headers,
        );
        return;
      }
      if ('delayMs' in fault) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if ('before' in fault) fault.before();
      if ('after' in fault) res.on('finish', fault.after);
    }

    if (route === 'token') return this.token(req, res, body, record);
    if (!serverPath) return apiError(res, 404, 'not found');
    if (req.method !== 'GET' && req.method !== 'PUT') return apiError(res, 405, 'method not allowed');
    const tid = decodeURIComponent(serverPath[1]!);
    const wid = decodeURIComponent(serverPath[2]!);
    if (!this.authorized(req, res)) return;
    if (tid !== this.tenant) return apiError(res, 404, `tenant ${tid} not found`);
    if (!this.stored.has(wid)) return apiError(res, 404, `server ${wid} not found`);
    if (route === 'get') return this.answerServer(res, record, wid);
    return this.put(req, res, body, tid, wid, record);
  }

  private recordHeaders(req: http.IncomingMessage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      const value = Array.isArray(v) ? v.join(', ') : v;
      out[k] = k === 'authorization' ? value.replace(/^(\S+)\s+.*$/, '$1 [redacted]') : value;
    }
    return out;
  }

  private token(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
    record: RecordedRequest,
  ): void {
    const oauthError = (status: number, error: string, description: string): void =>
      json(
        res,
        status,
        { error, error_description: description, error_code: status },
        {
          'cache-control': 'no-store',
          ...(status === 401 ? { 'www-authenticate': 'Basic realm="token"' } : {}),
        },
      );
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return oauthError(400, 'invalid_request', 'the request must be application/x-www-form-urlencoded');
    }
    const form = new Map<string, string>();
    for (const pair of body.split('&')) {
      if (pair === '') continue;
      const [k, v = ''] = pair.split('=');
      form.set(formDecode(k!), formDecode(v));
    }
    let basic: { id: string; secret: string } | undefined;
    const auth = req.headers.authorization;
    if (auth && /^basic\s+/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      try {
        basic = { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
      } catch {
        return oauthError(400, 'invalid_request', 'malformed basic credentials');
      }
    }
    const posted = form.has('client_secret')
      ? { id: form.get('client_id') ?? '', secret: form.get('client_secret')! }
      : undefined;
    record.clientAuth =
      basic && posted ? 'both' : basic ? 'client_secret_basic' : posted ? 'client_secret_post' : 'none';
    if (basic && posted)
      return oauthError(400, 'invalid_request', 'more than one client authentication method');
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError(
        400,
        'unsupported_grant_type',
        `grant_type ${form.get('grant_type') ?? '(none)'} is not allowed`,
      );
    }
    const given = basic ?? posted;
    if (!given || given.id !== this.clientId || given.secret !== this.clientSecret) {
      return oauthError(401, 'invalid_client', 'client authentication failed');
    }
    if (record.clientAuth !== this.tokenEndpointAuthMethod) {
      return oauthError(
        401,
        'invalid_client',
        `the client must authenticate with ${this.tokenEndpointAuthMethod}`,
      );
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + this.tokenTTLSeconds * 1000);
    this.tokensIssued++;
    this.lastIssuedToken = token;
    json(
      res,
      200,
      {
        access_token: token,
        expires_in: this.tokenTTLSeconds,
        token_type: 'bearer',
        scope: 'manage_configuration',
      },
      { 'cache-control': 'no-store' },
    );
  }

  private authorized(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const auth = req.headers.authorization ?? '';
    const m = /^bearer\s+(\S+)$/i.exec(auth);
    const expiresAt = m ? this.tokens.get(m[1]!) : undefined;
    if (expiresAt === undefined) {
      apiError(res, 401, m ? 'invalid access token' : 'missing bearer token', { error_code: 'unauthorized' });
      return false;
    }
    if (Date.now() >= expiresAt) {
      apiError(res, 401, 'access token expired', { error_code: 'unauthorized' });
      return false;
    }
    return true;
  }

  private put(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
    tid: string,
    wid: string,
    record: RecordedRequest,
  ): void {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return apiError(res, 415, 'content type must be application/json');
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && !this.ignoreIfMatch) {
      const current = this.etag(wid);
      const listed = ifMatch.split(',').map((t) => t.trim());
      if (!listed.includes('*') && !listed.includes(current)) {
        return apiError(res, 412, 'precondition failed: the server was modified since it was read', {
          error_code: 'precondition_failed',
        });
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return apiError(res, 400, `invalid JSON body: ${(err as Error).message}`);
    }
    const rejection = checkServerBody(parsed, tid, wid, this.unknownFields);
    if (rejection)
      return apiError(res, rejection.status, rejection.error, { details: rejection.details ?? {} });
    const entry = this.entry(wid);
    this.stored.set(wid, { object: { ...(parsed as ServerObject), id: wid }, revision: entry.revision + 1 });
    this.answerServer(res, record, wid);
  }

  private answerServer(res: http.ServerResponse, record: RecordedRequest, wid: string): void {
    const object = this.serverObject(wid);
    if (this.redactSecrets) redact(object, this.redactSecrets);
    record.response = JSON.stringify(object);
    json(res, 200, object, { etag: this.etag(wid) });
  }
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
    out[arg.slice(2)] = value;
    i++;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = new AcpContractServer({
    port: Number(args.port ?? 0),
    host: args.host ?? '127.0.0.1',
    ...(args['tls-dir'] ? { tls: tlsMaterialIn(args['tls-dir']) } : {}),
    ...(args.tenant ? { tenant: args.tenant } : {}),
    ...(args.server ? { servers: [args.server] } : {}),
    ...(args['client-id'] ? { clientId: args['client-id'] } : {}),
    ...(args['client-secret'] ? { clientSecret: args['client-secret'] } : {}),
  });
  const url = await server.start();
  // The credentials are the contract server's own test client, made up for this run.
  process.stdout.write(
    JSON.stringify({
      url,
      tenant: server.tenant,
      server: server.servers[0],
      tokenURL: server.tokenURL,
      adminURL: server.adminURL,
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      ...(args['tls-dir'] ? { caFile: `${args['tls-dir']}/ca.crt` } : {}),
    }) + '\n',
  );
  const stop = (): void => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`acp-contract-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
