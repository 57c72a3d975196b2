// The TrustBundle controller against the real kube-apiserver: publish, follow, refuse, restore.
import { jest } from '@jest/globals';
import {
  clients,
  createTestNamespace,
  cleanupTestNamespaces,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { OpenSSL, type TestCert } from '../operator/test/support/openssl.ts';
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

jest.setTimeout(120_000);

const ssl = new OpenSSL();
const DAY = 86_400_000;
const expired = (cn: string) =>
  ssl.datedCert({
    subject: cn,
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
let ca1: TestCert, ca2: TestCert, ca3: TestCert;
let op: OperatorProcess;
let pki: string, apim: string;
const bundles: string[] = [];
const newName = (p: string) => {
  const n = `${p}-${uniqueSuffix()}`;
  bundles.push(n);
  return n;
};

beforeAll(async () => {
  ca1 = ssl.cert({ subject: '/C=BR/O=Bank/CN=CA1' });
  ca2 = ssl.cert({ subject: '/C=BR/O=Bank/CN=CA2', key: 'rsa:2048' });
  ca3 = ssl.cert({ subject: '/C=BR/O=Bank/CN=CA3', key: 'ed25519' });
  await installCrds();
  pki = (await createTestNamespace('pki')).name;
  apim = (await createTestNamespace('open-banking-apim')).name;
  op = await OperatorProcess.start({ env: { RESYNC_SECONDS: '2' } });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await Promise.all(bundles.map(deleteBundle));
  await cleanupTestNamespaces();
  ssl.cleanup();
});

async function putSecret(namespace: string, name: string, data: Record<string, string>, type = 'Opaque') {
  const body = { metadata: { name, namespace }, type, stringData: data };
  try {
    await clients().core.replaceNamespacedSecret({ namespace, name, body });
  } catch {
    await clients().core.createNamespacedSecret({ namespace, body });
  }
}

async function putConfigMap(namespace: string, name: string, data: Record<string, string>) {
  const body = { metadata: { name, namespace }, data };
  try {
    await clients().core.replaceNamespacedConfigMap({ namespace, name, body });
  } catch {
    await clients().core.createNamespacedConfigMap({ namespace, body });
  }
}

const target = (name: string) => ({ secrets: [{ namespace: apim, name, key: 'ca.crt' }] });
const waitForTarget = (name: string, subjects: string[]) =>
  waitFor(`Secret ${apim}/${name} to hold ${subjects.join(' + ')}`, async (seen) => {
    const s = await readSecret(apim, name);
    const got = subjectsOf(s?.data['ca.crt']);
    seen(got);
    return JSON.stringify(got) === JSON.stringify(subjects) && s;
  });

test('a TrustBundle with the two runbook CAs publishes apitraffic-mtls-rootca and is Ready', async () => {
  await putSecret(pki, 'ca2', { 'ca.crt': ca2.pem });
  const name = newName('runbook');
  await applyBundle(name, {
    sources: [{ inline: ca1.pem }, { secret: { namespace: pki, name: 'ca2', key: 'ca.crt' } }],
    targets: target('apitraffic-mtls-rootca'),
  });
  const secret = await waitForTarget('apitraffic-mtls-rootca', [
    'C=BR, O=Bank, CN=CA1',
    'C=BR, O=Bank, CN=CA2',
  ]);
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  expect(secret.labels['mtls.openbanking.dev/bundle']).toBe(name);
  expect(secret.annotations['mtls.openbanking.dev/bundle-hash']).toBe(tb.status!.bundleHash);
  expect(tb.status!.certificateCount).toBe(2);
  expect(tb.status!.certificates!.map((c) => c.sources)).toEqual([
    ['inline[0]'],
    [`secret ${pki}/ca2 key ca.crt`],
  ]);
  // kubectl's own view: wait works, and the printer columns show it.
  await kubectl(['wait', '--for=condition=Ready', `tb/${name}`, '--timeout=10s']);
  const row = await kubectl(['get', 'tb', name, '--no-headers']);
  expect(row).toMatch(new RegExp(`^${name}\\s+True\\s+2\\s+${tb.status!.shortHash}\\s`));
});

test('the target follows added, changed and removed sources of every kind', async () => {
  const name = newName('follow');
  const t = `follow-${uniqueSuffix()}`;
  await putConfigMap(pki, 'cm-cas', { 'bundle.pem': ca3.pem });
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets: target(t) });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);

  await applyBundle(name, {
    sources: [{ inline: ca1.pem }, { configMap: { namespace: pki, name: 'cm-cas', key: 'bundle.pem' } }],
    targets: target(t),
  });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1', 'C=BR, O=Bank, CN=CA3']);

  // A source object changing (not the bundle) is followed through the watch.
  await putSecret(pki, 'follow-src', { 'ca.crt': ca1.pem });
  await applyBundle(name, {
    sources: [
      { secret: { namespace: pki, name: 'follow-src' } },
      { configMap: { namespace: pki, name: 'cm-cas', key: 'bundle.pem' } },
    ],
    targets: target(t),
  });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1', 'C=BR, O=Bank, CN=CA3']);
  const t0 = Date.now();
  await putSecret(pki, 'follow-src', { 'ca.crt': ca2.pem });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA2', 'C=BR, O=Bank, CN=CA3']);
  console.log(`source Secret change → target Secret updated in ${Date.now() - t0} ms (polling at 200 ms)`);

  await applyBundle(name, {
    sources: [{ secret: { namespace: pki, name: 'follow-src' } }],
    targets: target(t),
  });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA2']);
});

