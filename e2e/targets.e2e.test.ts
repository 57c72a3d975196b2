// One TrustBundle, every kind of published target: a Secret with ca.crt and a PKCS#12
// truststore, a ConfigMap, a ClusterTrustBundle — converge, follow, restore, stay idle.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanupTestNamespaces,
  clients,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  bundleEvents,
  condition,
  crlsOf,
  deleteBundle,
  getBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
} from './support/trustbundles.ts';
import type { TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';
import { createCrl, loadAuthority } from '../operator/src/pki/index.ts';

jest.setTimeout(120_000);

const ssl = new OpenSSL();
const [ca1, ca2] = [
  ssl.cert({ subject: '/CN=Consumer CA1' }),
  ssl.cert({ subject: '/CN=Consumer CA2', key: 'rsa:2048' }),
];
let op: OperatorProcess;
let ns: string;
const name = `consumers-${uniqueSuffix()}`;
const ctb = `tb-consumers-${uniqueSuffix()}`;
const signed = `example.com:tpp:${uniqueSuffix()}`;
const tmp = mkdtempSync(join(tmpdir(), 'tb-targets-'));

beforeAll(async () => {
  await installCrds();
  ns = (await createTestNamespace('consumers')).name;
  await clients().core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'store-pass' }, stringData: { password: 'Trust-Store-1' } },
  });
  // The truststore password lives in the trust namespace; the signer is one the administrator allowed.
  op = await OperatorProcess.start({
    env: { RESYNC_SECONDS: '2', TRUST_NAMESPACE: ns, CLUSTER_TRUST_BUNDLE_SIGNERS: 'example.com/tpp' },
  });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await deleteBundle(name);
  await kubectl(['delete', 'clustertrustbundle', ctb, signed, '--ignore-not-found']);
  await cleanupTestNamespaces();
  ssl.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const spec = (...pems: string[]): TrustBundleSpec => ({
  sources: pems.map((inline) => ({ inline })),
  targets: {
    secrets: [
      {
        namespace: ns,
        name: 'java-trust',
        truststore: { passwordSecret: { namespace: ns, name: 'store-pass' } },
      },
    ],
    configMaps: [{ namespace: ns, name: 'gateway-ca' }],
    clusterTrustBundles: [{ name: ctb }, { name: signed, signerName: 'example.com/tpp' }],
  },
});

async function configMapPem(): Promise<string | undefined> {
  try {
    return (await clients().core.readNamespacedConfigMap({ namespace: ns, name: 'gateway-ca' })).data?.[
      'ca.crt'
    ];
  } catch {
    return undefined;
  }
}

async function ctbPem(n: string): Promise<string | undefined> {
  try {
    return JSON.parse(await kubectl(['get', 'clustertrustbundle', n, '-o', 'json'])).spec
      .trustBundle as string;
  } catch {
    return undefined;
  }
}

function keytoolList(p12b64: string, password: string): string {
  const file = join(tmp, `store-${uniqueSuffix()}.p12`);
  writeFileSync(file, Buffer.from(p12b64, 'base64'));
  return execFileSync('keytool', [
    '-list',
    '-v',
    '-storetype',
    'PKCS12',
    '-keystore',
    file,
    '-storepass',
    password,
  ]).toString();
}

async function allHold(subjects: string[]): Promise<void> {
  await waitFor(`every target to hold ${subjects.join(' + ')}`, async (seen) => {
    const got = {
      secret: subjectsOf((await readSecret(ns, 'java-trust'))?.data['ca.crt']),
      configMap: subjectsOf(await configMapPem()),
      ctb: subjectsOf(await ctbPem(ctb)),
      signed: subjectsOf(await ctbPem(signed)),
    };
    seen(got);
    return Object.values(got).every((s) => JSON.stringify(s) === JSON.stringify(subjects));
  });
}

