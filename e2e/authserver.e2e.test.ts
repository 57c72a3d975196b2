// A TrustBundle with a Cloudentity ACP target, against the contract server (ACP cannot run here):
// converge, keep the other fields, survive each fault without losing the update, restore drift.
import { jest } from '@jest/globals';
import { createHash, X509Certificate } from 'node:crypto';
import {
  cleanupTestNamespaces,
  clients,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { contractServerSpec, declareAuthorizationServer } from './support/faults.ts';
import type { AuthorizationServer } from '../operator/src/api/authorization-server.ts';
import { OpenSSL, type TestCert } from '../operator/test/support/openssl.ts';
import { AcpContractServer } from './support/acp-contract-server.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  condition,
  deleteBundle,
  readSecret,
  waitForBundle,
  bundleEvents,
} from './support/trustbundles.ts';
import type { TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';

jest.setTimeout(120_000);

const ssl = new OpenSSL();
const [ca1, ca2, ca3] = [1, 2, 3].map((i) => ssl.cert({ subject: `/CN=ACP CA${i}` })) as [
  TestCert,
  TestCert,
  TestCert,
];
let acp: AcpContractServer;
let op: OperatorProcess;
let system: string;
let apim: string;
const name = `acp-${uniqueSuffix()}`;
const server = `acp-openbanking-${uniqueSuffix()}`;

const fingerprints = (pem: unknown): string[] =>
  [...String(pem ?? '').matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)]
    .map((m) => new X509Certificate(m[0]).fingerprint256)
    .sort();
const fp = (...cas: TestCert[]) => cas.map((c) => new X509Certificate(c.der).fingerprint256).sort();

function spec(...cas: TestCert[]): TrustBundleSpec {
  return {
    sources: cas.map((c) => ({ inline: c.pem })),
    targets: {
      secrets: [{ namespace: apim, name: 'apitraffic-mtls-rootca' }],
      authorizationServers: [{ name: server }],
    },
  };
}

const acpHolds = (cas: TestCert[], what: string) =>
  waitFor(
    `ACP root_cas to hold ${what}`,
    () => {
      const got = fingerprints(acp.serverObject('openbanking_brasil').root_cas);
      return JSON.stringify(got) === JSON.stringify(fp(...cas)) || (undefined as never);
    },
    { timeoutMs: 30_000 },
  );

beforeAll(async () => {
  acp = new AcpContractServer({ tls: true, servers: ['openbanking_brasil'], tokenTTLSeconds: 3600 });
  await acp.start();
  await installCrds();
  system = (await createTestNamespace('trustbundle-system')).name;
  apim = (await createTestNamespace('open-banking-apim')).name;
  const { core } = clients();
  await core.createNamespacedSecret({
    namespace: system,
    body: {
      metadata: { name: 'acp-admin' },
      stringData: { client_id: acp.clientId, client_secret: acp.clientSecret },
    },
  });
  await core.createNamespacedSecret({
    namespace: system,
    body: { metadata: { name: 'acp-ca' }, stringData: { 'ca.crt': acp.caPem! } },
  });
  await declareAuthorizationServer(server, contractServerSpec(acp, [name, `${name}-second`]));
  op = await OperatorProcess.start({ env: { AUTHSERVER_CHECK_SECONDS: '1', TRUST_NAMESPACE: system } });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await deleteBundle(name);
  await kubectl(['delete', 'authorizationserver', server, '--ignore-not-found']);
  await acp?.stop();
  await cleanupTestNamespaces();
  ssl.cleanup();
});

test('converges: root_cas equal the bundle, other fields untouched, status reports it', async () => {
  const before = acp.serverObject('openbanking_brasil');
  await applyBundle(name, spec(ca1, ca2));
  await acpHolds([ca1, ca2], 'CA1 + CA2');
  const tb = await waitForBundle(
    name,
    'AuthorizationServersSynced',
    (b) => condition(b, 'AuthorizationServersSynced')?.status === 'True',
  );
  expect(tb.status!.targets!.authorizationServers![0]).toMatchObject({
    type: 'cloudentity',
    server: 'openbanking_brasil',
    state: 'Synced',
    bundleHash: tb.status!.bundleHash,
  });
  const after = acp.serverObject('openbanking_brasil');
  for (const [k, v] of Object.entries(before)) if (k !== 'root_cas') expect(after[k]).toEqual(v);
  expect(
    (await readSecret(apim, 'apitraffic-mtls-rootca'))?.annotations['mtls.openbanking.dev/bundle-hash'],
  ).toBe(tb.status!.bundleHash);
  // Idle: the periodic check reads, never writes.
  const puts = acp.requestsTo('put').length;
  await new Promise((r) => setTimeout(r, 3_000));
  expect(acp.requestsTo('put').length).toBe(puts);
  expect(acp.requestsTo('get').length).toBeGreaterThan(0);
});

