// The trust boundary, as an attacker who may write TrustBundles tries it: the operator acts only
// where the owner of the thing acted upon agreed. Every request the operator sends goes through a
// recording proxy, so "never read" is checked against what really reached the API server.
import { jest } from '@jest/globals';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubectlError } from './harness/kube.ts';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import {
  declareAuthorizationServer,
  declareSecret,
  RecordingProxy,
  type ProxyRecord,
} from './support/faults.ts';
import { generateTlsMaterial } from './support/acp-tls.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import { applyBundle, condition, deleteBundle, getBundle, waitForBundle } from './support/trustbundles.ts';
import { applyWorkload, templateHash } from './support/workloads.ts';
import type { AuthorizationServerSpec } from '../operator/src/api/authorization-server.ts';
import type { TrustBundle, TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';

jest.setTimeout(180_000);

const ssl = new OpenSSL();
const [ca1, ca2] = [ssl.cert({ subject: '/CN=Boundary CA1' }), ssl.cert({ subject: '/CN=Boundary CA2' })];
const suffix = uniqueSuffix();
let trust: string, sources: string, payments: string, apim: string, ingress: string, outside: string;
let op: OperatorProcess;
let proxy: RecordingProxy;
const requests: ProxyRecord[] = [];
const bundles: string[] = [];
const servers: string[] = [];

/** A listener standing in for an attacker's endpoint: it counts what it receives. */
const listener = { hits: [] as string[], server: undefined as https.Server | undefined, url: '' };
const tls = generateTlsMaterial('listener');

const bundleName = (what: string): string => {
  const name = `boundary-${what}-${suffix}`;
  bundles.push(name);
  return name;
};

interface Snapshot {
  resourceVersion: string;
  data: unknown;
  labels: unknown;
  annotations: unknown;
  managedFields: unknown;
}

async function snapshot(namespace: string, kind: string, name: string): Promise<Snapshot | undefined> {
  const out = await kubectl(['get', '-n', namespace, kind, name, '-o', 'json', '--ignore-not-found']);
  if (!out.trim()) return undefined;
  const o = JSON.parse(out) as {
    data?: unknown;
    metadata: { resourceVersion: string; labels?: unknown; annotations?: unknown; managedFields?: unknown };
  };
  return {
    resourceVersion: o.metadata.resourceVersion,
    data: o.data,
    labels: o.metadata.labels,
    annotations: o.metadata.annotations,
    managedFields: o.metadata.managedFields,
  };
}

/** Requests the operator sent that touch a namespace (reads, watches and writes alike). */
const touching = (namespace: string) => requests.filter((r) => r.path.includes(`/namespaces/${namespace}/`));

beforeAll(async () => {
  await installCrds();
  [trust, sources, payments, apim, ingress, outside] = (await Promise.all(
    ['bnd-trust', 'bnd-cas', 'bnd-payments', 'bnd-apim', 'bnd-ingress', 'bnd-outside'].map(
      async (p) => (await createTestNamespace(p)).name,
    ),
  )) as [string, string, string, string, string, string];
  await declareSecret(sources, 'ca1', { 'ca.crt': ca1.pem });
  // Another team's Secret: it holds a CA certificate and credentials.
  await declareSecret(payments, 'db-credentials', {
    'ca.crt': ca2.pem,
    username: 'payments',
    password: 'S3cr3t-payments-db',
  });
  listener.server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    listener.hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
  });
  await new Promise<void>((r) => listener.server!.listen(0, '127.0.0.1', r));
  listener.url = `https://127.0.0.1:${(listener.server!.address() as AddressInfo).port}`;
  proxy = await RecordingProxy.start('boundary', requests, true);
  op = await OperatorProcess.start({
    env: {
      KUBECONFIG: proxy.kubeconfigPath,
      TRUST_NAMESPACE: trust,
      SOURCE_NAMESPACES: sources,
      TARGET_NAMESPACES: [apim, ingress].join(','),
      ROLLOUT_DEBOUNCE_SECONDS: '0',
    },
  });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await proxy?.stop();
  for (const b of bundles) await deleteBundle(b);
  for (const s of servers) await kubectl(['delete', 'authorizationserver', s, '--ignore-not-found']);
  listener.server?.close();
  await cleanupTestNamespaces();
  ssl.cleanup();
});

const refusedAt = async (name: string, what: string): Promise<TrustBundle> =>
  waitForBundle(name, what, (b) => condition(b, 'Ready')?.status === 'False');

