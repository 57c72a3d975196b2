// An ACP whose GET masks the workspace's secret, salt and private keys (the spec does not say it
// will not): the operator must refuse to write the server back, say so plainly in the
// TrustBundle's and the AuthorizationServer's status and an Event, and still publish the Secret.
import { jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import type { AuthorizationServer } from '../operator/src/api/authorization-server.ts';
import type { TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';
import { OpenSSL, type TestCert } from '../operator/test/support/openssl.ts';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { AcpContractServer } from './support/acp-contract-server.ts';
import { contractServerTarget } from './support/faults.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  bundleEvents,
  condition,
  deleteBundle,
  readSecret,
  waitForBundle,
} from './support/trustbundles.ts';

jest.setTimeout(120_000);

const WID = 'openbanking_brasil';
const REFUSAL = 'the admin API returned redacted fields; writing the server back would reset them';
const ssl = new OpenSSL();
const ca1: TestCert = ssl.cert({ subject: '/CN=Redaction CA1' });
let acp: AcpContractServer;
let op: OperatorProcess;
let system: string;
let apim: string;
const name = `acp-redacted-${uniqueSuffix()}`;
let server: string;

const spec = (): TrustBundleSpec => ({
  sources: [{ inline: ca1.pem }],
  targets: {
    secrets: [{ namespace: apim, name: 'apitraffic-mtls-rootca' }],
    authorizationServers: [{ name: server }],
  },
});

beforeAll(async () => {
  acp = new AcpContractServer({ tls: true, servers: [WID], tokenTTLSeconds: 3600, redactSecrets: 'mask' });
  await acp.start();
  await installCrds();
  system = (await createTestNamespace('trustbundle-system')).name;
  apim = (await createTestNamespace('open-banking-apim')).name;
  // The administrator's AuthorizationServer, its credentials and CA in the trust namespace.
  server = (await contractServerTarget(acp, system, [name])).name!;
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

test('a masked GET: no PUT, a plain status and Event, and the Secret target still published', async () => {
  const before = acp.serverObject(WID);
  await applyBundle(name, spec());
  const tb = await waitForBundle(
    name,
    'the ACP target refused',
    (b) =>
      condition(b, 'AuthorizationServersSynced')?.status === 'False' &&
      condition(b, 'SecretsSynced')?.status === 'True',
    { timeoutMs: 30_000 },
  );
  const message = condition(tb, 'AuthorizationServersSynced')!.message;
  expect(message).toContain(REFUSAL);
  expect(message).toMatch(/secret: masked/);
  for (const value of [before.secret, before.subject_identifier_algorithm_salt, acp.clientSecret]) {
    expect(message).not.toContain(String(value));
  }
  expect(
    (await readSecret(apim, 'apitraffic-mtls-rootca'))?.annotations['mtls.openbanking.dev/bundle-hash'],
  ).toBe(tb.status!.bundleHash);
  const as = JSON.parse(
    await kubectl(['get', 'authorizationserver', server, '-o', 'json']),
  ) as AuthorizationServer;
  expect(as.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False' });
  expect(as.status?.lastError).toContain(REFUSAL);
  expect((await bundleEvents(name)).map((e) => e.message)).toContainEqual(expect.stringContaining(REFUSAL));
  // Several periodic checks later: still no write, the workspace as it was.
  await new Promise((r) => setTimeout(r, 3_000));
  expect(acp.requestsTo('get').length).toBeGreaterThan(1);
  expect(acp.requestsTo('put')).toHaveLength(0);
  expect(acp.serverObject(WID)).toEqual(before);
});

test('once the reads carry the secrets again, the next check writes the bundle', async () => {
  acp.redactSecrets = false;
  await waitFor(
    'root_cas to hold CA1',
    () => {
      const held = String(acp.serverObject(WID).root_cas);
      const want = new X509Certificate(ca1.der).fingerprint256;
      return (held !== '' && new X509Certificate(held).fingerprint256 === want) || (undefined as never);
    },
    { timeoutMs: 30_000 },
  );
  expect(acp.requestsTo('put').length).toBeGreaterThan(0);
});
