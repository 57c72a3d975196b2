// The runbook enforced by a real ingress controller that reads the API server itself: Traefik (built
// from the Go module proxy on the first run, then cached) watches the Secret the operator creates
// and writes, with the RBAC and objects of docs/examples/traefik/. The TrustBundle has a Secret
// target and no rollout: nothing of the project sits between the Secret and Traefik's handshake.
// Real curl and `openssl s_client` with `trustbundle pki` certificates.
import { jest } from '@jest/globals';
import yaml from 'js-yaml';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from './harness/kube.ts';
import { curlRequest, requestWithBoth, type HttpAnswer } from './support/enforcement.ts';
import { installCrds, OperatorProcess, readRepoFile } from './support/operator.ts';
import {
  SCENARIOS,
  applyObjects,
  caSecrets,
  caSource,
  clientIdentity,
  createRunbookPki,
  crlSource,
  formatResults,
  type CheckResult,
  type ClientName,
  type RunbookNames,
  type RunbookPki,
  type Scenario,
} from './support/runbook.ts';
import {
  EchoBackend,
  Traefik,
  backendObjects,
  ensureTraefik,
  exampleObjects,
  installTraefikCrds,
  type TraefikRouter,
} from './support/traefik.ts';
import {
  TraefikLane,
  describeTraefikAnswers,
  runTraefikScenario,
  tlsAlert,
  traefikSpec,
  type TraefikLaneWorld,
} from './support/traefik-lane.ts';
import { crlsOf, deleteBundle, getBundle, readSecret } from './support/trustbundles.ts';
import { BUNDLE_LABEL, type TrustBundle } from '../operator/src/api/v1alpha1.ts';

jest.setTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), 'tb-traefik-'));
let pki: RunbookPki;
let op: OperatorProcess;
let traefik: Traefik;
let echo: EchoBackend;
let world: TraefikLaneWorld;
let lane: TraefikLane;
let traefikPid: number | undefined;
const logs: string[] = [];
const results: CheckResult[] = [];
const beforeSecret: { client: ClientName; answers: HttpAnswer[] }[] = [];
let routerBeforeSecret: TraefikRouter;
let errorsBeforeSecret = 0;

beforeAll(async () => {
  const t0 = Date.now();
  await ensureTraefik();
  logs.push(
    `Traefik binary ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (hack/build-tools.sh traefik)`,
  );
  const [pkiReady] = await Promise.all([
    createRunbookPki(join(work, 'pki')),
    installCrds(),
    installTraefikCrds(),
  ]);
  pki = pkiReady;
  const [cas, apim, ingress] = await Promise.all(
    ['tpp-cas', 'open-banking-apim', 'traefik'].map(async (p) => (await createTestNamespace(p)).name),
  );
  const names: RunbookNames = {
    bundle: `tpp-roots-traefik-${uniqueSuffix()}`,
    caNamespace: cas!,
    target: { namespace: apim!, name: 'apitraffic-mtls-rootca' },
    // Not used: the TrustBundle has no rollout target.
    ingress: { namespace: ingress!, name: 'traefik' },
  };
  echo = await EchoBackend.start();
  const tls = await Traefik.serverCertificate(join(work, 'traefik'));
  await applyObjects([
    ...caSecrets(names, pki),
    ...exampleObjects({
      namespace: apim!,
      traefikNamespace: ingress!,
      host: 'localhost',
      backendPort: echo.port,
    }),
    ...backendObjects(apim!, tls, echo.port),
  ]);
  traefik = await Traefik.start({
    dir: join(work, 'traefik'),
    namespace: apim!,
    serviceAccount: { namespace: ingress!, name: 'traefik' },
    log: (line) => logs.push(line),
  });
  traefikPid = traefik.pid;
  op = await OperatorProcess.start();
  world = { names, pki, endpoint: traefik.endpoint, log: (line) => logs.push(line) };
  lane = new TraefikLane(world);
  // No TrustBundle yet, so no Secret: Traefik has loaded the route, with a TLSOption it cannot build.
  routerBeforeSecret = await waitFor('Traefik to load the IngressRoute', async () =>
    (await traefik.routers()).find((r) => r.name.includes('apitraffic')),
  );
  for (const client of ['TPP1', 'no certificate'] as const) {
    beforeSecret.push({
      client,
      answers: await requestWithBoth(traefik.endpoint, clientIdentity(pki, client)),
    });
  }
}, 45 * 60_000);