/**
 * An administrator's AuthorizationServer pointing at the listener, for the bundles `allowedBundles`,
 * with its credentials and CA in the trust namespace.
 */
async function listenerServer(what: string, allowedBundles: string[]): Promise<string> {
  await declareSecret(trust, 'acp-admin', { client_id: 'operator-client', client_secret: 'trust-ns-secret' });
  await declareSecret(trust, 'acp-ca', { 'ca.crt': tls.caPem });
  const server = `boundary-${what}-${suffix}`;
  servers.push(server);
  await declareAuthorizationServer(server, {
    allowedBundles,
    cloudentity: {
      url: listener.url,
      tenant: 't',
      server: 's',
      credentialsSecret: { name: 'acp-admin' },
      caSecret: { name: 'acp-ca' },
    },
  });
  return server;
}

describe('authorization-server credentials go only where an administrator pointed them', () => {
  test('a TrustBundle cannot name a URL or a credential: the inline shape is refused at apply', async () => {
    const name = bundleName('inline-acp');
    const err = await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      targets: {
        authorizationServers: [
          {
            cloudentity: {
              url: 'https://127.0.0.1:1',
              tenant: 't',
              server: 's',
              credentialsSecret: {
                namespace: payments,
                name: 'db-credentials',
                clientIDKey: 'username',
                clientSecretKey: 'password',
              },
            },
          },
        ],
      },
    }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err).toMatch(/inline cloudentity targets were removed/);
  });

  test('naming an AuthorizationServer that does not exist sends nothing anywhere', async () => {
    const name = bundleName('no-such-server');
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      targets: { authorizationServers: [{ name: `no-such-server-${suffix}` }] },
    });
    const tb = await refusedAt(name, 'refused');
    expect(condition(tb, 'AuthorizationServersSynced')?.message).toMatch(/does not exist/);
    expect(listener.hits).toEqual([]);
  });

  test('a TrustBundle writer cannot claim an AuthorizationServer that does not list the bundle: not one request reaches it', async () => {
    // Just created by its administrator for the bundle `tpp-roots`, which does not exist yet.
    const server = await listenerServer('unclaimed', [`tpp-roots-${suffix}`]);
    const name = bundleName('claim');
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      targets: { authorizationServers: [{ name: server }] },
    });
    const tb = await refusedAt(name, 'NotAllowed');
    // The status is written after the push would have been made: the listener heard nothing.
    expect(listener.hits).toEqual([]);
    expect(condition(tb, 'AuthorizationServersSynced')).toMatchObject({
      status: 'False',
      reason: 'NotAllowed',
    });
    expect(tb.status?.targets?.authorizationServers?.[0]?.message).toBe(
      `AuthorizationServer ${server} does not allow TrustBundle ${name} (rule AllowedBundles: its administrator ` +
        'lists the bundles that may publish to it in spec.allowedBundles); nothing was sent to it',
    );
    const as = JSON.parse(await kubectl(['get', 'authorizationserver', server, '-o', 'json'])) as {
      status?: { publishedBy?: string; conditions?: { type: string; reason: string }[] };
    };
    expect(as.status?.publishedBy).toBeUndefined();
    expect(as.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('NoAllowedBundle');
  });

  test('the CRD refuses an AuthorizationServer without allowedBundles, with an empty list or with a wildcard', async () => {
    const cloudentity = {
      url: listener.url,
      tenant: 't',
      server: 's',
      credentialsSecret: { name: 'acp-admin' },
    };
    const refusal = (spec: object) =>
      declareAuthorizationServer(`boundary-refused-${suffix}`, spec as AuthorizationServerSpec).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    expect(await refusal({ cloudentity })).toMatch(/spec\.allowedBundles: Required value/);
    expect(await refusal({ allowedBundles: [], cloudentity })).toMatch(
      /spec\.allowedBundles.*should have at least 1 items/,
    );
    expect(await refusal({ allowedBundles: ['*'], cloudentity })).toMatch(
      /'\*' is not allowed: list by name each TrustBundle that may set this server's trusted client CAs/,
    );
  });

  test('control: an AuthorizationServer an administrator created does reach its URL, with trust-namespace credentials only', async () => {
    const name = bundleName('admin-server');
    const server = await listenerServer('listener', [name]);
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      targets: { authorizationServers: [{ name: server }] },
    });
    await waitFor(
      'the listener to be asked for a token',
      async (seen) => {
        seen((await getBundle(name))?.status?.targets?.authorizationServers);
        return listener.hits.length > 0;
      },
      { timeoutMs: 30_000 },
    );
    const basic = Buffer.from('operator-client:trust-ns-secret').toString('base64');
    expect(listener.hits.some((h) => h.includes(basic))).toBe(true);
    expect(listener.hits.join('\n')).not.toContain(
      Buffer.from('payments:S3cr3t-payments-db').toString('base64'),
    );
  });
});

