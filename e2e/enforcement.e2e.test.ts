// The runbook's acceptance test, automated: the operator publishes the bundle and rolls the
// ingress; a real nginx enforces the Secret's ca.crt (the sync step plays kubelet and controller);
// real curl and `openssl s_client` with `trustbundle pki` certificates get 200 or 400. The
// scenarios are the ones `make demo` runs (e2e/support/runbook.ts).
import { jest } from '@jest/globals';
import yaml from 'js-yaml';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { AcpContractServer } from './support/acp-contract-server.ts';
import { contractServerSpec, declareAuthorizationServer } from './support/faults.ts';
import { IngressSync, requestWithBoth } from './support/enforcement.ts';
import { Nginx } from './support/nginx.ts';
import { installCrds, OperatorProcess, readRepoFile } from './support/operator.ts';
import {
  SCENARIOS,
  applyObjects,
  caSecrets,
  clientIdentity,
  createRunbookPki,
  formatResults,
  runScenario,
  runbookSpec,
  type CheckResult,
  type RunbookNames,
  type RunbookPki,
  type RunbookWorld,
} from './support/runbook.ts';
import { condition, crlsOf, deleteBundle, getBundle, readSecret } from './support/trustbundles.ts';
import { BUNDLE_HASH_ANNOTATION, type TrustBundle } from '../operator/src/api/v1alpha1.ts';
import { applyWorkload } from './support/workloads.ts';

jest.setTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), 'tb-enforcement-'));
let pki: RunbookPki;
let acp: AcpContractServer;
let op: OperatorProcess;
let nginx: Nginx;
let sync: IngressSync;
let world: RunbookWorld;
const logs: string[] = [];

beforeAll(async () => {
  const [pkiReady] = await Promise.all([createRunbookPki(join(work, 'pki')), installCrds()]);
  pki = pkiReady;
  const [cas, apim, ingress, system] = await Promise.all(
    ['tpp-cas', 'open-banking-apim', 'ingress-nginx', 'trustbundle-system'].map(
      async (p) => (await createTestNamespace(p)).name,
    ),
  );
  acp = new AcpContractServer({ tls: true, servers: ['openbanking_brasil'], tokenTTLSeconds: 3600 });
  await acp.start();
  const names: RunbookNames = {
    bundle: `tpp-roots-${uniqueSuffix()}`,
    caNamespace: cas!,
    target: { namespace: apim!, name: 'apitraffic-mtls-rootca' },
    ingress: { namespace: ingress!, name: 'ingress-nginx-controller' },
    acp: `acp-openbanking-${uniqueSuffix()}`,
  };
  await declareAuthorizationServer(names.acp!, contractServerSpec(acp, [names.bundle]));
  await applyObjects([
    ...caSecrets(names, pki),
    secret(system!, 'acp-admin', { client_id: acp.clientId, client_secret: acp.clientSecret }),
    secret(system!, 'acp-ca', { 'ca.crt': acp.caPem! }),
  ]);
  await applyWorkload('Deployment', ingress!, 'ingress-nginx-controller', {
    replicas: 1,
    restartOn: names.bundle,
  });

  nginx = await Nginx.create({ dir: join(work, 'nginx') });
  sync = await IngressSync.start({
    nginx,
    deployment: names.ingress,
    secret: names.target,
    log: (line) => logs.push(line),
  });
  op = await OperatorProcess.start({
    env: { ROLLOUT_DEBOUNCE_SECONDS: '1', AUTHSERVER_CHECK_SECONDS: '5', TRUST_NAMESPACE: system! },
  });
  world = {
    names,
    pki,
    ingress: async () => sync.state(),
    acpRootCas: async () => String(acp.serverObject('openbanking_brasil').root_cas ?? ''),
    log: (line) => logs.push(line),
  };
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await sync?.stop();
  await nginx?.stop();
  await acp?.stop();
  if (world) await deleteBundle(world.names.bundle);
  await cleanupTestNamespaces();
  if (results.length) console.log(`${formatResults(results)}\n\n${logs.join('\n')}`);
  rmSync(work, { recursive: true, force: true });
});

function secret(namespace: string, name: string, stringData: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name }, type: 'Opaque', stringData };
}

/** The checks as [check, value] pairs, so a failure shows every difference at once. */
const view = (results: CheckResult[], key: 'expected' | 'got') => results.map((r) => [r.check, r[key]]);
const results: CheckResult[] = [];

async function scenario(title: string): Promise<CheckResult[]> {
  const s = SCENARIOS.find((x) => x.title === title);
  if (!s) throw new Error(`no scenario "${title}"`);
  const got = await runScenario(world, s);
  results.push(...got);
  expect(view(got, 'got')).toEqual(view(got, 'expected'));
  return got;
}

