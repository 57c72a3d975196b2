// The Cloudentity adapter against the ACP contract server on loopback: real HTTP, real TLS, real
// OpenSSL-made certificates; faults are programmed into the server, never mocked in the client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { CloudentityTarget } from '../../src/api/v1alpha1.ts';
import {
  AuthorizationServerError,
  CloudentityAuthorizationServer,
  diffTrust,
  RedactedFieldsError,
  READ_ONLY_SERVER_FIELDS,
  syncTrust,
  type CloudentityOptions,
} from '../../src/authserver/index.ts';
import { AcpContractServer } from '../../../e2e/support/acp-contract-server.ts';
import { wireViolations } from '../../../e2e/support/acp-server-schema.ts';
import { generateTlsMaterial } from '../../../e2e/support/acp-tls.ts';
import { OpenSSL } from '../support/openssl.ts';

const WID = 'openbanking_brasil';
const ssl = new OpenSSL();
const pem: string[] = [];
let bundle: string;

beforeAll(() => {
  for (let i = 1; i <= 3; i++) pem.push(ssl.cert({ subject: `/CN=TPP Root ${i}/O=Directory/C=BR` }).pem);
  bundle = pem[0]! + pem[1]!;
});
afterAll(() => ssl.cleanup());

interface Harness {
  acp: AcpContractServer;
  adapter: CloudentityAuthorizationServer;
  secrets: Map<string, Record<string, Buffer>>;
  warnings: { obj: object; msg: string }[];
}

const running: Harness[] = [];
afterEach(async () => {
  const violations: string[] = [];
  for (const h of running.splice(0)) {
    h.adapter.close();
    await h.acp.stop();
    violations.push(...wireViolations(h.acp.requests));
  }
  // Every body the adapter sent, and every object the contract server answered, follows the spec.
  expect(violations).toEqual([]);
});

async function harness(
  setup: {
    acp?: ConstructorParameters<typeof AcpContractServer>[0];
    target?: Partial<CloudentityTarget>;
    options?: Partial<CloudentityOptions>;
    secrets?: Record<string, Record<string, string>>;
  } = {},
): Promise<Harness> {
  const acp = new AcpContractServer(setup.acp);
  await acp.start();
  const secrets = new Map<string, Record<string, Buffer>>();
  secrets.set('trustbundle-system/acp-admin', {
    client_id: Buffer.from(acp.clientId),
    client_secret: Buffer.from(acp.clientSecret),
  });
  for (const [key, data] of Object.entries(setup.secrets ?? {})) {
    secrets.set(key, Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])));
  }
  const warnings: { obj: object; msg: string }[] = [];
  const adapter = new CloudentityAuthorizationServer(
    {
      url: acp.url,
      tenant: acp.tenant,
      server: WID,
      credentialsSecret: { namespace: 'trustbundle-system', name: 'acp-admin' },
      ...setup.target,
    },
    {
      readSecret: async (namespace, name) => {
        const data = secrets.get(`${namespace}/${name}`);
        if (!data) throw new Error(`secrets "${name}" not found`);
        return data;
      },
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
      requestTimeoutMs: 2_000,
      retry: { baseDelayMs: 5, maxDelayMs: 40 },
      ...setup.options,
    },
  );
  const h = { acp, adapter, secrets, warnings };
  running.push(h);
  return h;
}

async function failure(p: Promise<unknown>): Promise<AuthorizationServerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthorizationServerError);
    return err as AuthorizationServerError;
  }
  throw new Error('expected a failure');
}

/** The requests the server saw, as `route status`. */
function exchanges(acp: AcpContractServer): string[] {
  return acp.requests.map((r) => `${r.route} ${r.status}`);
}