describe("other teams' objects", () => {
  test('a pre-existing Secret without consent is byte-identical after the bundle is applied and deleted (deletionPolicy Delete)', async () => {
    await declareSecret(apim, 'tenant-ca', { 'ca.crt': ca2.pem, 'ca.crl': 'their CRL' });
    await kubectl(['label', '-n', apim, 'secret', 'tenant-ca', 'team=payments']);
    await kubectl(['annotate', '-n', apim, 'secret', 'tenant-ca', 'owner=payments-team']);
    const before = await snapshot(apim, 'secret', 'tenant-ca');
    const name = bundleName('takeover');
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      deletionPolicy: 'Delete',
      targets: { secrets: [{ namespace: apim, name: 'tenant-ca' }] },
    });
    const tb = await refusedAt(name, 'NotAdopted');
    expect(condition(tb, 'SecretsSynced')).toMatchObject({ status: 'False', reason: 'NotAdopted' });
    expect(condition(tb, 'SecretsSynced')?.message).toMatch(/mtls\.openbanking\.dev\/allow-bundles=/);
    await deleteBundle(name);
    await waitFor('the bundle to be gone', async () => (await getBundle(name)) === undefined);
    expect(await snapshot(apim, 'secret', 'tenant-ca')).toEqual(before);
  });

  test('with the allow-bundles annotation the Secret is adopted, and survives the bundle’s deletion with its keys', async () => {
    await declareSecret(apim, 'shared-ca', { 'ca.crt': ca2.pem, 'tls.crt': 'theirs' });
    const name = bundleName('adopt');
    await kubectl([
      'annotate',
      '-n',
      apim,
      'secret',
      'shared-ca',
      `mtls.openbanking.dev/allow-bundles=${name}`,
    ]);
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      deletionPolicy: 'Delete',
      targets: {
        secrets: [
          { namespace: apim, name: 'shared-ca' },
          { namespace: apim, name: 'made-here' },
        ],
      },
    });
    await waitForBundle(name, 'Synced', (b) => condition(b, 'SecretsSynced')?.status === 'True');
    const adopted = JSON.parse(await kubectl(['get', '-n', apim, 'secret', 'shared-ca', '-o', 'json'])) as {
      data: Record<string, string>;
    };
    expect(Buffer.from(adopted.data['ca.crt']!, 'base64').toString()).toContain(ca1.pem.split('\n')[1]);
    await deleteBundle(name);
    await waitFor('the bundle to be gone', async () => (await getBundle(name)) === undefined);
    const after = await snapshot(apim, 'secret', 'shared-ca');
    expect(Object.keys(after!.data as object).sort()).toEqual(['ca.crt', 'tls.crt']);
    // Control: the Secret the operator created for this bundle is deleted with it.
    expect(await snapshot(apim, 'secret', 'made-here')).toBeUndefined();
  });

  test('a target in a namespace outside --target-namespaces is refused before any request', async () => {
    const name = bundleName('outside');
    await applyBundle(name, {
      sources: [{ inline: ca1.pem }],
      targets: {
        secrets: [{ namespace: outside, name: 'x' }],
        configMaps: [{ namespace: outside, name: 'y' }],
      },
    });
    const tb = await refusedAt(name, 'NotAllowed');
    expect(condition(tb, 'SecretsSynced')).toMatchObject({ status: 'False', reason: 'NotAllowed' });
    expect(touching(outside)).toEqual([]);
  });
});