const answer = (results: CheckResult[], check: string) => results.find((r) => r.check === check)!.answers!;

test('both CAs trusted: TPP1, TPP2 and TPP3 200 with curl and openssl s_client, no certificate 400', async () => {
  const got = await scenario('CA1 and CA2 trusted');
  // The backend got the verified client certificate from the ingress, as ingress-nginx passes it.
  for (const a of answer(got, 'TPP1 certificate')) {
    expect(a.upstream?.verify).toBe('SUCCESS');
    expect(a.upstream?.subjectDN).toContain('CN=tpp1.example.com');
    expect(a.upstream?.subjectDN).toContain('serialNumber=11222333000181');
    expect(new X509Certificate(a.upstream!.certPem!).fingerprint256).toBe(pki.tpp1.fingerprint);
  }
  for (const a of answer(got, 'no client certificate')) {
    expect(a.reason).toBe('400 No required SSL certificate was sent');
    expect(a.upstream).toBeUndefined();
  }
  // nginx enforces exactly what the operator wrote and rolled for.
  const enforced = sync.enforced!;
  expect(enforced.secretHash).toBe(enforced.templateHash);
});

test("a self-signed impostor with CA1's subject name (and TPP1's) gets 400", async () => {
  expect(pki.impostorCa.subject).toBe(pki.ca1.subject);
  expect(pki.impostor.subject).toBe(pki.tpp1.subject);
  const got = await scenario("a self-signed impostor with CA1's name");
  for (const a of answer(got, 'impostor certificate')) expect(a.reason).toBe('400 The SSL certificate error');
});

test('CA2 removed from the TrustBundle: after the rollout TPP2 gets 400, TPP1 still 200', async () => {
  const rolls = sync.history.length;
  const got = await scenario('CA2 removed from the TrustBundle');
  for (const a of answer(got, 'TPP2 certificate')) expect(a.reason).toBe('400 The SSL certificate error');
  // One rollout, one reload for the one new bundle.
  expect(sync.history.slice(rolls).map((r) => r.error ?? 'ok')).toEqual(['ok']);
});

test('CA2 added back: TPP2 gets 200 again', async () => {
  await scenario('CA2 added back');
});

test('a private key pasted into a source changes nothing: TPP1 and TPP2 still 200', async () => {
  const got = await scenario('a private key pasted into a source');
  // The key went nowhere: not into the status, the operator's log, the Secret or ACP.
  const key = keyBodyLine(pki.ca2.keyFile);
  const tb = JSON.parse(await kubectl(['get', 'tb', world.names.bundle, '-o', 'json'])) as TrustBundle;
  expect(JSON.stringify(tb.spec)).toContain(key);
  expect(JSON.stringify(tb.status)).not.toContain(key);
  expect(op.lines.filter((l) => l.includes(key))).toEqual([]);
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  expect(secret!.data['ca.crt']).not.toContain('PRIVATE KEY');
  expect(secret!.data['ca.crt']).not.toContain(key);
  expect(String(acp.serverObject('openbanking_brasil').root_cas)).not.toContain('PRIVATE KEY');
  expect(got.find((r) => r.check === 'TrustBundle')!.got).toContain('PrivateKey');
});

test('reverting the bad edit makes the TrustBundle Ready with no restart', async () => {
  await scenario('the bad edit reverted');
});

test("CA1 revokes TPP3: with both CAs' CRLs published as ca.crl, nginx refuses TPP3 (400) and admits TPP1 and TPP2", async () => {
  const got = await scenario("CA1 revoked TPP3: both CAs' CRLs added");
  for (const a of answer(got, 'TPP3 certificate')) expect(a.reason).toBe('400 The SSL certificate error');
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  expect(crlsOf(secret!.data['ca.crl']).map((c) => c.revokedSerials.length)).toEqual([1, 0]);
  expect(nginx.clientVerdicts()).toContain('FAILED:certificate revoked');
  const tb = await getBundle(world.names.bundle);
  expect(tb!.status!.crls!.map((c) => c.revokedCount)).toEqual([1, 0]);
});

test("CA2's CRL left out under RequireForAll: refused with MissingCRL; the CRLs in force stay, TPP2 is not locked out", async () => {
  const got = await scenario("CA2's CRL left out, policy RequireForAll");
  expect(got.find((r) => r.check === 'TrustBundle')!.got).toContain('MissingCRL');
});

test("CA2's CRL left out under PublishIfComplete: no ca.crl rather than one that locks CA2's TPPs out", async () => {
  await scenario("CA2's CRL left out, policy PublishIfComplete (the default)");
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  expect(Object.keys(secret!.data).sort()).toEqual(['ca.crt']);
  const tb = await getBundle(world.names.bundle);
  expect(condition(tb!, 'SourcesValid')).toMatchObject({ status: 'True', reason: 'ValidWithWarnings' });
  expect(tb!.status!.problems!.map((p) => p.code)).toContain('MissingCRL');
});

