// The contract server against ACP's spec, case by case from the spec's own schemas
// (e2e/support/acp-admin-spec.json): every field in its type is accepted, every wrong type, value
// outside an enum and null where ACP's Go client never sends one is refused; a server object with
// every field the spec defines goes through the adapter and comes back unchanged but for root_cas.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CloudentityAuthorizationServer, syncTrust } from '../../src/authserver/index.ts';
import { AcpContractServer } from '../../../e2e/support/acp-contract-server.ts';
import {
  ADMIN_SPEC,
  fullServerSample,
  READ_ONLY_FIELDS,
  serverProperties,
  validate,
  wireViolations,
  type Schema,
} from '../../../e2e/support/acp-server-schema.ts';
import { OpenSSL } from '../support/openssl.ts';

const WID = 'openbanking_brasil';
const ssl = new OpenSSL();
const acp = new AcpContractServer();
let ca1: string;
let ca2: string;
let bearer: string;

beforeAll(async () => {
  await acp.start();
  ca1 = ssl.cert({ subject: '/CN=Spec CA 1' }).pem;
  ca2 = ssl.cert({ subject: '/CN=Spec CA 2' }).pem;
  const res = await fetch(acp.tokenURL, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${acp.clientId}:${acp.clientSecret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  bearer = ((await res.json()) as { access_token: string }).access_token;
});

afterAll(async () => {
  await acp.stop();
  ssl.cleanup();
});

type Json = Record<string, unknown>;

/** A JWK the guard accepts, carrying every other member the spec's `ServerJWK` defines. */
function realKey(sample: Json, kind: 'ec' | 'rsa'): Json {
  const jwk =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const members =
    kind === 'ec' ? ['kty', 'crv', 'x', 'y', 'd'] : ['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'];
  const rest = Object.fromEntries(
    Object.entries(sample).filter(
      ([k]) => !['kty', 'crv', 'x', 'y', 'd', 'n', 'e', 'p', 'q', 'dp', 'dq', 'qi', 'k'].includes(k),
    ),
  );
  return { ...rest, ...Object.fromEntries(members.map((m) => [m, (jwk as Json)[m]])) };
}

/** Every field of `Server`, with real keys and a secret of the length the spec asks. */
function fullServer(): Json {
  const server = fullServerSample();
  server.tenant_id = acp.tenant;
  server.id = WID;
  server.parent_id = WID;
  server.secret = randomBytes(32).toString('base64url');
  server.root_cas = ca1;
  const jwks = server.jwks as Json;
  const sample = (jwks.keys as Json[])[0]!;
  jwks.keys = [realKey(sample, 'ec'), realKey(sample, 'rsa')];
  jwks.next_signing_key = realKey(sample, 'ec');
  jwks.next_encryption_key = realKey(sample, 'rsa');
  jwks.revoked_signing_keys = [realKey(sample, 'ec')];
  jwks.revoked_encryption_keys = [realKey(sample, 'rsa')];
  return server;
}

async function put(body: Json): Promise<{ status: number; error: string }> {
  const current = await fetch(`${acp.adminURL}/servers/${WID}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  const etag = current.headers.get('etag')!;
  await current.arrayBuffer();
  const res = await fetch(`${acp.adminURL}/servers/${WID}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'if-match': etag },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { error?: string };
  return { status: res.status, error: answer.error ?? '' };
}

function withValue(base: Json, path: string, value: unknown): Json {
  const copy = structuredClone(base);
  const parts = path.split('.');
  let at = copy;
  for (const part of parts.slice(0, -1)) at = at[part] as Json;
  at[parts.at(-1)!] = value;
  return copy;
}

function resolved(schema: Schema): Schema {
  return schema.$ref ? ADMIN_SPEC.definitions[schema.$ref.split('/').pop()!]! : schema;
}

/** A value of the wrong type for `schema`. */
function wrongType(schema: Schema): unknown {
  const s = resolved(schema);
  const type = s.type ?? 'object';
  return type === 'string' ? 12 : type === 'array' ? 'a string' : type === 'object' ? ['a list'] : 'a string';
}

const properties = serverProperties();

describe('the spec extract', () => {
  it('is the Server of acp-client-go spec/admin.yaml, with its 64 fields and the nine its Go client sends as null', () => {
    expect(ADMIN_SPEC.source).toMatchObject({
      repository: 'github.com/cloudentity/acp-client-go',
      file: 'spec/admin.yaml',
    });
    expect(Object.keys(ADMIN_SPEC.definitions.Server!.properties!)).toHaveLength(64);
    expect(READ_ONLY_FIELDS).toEqual([
      'issuer_url',
      'mtls_issuer_url',
      'supported_application_purposes',
      'theme_id',
    ]);
    expect(ADMIN_SPEC.goNullable.Server).toHaveLength(9);
    expect(resolved(ADMIN_SPEC.definitions.Server!.properties!.response_types!)).toMatchObject({
      type: 'array',
    });
    // The 412 the contract server answers to a stale if-match is defined, and listed on no operation.
    expect(ADMIN_SPEC.responses).toHaveProperty('preconditionFailedHTTPError');
    expect(Object.keys(ADMIN_SPEC.operations['PUT /servers/{wid}']!.responses)).not.toContain('412');
  });

  it('the full sample has every field, and the spec accepts it', () => {
    const server = fullServer();
    expect(validate(server, 'Server')).toEqual({ problems: [], unknown: [] });
    for (const { path } of properties) {
      // A real key carries only the members of its type (RSA: n, e, d, p…; EC: crv, x, y, d).
      if (/^jwks\.next_\w+\.(crv|x|y|n|e|d|p|q|dp|dq|qi|k)$/.test(path)) continue;
      let at: unknown = server;
      for (const part of path.split('.')) at = (at as Json)[part];
      expect([path, at]).not.toEqual([path, undefined]);
    }
  });
});

describe('the contract server, field by field from the spec', () => {
  let base: Json;
  beforeAll(() => {
    base = fullServer();
  });

  it('accepts the full object', async () => {
    expect(await put(base)).toEqual({ status: 200, error: '' });
  });

  it.each(properties.map((p) => [p.path, p] as const))(
    '%s: refuses a wrong type, and null unless the Go client sends it',
    async (path, p) => {
      const wrong = await put(withValue(base, path, wrongType(p.schema)));
      expect(wrong.status).toBe(422);
      expect(wrong.error).toContain(`${path} in body must be of type`);
      const nulled = await put(withValue(base, path, null));
      expect(nulled.status).toBe(p.goNullable ? 200 : 422);
      const s = resolved(p.schema);
      const values = s.enum ?? s.items?.enum;
      if (values) {
        const outside = await put(withValue(base, path, s.enum ? 'not-in-the-enum' : ['not-in-the-enum']));
        expect(outside.status).toBe(422);
        expect(outside.error).toMatch(/should be one of/);
        for (const v of values) expect((await put(withValue(base, path, s.enum ? v : [v]))).status).toBe(200);
      }
    },
  );

  it("response_types: an array of the spec's values, not an object", async () => {
    expect((await put({ ...base, response_types: ['code', 'code id_token'] })).status).toBe(200);
    expect((await put({ ...base, response_types: { code: true } })).status).toBe(422);
  });

  it('unknown fields: 400 by default (to catch a client that invents them), dropped like Go would with unknownFields: drop', async () => {
    expect(await put({ ...base, surprise: true })).toMatchObject({
      status: 400,
      error: 'unknown fields in body: surprise',
    });
    acp.unknownFields = 'drop';
    try {
      expect((await put({ ...base, surprise: true, issuer_url: 'https://x' })).status).toBe(200);
      expect(acp.serverObject()).not.toHaveProperty('surprise');
    } finally {
      acp.unknownFields = 'reject';
    }
  });
});

describe('a server object with every field the spec defines', () => {
  it('goes through the adapter unchanged but for root_cas, and all traffic follows the spec', async () => {
    const server = fullServer();
    acp.edit((o) => {
      for (const k of Object.keys(o)) delete o[k];
      Object.assign(o, structuredClone(server));
    }, WID);
    const from = acp.requests.length;
    const adapter = new CloudentityAuthorizationServer(
      {
        url: acp.url,
        tenant: acp.tenant,
        server: WID,
        credentialsSecret: { namespace: 'ns', name: 'acp-admin' },
      },
      {
        readSecret: async () => ({
          client_id: Buffer.from(acp.clientId),
          client_secret: Buffer.from(acp.clientSecret),
        }),
      },
    );
    try {
      expect((await syncTrust(adapter, ca1 + ca2)).changed).toBe(true);
    } finally {
      adapter.close();
    }
    const after = acp.serverObject(WID);
    for (const f of READ_ONLY_FIELDS) delete after[f];
    expect(after).toEqual({ ...server, root_cas: ca1 + ca2 });
    const traffic = acp.requests.slice(from);
    expect(traffic.map((r) => `${r.route} ${r.status}`)).toEqual([
      'token 200',
      'get 200',
      'get 200',
      'put 200',
      'get 200',
    ]);
    expect(wireViolations(traffic)).toEqual([]);
  });
});