test('one bundle publishes the same trust to a Secret (PEM + PKCS#12), a ConfigMap and ClusterTrustBundles', async () => {
  await applyBundle(name, spec(ca1.pem));
  await allHold(['CN=Consumer CA1']);
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  expect(tb.status!.targets!.configMaps![0]).toMatchObject({ name: 'gateway-ca', state: 'Synced' });
  expect(tb.status!.targets!.clusterTrustBundles!.map((c) => c.state)).toEqual(['Synced', 'Synced']);
  const secret = (await clients().core.readNamespacedSecret({ namespace: ns, name: 'java-trust' })).data!;
  const listing = keytoolList(secret['truststore.p12']!, 'Trust-Store-1');
  expect(listing).toMatch(/Your keystore contains 1 entry/);
  expect(listing).toMatch(/trustedCertEntry/);
  expect(listing).toMatch(/Owner: CN=Consumer CA1/);
});

test('every target follows a change, and a resync writes nothing', async () => {
  await applyBundle(name, spec(ca1.pem, ca2.pem));
  await allHold(['CN=Consumer CA1', 'CN=Consumer CA2']);
  await waitForBundle(
    name,
    'Ready',
    (b) => condition(b, 'Ready')?.status === 'True' && b.status?.certificateCount === 2,
  );
  const rvs = async () => ({
    secret: (await readSecret(ns, 'java-trust'))!.resourceVersion,
    configMap: (await clients().core.readNamespacedConfigMap({ namespace: ns, name: 'gateway-ca' })).metadata!
      .resourceVersion,
    ctb: JSON.parse(await kubectl(['get', 'clustertrustbundle', ctb, '-o', 'json'])).metadata.resourceVersion,
    bundle: (await getBundle(name))!.metadata.resourceVersion,
  });
  const before = await rvs();
  const secret = (await clients().core.readNamespacedSecret({ namespace: ns, name: 'java-trust' })).data!;
  expect(keytoolList(secret['truststore.p12']!, 'Trust-Store-1')).toMatch(/Your keystore contains 2 entries/);
  await new Promise((r) => setTimeout(r, 5_000)); // two resyncs
  expect(await rvs()).toEqual(before);
});

test('edited or deleted targets are restored', async () => {
  await kubectl([
    '-n',
    ns,
    'patch',
    'configmap',
    'gateway-ca',
    '--type=merge',
    '-p',
    JSON.stringify({ data: { 'ca.crt': ca1.pem } }),
  ]);
  await kubectl(['delete', 'clustertrustbundle', ctb]);
  await kubectl([
    '-n',
    ns,
    'patch',
    'secret',
    'java-trust',
    '--type=merge',
    '-p',
    JSON.stringify({ data: { 'truststore.p12': Buffer.from('garbage').toString('base64') } }),
  ]);
  await allHold(['CN=Consumer CA1', 'CN=Consumer CA2']);
  await waitFor('the truststore to be regenerated', async () => {
    const data = (await clients().core.readNamespacedSecret({ namespace: ns, name: 'java-trust' })).data!;
    try {
      return /contains 2 entries/.test(keytoolList(data['truststore.p12']!, 'Trust-Store-1'));
    } catch {
      return false;
    }
  });
});

test('a new truststore password regenerates the store', async () => {
  await clients().core.replaceNamespacedSecret({
    namespace: ns,
    name: 'store-pass',
    body: { metadata: { name: 'store-pass' }, stringData: { password: 'Rotated-Pass-2' } },
  });
  await waitFor('the store to open with the new password', async () => {
    const data = (await clients().core.readNamespacedSecret({ namespace: ns, name: 'java-trust' })).data!;
    try {
      return /contains 2 entries/.test(keytoolList(data['truststore.p12']!, 'Rotated-Pass-2'));
    } catch {
      return false;
    }
  });
});