function parsedBody(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

describe('Cloudentity adapter: converging', () => {
  it('pushes the bundle with one token, a GET to compare, a GET right before the PUT, and the PUT carrying its etag', async () => {
    const { acp, adapter } = await harness();
    const before = acp.serverObject();
    const etag = acp.etag();

    const result = await syncTrust(adapter, bundle);

    expect(result.changed).toBe(true);
    expect(result.added).toHaveLength(2);
    expect(acp.serverObject().root_cas).toBe(bundle);
    expect(exchanges(acp)).toEqual(['token 200', 'get 200', 'get 200', 'put 200', 'get 200']);
    const [token, , , put] = acp.requests;
    expect(token!.clientAuth).toBe('client_secret_basic');
    expect(put!.headers['if-match']).toBe(etag);
    expect(put!.headers['content-type']).toBe('application/json');
    // Everything but root_cas went back as it came, the workspace's own secrets included.
    const sent = parsedBody(put!.body);
    const { root_cas: _r, ...rest } = sent;
    const expected = Object.fromEntries(
      Object.entries(before).filter(([k]) => k !== 'root_cas' && !READ_ONLY_SERVER_FIELDS.includes(k)),
    );
    expect(rest).toEqual(expected);
    expect(Object.keys(sent).filter((k) => READ_ONLY_SERVER_FIELDS.includes(k))).toEqual([]);
    const after = acp.serverObject();
    for (const field of ['secret', 'jwks', 'grant_types', 'metadata', 'name', 'profile']) {
      expect(after[field]).toEqual(before[field]);
    }
  });

  it('makes no write when the server holds the same certificates in another order and layout', async () => {
    const { acp, adapter } = await harness();
    const reordered = `# roots\r\n\r\n${pem[1]!.replace(/\n/g, '\r\n')}\n\n\n${pem[0]!}\n`;
    acp.edit((o) => (o.root_cas = reordered));

    const result = await syncTrust(adapter, bundle);

    expect(result).toMatchObject({ changed: false, added: [], removed: [] });
    expect(acp.requestsTo('put')).toHaveLength(0);
    expect(acp.serverObject().root_cas).toBe(reordered);
  });

  it('restores drift and says what it put back and took out', async () => {
    const { acp, adapter } = await harness();
    await syncTrust(adapter, bundle);
    acp.edit((o) => (o.root_cas = pem[0]! + pem[2]!));

    const result = await syncTrust(adapter, bundle);

    expect(result.changed).toBe(true);
    expect(result.added).toHaveLength(1);
    expect(result.removed).toHaveLength(1);
    expect(result.added[0]).not.toBe(result.removed[0]);
    expect(acp.serverObject().root_cas).toBe(bundle);
    expect(acp.tokensIssued).toBe(1);
  });

  it('replaces a root_cas that is not clean PEM, and says so', async () => {
    const { acp, adapter } = await harness();
    acp.edit((o) => (o.root_cas = `pasted by hand:\n${pem[0]!}`));

    const result = await syncTrust(adapter, bundle);

    expect(result.changed).toBe(true);
    expect(result.previousUnreadable).toMatch(/text before the first PEM block/);
    expect(acp.serverObject().root_cas).toBe(bundle);
  });
});

describe('Cloudentity adapter: tokens', () => {
  it('reuses its token until shortly before it expires, then gets a new one without a 401', async () => {
    const { acp, adapter } = await harness({ acp: { tokenTTLSeconds: 1 } });
    await adapter.readTrust();
    await adapter.readTrust();
    expect(acp.tokensIssued).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 950));
    await adapter.readTrust();
    expect(acp.tokensIssued).toBe(2);
    expect(acp.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('gets a new token once when the API answers 401, and the push still lands', async () => {
    const { acp, adapter } = await harness();
    await adapter.readTrust();
    acp.expireTokens();

    await syncTrust(adapter, bundle);

    expect(acp.tokensIssued).toBe(2);
    expect(exchanges(acp)).toEqual([
      'token 200',
      'get 200',
      'get 401',
      'token 200',
      'get 200',
      'get 200',
      'put 200',
      'get 200',
    ]);
    expect(acp.serverObject().root_cas).toBe(bundle);
  });

  it('gives up after a 401 with a fresh token, with the server text and no credential in the error', async () => {
    const { acp, adapter } = await harness();
    acp.inject('get', { status: 401, error: 'token revoked' }, 2);

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(err.message).toContain('token revoked');
    expect(acp.tokensIssued).toBe(2);
    expect(acp.requestsTo('get')).toHaveLength(2);
  });

  it('gets a new token once on 403, and reports a lasting 403 as forbidden', async () => {
    const { acp, adapter } = await harness();
    acp.inject('get', { status: 403 });
    expect(await adapter.readTrust()).toBe('');
    expect(acp.tokensIssued).toBe(2);

    acp.inject('get', { status: 403, error: 'insufficient scope' }, 2);
    const err = await failure(adapter.readTrust());
    expect(err.kind).toBe('forbidden');
    expect(err.message).toContain('insufficient scope: the client may not manage this server');
    expect(acp.tokensIssued).toBe(3);
  });

  it('falls back to client_secret_post when the client is registered with it, and remembers', async () => {
    const { acp, adapter } = await harness({ acp: { tokenEndpointAuthMethod: 'client_secret_post' } });
    await adapter.readTrust();
    acp.expireTokens();
    await adapter.readTrust();

    expect(acp.requestsTo('token').map((r) => `${r.clientAuth} ${r.status}`)).toEqual([
      'client_secret_basic 401',
      'client_secret_post 200',
      'client_secret_post 200',
    ]);
  });

  it('reports refused credentials with the server text, naming the Secret but not the secret', async () => {
    const { acp, adapter, secrets } = await harness();
    secrets.set('trustbundle-system/acp-admin', {
      client_id: Buffer.from(acp.clientId),
      client_secret: Buffer.from('wrong-secret-value-123'),
    });

    const err = await failure(syncTrust(adapter, bundle));

    expect(err.kind).toBe('auth');
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('Secret trustbundle-system/acp-admin');
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain('wrong-secret-value-123');
    expect(acp.requestsTo('get')).toHaveLength(0);
  });

  it('names a missing key of the credentials Secret without calling the server', async () => {
    const { acp, adapter, secrets } = await harness();
    secrets.set('trustbundle-system/acp-admin', { client_id: Buffer.from(acp.clientId) });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('config');
    expect(err.message).toBe('Secret trustbundle-system/acp-admin has no client_secret (credentialsSecret)');
    expect(acp.requests).toHaveLength(0);
  });
});

describe('Cloudentity adapter: concurrent writers', () => {
  it('re-reads after a 412 and writes again, keeping the field another writer changed meanwhile', async () => {
    const { acp, adapter } = await harness();
    acp.inject('put', { before: () => acp.edit((o) => (o.description = 'changed in the console')) });

    await syncTrust(adapter, bundle);

    expect(exchanges(acp)).toEqual([
      'token 200',
      'get 200',
      'get 200',
      'put 412',
      'get 200',
      'put 200',
      'get 200',
    ]);
    const [, , , stale, fresh, retried] = acp.requests;
    expect(retried!.headers['if-match']).not.toBe(stale!.headers['if-match']);
    expect(parsedBody(retried!.body).description).toBe('changed in the console');
    expect(fresh!.status).toBe(200);
    expect(acp.serverObject()).toMatchObject({ description: 'changed in the console', root_cas: bundle });
  });

  it('stops re-reading after a bounded number of 412s', async () => {
    const { acp, adapter } = await harness({ options: { maxConflictRetries: 2 } });
    acp.inject('put', { status: 412, error: 'precondition failed' }, 10);

    const err = await failure(syncTrust(adapter, bundle));

    expect(err.kind).toBe('conflict');
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/still changing after 3 attempts/);
    expect(acp.requestsTo('put')).toHaveLength(3);
  });

  it('does not write again when a retried PUT had already gone through', async () => {
    const { acp, adapter } = await harness();
    await adapter.readTrust();
    // Someone else wrote exactly our value in between: the 412 re-read finds it in place.
    acp.inject('put', { before: () => acp.edit((o) => (o.root_cas = bundle)) });

    await adapter.writeTrust(bundle);

    expect(exchanges(acp)).toEqual(['token 200', 'get 200', 'get 200', 'put 412', 'get 200']);
  });
});

describe('Cloudentity adapter: an ACP that ignores if-match', () => {
  it('keeps a console edit made between the check and the write (re-reads right before the PUT)', async () => {
    const { acp, adapter, warnings } = await harness({ acp: { ignoreIfMatch: true } });
    acp.inject('get', { after: () => acp.edit((o) => (o.description = 'edited in the console')) });

    expect((await syncTrust(adapter, bundle)).changed).toBe(true);

    expect(acp.serverObject()).toMatchObject({ description: 'edited in the console', root_cas: bundle });
    expect(exchanges(acp)).toEqual(['token 200', 'get 200', 'get 200', 'put 200', 'get 200']);
    expect(warnings.map((w) => w.msg)).toContain(
      'the server object changed since it was checked; writing root_cas on top of the newer version',
    );
  });

  it('then puts back root_cas a console edit changed, keeping the other field edited with them', async () => {
    const { acp, adapter } = await harness({ acp: { ignoreIfMatch: true } });
    await syncTrust(adapter, bundle);
    acp.edit((o) => {
      o.root_cas = pem[2]!;
      o.name = 'renamed in the console';
    });

    const result = await syncTrust(adapter, bundle);

    expect(result).toMatchObject({ changed: true });
    expect(result.removed).toHaveLength(1);
    expect(acp.serverObject()).toMatchObject({ name: 'renamed in the console', root_cas: bundle });
  });

  it('leaves a window of one GET-to-PUT turn-around, measured here', async () => {
    const { acp, adapter } = await harness({ acp: { ignoreIfMatch: true } });
    const windows: number[] = [];
    for (let i = 0; i < 40; i++) {
      const from = acp.requests.length;
      await syncTrust(adapter, i % 2 === 0 ? bundle : pem[0]! + pem[2]!);
      const traffic = acp.requests.slice(from).filter((r) => r.route !== 'token');
      expect(traffic.map((r) => r.route)).toEqual(['get', 'get', 'put', 'get']);
      windows.push(traffic[2]!.hrAt - traffic[1]!.hrAt);
    }
    windows.sort((a, b) => a - b);
    const at = (q: number): number => windows[Math.min(windows.length - 1, Math.floor(q * windows.length))]!;
    if (process.env.ACP_WINDOW_REPORT) {
      process.stderr.write(
        `GET→PUT window over ${windows.length} writes (ms): median ${at(0.5).toFixed(2)}, p95 ${at(0.95).toFixed(2)}, max ${windows.at(-1)!.toFixed(2)}\n`,
      );
    }
    // Loopback: the turn-around is the adapter's own work (parse, guard, serialize), not the network.
    expect(at(0.95)).toBeLessThan(100);
  });
});

describe('Cloudentity adapter: redaction guard', () => {
  it.each(['mask', 'empty', 'omit'] as const)(
    'refuses to write back a server read with its secrets %s, names the fields, never the values',
    async (how) => {
      const { acp, adapter } = await harness({ acp: { redactSecrets: how } });
      const stored = acp.serverObject();

      const err = await failure(syncTrust(adapter, bundle));

      expect(err).toBeInstanceOf(RedactedFieldsError);
      expect(err).toMatchObject({ kind: 'redacted', retriable: false });
      expect(err.message).toContain(
        'the admin API returned redacted fields; writing the server back would reset them',
      );
      const fields = (err as RedactedFieldsError).fields;
      expect(fields.some((f) => f.startsWith('secret: '))).toBe(true);
      expect(fields.some((f) => f.startsWith('subject_identifier_algorithm_salt: '))).toBe(true);
      expect(fields.filter((f) => f.startsWith('jwks.keys['))).toHaveLength(2);
      expect(acp.requestsTo('put')).toHaveLength(0);
      expect(acp.serverObject()).toEqual(stored);
      for (const value of [stored.secret, stored.subject_identifier_algorithm_salt, acp.clientSecret]) {
        expect(err.message).not.toContain(String(value));
      }
    },
  );

  it('a dry run of the same read reports the difference and the refusal, and writes nothing', async () => {
    const { acp, adapter } = await harness({ acp: { redactSecrets: 'mask' } });
    acp.edit((o) => (o.root_cas = pem[0]! + pem[2]!));

    const diff = await diffTrust(adapter, bundle);

    expect(diff.inSync).toBe(false);
    expect(diff.added.map((c) => c.subject)).toEqual(['CN=TPP Root 2, O=Directory, C=BR']);
    expect(diff.removed.map((c) => c.subject)).toEqual(['CN=TPP Root 3, O=Directory, C=BR']);
    expect(diff.redacted).toEqual(expect.arrayContaining([expect.stringMatching(/^secret: masked/)]));
    expect(acp.requestsTo('put')).toHaveLength(0);
  });

  it('lets a complete read through', async () => {
    const { acp, adapter } = await harness();
    expect((await adapter.readServer()).redacted).toEqual([]);
    await syncTrust(adapter, bundle);
    expect(acp.serverObject().root_cas).toBe(bundle);
  });
});

describe('Cloudentity adapter: throttling, failures, timeouts', () => {
  it('waits the Retry-After seconds of a 429 before the next attempt', async () => {
    const { acp, adapter } = await harness();
    acp.inject('put', { status: 429, retryAfter: '1' });

    await syncTrust(adapter, bundle);

    const puts = acp.requestsTo('put');
    expect(puts.map((r) => r.status)).toEqual([429, 200]);
    expect(puts[1]!.at - puts[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('understands Retry-After as an HTTP date', async () => {
    const { acp, adapter } = await harness();
    const at = new Date(Date.now() + 2_000).toUTCString();
    acp.inject('get', { status: 429, retryAfter: at });

    await adapter.readTrust();

    const gets = acp.requestsTo('get');
    expect(gets.map((r) => r.status)).toEqual([429, 200]);
    expect(gets[1]!.at).toBeGreaterThanOrEqual(Date.parse(at) - 20);
  });

  it('does not sit on a Retry-After longer than it waits in-line: the error carries it', async () => {
    const { acp, adapter } = await harness({ options: { retry: { maxRetryAfterMs: 5_000 } } });
    acp.inject('get', { status: 429, retryAfter: '120', error: 'rate limit exceeded' });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('throttled');
    expect(err.retriable).toBe(true);
    expect(err.retryAfterMs).toBe(120_000);
    expect(err.message).toContain('rate limit exceeded');
    expect(acp.requestsTo('get')).toHaveLength(1);
  });

  it('retries 5xx and goes through', async () => {
    const { acp, adapter } = await harness();
    acp.inject('get', { status: 503 });
    acp.inject('put', { status: 500 }, 2);

    await syncTrust(adapter, bundle);

    expect(exchanges(acp)).toEqual([
      'token 200',
      'get 503',
      'get 200',
      'get 200',
      'put 500',
      'put 500',
      'put 200',
      'get 200',
    ]);
    expect(acp.serverObject().root_cas).toBe(bundle);
  });

  it('gives up on 5xx after the bounded attempts with a clear error', async () => {
    const { acp, adapter } = await harness({ options: { retry: { maxAttempts: 4 } } });
    acp.inject('put', { status: 502, error: 'upstream connect error' }, 10);

    const err = await failure(syncTrust(adapter, bundle));

    expect(err.kind).toBe('unavailable');
    expect(err.status).toBe(502);
    expect(err.message).toBe(
      `${adapter.description}: PUT /api/admin/${acp.tenant}/servers/${WID} → 502: upstream connect error: gave up after 4 attempts`,
    );
    expect(acp.requestsTo('put')).toHaveLength(4);
    expect(acp.serverObject().root_cas).toBe('');
  });

  it('times out a request that gets no answer and retries it', async () => {
    const { acp, adapter } = await harness({ options: { requestTimeoutMs: 300 } });
    acp.inject('get', { hang: true });

    expect(await adapter.readTrust()).toBe('');
    expect(acp.requestsTo('get')).toHaveLength(2);
  });

  it('reports a timeout when no attempt is answered', async () => {
    const { acp, adapter } = await harness({ options: { requestTimeoutMs: 200, retry: { maxAttempts: 2 } } });
    acp.inject('get', { hang: true }, 5);

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('timeout');
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/no complete answer within 200 ms \(gave up after 2 attempts\)/);
  });

  it('waits out a slow answer within the timeout', async () => {
    const { acp, adapter } = await harness({ options: { requestTimeoutMs: 2_000 } });
    acp.inject('get', { delayMs: 300 });

    expect(await adapter.readTrust()).toBe('');
    expect(acp.requestsTo('get')).toHaveLength(1);
  });

  it('retries a dropped connection', async () => {
    const { acp, adapter } = await harness();
    acp.inject('put', { reset: true });

    await syncTrust(adapter, bundle);

    expect(acp.requestsTo('put').map((r) => r.status)).toEqual([0, 200]);
    expect(acp.serverObject().root_cas).toBe(bundle);
  });

  it('stops when the caller aborts', async () => {
    const { acp, adapter } = await harness({ options: { requestTimeoutMs: 10_000 } });
    acp.inject('get', { hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const err = await failure(adapter.readTrust(controller.signal));

    expect(err.kind).toBe('aborted');
  });

  it('carries the text of a refusal and does not retry it', async () => {
    const { acp, adapter } = await harness();
    acp.inject('put', { status: 422, error: 'root_cas: x509: malformed certificate' });

    const err = await failure(syncTrust(adapter, bundle));

    expect(err.kind).toBe('rejected');
    expect(err.retriable).toBe(false);
    expect(err.serverMessage).toBe('root_cas: x509: malformed certificate');
    expect(acp.requestsTo('put')).toHaveLength(1);
  });

  it('says which server is missing', async () => {
    const { adapter } = await harness({ target: { server: 'no_such_workspace' } });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('notFound');
    expect(err.message).toContain('server no_such_workspace not found');
    expect(err.message).toContain('no server no_such_workspace in tenant default');
  });

  it('never puts a token or the client secret into an error, even when the server echoes them', async () => {
    const { acp, adapter } = await harness();
    await adapter.readTrust();
    const token = acp.lastIssuedToken!;
    acp.inject('put', { status: 400, error: `bad request from ${acp.clientSecret} with Bearer ${token}` });

    const err = await failure(syncTrust(adapter, bundle));

    const everything = `${err.message} ${err.serverMessage} ${String(err)} ${err.stack} ${JSON.stringify(err)}`;
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(acp.clientSecret);
    expect(err.message).toContain('bad request from [redacted] with Bearer [redacted]');
  });
});

describe('Cloudentity adapter: TLS', () => {
  it('trusts the CA from caSecret', async () => {
    const tls = generateTlsMaterial();
    const { acp, adapter, warnings } = await harness({
      acp: { tls },
      target: { caSecret: { namespace: 'trustbundle-system', name: 'acp-ca' } },
      secrets: { 'trustbundle-system/acp-ca': { 'ca.crt': tls.caPem } },
    });

    await syncTrust(adapter, bundle);

    expect(acp.url).toMatch(/^https:/);
    expect(acp.serverObject().root_cas).toBe(bundle);
    expect(warnings).toEqual([]);
  });

  it('refuses the server when caSecret holds another CA, and does not retry', async () => {
    const other = generateTlsMaterial('Someone else');
    const { acp, adapter } = await harness({
      acp: { tls: true },
      target: { caSecret: { namespace: 'trustbundle-system', name: 'acp-ca', key: 'other.pem' } },
      secrets: { 'trustbundle-system/acp-ca': { 'other.pem': other.caPem } },
    });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('tls');
    expect(err.retriable).toBe(false);
    expect(acp.requests).toHaveLength(0);
  });

  it('refuses a private CA when only the system roots are trusted', async () => {
    const { acp, adapter } = await harness({ acp: { tls: true } });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('tls');
    expect(acp.requests).toHaveLength(0);
  });

  it('follows a rotated CA in caSecret', async () => {
    const tls = generateTlsMaterial();
    const other = generateTlsMaterial('Old');
    const { acp, adapter, secrets } = await harness({
      acp: { tls },
      target: { caSecret: { namespace: 'trustbundle-system', name: 'acp-ca' } },
      secrets: { 'trustbundle-system/acp-ca': { 'ca.crt': other.caPem } },
    });
    expect((await failure(adapter.readTrust())).kind).toBe('tls');

    secrets.set('trustbundle-system/acp-ca', { 'ca.crt': Buffer.from(tls.caPem) });

    expect(await adapter.readTrust()).toBe('');
    expect(acp.requestsTo('get')).toHaveLength(1);
  });

  it('rejects a caSecret that holds no certificate, naming it', async () => {
    const { adapter } = await harness({
      acp: { tls: true },
      target: { caSecret: { namespace: 'trustbundle-system', name: 'acp-ca' } },
      secrets: { 'trustbundle-system/acp-ca': { 'ca.crt': 'not a pem' } },
    });

    const err = await failure(adapter.readTrust());

    expect(err.kind).toBe('config');
    expect(err.message).toContain('Secret trustbundle-system/acp-ca key ca.crt');
  });

  it('skips verification only when told to, and warns loudly', async () => {
    const { acp, adapter, warnings } = await harness({
      acp: { tls: true },
      target: { insecureSkipTLSVerify: true },
    });

    await syncTrust(adapter, bundle);

    expect(acp.serverObject().root_cas).toBe(bundle);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/TLS VERIFICATION IS OFF/);
    expect(warnings[0]!.obj).toEqual({
      authorizationServer: adapter.description,
      insecureSkipTLSVerify: true,
    });
  });
});

describe('Cloudentity adapter: configuration', () => {
  const readSecret = async (): Promise<Record<string, Buffer>> => ({});
  const target = (url: string, extra: Partial<CloudentityTarget> = {}): CloudentityTarget => ({
    url,
    tenant: 'default',
    server: WID,
    credentialsSecret: { namespace: 'ns', name: 'creds' },
    ...extra,
  });

  it('names the server without its URL path noise, and refuses a token URL that is not a URL', () => {
    const a = new CloudentityAuthorizationServer(target('https://acp.example.com/'), { readSecret });
    expect(a.description).toBe(`cloudentity https://acp.example.com tenant default server ${WID}`);
    expect(
      () =>
        new CloudentityAuthorizationServer(target('https://acp.example.com', { tokenURL: 'token' }), {
          readSecret,
        }),
    ).toThrow('cloudentity tokenURL is not a URL');
  });

  it('refuses plain http except on loopback, and URLs with credentials', () => {
    expect(
      () => new CloudentityAuthorizationServer(target('http://acp.example.com'), { readSecret }),
    ).toThrow(/must be an https:\/\/ URL/);
    expect(
      () => new CloudentityAuthorizationServer(target('https://u:p@acp.example.com'), { readSecret }),
    ).toThrow(/must not carry credentials/);
    expect(
      () => new CloudentityAuthorizationServer(target('http://127.0.0.1:1'), { readSecret }),
    ).not.toThrow();
  });

  it('talks to the token and admin URLs it is given', async () => {
    const acp = new AcpContractServer({ tenant: 'bank' });
    const base = await acp.start();
    const adapter = new CloudentityAuthorizationServer(
      target('https://acp.example.com', {
        tenant: 'ignored-by-the-urls',
        tokenURL: `${base}/bank/admin/oauth2/token`,
        adminURL: `${base}/api/admin/bank`,
      }),
      {
        readSecret: async () => ({
          client_id: Buffer.from(acp.clientId),
          client_secret: Buffer.from(acp.clientSecret),
        }),
      },
    );
    try {
      await syncTrust(adapter, bundle);
      expect(acp.serverObject().root_cas).toBe(bundle);
    } finally {
      adapter.close();
      await acp.stop();
    }
  });
});
