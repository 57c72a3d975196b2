// Upgrade in place from the previous build (the last one before the trust boundary), on the real
// API server: its operator and CRD publish a bundle of the old shape (inline ACP target, a
// workload without restart-on); then the documented steps (CRDs first, new operator). Nothing
// in force changes, the bundle says what to change, and doing that changes nothing either.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { REPO_ROOT } from './harness/tools.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { AcpContractServer } from './support/acp-contract-server.ts';
import { contractServerSpec, declareAuthorizationServer, declareSecret } from './support/faults.ts';
import { OperatorProcess } from './support/operator.ts';
import {
  bundleEvents,
  condition,
  deleteBundle,
  getBundle,
  readSecret,
  waitForBundle,
} from './support/trustbundles.ts';
import { applyWorkload, replicaSetCount, templateHash } from './support/workloads.ts';

jest.setTimeout(300_000);

/** The previous build: main before the trust boundary. */
const PREVIOUS = '13f28c2';
const OLD_DIR = join(REPO_ROOT, '.cluster', `upgrade-${PREVIOUS}`);

const ssl = new OpenSSL();
const ca1 = ssl.cert({ subject: '/CN=Upgrade CA1' });
const name = `upgrade-${uniqueSuffix()}`;
const server = `acp-${name}`;
let system: string, cas: string, apim: string, ingress: string;
let acp: AcpContractServer;
let op: OperatorProcess | undefined;