test('CRLs: a Secret target gets ca.crl when every CA has a current one, and none otherwise', async () => {
  const { OpenSslCA } = await import('../operator/test/bundle/openssl-ca.ts');
  const one = new OpenSslCA(tmp, '/C=BR/O=Banco Um/CN=Banco Um CRL Root');
  const two = new OpenSslCA(tmp, '/C=BR/O=Banco Dois/CN=Banco Dois CRL Root');
  const revoked = one.issueClient('tpp-revoked');
  one.revoke(revoked);
  const crlName = `crl-${uniqueSuffix()}`;
  const secret = `${crlName}-ca`;
  const crlSpec = (...pems: string[]): TrustBundleSpec => ({
    sources: pems.map((inline) => ({ inline })),
    policy: { crl: 'PublishIfComplete' },
    targets: { secrets: [{ namespace: ns, name: secret }] },
  });
  // Both CAs, both with CRLs: ca.crl holds both, the status lists them.
  await applyBundle(crlName, crlSpec(one.pem, two.pem, one.crl().pem, two.crl().pem));
  try {
    const tb = await waitForBundle(
      crlName,
      'Ready with CRLs',
      (b) => condition(b, 'Ready')?.status === 'True' && (b.status?.crls?.length ?? 0) === 2,
    );
    expect(tb.status!.crls!.find((c) => c.issuer.includes('Banco Um'))!.revokedCount).toBe(1);
    const withCrl = await readSecret(ns, secret);
    expect(withCrl!.data['ca.crl']).toMatch(/BEGIN X509 CRL[\s\S]+BEGIN X509 CRL/);
    expect(withCrl!.annotations['mtls.openbanking.dev/bundle-hash']).toBe(tb.status!.bundleHash);
    // One CA loses its CRL: no partial ca.crl may stay behind (nginx would refuse that CA's TPPs).
    await applyBundle(crlName, crlSpec(one.pem, two.pem, one.crl().pem));
    await waitFor(
      'ca.crl to be removed',
      async () => (await readSecret(ns, secret))?.data['ca.crl'] === undefined,
    );
    // Before the Secret changes, the status says Publishing (Ready False) with the new problems:
    // the bundle is in force, with its warning, once Ready is True again.
    const after = await waitForBundle(
      crlName,
      'Ready with a MissingCRL warning',
      (b) =>
        condition(b, 'Ready')?.status === 'True' &&
        (b.status?.problems?.some((p) => p.code === 'MissingCRL') ?? false),
    );
    expect(condition(after, 'Ready')!.reason).toBe('Ready');
    expect((await readSecret(ns, secret))!.data['ca.crt']).toContain('BEGIN CERTIFICATE');

    // A ca.crl added by hand (by another field manager, which server-side apply alone would leave
    // in place) is removed: with it nginx would refuse every TPP of the CA it does not cover.
    const patchCrl = (crl: string | null) =>
      kubectl(['-n', ns, 'patch', 'secret', secret, '--type=merge', '-p', JSON.stringify({ data: { 'ca.crl': crl } })]); // prettier-ignore
    await patchCrl(Buffer.from(one.crl().pem).toString('base64'));
    await waitFor(
      'the hand-added ca.crl to be removed',
      async () => (await readSecret(ns, secret))?.data['ca.crl'] === undefined,
    );
    expect(subjectsOf((await readSecret(ns, secret))!.data['ca.crt'])).toHaveLength(2);

    // With both CRLs again, a ca.crl deleted or edited by hand is restored.
    await applyBundle(crlName, crlSpec(one.pem, two.pem, one.crl().pem, two.crl().pem));
    const published = await waitFor('ca.crl to be published again', async () => {
      const data = (await readSecret(ns, secret))?.data['ca.crl'];
      return data && /BEGIN X509 CRL[\s\S]+BEGIN X509 CRL/.test(data) && data;
    });
    await patchCrl(null);
    await waitFor(
      'the deleted ca.crl to be restored',
      async () => (await readSecret(ns, secret))?.data['ca.crl'] === published,
    );
    await patchCrl(Buffer.from(one.crl().pem).toString('base64'));
    await waitFor(
      'the edited ca.crl to be restored',
      async () => (await readSecret(ns, secret))?.data['ca.crl'] === published,
    );
    const reasons = (await bundleEvents(crlName)).map((e) => e.reason);
    expect(reasons).toContain('DriftCorrected');
  } finally {
    await deleteBundle(crlName);
  }
});