test.each([
  ['401 (token revoked)', () => acp.expireTokens()],
  [
    '412 (a console edit in between)',
    () =>
      acp.inject('put', {
        before: () =>
          acp.edit((s) => {
            s.name = 'edited in the console';
          }, 'openbanking_brasil'),
      }),
  ],
  ['429 with Retry-After', () => acp.inject('put', { status: 429, retryAfter: '1' }, 2)],
  ['503', () => acp.inject('put', { status: 503 }, 3)],
  ['a slow answer', () => acp.inject('get', { delayMs: 1500 })],
])('survives %s without losing the update', async (_fault, inject) => {
  const current = fingerprints(acp.serverObject('openbanking_brasil').root_cas);
  const next = JSON.stringify(current) === JSON.stringify(fp(ca1, ca2)) ? [ca1, ca3] : [ca1, ca2];
  inject();
  await applyBundle(name, spec(...next));
  await acpHolds(next, 'the new bundle');
  await waitForBundle(
    name,
    'synced',
    (b) =>
      condition(b, 'AuthorizationServersSynced')?.status === 'True' &&
      b.status?.targets?.authorizationServers?.[0]?.bundleHash === b.status?.bundleHash,
  );
});

test('a console edit of root_cas is put back, with an Event', async () => {
  const held = fingerprints(acp.serverObject('openbanking_brasil').root_cas);
  acp.edit((s) => {
    s.root_cas = ca3.pem;
  }, 'openbanking_brasil');
  await waitFor(
    'root_cas restored',
    () =>
      JSON.stringify(fingerprints(acp.serverObject('openbanking_brasil').root_cas)) === JSON.stringify(held),
    { timeoutMs: 20_000 },
  );
  expect((await bundleEvents(name)).map((e) => e.message)).toContainEqual(
    expect.stringMatching(/root_cas had been changed there; restored/),
  );
});

test('wrong credentials: condition False with the reason and no secret, Secret targets still sync', async () => {
  await clients().core.replaceNamespacedSecret({
    namespace: system,
    name: 'acp-admin',
    body: {
      metadata: { name: 'acp-admin' },
      stringData: { client_id: acp.clientId, client_secret: 'wrong-secret-value' },
    },
  });
  acp.expireTokens(); // the adapter must ask for a new token, with the wrong secret
  await applyBundle(name, spec(ca2, ca3));
  const tb = await waitForBundle(
    name,
    'push failed',
    (b) => condition(b, 'AuthorizationServersSynced')?.reason === 'PushFailed',
    { timeoutMs: 30_000 },
  );
  const msg = condition(tb, 'AuthorizationServersSynced')!.message;
  expect(msg).toMatch(/acp-admin/);
  expect(msg).not.toContain('wrong-secret-value');
  expect(msg).not.toContain(acp.clientSecret);
  expect(condition(tb, 'SecretsSynced')!.status).toBe('True');
  expect(
    (await readSecret(apim, 'apitraffic-mtls-rootca'))?.annotations['mtls.openbanking.dev/bundle-hash'],
  ).toBe(tb.status!.bundleHash);
  // Fixing the credentials is picked up from the Secret's watch.
  await clients().core.replaceNamespacedSecret({
    namespace: system,
    name: 'acp-admin',
    body: {
      metadata: { name: 'acp-admin' },
      stringData: { client_id: acp.clientId, client_secret: acp.clientSecret },
    },
  });
  await acpHolds([ca2, ca3], 'CA2 + CA3 after the credentials are fixed');
});

const readServer = async (n: string): Promise<AuthorizationServer> =>
  JSON.parse(await kubectl(['get', 'authorizationserver', n, '-o', 'json'])) as AuthorizationServer;

test('the AuthorizationServer says which bundle publishes to it, and kubectl wait works on it', async () => {
  await applyBundle(name, spec(ca1, ca2));
  await acpHolds([ca1, ca2], 'CA1 + CA2');
  await kubectl(['wait', '--for=condition=Ready', `authorizationserver/${server}`, '--timeout=30s']);
  const as = await readServer(server);
  expect(as.status).toMatchObject({ publishedBy: name });
  expect(as.status?.conditions?.find((c) => c.type === 'Connected')?.status).toBe('True');
  expect(await kubectl(['get', 'authz', server])).toMatch(
    new RegExp(`${server}\\s+True\\s+Enforce\\s+openbanking_brasil\\s+${name}`),
  );
});

