// Least privilege, proven on the real API server: the chart's RBAC is rendered and applied, the
// operator runs with nothing but its ServiceAccount's token (TokenRequest) and the environment the
// chart's Deployment gives it (its trust boundary) through a full reconcile (a source Secret; a
// target Secret it creates, a ConfigMap whose owner consented to it, a ClusterTrustBundle with a
// signer; a Deployment rollout; a Cloudentity push through an AuthorizationServer whose
// credentials are in the trust namespace) and the deletion of a deletionPolicy: Delete bundle,
// and that token is refused everything the chart does not grant.
import { jest } from '@jest/globals';
import { CoordinationV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  clients,
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  kubectlApply,
  statusCode,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { OpenSSL, type TestCert } from '../operator/test/support/openssl.ts';
import { ALLOW_BUNDLES_ANNOTATION } from '../operator/src/controller/boundary.ts';
import type { AuthorizationServerReference } from '../operator/src/api/v1alpha1.ts';
import { AcpContractServer } from './support/acp-contract-server.ts';
import { contractServerTarget } from './support/faults.ts';
import { ensureHelm, parseManifests, template } from './support/helm.ts';
import { actAs, type ServiceAccountIdentity } from './support/identity.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  condition,
  deleteBundle,
  getBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
  bundleEvents,
} from './support/trustbundles.ts';
import { applyWorkload, templateHash } from './support/workloads.ts';

jest.setTimeout(180_000);

const TARGET = 'apitraffic-mtls-rootca';
const CM_TARGET = 'tpp-roots-ca';
const SIGNER = 'example.com/tpp-roots';
const ctbName = `example.com:tpp-roots:rbac-${uniqueSuffix()}`;
const release = `tbo-rbac-${uniqueSuffix()}`;
const fullname = `${release}-trustbundle-operator`;
const ssl = new OpenSSL();
let ca1: TestCert;
let system: string, pki: string, apim: string, ingress: string, elsewhere: string;
let acp: AcpContractServer;
let acpServer: AuthorizationServerReference;
let sa: ServiceAccountIdentity;
let op: OperatorProcess | undefined;
let chartEnv: Record<string, string>;
const bundles: string[] = [];
/** The bundle with every kind of target; the AuthorizationServer allows it by name. */
const fullBundle = `rbac-full-${uniqueSuffix()}`;