describe('bad input changes no target', () => {
  let name: string;
  let t: string;
  let before: Awaited<ReturnType<typeof readSecret>>;

  beforeAll(async () => {
    name = newName('guard');
    t = `guard-${uniqueSuffix()}`;
    await applyBundle(name, { sources: [{ inline: ca1.pem }, { inline: ca2.pem }], targets: target(t) });
    before = await waitForTarget(t, ['C=BR, O=Bank, CN=CA1', 'C=BR, O=Bank, CN=CA2']);
    await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  });

  const cases: [string, () => Parameters<typeof applyBundle>[1]['sources'], string, RegExp][] = [
    [
      'a corrupted certificate',
      () => [{ inline: ca1.pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!') }],
      'InvalidBase64',
      /inline\[0\], block 1/,
    ],
    [
      'a private key pasted in',
      () => [{ inline: ca1.pem + ssl.key('ec:P-256') }],
      'PrivateKey',
      /inline\[0\]: contains a private key/,
    ],
    [
      'a non-CA leaf',
      () => [{ inline: ca1.pem }, { inline: ssl.cert({ ca: false, subject: '/CN=tpp1.example.com' }).pem }],
      'NotCA',
      /CN=tpp1.example.com.*SHA-256/,
    ],
    [
      'an expired CA under Reject',
      () => [{ inline: ca1.pem }, { inline: expired('Old CA').pem }],
      'Expired',
      /Old CA/,
    ],
    [
      'a missing non-optional source',
      () => [{ inline: ca1.pem }, { secret: { namespace: pki, name: 'does-not-exist' } }],
      'SourceMissing',
      /does-not-exist does not exist/,
    ],
  ];

  test.each(cases)(
    '%s: condition says why; data and resourceVersion unchanged',
    async (_what, sources, reason, message) => {
      await applyBundle(name, { sources: sources(), policy: { expired: 'Reject' }, targets: target(t) });
      const tb = await waitForBundle(
        name,
        `rejected with ${reason}`,
        (b) => condition(b, 'SourcesValid')?.reason === reason,
      );
      expect(condition(tb, 'Ready')).toMatchObject({ status: 'False', reason: 'SourcesInvalid' });
      expect(condition(tb, 'SourcesValid')!.message).toMatch(message);
      expect(condition(tb, 'SourcesValid')!.message).not.toMatch(/PRIVATE KEY|MIG|MII/);
      expect(tb.status!.bundleHash).toBe(before!.annotations['mtls.openbanking.dev/bundle-hash']);
      const after = await readSecret(apim, t);
      expect(after).toEqual(before);
    },
  );

  test('an empty result (every CA dropped as expired) is refused', async () => {
    await applyBundle(name, {
      sources: [{ inline: expired('Gone CA').pem }],
      targets: target(t),
    });
    const tb = await waitForBundle(
      name,
      'rejected as empty',
      (b) => condition(b, 'SourcesValid')?.reason === 'Empty',
    );
    expect(condition(tb, 'SourcesValid')!.message).toMatch(/lock every client out/);
    expect(await readSecret(apim, t)).toEqual(before);
  });

  test('a missing optional source is fine', async () => {
    await applyBundle(name, {
      sources: [
        { inline: ca1.pem },
        { inline: ca2.pem },
        { configMap: { namespace: pki, name: 'absent', optional: true } },
      ],
      targets: target(t),
    });
    await waitForBundle(name, 'Ready again', (b) => condition(b, 'Ready')?.status === 'True');
    expect(await readSecret(apim, t)).toEqual(before);
  });
});

/** Reconciles the running operator has finished, whatever their result (its /metrics). */
async function reconciles(): Promise<number> {
  const text = await op.metrics();
  return [...text.matchAll(/^trustbundle_reconciles_total\{result="\w+"\} (\S+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

/**
 * Waits until the running operator has reconciled every TrustBundle `resyncs` times over: the
 * bundles are idle, so only resyncs (every 2 s) make it get there. The proof that they ran.
 */
async function resyncsRan(resyncs: number): Promise<void> {
  const from = await reconciles();
  const live = (await kubectl(['get', 'trustbundles', '-o', 'name'])).trim().split('\n').length;
  await waitFor(`${resyncs} resyncs of ${live} TrustBundles`, async (seen) => {
    const ran = (await reconciles()) - from;
    seen(`${ran} reconciles`);
    return ran >= resyncs * live;
  });
}

test('idle resyncs write nothing: target and status resourceVersions stay put', async () => {
  const name = newName('idle');
  const t = `idle-${uniqueSuffix()}`;
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets: target(t) });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  const secret = await readSecret(apim, t);
  // Proof that resyncs ran (each reconciles every bundle), not only that time passed.
  await resyncsRan(3);
  expect((await readSecret(apim, t))!.resourceVersion).toBe(secret!.resourceVersion);
  expect((await getBundle(name))!.metadata.resourceVersion).toBe(tb.metadata.resourceVersion);
});

test('drift is corrected: a hand edit and a deletion of the target are put back', async () => {
  const name = newName('drift');
  const t = `drift-${uniqueSuffix()}`;
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets: target(t) });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  // As `helm upgrade` re-rendering the chart's value would.
  await kubectl([
    '-n',
    apim,
    'patch',
    'secret',
    t,
    '--type=merge',
    '-p',
    JSON.stringify({ stringData: { 'ca.crt': ca2.pem } }),
  ]);
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  await kubectl(['-n', apim, 'delete', 'secret', t]);
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  expect((await bundleEvents(name)).map((e) => e.reason)).toContainEqual(
    expect.stringMatching(/DriftCorrected/),
  );
});

test('two bundles writing one Secret: the second is refused and nothing flaps', async () => {
  const first = newName('owner');
  const second = newName('intruder');
  const t = `shared-${uniqueSuffix()}`;
  await applyBundle(first, { sources: [{ inline: ca1.pem }], targets: target(t) });
  const owned = await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  await applyBundle(second, { sources: [{ inline: ca2.pem }], targets: target(t) });
  const tb = await waitForBundle(
    second,
    'refused',
    (b) => condition(b, 'SecretsSynced')?.reason === 'TargetConflict',
  );
  expect(condition(tb, 'SecretsSynced')!.message).toContain(`already published by TrustBundle ${first}`);
  await new Promise((r) => setTimeout(r, 2_500));
  expect((await readSecret(apim, t))!.resourceVersion).toBe(owned.resourceVersion);
  // Once the owner is gone, the other bundle may take the Secret over.
  await deleteBundle(first);
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA2']);
});

test('deleting a TrustBundle leaves its target in place', async () => {
  const name = newName('retain');
  const t = `retain-${uniqueSuffix()}`;
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets: target(t) });
  const s = await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  await kubectl(['delete', 'tb', name, '--wait=true']);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await readSecret(apim, t)).toEqual(s);
});