describe('reads the writer could not make', () => {
  test('a source outside the allowed namespaces is never read, and the status does not tell whether it exists', async () => {
    const name = bundleName('foreign-source');
    await applyBundle(name, {
      sources: [
        { secret: { namespace: payments, name: 'db-credentials', key: 'ca.crt' } },
        { secret: { namespace: payments, name: 'no-such-secret', key: 'ca.crt' } },
      ],
      targets: { secrets: [{ namespace: apim, name: 'foreign' }] },
    });
    const tb = await refusedAt(name, 'rejected');
    const messages = (tb.status?.problems ?? [])
      .filter((p) => p.code === 'SourceNotAllowed')
      .map((p) => p.message);
    expect(messages).toHaveLength(2);
    // The same words for the Secret that exists and the one that does not.
    expect(messages[0]!.replace('db-credentials', 'X')).toBe(messages[1]!.replace('no-such-secret', 'X'));
    expect(messages[0]).toMatch(/rule SourceNamespaces/);
    expect(await snapshot(apim, 'secret', 'foreign')).toBeUndefined();
  });

  test('a truststore password Secret outside the trust namespace is never read', async () => {
    const name = bundleName('password');
    await applyBundle(name, {
      sources: [{ secret: { namespace: sources, name: 'ca1', key: 'ca.crt' } }],
      targets: {
        secrets: [
          {
            namespace: apim,
            name: 'java-trust',
            truststore: { passwordSecret: { namespace: payments, name: 'db-credentials', key: 'password' } },
          },
        ],
      },
    });
    const tb = await refusedAt(name, 'refused');
    expect(condition(tb, 'SecretsSynced')?.message).toMatch(/must be in the trust namespace/);
  });

  test('across every test above, the operator never sent one request about the payments namespace', () => {
    expect(touching(payments)).toEqual([]);
    // And it did read the allowed namespaces (the proxy saw its traffic).
    expect(touching(sources).length).toBeGreaterThan(0);
  });
});

describe('workloads restart only with their consent', () => {
  test('a named workload without restart-on is NotAllowed and keeps its pod template; a selector picks only consenting ones', async () => {
    await applyWorkload('Deployment', ingress, 'no-consent', {
      replicas: 1,
      restartOn: null,
      labels: { tier: 'edge' },
    });
    await applyWorkload('Deployment', ingress, 'consents', { replicas: 1, labels: { tier: 'edge' } });
    await applyWorkload('Deployment', ingress, 'other-bundle', {
      replicas: 1,
      restartOn: 'someone-else',
      labels: { tier: 'edge' },
    });
    const generation = async (n: string) =>
      Number(await kubectl(['get', '-n', ingress, 'deployment', n, '-o', 'jsonpath={.metadata.generation}']));
    const before = await generation('no-consent');
    const name = bundleName('restart');
    const spec: TrustBundleSpec = {
      sources: [{ inline: ca1.pem }],
      targets: {
        rollouts: [
          { kind: 'Deployment', namespace: ingress, name: 'no-consent' },
          { kind: 'Deployment', namespace: ingress, selector: { matchLabels: { tier: 'edge' } } },
        ],
      },
    };
    await applyBundle(name, spec);
    const tb = await waitForBundle(name, 'rollouts judged', (b) =>
      (b.status?.targets?.rollouts ?? []).some((r) => r.name === 'consents' && r.state === 'Complete'),
    );
    const states = Object.fromEntries((tb.status!.targets!.rollouts ?? []).map((r) => [r.name, r.state]));
    expect(states).toEqual({ 'no-consent': 'NotAllowed', consents: 'Complete' });
    expect(await templateHash('Deployment', ingress, 'no-consent')).toBeUndefined();
    expect(await templateHash('Deployment', ingress, 'other-bundle')).toBeUndefined();
    expect(await templateHash('Deployment', ingress, 'consents')).toBe(tb.status!.bundleHash);
    expect(await generation('no-consent')).toBe(before);
    expect(condition(tb, 'RolloutsComplete')).toMatchObject({ status: 'False', reason: 'RestartNotAllowed' });
  });
});

test('the refusals are visible to kubectl users as Events', async () => {
  const out = await kubectl(['get', 'events', '-n', 'default', '-o', 'json']).catch(
    (e: KubectlError) => e.stderr,
  );
  expect(out).toMatch(/NotAdopted/);
  expect(out).toMatch(/NotAllowed/);
});

test('caches of namespaces no bundle names any more are released', async () => {
  const mark = requests.length;
  for (const b of bundles) await deleteBundle(b);
  await waitFor('the operator to release the namespace caches', () =>
    op.lines.some((l) => l.includes('released namespace caches no bundle uses')),
  );
  // Nothing is watched again for the released namespaces: no new watch request names them.
  await new Promise((r) => setTimeout(r, 1_500));
  const rewatched = requests
    .slice(mark)
    .filter(
      (r) =>
        r.path.includes('watch=true') &&
        [sources, apim, ingress].some((ns) => r.path.includes(`/namespaces/${ns}/`)),
    );
  expect(rewatched).toEqual([]);
});