afterAll(async () => {
  await op?.kill('SIGTERM');
  await traefik?.stop();
  await echo?.stop();
  if (world) await deleteBundle(world.names.bundle);
  await cleanupTestNamespaces();
  const timings = (lane?.enforcements ?? []).map((e) => `  ${(e.ms / 1000).toFixed(2)} s  ${e.scenario}`);
  if (results.length) {
    console.log(
      `${formatResults(results)}\n\nedit → Traefik enforces (no rollout, no restart):\n${timings.join('\n')}\n\n` +
        logs.filter((l) => !l.startsWith('traefik:') || /\b(ERR|WRN)\b/.test(l)).join('\n'),
    );
  }
  rmSync(work, { recursive: true, force: true });
});

const view = (r: CheckResult[], key: 'expected' | 'got') => r.map((x) => [x.check, x[key]]);

async function scenario(s: Scenario | string): Promise<CheckResult[]> {
  const found = typeof s === 'string' ? SCENARIOS.find((x) => x.title === s) : s;
  if (!found) throw new Error(`no scenario "${String(s)}"`);
  const got = await runTraefikScenario(lane, world, found);
  results.push(...got);
  expect(view(got, 'got')).toEqual(view(got, 'expected'));
  return got;
}

const answers = (r: CheckResult[], check: string) => r.find((x) => x.check === check)!.answers!;
const alerts = (a: HttpAnswer[]) => a.map((x) => tlsAlert(x) ?? `no alert: ${x.status} ${x.error ?? ''}`);

test('before the operator has created the Secret, Traefik fails closed: the router is disabled, the handshake cut off', () => {
  expect(routerBeforeSecret.status).toBe('disabled');
  expect(routerBeforeSecret.error?.join()).toContain('RequireAndVerifyClientCert, CAFiles is required');
  const got = beforeSecret.map(({ client, answers: a }) => [client, describeTraefikAnswers(a, pki, client)]);
  logs.push(
    `before the Secret exists: router ${routerBeforeSecret.status} ${JSON.stringify(routerBeforeSecret.error ?? [])}; ` +
      got.map(([c, g]) => `${c}: ${g}`).join('; '),
  );
  for (const { answers: a } of beforeSecret) expect(a.map((x) => x.status)).toEqual([0, 0]);
});

test('both CAs trusted: TPP1, TPP2 and TPP3 get through Traefik to the backend; no certificate is refused at the handshake', async () => {
  const got = await scenario('CA1 and CA2 trusted');
  errorsBeforeSecret = traefik.errors().length;
  // The backend got the client's own certificate, from Traefik (X-Forwarded-Tls-Client-Cert).
  for (const a of answers(got, 'TPP1 certificate')) {
    expect(a.upstream?.forwardedBy).toBe('traefik');
    expect(new X509Certificate(a.upstream!.certPem!).fingerprint256).toBe(pki.tpp1.fingerprint);
  }
  expect(alerts(answers(got, 'no client certificate'))).toEqual([
    'certificate required',
    'certificate required',
  ]);
  // The operator created the Secret Traefik reads (nobody else did), and no rollout was asked for.
  const tb = (await getBundle(world.names.bundle))!;
  expect(tb.spec.targets?.rollouts ?? []).toEqual([]);
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  expect(secret!.labels[BUNDLE_LABEL]).toBe(world.names.bundle);
});

test("a self-signed impostor with CA1's subject name (and TPP1's) is refused at the handshake", async () => {
  expect(pki.impostorCa.subject).toBe(pki.ca1.subject);
  const got = await scenario("a self-signed impostor with CA1's name");
  expect(alerts(answers(got, 'impostor certificate'))).toEqual(['unknown ca', 'unknown ca']);
});

test('CA2 removed: Traefik refuses TPP2 and still admits TPP1, with no restart', async () => {
  const got = await scenario('CA2 removed from the TrustBundle');
  expect(alerts(answers(got, 'TPP2 certificate'))).toEqual(['unknown ca', 'unknown ca']);
});

test('CA2 added back: TPP2 gets through again', async () => {
  await scenario('CA2 added back');
});