test('one bundle with CRLs: the Secret holds ca.crt, ca.crl and truststore.p12, the ConfigMap and ClusterTrustBundle the same CAs; resyncs write nothing', async () => {
  const { OpenSslCA } = await import('../operator/test/bundle/openssl-ca.ts');
  const one = new OpenSslCA(tmp, '/C=BR/O=Banco Um/CN=Banco Um All Targets Root');
  const two = new OpenSslCA(tmp, '/C=BR/O=Banco Dois/CN=Banco Dois All Targets Root');
  one.revoke(one.issueClient('tpp-revoked'));
  const all = `all-${uniqueSuffix()}`;
  const allCtb = `tb-${all}`;
  await applyBundle(all, {
    sources: [one.pem, two.pem, one.crl().pem, two.crl().pem].map((inline) => ({ inline })),
    targets: {
      secrets: [{ namespace: ns, name: `${all}-ingress`, truststore: {} }],
      configMaps: [{ namespace: ns, name: `${all}-gateway` }],
      clusterTrustBundles: [{ name: allCtb }],
    },
  });
  try {
    await waitForBundle(
      all,
      'Ready with CRLs',
      (b) => condition(b, 'Ready')?.status === 'True' && (b.status?.crls?.length ?? 0) === 2,
    );
    const cas = [
      'C=BR, O=Banco Dois, CN=Banco Dois All Targets Root',
      'C=BR, O=Banco Um, CN=Banco Um All Targets Root',
    ];
    const secret = (await readSecret(ns, `${all}-ingress`))!;
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crl', 'ca.crt', 'truststore.p12']);
    expect(subjectsOf(secret.data['ca.crt'])).toEqual(cas);
    expect(crlsOf(secret.data['ca.crl']).map((c) => c.revokedSerials.length)).toEqual([0, 1]);
    const p12 = (await clients().core.readNamespacedSecret({ namespace: ns, name: `${all}-ingress` })).data!;
    expect(keytoolList(p12['truststore.p12']!, 'changeit')).toMatch(/Your keystore contains 2 entries/);
    const configMap = await clients().core.readNamespacedConfigMap({ namespace: ns, name: `${all}-gateway` });
    expect(Object.keys(configMap.data!)).toEqual(['ca.crt']);
    expect(subjectsOf(configMap.data!['ca.crt'])).toEqual(cas);
    expect(subjectsOf(await ctbPem(allCtb))).toEqual(cas);

    const rvs = async () => ({
      secret: (await readSecret(ns, `${all}-ingress`))!.resourceVersion,
      configMap: (await clients().core.readNamespacedConfigMap({ namespace: ns, name: `${all}-gateway` }))
        .metadata!.resourceVersion,
      ctb: JSON.parse(await kubectl(['get', 'clustertrustbundle', allCtb, '-o', 'json'])).metadata
        .resourceVersion,
      bundle: (await getBundle(all))!.metadata.resourceVersion,
    });
    const before = await rvs();
    await new Promise((r) => setTimeout(r, 5_000)); // two resyncs
    expect(await rvs()).toEqual(before);
  } finally {
    await deleteBundle(all);
    await kubectl(['delete', 'clustertrustbundle', allCtb, '--ignore-not-found']);
  }
});