test("CA2's CRL back: TPP3 refused again", async () => {
  await scenario("CA2's CRL back");
});

test('the sample TrustBundle in docs/examples is the one the demo applies, and the API server accepts it', async () => {
  const doc = yaml.load(readRepoFile('docs/examples/tpp-roots.yaml')) as TrustBundle;
  const names: RunbookNames = {
    bundle: 'tpp-roots',
    caNamespace: 'tpp-cas',
    target: { namespace: 'open-banking-apim', name: 'apitraffic-mtls-rootca' },
    ingress: { namespace: 'ingress-nginx', name: 'ingress-nginx-controller' },
    acp: 'acp-openbanking',
  };
  expect(doc.metadata.name).toBe(names.bundle);
  expect(doc.spec).toEqual(runbookSpec(names, SCENARIOS[0]!.sources!(names, pki)));
  // Under a name of its own: the cluster may hold a tpp-roots already (a demo's).
  const probe = `tpp-roots-${uniqueSuffix()}`;
  const input = yaml.dump({ ...doc, metadata: { name: probe } });
  const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input });
  expect(out).toContain(`trustbundle.mtls.openbanking.dev/${probe} created (server dry run)`);
});

describe('the sync step on its own (the test rolls the Deployment itself)', () => {
  let ns: string;
  let ownNginx: Nginx;
  let ownSync: IngressSync;
  const statuses = async (client: 'TPP1' | 'TPP2') =>
    (await requestWithBoth(ownSync.state(), clientIdentity(pki, client))).map((a) => a.status);
  const roll = (hash: string) =>
    kubectl(['-n', ns, 'patch', 'deployment', 'ingress', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { [BUNDLE_HASH_ANNOTATION]: hash } } } } })]); // prettier-ignore

  beforeAll(async () => {
    ns = (await createTestNamespace('ingress-sync')).name;
    await applyObjects([secret(ns, 'ca', { 'ca.crt': pki.ca1.certPem })]);
    await applyWorkload('Deployment', ns, 'ingress', { replicas: 1 });
    ownNginx = await Nginx.create({ dir: join(work, 'nginx-sync') });
    ownSync = await IngressSync.start({
      nginx: ownNginx,
      deployment: { namespace: ns, name: 'ingress' },
      secret: { namespace: ns, name: 'ca' },
    });
  });

  afterAll(async () => {
    await ownSync?.stop();
    await ownNginx?.stop();
  });

  test('nginx starts with the Secret of the first rollout and reloads on the next', async () => {
    expect(ownNginx.running).toBe(false);
    await roll('sha256:first');
    await ownSync.waitForEnforced('sha256:first');
    expect(await statuses('TPP1')).toEqual([200, 200]);
    expect(await statuses('TPP2')).toEqual([400, 400]);
    const master = ownNginx.pid;

    await applyObjects([secret(ns, 'ca', { 'ca.crt': pki.ca1.certPem + pki.ca2.certPem })]);
    // The Secret alone changes nothing: a running Pod keeps what it loaded until it is restarted.
    expect(await statuses('TPP2')).toEqual([400, 400]);
    await roll('sha256:second');
    await ownSync.waitForEnforced('sha256:second');
    expect(await statuses('TPP2')).toEqual([200, 200]);
    expect(ownNginx.pid).toBe(master);
    expect(ownNginx.generationInForce).toBe('2 sha256:second');
  });

  test('a ca.crt nginx cannot load is refused by nginx -t; the last good CAs stay in force until it is fixed', async () => {
    await applyObjects([secret(ns, 'ca', { 'ca.crt': 'not a certificate\n' })]);
    await roll('sha256:broken');
    const failed = await waitFor('the sync to report the refusal', () =>
      ownSync.history.find((r) => r.templateHash === 'sha256:broken' && r.error),
    );
    expect(failed.error).toMatch(/nginx refused the configuration .*no certificate or crl found/);
    expect(ownSync.enforced?.templateHash).toBe('sha256:second');
    expect(await statuses('TPP1')).toEqual([200, 200]);
    expect(await statuses('TPP2')).toEqual([200, 200]);

    // The sync retries the same rollout, as a crash-looping Pod would, and succeeds once the Secret is good.
    await applyObjects([secret(ns, 'ca', { 'ca.crt': pki.ca2.certPem })]);
    await ownSync.waitForEnforced('sha256:broken');
    expect(await statuses('TPP1')).toEqual([400, 400]);
    expect(await statuses('TPP2')).toEqual([200, 200]);
  });
});

/** A line from the middle of a key's base64: present in any copy of the key, in any framing. */
function keyBodyLine(file: string): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'));
  return lines[Math.floor(lines.length / 2)]!;
}