beforeAll(async () => {
  await ensureHelm();
  ca1 = ssl.cert({ subject: '/C=BR/O=Bank/CN=RBAC CA1' });
  await installCrds();
  acp = new AcpContractServer({ tls: true, servers: ['openbanking_brasil'], tokenTTLSeconds: 3600 });
  await acp.start();
  const ns = async (prefix: string) => (await createTestNamespace(prefix)).name;
  system = await ns('rbac-system');
  pki = await ns('rbac-pki');
  apim = await ns('rbac-apim');
  ingress = await ns('rbac-ingress');
  elsewhere = await ns('rbac-elsewhere');

  // Exactly what the chart would install, minus the Deployment (its Pods only run under KWOK): the
  // trust namespace is the release namespace, as by default.
  const values = {
    rbac: {
      sourceNamespaces: [pki],
      targetNamespaces: [apim],
      targetResources: ['secrets', 'configmaps'],
      targetNames: [TARGET, CM_TARGET],
      clusterTrustBundles: { enabled: true, signerNames: [SIGNER] },
      deleteTargets: true,
      rolloutNamespaces: [ingress],
    },
  };
  const rbac = await template({
    release,
    namespace: system,
    values,
    only: ['templates/serviceaccount.yaml', 'templates/clusterrole.yaml', 'templates/role.yaml'],
  });
  await kubectlApply(rbac);
  chartEnv = await deploymentEnv(values);

  // The AuthorizationServer an administrator declares, its credentials and CA in the trust namespace.
  acpServer = await contractServerTarget(acp, system, [fullBundle]);
  // [namespace, name, data]: the source, and what the operator must not see.
  const secrets: [string, string, Record<string, string>][] = [
    [pki, 'ca1', { 'ca.crt': ca1.pem }],
    [elsewhere, 'unrelated', { password: 'not for the operator' }],
  ];
  const { core } = clients();
  for (const [namespace, name, stringData] of secrets) {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
  }
  await core.createNamespacedConfigMap({
    namespace: elsewhere,
    body: { metadata: { name: 'unrelated' }, data: { 'ca.crt': ca1.pem } },
  });
  await applyWorkload('Deployment', ingress, 'ingress-nginx-controller', { replicas: 1 });

  sa = await actAs(system, fullname);
  // The API server's RBAC caches take a moment to see new bindings; start the operator after.
  const granted = [
    () => sa.core.listNamespacedSecret({ namespace: pki }),
    () => sa.core.listNamespacedConfigMap({ namespace: apim }),
    () => sa.core.listNamespacedSecret({ namespace: system }),
    () => sa.apps.listNamespacedDeployment({ namespace: ingress }),
  ];
  await waitFor("the chart's RBAC to take effect", async () => {
    for (const request of granted) await request();
    return true;
  });
  expect(chartEnv).toMatchObject({
    TRUST_NAMESPACE: system,
    SOURCE_NAMESPACES: pki,
    TARGET_NAMESPACES: `${apim},${ingress}`,
    CLUSTER_TRUST_BUNDLE_SIGNERS: SIGNER,
    LEASE_NAMESPACE: system,
    LEASE_NAME: fullname,
  });
  op = await OperatorProcess.start({
    env: {
      ...chartEnv,
      KUBECONFIG: sa.kubeconfigPath,
      POD_NAME: 'rbac-e2e',
      METRICS_PORT: '0',
      METRICS_BIND_ADDRESS: '127.0.0.1',
      LOG_LEVEL: 'debug',
      ROLLOUT_DEBOUNCE_SECONDS: '0',
    },
  });
}, 900_000); // a fresh machine builds Helm first (about 2.5 minutes)

afterAll(async () => {
  await op?.kill('SIGTERM');
  await acp?.stop();
  await Promise.all(bundles.map(deleteBundle));
  // A failed run may leave a deletionPolicy: Delete bundle whose finalizer nobody will remove.
  for (const name of bundles) {
    await kubectl([
      'patch',
      'trustbundle',
      name,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]).catch(() => undefined);
  }
  const selector = `app.kubernetes.io/instance=${release}`;
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', selector, '--ignore-not-found']);
  await kubectl(['delete', 'clustertrustbundle', ctbName, '--ignore-not-found']);
  await kubectl(['delete', '-n', 'default', 'role,rolebinding', '-l', selector, '--ignore-not-found']);
  await cleanupTestNamespaces();
  sa?.cleanup();
  ssl.cleanup();
});