test('a CRL in force that lapses: PublishIfComplete withdraws ca.crl and stays so until a fresh CRL comes; RequireForAll keeps it, refused', async () => {
  const { OpenSslCA } = await import('../operator/test/bundle/openssl-ca.ts');
  const one = new OpenSslCA(tmp, '/C=BR/O=Banco Um/CN=Banco Um Lapse Root');
  const two = new OpenSslCA(tmp, '/C=BR/O=Banco Dois/CN=Banco Dois Lapse Root');
  const lenient = `lapse-${uniqueSuffix()}`;
  const strict = `lapse-strict-${uniqueSuffix()}`;
  const spec = (
    crl: 'PublishIfComplete' | 'RequireForAll',
    secret: string,
    ...pems: string[]
  ): TrustBundleSpec => ({
    sources: pems.map((inline) => ({ inline })),
    policy: { crl },
    targets: { secrets: [{ namespace: ns, name: secret }] },
  });
  // Banco Um's CRL is current for 20 s; nginx with it would then refuse every TPP of Banco Um
  // ("CRL has expired", e2e/crl.e2e.test.ts).
  const shortLived = one.crl({ seconds: 20 });
  const twoCrl = two.crl().pem;
  // Banco Dois's CRL of yesterday, its nextUpdate an hour ago.
  const staleTwo = createCrl(loadAuthority(two.pem, readFileSync(join(two.dir, 'ca.key'))), {
    thisUpdate: new Date(Date.now() - 24 * 3_600_000),
    nextUpdate: new Date(Date.now() - 3_600_000),
  }).pem;
  const oneCrl = one.crl().pem;
  const fresh = `lapse-fresh-${uniqueSuffix()}`;
  const crlOf = async (secret: string) => (await readSecret(ns, secret))?.data['ca.crl'];
  await applyBundle(
    lenient,
    spec('PublishIfComplete', `${lenient}-ca`, one.pem, two.pem, shortLived.pem, twoCrl),
  );
  await applyBundle(strict, spec('RequireForAll', `${strict}-ca`, one.pem, two.pem, shortLived.pem, twoCrl));
  await applyBundle(fresh, spec('PublishIfComplete', `${fresh}-ca`, one.pem, two.pem, oneCrl, twoCrl));
  try {
    const inForce = await waitFor('both bundles to publish ca.crl', async () => {
      const [a, b] = [await crlOf(`${lenient}-ca`), await crlOf(`${strict}-ca`)];
      return a && b && crlsOf(a).length === 2 && crlsOf(b).length === 2 && b;
    });

    // Meanwhile, on a bundle whose CRLs are current for days: a stale CRL arriving is refused,
    // and the last good state (its ca.crl) stays.
    const freshCrl = await waitFor('the fresh bundle to publish ca.crl', () => crlOf(`${fresh}-ca`));
    await applyBundle(
      fresh,
      spec('PublishIfComplete', `${fresh}-ca`, one.pem, two.pem, oneCrl, twoCrl, staleTwo),
    );
    await waitForBundle(
      fresh,
      'SourcesValid=False (StaleCRL)',
      (b) => condition(b, 'SourcesValid')?.reason === 'StaleCRL',
    );
    expect(await crlOf(`${fresh}-ca`)).toBe(freshCrl);

    await waitFor(
      'ca.crl to be withdrawn once the CRL in force lapsed',
      async () => !(await crlOf(`${lenient}-ca`)),
      {
        timeoutMs: 45_000,
      },
    );
    const tb = await waitForBundle(
      lenient,
      'Ready, with StaleCRL and MissingCRL warnings',
      (b) =>
        condition(b, 'Ready')?.status === 'True' &&
        (b.status?.problems ?? []).some((p) => p.code === 'StaleCRL' && p.severity === 'warning'),
    );
    expect(tb.status!.problems!.filter((p) => p.severity === 'error')).toEqual([]);
    expect(tb.status!.crls ?? []).toEqual([]);
    expect((await bundleEvents(lenient)).map((e) => e.reason)).toContain('CRLLapsed');
    expect(subjectsOf((await readSecret(ns, `${lenient}-ca`))!.data['ca.crt'])).toHaveLength(2);

    // RequireForAll chose to fail closed: the bundle is refused and the ca.crl in force stays.
    const refused = await waitForBundle(
      strict,
      'SourcesValid=False (StaleCRL)',
      (b) =>
        condition(b, 'SourcesValid')?.status === 'False' &&
        condition(b, 'SourcesValid')?.reason === 'StaleCRL',
    );
    expect(refused.status!.crls).toHaveLength(2);
    expect(await crlOf(`${strict}-ca`)).toBe(inForce);

    // The lapsed state holds across resyncs: no write, still Ready.
    const rv = (await readSecret(ns, `${lenient}-ca`))!.resourceVersion;
    await new Promise((r) => setTimeout(r, 5_000)); // two resyncs
    expect((await readSecret(ns, `${lenient}-ca`))!.resourceVersion).toBe(rv);
    expect(condition((await getBundle(lenient))!, 'Ready')?.status).toBe('True');

    // A fresh CRL of Banco Um brings ca.crl back.
    await applyBundle(
      lenient,
      spec('PublishIfComplete', `${lenient}-ca`, one.pem, two.pem, one.crl().pem, twoCrl),
    );
    await waitFor(
      'ca.crl to be published again',
      async () => crlsOf(await crlOf(`${lenient}-ca`)).length === 2,
    );
  } finally {
    await deleteBundle(lenient);
    await deleteBundle(strict);
    await deleteBundle(fresh);
  }
});
