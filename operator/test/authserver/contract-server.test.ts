// The ACP contract server must refuse what ACP refuses, or the adapter tests would prove nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CloudentityAuthorizationServer, syncTrust } from '../../src/authserver/index.ts';
import { AcpContractServer } from '../../../e2e/support/acp-contract-server.ts';
import { checkServerBody, READ_ONLY_FIELDS } from '../../../e2e/support/acp-server-schema.ts';
import { OpenSSL } from '../support/openssl.ts';

const ssl = new OpenSSL();
const acp = new AcpContractServer();
let ca1: string;
let ca2: string;

beforeAll(async () => {
  await acp.start();
  ca1 = ssl.cert({ subject: '/CN=Contract CA 1' }).pem;
  ca2 = ssl.cert({ subject: '/CN=Contract CA 2' }).pem;
});

afterAll(async () => {
  await acp.stop();
  ssl.cleanup();
});

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** A token request with client_secret_basic. */
function tokenRequest(body: string, secret = acp.clientSecret): Promise<Response> {
  return fetch(acp.tokenURL, {
    method: 'POST',
    headers: { ...FORM, authorization: basic(acp.clientId, secret) },
    body,
  });
}

async function token(): Promise<string> {
  const res = await tokenRequest('grant_type=client_credentials');
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const serverURL = (): string => `${acp.adminURL}/servers/openbanking_brasil`;

async function get(
  bearer: string,
): Promise<{ status: number; etag: string | null; body: Record<string, unknown> }> {
  const res = await fetch(serverURL(), { headers: { authorization: `Bearer ${bearer}` } });
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

async function put(
  bearer: string,
  body: unknown,
  ifMatch?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${bearer}`,
    'content-type': 'application/json',
  };
  if (ifMatch) headers['if-match'] = ifMatch;
  const res = await fetch(serverURL(), { method: 'PUT', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function writable(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([k]) => !READ_ONLY_FIELDS.includes(k)));
}

describe('ACP contract server: token endpoint', () => {
  it('issues a bearer token for the client with client_secret_basic', async () => {
    const res = await tokenRequest('grant_type=client_credentials');
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 300 });
    expect(typeof body.access_token).toBe('string');
  });

  it('refuses wrong credentials with a 401 JSON error', async () => {
    const res = await tokenRequest('grant_type=client_credentials', 'wrong');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a client authentication method the client is not registered with, and two at once', async () => {
    const posted = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: acp.clientId,
      client_secret: acp.clientSecret,
    }).toString();
    const post = await fetch(acp.tokenURL, { method: 'POST', headers: FORM, body: posted });
    expect(post.status).toBe(401);
    const both = await tokenRequest(posted);
    expect(both.status).toBe(400);
    const recorded = acp.requestsTo('token').slice(-2);
    expect(recorded.map((r) => r.clientAuth)).toEqual(['client_secret_post', 'both']);
    expect(JSON.stringify(recorded)).not.toContain(acp.clientSecret);
  });

  it('refuses other grant types', async () => {
    const res = await tokenRequest('grant_type=password');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});

describe('ACP contract server: servers API', () => {
  it('needs a valid, unexpired bearer token', async () => {
    expect((await fetch(serverURL())).status).toBe(401);
    expect((await get('made-up')).status).toBe(401);
    const t = await token();
    expect((await get(t)).status).toBe(200);
    acp.expireTokens();
    const expired = await get(t);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: 'access token expired', status_code: 401 });
  });

  it('serves the server with an etag, and the stored object passes its own PUT schema once read-only fields go', async () => {
    const got = await get(await token());
    expect(got.etag).toMatch(/^".+"$/);
    for (const f of READ_ONLY_FIELDS) expect(got.body).toHaveProperty(f);
    expect(checkServerBody(writable(got.body), acp.tenant, 'openbanking_brasil')).toBeUndefined();
    expect(checkServerBody(got.body, acp.tenant, 'openbanking_brasil')).toMatchObject({ status: 400 });
  });

  it('replaces the whole object on PUT, changes the etag, and keeps what the body carries', async () => {
    const t = await token();
    const before = await get(t);
    const body = { ...writable(before.body), root_cas: ca1 + ca2, description: 'edited' };
    const res = await put(t, body, before.etag!);
    expect(res.status).toBe(200);
    const after = await get(t);
    expect(after.etag).not.toBe(before.etag);
    expect(after.body).toMatchObject({
      root_cas: ca1 + ca2,
      description: 'edited',
      secret: before.body.secret,
    });
    const { color: _dropped, ...withoutColor } = writable(after.body);
    expect((await put(t, withoutColor, after.etag!)).status).toBe(200);
    expect((await get(t)).body).not.toHaveProperty('color');
  });

  it('answers 412 to a stale if-match and accepts *', async () => {
    const t = await token();
    const first = await get(t);
    acp.edit((o) => (o.description = 'someone else'));
    const stale = await put(t, writable(first.body), first.etag!);
    expect(stale.status).toBe(412);
    expect(acp.serverObject().description).toBe('someone else');
    expect((await put(t, { ...writable(first.body), description: 'mine' }, '*')).status).toBe(200);
  });

  it.each([
    ['an unknown field', { surprise: true }, 400, /unknown fields in body: surprise/],
    ['a read-only field', { issuer_url: 'https://x' }, 400, /read-only fields in body: issuer_url/],
    ['a wrong type', { enforce_pkce: 'yes' }, 422, /enforce_pkce in body must be of type boolean/],
    ['a value outside the enum', { profile: 'nonsense' }, 422, /profile in body should be one of/],
    [
      'a malformed duration',
      { access_token_ttl: '10 minutes' },
      422,
      /access_token_ttl in body must be of type duration/,
    ],
    [
      'an array item outside the enum',
      { grant_types: ['magic'] },
      422,
      /grant_types.0 in body should be one of/,
    ],
    ['another tenant', { tenant_id: 'other' }, 422, /does not match the tenant/],
    [
      'root_cas that is not PEM',
      { root_cas: 'not a certificate' },
      422,
      /root_cas in body: no PEM certificate found/,
    ],
    [
      'root_cas with a private key',
      { root_cas: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n' },
      422,
      /block 1 is a PRIVATE KEY/,
    ],
    [
      'root_cas with a corrupted certificate',
      { root_cas: '-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK==\n-----END CERTIFICATE-----\n' },
      422,
      /not a parsable X.509 certificate/,
    ],
  ])('refuses %s', async (_what, change, status, error) => {
    const t = await token();
    const current = await get(t);
    const res = await put(t, { ...writable(current.body), ...change }, current.etag!);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(error);
    expect((await get(t)).etag).toBe(current.etag);
  });

  it('refuses a body without tenant_id with 422', async () => {
    const t = await token();
    const current = await get(t);
    const { tenant_id: _tenant, ...rest } = writable(current.body);
    const res = await put(t, rest, current.etag!);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatch(/tenant_id in body is required/);
  });

  it('plays programmed faults in order, then answers normally, and records requests without credentials', async () => {
    const t = await token();
    acp.inject('get', { status: 429, retryAfter: '3' });
    acp.inject('get', { status: 503 }, 2);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(serverURL(), { headers: { authorization: `Bearer ${t}` } });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([429, 503, 503, 200]);
    expect(retryAfter).toBe('3');
    const recorded = acp.requestsTo('get').slice(-4);
    expect(recorded.map((r) => r.status)).toEqual([429, 503, 503, 200]);
    expect(recorded[0]!.headers.authorization).toBe('Bearer [redacted]');
    expect(JSON.stringify(acp.requests)).not.toContain(t);
  });
});

describe('ACP contract server: command line', () => {
  it('starts with TLS material in --tls-dir, prints one JSON line, and serves the adapter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acp-cli-'));
    const script = join(import.meta.dirname, '../../../e2e/support/acp-contract-server.ts');
    const child = spawn(process.execPath, [script, '--port', '0', '--tls-dir', dir, '--tenant', 'bank'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const info = JSON.parse(line) as Record<string, string>;
      expect(info).toMatchObject({
        tenant: 'bank',
        server: 'openbanking_brasil',
        caFile: join(dir, 'ca.crt'),
      });
      expect(info.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const adapter = new CloudentityAuthorizationServer(
        {
          url: info.url!,
          tenant: info.tenant!,
          server: info.server!,
          credentialsSecret: { namespace: 'ns', name: 'acp-admin' },
          caSecret: { namespace: 'ns', name: 'acp-ca' },
        },
        {
          readSecret: async (_ns, name): Promise<Record<string, Buffer>> =>
            name === 'acp-ca'
              ? { 'ca.crt': readFileSync(info.caFile!) }
              : { client_id: Buffer.from(info.clientId!), client_secret: Buffer.from(info.clientSecret!) },
        },
      );
      const result = await syncTrust(adapter, ca1 + ca2);
      adapter.close();
      expect(result.changed).toBe(true);
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