/** The environment variables with a value that the chart's Deployment gives the operator. */
async function deploymentEnv(values: Record<string, unknown>): Promise<Record<string, string>> {
  const [deployment] = parseManifests(
    await template({ release, namespace: system, values, only: ['templates/deployment.yaml'] }),
  );
  const spec = deployment!.spec as {
    template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
  };
  const env = spec.template.spec.containers[0]!.env;
  return Object.fromEntries(env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

const newBundle = (prefix: string): string => {
  const name = `${prefix}-${uniqueSuffix()}`;
  bundles.push(name);
  return name;
};

/**
 * Operator log lines about this suite's namespaces or bundles that match `pattern` (the operator
 * also sees TrustBundles other suites left in a shared cluster).
 */
function logLinesAboutUs(pattern: RegExp): string[] {
  const ours = [system, pki, apim, ingress, ...bundles];
  return op!.lines.filter((line) => {
    if (!pattern.test(line)) return false;
    // The ServiceAccount's own name carries this suite's namespace: leave it out of the match.
    const text = line.replace(/User \\"system:serviceaccount:[^\\]*\\"/g, '');
    return ours.some((name) => text.includes(name));
  });
}

/** The HTTP status of a request made with the ServiceAccount's token (200 when it succeeds). */
async function statusOf(request: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await request();
    return 200;
  } catch (err) {
    return statusCode(err);
  }
}

test('the operator, with only its ServiceAccount token, reconciles a bundle through every kind of target', async () => {
  const name = fullBundle;
  bundles.push(name);
  // The ConfigMap target exists already, and its owner lets this bundle write it: the operator
  // must read it (get) to see that consent before it writes.
  await clients().core.createNamespacedConfigMap({
    namespace: apim,
    body: {
      metadata: { name: CM_TARGET, annotations: { [ALLOW_BUNDLES_ANNOTATION]: name } },
      data: { 'owner.txt': 'kept' },
    },
  });
  await applyBundle(name, {
    sources: [{ secret: { namespace: pki, name: 'ca1', key: 'ca.crt' } }],
    deletionPolicy: 'Delete',
    targets: {
      secrets: [{ namespace: apim, name: TARGET, key: 'ca.crt' }],
      configMaps: [{ namespace: apim, name: CM_TARGET, key: 'ca.crt' }],
      clusterTrustBundles: [{ name: ctbName, signerName: SIGNER }],
      rollouts: [{ kind: 'Deployment', namespace: ingress, name: 'ingress-nginx-controller' }],
      authorizationServers: [acpServer],
    },
  });
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True', {
    timeoutMs: 30_000,
  });
  for (const type of ['SourcesValid', 'SecretsSynced', 'AuthorizationServersSynced', 'RolloutsComplete']) {
    expect([type, condition(tb, type)?.status]).toEqual([type, 'True']);
  }
  expect(await templateHash('Deployment', ingress, 'ingress-nginx-controller')).toBe(tb.status!.bundleHash);
  expect(String(acp.serverObject('openbanking_brasil').root_cas)).toContain(ca1.pem.trim().split('\n')[1]);
  // The AuthorizationServer's own status was written with the same token.
  const server = await waitFor('the AuthorizationServer to name its bundle', async () => {
    const as = JSON.parse(await kubectl(['get', 'authorizationserver', acpServer.name!, '-o', 'json'])) as {
      status?: { publishedBy?: string };
    };
    return as.status?.publishedBy === name && as;
  });
  expect(server.status?.publishedBy).toBe(name);

  const target = await readSecret(apim, TARGET);
  expect(subjectsOf(target?.data['ca.crt'])).toEqual(['C=BR, O=Bank, CN=RBAC CA1']);
  expect(target?.labels['mtls.openbanking.dev/bundle']).toBe(name);
  const cm = await clients().core.readNamespacedConfigMap({ namespace: apim, name: CM_TARGET });
  expect(subjectsOf(cm.data?.['ca.crt'])).toEqual(['C=BR, O=Bank, CN=RBAC CA1']);
  expect(cm.data?.['owner.txt']).toBe('kept');
  const ctb = JSON.parse(await kubectl(['get', 'clustertrustbundle', ctbName, '-o', 'json'])) as {
    spec: { signerName: string; trustBundle: string };
  };
  expect(ctb.spec.signerName).toBe(SIGNER);
  expect(subjectsOf(ctb.spec.trustBundle)).toEqual(['C=BR, O=Bank, CN=RBAC CA1']);

  // The lease and the events were written with the same token.
  const lease = await clients()
    .kc.makeApiClient(CoordinationV1Api)
    .readNamespacedLease({ namespace: system, name: fullname });
  expect(lease.spec?.holderIdentity).toMatch(/^rbac-e2e_/);
  const events = await waitFor('a Published event for the bundle', async () => {
    const list = await bundleEvents(name);
    return list.some((e) => e.reason === 'Published') && list;
  });
  expect(events.map((e) => e.kind)).toContain('TrustBundle');

  // Nothing the operator tried on the way was refused or failed.
  expect(logLinesAboutUs(/"level":"(warn|error|fatal)"|forbidden/i)).toEqual([]);
});