test('a private key pasted into a source is refused by the operator; the Secret and Traefik stay as they were', async () => {
  const got = await scenario('a private key pasted into a source');
  expect(got.find((r) => r.check === 'Secret Traefik reads')!.got).toBe('not rewritten');
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  expect(secret!.data['ca.crt']).not.toContain('PRIVATE KEY');
});

test('reverting the bad edit changes nothing Traefik reads', async () => {
  await scenario('the bad edit reverted');
});

test("ca.crl: Traefik does not read it; TPP3, revoked by CA1's CRL in the same Secret, still gets through", async () => {
  await scenario('CA2 removed from the TrustBundle');
  // One edit writes ca.crt (CA2 back) and ca.crl (CA1 revokes TPP3) in the same Secret update: TPP2
  // admitted shows Traefik has loaded that very update, and TPP3 is admitted with it.
  const withCrls: Scenario = {
    title: "both CAs and both CRLs in one edit (CA1's revokes TPP3)",
    kind: 'rollout',
    sources: (n) => [caSource(n, 'CA1'), caSource(n, 'CA2'), crlSource(n, 'CA1'), crlSource(n, 'CA2')],
    trusted: ['CA1', 'CA2'],
    requests: [
      ['TPP2', 200],
      ['TPP3', 200],
    ],
  };
  const got = await scenario(withCrls);
  expect(got.find((r) => r.check === 'TPP3 certificate')!.got).toBe('200');
  const secret = await readSecret(world.names.target.namespace, world.names.target.name);
  const tpp3Serial = new X509Certificate(pki.tpp3.certPem).serialNumber;
  expect(crlsOf(secret!.data['ca.crl']).flatMap((c) => c.revokedSerials)).toEqual([tpp3Serial]);
});

test('edit → enforced: every change above reached Traefik with no restart (times printed, not asserted)', () => {
  expect(lane.enforcements.map((e) => e.scenario)).toEqual([
    'CA1 and CA2 trusted',
    'CA2 removed from the TrustBundle',
    'CA2 added back',
    'CA2 removed from the TrustBundle',
    "both CAs and both CRLs in one edit (CA1's revokes TPP3)",
  ]);
  expect(traefik.pid).toBe(traefikPid);
  // Errors only from before the operator had written the Secret (the disabled router above).
  expect(traefik.errors().slice(errorsBeforeSecret)).toEqual([]);
});

test('the operator restarted (SIGTERM, then SIGKILL) while Traefik reads its Secret: no handshake of a trusted TPP is refused', async () => {
  const { names } = world;
  const rvBefore = (await readSecret(names.target.namespace, names.target.name))!.resourceVersion;
  const probes: { client: ClientName; got: string }[] = [];
  let probing = true;
  const prober = (async () => {
    for (let i = 0; probing; i++) {
      const client: ClientName = i % 2 === 0 ? 'TPP1' : 'TPP2';
      const a = await curlRequest(traefik.endpoint, clientIdentity(pki, client));
      probes.push({ client, got: describeTraefikAnswers([a], pki, client) });
    }
  })();
  const settle = () => new Promise((r) => setTimeout(r, 3_000));
  await settle();
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    await op.kill(signal);
    await settle();
    op = await OperatorProcess.start();
    await settle();
  }
  probing = false;
  await prober;
  const refused = probes.filter((p) => p.got !== '200');
  logs.push(
    `operator restarts: ${probes.length} handshakes through Traefik, ${refused.length} refused; ` +
      `Secret ${rvBefore === (await readSecret(names.target.namespace, names.target.name))!.resourceVersion ? 'not rewritten' : 'rewritten'}`,
  );
  expect(probes.length).toBeGreaterThan(20);
  expect(refused).toEqual([]);
  expect(traefik.pid).toBe(traefikPid);
});

test('docs/examples/consumers/traefik.yaml is the TrustBundle this suite applies (with the docs names)', () => {
  const doc = yaml.load(readRepoFile('docs/examples/consumers/traefik.yaml')) as TrustBundle;
  const names: RunbookNames = {
    bundle: 'tpp-roots-traefik',
    caNamespace: 'tpp-cas',
    target: { namespace: 'open-banking-apim', name: 'apitraffic-mtls-rootca' },
    ingress: { namespace: 'traefik', name: 'traefik' },
  };
  expect(doc.metadata.name).toBe(names.bundle);
  expect(doc.spec).toEqual(traefikSpec(names, SCENARIOS[0]!.sources!(names, pki)));
});