test('metrics count what happened, and the logs never carry key material', async () => {
  const text = await op.metrics();
  const value = (series: string) =>
    Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
  expect(value('trustbundle_reconciles_total{result="success"}')).toBeGreaterThan(0);
  expect(value('trustbundle_reconciles_total{result="rejected"}')).toBeGreaterThan(0);
  expect(value(`trustbundle_bundle_certificates{bundle="${bundles[0]}"}`)).toBe(2);
  expect(value('trustbundle_target_writes_total{kind="Secret"}')).toBeGreaterThan(0);
  expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  const logs = op.lines.join('\n');
  expect(logs).toMatch(/bundle rejected/);
  expect(logs).not.toMatch(/PRIVATE KEY/);
  const keyBody = ssl.key('ec:P-256').split('\n')[1]!;
  expect(logs).not.toContain(keyBody.slice(0, 20));
});

test('deletionPolicy Delete removes the published Secret with the bundle, and only its own', async () => {
  const name = newName('cleanup');
  const t = `cleanup-${uniqueSuffix()}`;
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets: target(t), deletionPolicy: 'Delete' });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1']);
  await waitFor('the cleanup finalizer', async () =>
    (await getBundle(name))?.metadata.finalizers?.includes('mtls.openbanking.dev/cleanup'),
  );
  await kubectl(['delete', 'tb', name, '--wait=true', '--timeout=30s']);
  expect(await getBundle(name)).toBeUndefined();
  expect(await readSecret(apim, t)).toBeUndefined();
  // Switching back to Retain drops the finalizer.
  const kept = newName('keep');
  await applyBundle(kept, {
    sources: [{ inline: ca1.pem }],
    targets: target(`${t}-kept`),
    deletionPolicy: 'Delete',
  });
  await waitFor('finalizer set', async () => (await getBundle(kept))?.metadata.finalizers?.length === 1);
  await applyBundle(kept, {
    sources: [{ inline: ca1.pem }],
    targets: target(`${t}-kept`),
    deletionPolicy: 'Retain',
  });
  await waitFor('finalizer dropped', async () => !(await getBundle(kept))?.metadata.finalizers?.length);
});

test('across a SIGKILL restart nothing is written again: target and status resourceVersions stay put', async () => {
  const name = newName('restart');
  const t = `restart-${uniqueSuffix()}`;
  await applyBundle(name, { sources: [{ inline: ca1.pem }, { inline: ca2.pem }], targets: target(t) });
  await waitForTarget(t, ['C=BR, O=Bank, CN=CA1', 'C=BR, O=Bank, CN=CA2']);
  const tb = await waitForBundle(name, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  const secret = await readSecret(apim, t);
  await op.kill('SIGKILL');
  // A fresh process: no memory of what it wrote, only what the API server shows.
  op = await OperatorProcess.start({ env: { RESYNC_SECONDS: '2' } });
  await resyncsRan(3);
  expect((await readSecret(apim, t))!.resourceVersion).toBe(secret!.resourceVersion);
  expect((await getBundle(name))!.metadata.resourceVersion).toBe(tb.metadata.resourceVersion);
});