test('a second bundle naming the same server is refused, and the first keeps publishing', async () => {
  const second = `${name}-second`;
  try {
    await applyBundle(second, spec(ca3));
    const tb = await waitForBundle(
      second,
      'refused',
      (b) => condition(b, 'AuthorizationServersSynced')?.status === 'False',
    );
    expect(condition(tb, 'AuthorizationServersSynced')!.message).toMatch(
      new RegExp(`published to by TrustBundle ${name}; two bundles cannot own one server`),
    );
    // No flapping: the server keeps the first bundle's CAs.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(fingerprints(acp.serverObject('openbanking_brasil').root_cas)).toEqual(fp(ca1, ca2));
  } finally {
    await deleteBundle(second);
  }
});

test('withdrawn from spec.allowedBundles, the publisher sends nothing more; root_cas keep what it wrote', async () => {
  await applyBundle(name, spec(ca1, ca2));
  await acpHolds([ca1, ca2], 'CA1 + CA2');
  const successor = `${name}-successor`;
  try {
    await declareAuthorizationServer(server, contractServerSpec(acp, [successor]));
    const refused = await waitForBundle(
      name,
      'refused by the rule AllowedBundles',
      (b) => condition(b, 'AuthorizationServersSynced')?.reason === 'NotAllowed',
    );
    expect(refused.status!.targets!.authorizationServers![0]).toMatchObject({
      name: server,
      state: 'Failed',
      message: expect.stringMatching(
        new RegExp(`AuthorizationServer ${server} does not allow TrustBundle ${name} \\(rule AllowedBundles`),
      ) as unknown,
    });
    const as = await waitFor(
      'the server to say no allowed bundle names it',
      async () => {
        const got = await readServer(server);
        const ready = got.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'NoAllowedBundle' && got;
      },
      { timeoutMs: 30_000 },
    );
    expect(as.status?.publishedBy).toBeUndefined();
    expect(as.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(`refused: ${name}`);
    // A new bundle, and several periodic checks (every second): not one request reaches ACP.
    const sent = acp.requests.length;
    await applyBundle(name, spec(ca3));
    await waitForBundle(
      name,
      'the new bundle refused',
      (b) =>
        b.status?.bundleHash !== refused.status!.bundleHash &&
        condition(b, 'AuthorizationServersSynced')?.reason === 'NotAllowed',
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect(acp.requests.slice(sent)).toEqual([]);
    expect(fingerprints(acp.serverObject('openbanking_brasil').root_cas)).toEqual(fp(ca1, ca2));
    expect((await bundleEvents(name)).map((e) => e.reason)).toContain('NotAllowed');
  } finally {
    await declareAuthorizationServer(server, contractServerSpec(acp, [name]));
  }
  // Allowed again: the bundle in force now is written.
  await acpHolds([ca3], 'CA3 once allowed again');
});

test('DryRun reads root_cas, reports the exact difference, and writes nothing', async () => {
  await applyBundle(name, spec(ca1, ca2));
  await acpHolds([ca1, ca2], 'CA1 + CA2');
  await declareAuthorizationServer(server, contractServerSpec(acp, [name], { mode: 'DryRun' }));
  const puts = acp.requestsTo('put').length;
  await applyBundle(name, spec(ca2, ca3));
  const as = await waitFor(
    'the dry run reported',
    async () => {
      const got = await readServer(server);
      return (
        got.status?.difference &&
        got.status.bundleHash !== undefined &&
        got.metadata.generation === got.status.observedGeneration &&
        got
      );
    },
    { timeoutMs: 30_000 },
  );
  const subject = (c: TestCert) => new X509Certificate(c.der).subject;
  const difference = as.status!.difference!;
  expect(difference.added).toEqual([expect.stringContaining(subject(ca3))]);
  expect(difference.removed).toEqual([expect.stringContaining(subject(ca1))]);
  expect(difference.added[0]).toContain(createHash('sha256').update(ca3.der).digest('hex'));
  expect(acp.requestsTo('put').length).toBe(puts);
  expect(fingerprints(acp.serverObject('openbanking_brasil').root_cas)).toEqual(fp(ca1, ca2));
  expect((await bundleEvents(name)).map((e) => e.reason)).toContain('DryRun');
  // Back to Enforce: the bundle is written.
  await declareAuthorizationServer(server, contractServerSpec(acp, [name], { mode: 'Enforce' }));
  await acpHolds([ca2, ca3], 'CA2 + CA3 once enforced');
});