function git(args: string[]): Buffer {
  try {
    return execFileSync('git', ['-C', REPO_ROOT, ...args], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    throw new Error(
      `the upgrade test needs the previous build ${PREVIOUS} from the repository's history (a full clone): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

beforeAll(async () => {
  // The previous build's operator and CRD, from the repository's own history.
  rmSync(OLD_DIR, { recursive: true, force: true });
  mkdirSync(OLD_DIR, { recursive: true });
  execFileSync('tar', ['-x', '-C', OLD_DIR], {
    input: git(['archive', PREVIOUS, 'operator/src', 'package.json', 'package-lock.json']),
  });
  // It runs with its own dependencies, as its image did (it still used prom-client, for one).
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: OLD_DIR,
    stdio: 'ignore',
  });
  writeFileSync(
    join(OLD_DIR, 'crd.yaml'),
    git(['show', `${PREVIOUS}:crds/mtls.openbanking.dev_trustbundles.yaml`]),
  );
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(OLD_DIR, 'crd.yaml')]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/trustbundles.mtls.openbanking.dev',
  ]);

  [system, cas, apim, ingress] = (await Promise.all(
    ['upg-system', 'upg-cas', 'upg-apim', 'upg-ingress'].map(
      async (p) => (await createTestNamespace(p)).name,
    ),
  )) as [string, string, string, string];
  acp = new AcpContractServer({ tls: true, servers: ['openbanking_brasil'], tokenTTLSeconds: 3600 });
  await acp.start();
  await declareSecret(cas, 'ca1', { 'ca.crt': ca1.pem });
  await declareSecret(system, 'acp-admin', { client_id: acp.clientId, client_secret: acp.clientSecret });
  await declareSecret(system, 'acp-ca', { 'ca.crt': acp.caPem! });
  // The previous build restarted workloads without asking them.
  await applyWorkload('Deployment', ingress, 'ingress-nginx-controller', { replicas: 1, restartOn: null });
}, 300_000);

afterAll(async () => {
  await op?.kill('SIGTERM');
  await deleteBundle(name);
  await kubectl(['delete', 'authorizationserver', server, '--ignore-not-found']);
  // Whatever happened, the cluster leaves with the current CRDs.
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(REPO_ROOT, 'crds')]);
  await acp?.stop();
  await cleanupTestNamespaces();
  ssl.cleanup();
  rmSync(OLD_DIR, { recursive: true, force: true });
});

const oldShape = () => ({
  apiVersion: 'mtls.openbanking.dev/v1alpha1',
  kind: 'TrustBundle',
  metadata: { name },
  spec: {
    sources: [{ secret: { namespace: cas, name: 'ca1', key: 'ca.crt' } }],
    targets: {
      secrets: [{ namespace: apim, name: 'apitraffic-mtls-rootca', key: 'ca.crt' }],
      authorizationServers: [
        {
          cloudentity: {
            url: acp.url,
            tenant: acp.tenant,
            server: 'openbanking_brasil',
            credentialsSecret: { namespace: system, name: 'acp-admin' },
            caSecret: { namespace: system, name: 'acp-ca' },
          },
        },
      ],
      rollouts: [{ kind: 'Deployment', namespace: ingress, name: 'ingress-nginx-controller' }],
    },
  },
});

interface InForce {
  secret: Record<string, string> | undefined;
  rootCas: string;
  puts: number;
  template: string | undefined;
  replicaSets: number;
}

async function inForce(): Promise<InForce> {
  return {
    secret: (await readSecret(apim, 'apitraffic-mtls-rootca'))?.data,
    rootCas: String(acp.serverObject('openbanking_brasil').root_cas ?? ''),
    puts: acp.requestsTo('put').length,
    template: await templateHash('Deployment', ingress, 'ingress-nginx-controller'),
    replicaSets: await replicaSetCount(ingress, 'ingress-nginx-controller'),
  };
}

test('upgraded in place: nothing in force changes, the old shape says what to change, and the change writes nothing', async () => {
  // 1. The previous build in force.
  op = await OperatorProcess.start({
    main: join(OLD_DIR, 'operator', 'src', 'main.ts'),
    env: { ROLLOUT_DEBOUNCE_SECONDS: '0' },
  });
  await kubectl(['apply', '-f', '-'], { input: yaml.dump(oldShape()) });
  await waitForBundle(
    name,
    'Ready under the previous build',
    (b) => condition(b, 'Ready')?.status === 'True',
    {
      timeoutMs: 60_000,
    },
  );
  const before = await inForce();
  expect(before.secret?.['ca.crt']).toBeDefined();
  expect(before.rootCas).toContain(ca1.pem.split('\n')[1]);
  expect(before.template).toMatch(/^sha256:/);
  await op.kill('SIGTERM');

  // 2. The documented steps: CRDs first, then the new operator with the chart's settings.
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(REPO_ROOT, 'crds')]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/authorizationservers.mtls.openbanking.dev',
  ]);
  op = await OperatorProcess.start({
    env: { ROLLOUT_DEBOUNCE_SECONDS: '0', TRUST_NAMESPACE: system, SOURCE_NAMESPACES: cas },
  });
  const tb = await waitForBundle(
    name,
    'MigrationRequired',
    (b) => condition(b, 'AuthorizationServersSynced')?.reason === 'MigrationRequired',
    { timeoutMs: 60_000 },
  );
  expect(condition(tb, 'AuthorizationServersSynced')?.message).toMatch(
    /inline cloudentity targets were removed .*nothing was sent there and its root_cas are left as they are/,
  );
  expect(condition(tb, 'SecretsSynced')?.status).toBe('True');
  expect(condition(tb, 'RolloutsComplete')).toMatchObject({ status: 'False', reason: 'RestartNotAllowed' });
  expect(tb.status?.targets?.rollouts?.[0]?.message).toMatch(/mtls\.openbanking\.dev\/restart-on=/);
  await waitFor('the MigrationRequired Event', async () =>
    (await bundleEvents(name)).some((e) => e.reason === 'MigrationRequired'),
  );
  // Nothing in force changed: the ingress trusts the same CAs, ACP was not written, no restart.
  const afterUpgrade = await inForce();
  expect(afterUpgrade).toEqual(before);

  // 3. What the bundle asked for: an administrator's AuthorizationServer that allows the bundle
  //    (spec.allowedBundles), named by the bundle, and the workload's consent. The trust is already
  //    in force, so nothing is written.
  await declareAuthorizationServer(server, contractServerSpec(acp, [name]));
  const migrated = oldShape();
  (migrated.spec.targets as { authorizationServers: object[] }).authorizationServers = [{ name: server }];
  await kubectl(['apply', '-f', '-'], { input: yaml.dump(migrated) });
  await kubectl([
    'annotate',
    '-n',
    ingress,
    'deployment',
    'ingress-nginx-controller',
    `mtls.openbanking.dev/restart-on=${name}`,
  ]);
  const ready = await waitForBundle(
    name,
    'Ready after the migration',
    (b) => condition(b, 'Ready')?.status === 'True',
    {
      timeoutMs: 60_000,
    },
  );
  expect(ready.status?.targets?.authorizationServers?.[0]).toMatchObject({ name: server, state: 'Synced' });
  expect(await inForce()).toEqual(before);
  expect((await getBundle(name))?.spec.targets?.authorizationServers).toEqual([{ name: server }]);
});