test('deleting the deletionPolicy: Delete bundle removes what it created and keeps what it adopted, with the same token', async () => {
  const name = fullBundle;
  await deleteBundle(name);
  await waitFor(
    `TrustBundle ${name} to be gone (its finalizer removed)`,
    async () => !(await getBundle(name)),
  );
  expect(await readSecret(apim, TARGET)).toBeUndefined();
  const left = await kubectl(['get', 'clustertrustbundle', ctbName, '--ignore-not-found', '-o', 'name']);
  expect(left.trim()).toBe('');
  // The ConfigMap was its owner's: it stays.
  const cm = await clients().core.readNamespacedConfigMap({ namespace: apim, name: CM_TARGET });
  expect(cm.data?.['owner.txt']).toBe('kept');
  expect(logLinesAboutUs(/forbidden| 403 /i)).toEqual([]);
});

test('the token reads its source namespace and is refused everything else (403)', async () => {
  const { core, custom } = sa;
  // Control: the token works where the chart grants.
  expect(await statusOf(() => core.readNamespacedSecret({ namespace: pki, name: 'ca1' }))).toBe(200);

  const refused = {
    'get a Secret in an unrelated namespace': () =>
      core.readNamespacedSecret({ namespace: elsewhere, name: 'unrelated' }),
    'list Secrets in an unrelated namespace': () => core.listNamespacedSecret({ namespace: elsewhere }),
    'list Secrets of all namespaces': () => core.listSecretForAllNamespaces(),
    'get a ConfigMap in an unrelated namespace': () =>
      core.readNamespacedConfigMap({ namespace: elsewhere, name: 'unrelated' }),
    'create a Secret in its trust namespace': () =>
      core.createNamespacedSecret({ namespace: system, body: { metadata: { name: 'planted' } } }),
    'list Secrets in a rollout namespace': () => core.listNamespacedSecret({ namespace: ingress }),
    'create a Secret in a source namespace': () =>
      core.createNamespacedSecret({ namespace: pki, body: { metadata: { name: 'planted' } } }),
    'write a Secret of another name in the target namespace': () =>
      core.patchNamespacedSecret(
        {
          namespace: apim,
          name: 'not-the-target',
          fieldManager: 'trustbundle-operator',
          force: true,
          body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'not-the-target', namespace: apim } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
    'delete a Secret of another name in the target namespace': () =>
      core.deleteNamespacedSecret({ namespace: apim, name: 'not-the-target' }),
    'read a Secret of another name in the target namespace': () =>
      core.readNamespacedSecret({ namespace: apim, name: 'not-the-target' }),
    'change the spec of a TrustBundle': () =>
      custom.createClusterCustomObject({
        group: 'mtls.openbanking.dev',
        version: 'v1alpha1',
        plural: 'trustbundles',
        body: {
          apiVersion: 'mtls.openbanking.dev/v1alpha1',
          kind: 'TrustBundle',
          metadata: { name: `planted-${uniqueSuffix()}` },
          spec: { sources: [{ inline: ca1.pem }] },
        },
      }),
    'publish a ClusterTrustBundle for a signer it may not attest for': () =>
      custom.createClusterCustomObject({
        group: 'certificates.k8s.io',
        version: 'v1',
        plural: 'clustertrustbundles',
        body: {
          apiVersion: 'certificates.k8s.io/v1',
          kind: 'ClusterTrustBundle',
          metadata: { name: `example.com:other:${uniqueSuffix()}` },
          spec: { signerName: 'example.com/other', trustBundle: ca1.pem },
        },
      }),
    "declare an AuthorizationServer (the administrators' object)": () =>
      custom.createClusterCustomObject({
        group: 'mtls.openbanking.dev',
        version: 'v1alpha1',
        plural: 'authorizationservers',
        body: {
          apiVersion: 'mtls.openbanking.dev/v1alpha1',
          kind: 'AuthorizationServer',
          metadata: { name: `planted-${uniqueSuffix()}` },
          spec: {
            allowedBundles: ['planted'],
            cloudentity: {
              url: 'https://127.0.0.1:1',
              tenant: 't',
              server: 's',
              credentialsSecret: { name: 'acp-admin' },
            },
          },
        },
      }),
    'create a Pod in its own namespace': () =>
      core.createNamespacedPod({
        namespace: system,
        body: {
          metadata: { name: 'planted' },
          spec: { containers: [{ name: 'x', image: 'registry.invalid/x' }] },
        },
      }),
  };
  const statuses: Record<string, number | undefined> = {};
  for (const [what, request] of Object.entries(refused)) statuses[what] = await statusOf(request);
  expect(statuses).toEqual(Object.fromEntries(Object.keys(refused).map((k) => [k, 403])));
});

test('a bundle naming a namespace the chart does not grant is refused by the operator before any request', async () => {
  const name = newBundle('rbac-outside');
  await applyBundle(name, {
    sources: [{ configMap: { namespace: elsewhere, name: 'unrelated', key: 'ca.crt' } }],
  });
  const tb = await waitForBundle(
    name,
    'SourcesValid=False',
    (b) => condition(b, 'SourcesValid')?.status === 'False',
    { timeoutMs: 30_000 },
  );
  expect(condition(tb, 'Ready')?.status).toBe('False');
  // The operator's boundary (the chart's SOURCE_NAMESPACES) refuses it before any request: no 403.
  expect(condition(tb, 'SourcesValid')?.message).toMatch(
    new RegExp(`namespace ${elsewhere} is not a source namespace \\(rule SourceNamespaces`),
  );
  expect(tb.status?.certificateCount ?? 0).toBe(0);
  expect(op!.lines.filter((l) => l.includes(elsewhere) && /forbidden| 403 /i.test(l))).toEqual([]);
});

test('with targets allowed in any namespace but RBAC granting some, the operator watches each target namespace on its own', async () => {
  // Without --target-namespaces the operator first asks for one cluster-wide watch of its target
  // Secrets; this token may list Secrets only in the namespaces the chart granted, so it is
  // refused (403) and the operator watches the target's namespace instead, as before.
  await op!.kill('SIGTERM');
  const env = Object.fromEntries(Object.entries(chartEnv).filter(([k]) => k !== 'TARGET_NAMESPACES'));
  op = await OperatorProcess.start({
    env: {
      ...env,
      KUBECONFIG: sa.kubeconfigPath,
      POD_NAME: 'rbac-e2e-any-namespace',
      METRICS_PORT: '0',
      METRICS_BIND_ADDRESS: '127.0.0.1',
      LOG_LEVEL: 'debug',
    },
  });
  const name = newBundle('rbac-anywhere');
  await clients()
    .core.deleteNamespacedSecret({ namespace: apim, name: TARGET })
    .catch(() => undefined);
  await applyBundle(name, {
    sources: [{ secret: { namespace: pki, name: 'ca1', key: 'ca.crt' } }],
    targets: { secrets: [{ namespace: apim, name: TARGET, key: 'ca.crt' }] },
  });
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True', {
    timeoutMs: 60_000,
  });
  expect(condition(tb, 'SecretsSynced')?.status).toBe('True');
  expect(subjectsOf((await readSecret(apim, TARGET))?.data['ca.crt'])).toEqual(['C=BR, O=Bank, CN=RBAC CA1']);
  expect(op.lines.filter((l) => /may not list Secrets across the cluster/.test(l))).toHaveLength(1);
});
