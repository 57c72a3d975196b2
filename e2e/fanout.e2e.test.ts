// Trust where the workloads are: a bundle with a namespaceSelector reaches every namespace it
// matches inside --target-namespaces and follows namespaces as they come, go and change labels;
// label-selected sources follow the Secrets that carry the label. Resyncs and restarts write nothing.
import { jest } from '@jest/globals';
import { clients, isNotFound, kubectl, uniqueSuffix, waitFor } from './harness/kube.ts';
import { OpenSSL, type TestCert } from '../operator/test/support/openssl.ts';
import { declareSecret, RecordingProxy, type ProxyRecord } from './support/faults.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  condition,
  deleteBundle,
  getBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
} from './support/trustbundles.ts';
import type { ObjectTargetStatus, TrustBundle } from '../operator/src/api/v1alpha1.ts';

jest.setTimeout(240_000);

const ssl = new OpenSSL();
const [ca1, ca2, ca3] = ['Fanout CA1', 'Fanout CA2', 'Fanout CA3'].map((cn) =>
  ssl.cert({ subject: `/CN=${cn}` }),
) as [TestCert, TestCert, TestCert];
const suffix = uniqueSuffix();
const ns = (what: string): string => `fan-${suffix}-${what}`;
/** The label that selects namespaces in this run (other suites' namespaces never carry it). */
const TEAM = 'e2e.trustbundle.dev/fanout-team';
const TPP = 'e2e.trustbundle.dev/fanout-tpp';
const trust = ns('trust');
const cas = ns('cas');
// --target-namespaces lists every namespace below but `outside`, which is labelled all the same.
const [a1, a2, b, created, consent, fixed] = ['a1', 'a2', 'b', 'new', 'own', 'fixed'].map(ns) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const outside = ns('outside');
const all = [trust, cas, a1, a2, b, created, consent, fixed, outside];
const fanned = `fanout-${suffix}`;
const selected = `selected-${suffix}`;
let op: OperatorProcess;
let proxy: RecordingProxy;
/** Every request the operator sends, through a recording proxy. */
const requests: ProxyRecord[] = [];

/**
 * (Re)starts the operator. Event-driven behaviour is tested with the default resync (600 s), so
 * that no periodic pass can stand in for a missed event.
 */
async function startOperator(resyncSeconds: number): Promise<void> {
  await op?.kill('SIGTERM');
  op = await OperatorProcess.start({
    env: {
      KUBECONFIG: proxy.kubeconfigPath,
      TRUST_NAMESPACE: trust,
      SOURCE_NAMESPACES: cas,
      TARGET_NAMESPACES: [a1, a2, b, created, consent, fixed].join(','),
      RESYNC_SECONDS: String(resyncSeconds),
    },
  });
}

/** Writes the operator sent since `from` (its Events and its leader Lease aside): `METHOD path`. */
const writes = (from: number): string[] =>
  requests
    .slice(from)
    .filter((r) => r.method !== 'GET' && !/\/(events|leases)(\/|\?|$)/.test(r.path))
    .map((r) => `${r.method} ${r.path}`);

async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await clients().core.createNamespace({
    body: { metadata: { name, labels: { 'e2e.trustbundle.dev/test': 'fanout', ...labels } } },
  });
}

async function label(name: string, value: string | null): Promise<void> {
  await kubectl([
    'label',
    'namespace',
    name,
    value === null ? `${TEAM}-` : `${TEAM}=${value}`,
    '--overwrite',
  ]);
}

async function metric(series: string): Promise<number> {
  const text = await op.metrics();
  const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

const summary = (tb: TrustBundle): ObjectTargetStatus | undefined =>
  tb.status?.targets?.secrets?.find((s) => s.namespaceSelector !== undefined);

/** resourceVersion of the target in each namespace ('' when absent). */
async function versions(namespaces: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of namespaces) {
    try {
      out[n] =
        (await clients().core.readNamespacedSecret({ namespace: n, name: 'fan-ca' })).metadata
          ?.resourceVersion ?? '';
    } catch (err) {
      if (!isNotFound(err)) throw err;
      out[n] = '';
    }
  }
  return out;
}

const holds = async (n: string, subjects: string[]): Promise<boolean> => {
  const s = await readSecret(n, 'fan-ca');
  return !!s && JSON.stringify(subjectsOf(s.data['ca.crt']).sort()) === JSON.stringify(subjects);
};

beforeAll(async () => {
  await installCrds();
  await createNamespace(trust);
  await createNamespace(cas);
  for (const n of [a1, a2, outside]) await createNamespace(n, { [TEAM]: suffix });
  for (const n of [b, fixed]) await createNamespace(n);
  // A Secret of the same name that its owner made, in a namespace about to match: no consent.
  await createNamespace(consent);
  await declareSecret(consent, 'fan-ca', { 'ca.crt': ca3.pem });
  proxy = await RecordingProxy.start('fanout', requests, true);
  await startOperator(600);
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await proxy?.stop();
  for (const name of [fanned, selected]) await deleteBundle(name);
  for (const n of all) await kubectl(['delete', 'namespace', n, '--ignore-not-found', '--wait=false']);
  ssl.cleanup();
});

describe('namespace-selected targets', () => {
  test('the Secret reaches every matching namespace inside --target-namespaces, and no other', async () => {
    await applyBundle(fanned, {
      sources: [{ inline: ca1.pem }],
      deletionPolicy: 'Delete',
      targets: { secrets: [{ namespaceSelector: { matchLabels: { [TEAM]: suffix } }, name: 'fan-ca' }] },
    });
    const tb = await waitForBundle(fanned, 'Ready', (t) => condition(t, 'Ready')?.status === 'True');
    expect(summary(tb)).toMatchObject({ matched: 2, synced: 2, failed: 0, notAllowed: 1, state: 'Synced' });
    expect(condition(tb, 'SecretsSynced')?.message).toMatch(/^2 Secrets hold bundle/);
    expect(await holds(a1, ['CN=Fanout CA1'])).toBe(true);
    expect(await holds(a2, ['CN=Fanout CA1'])).toBe(true);
    // Labelled, but outside --target-namespaces: never written.
    expect(await readSecret(outside, 'fan-ca')).toBeUndefined();
    expect(await readSecret(b, 'fan-ca')).toBeUndefined();
  });

  test('a namespace relabelled to match gets the Secret; one that stops matching loses it (Delete)', async () => {
    await label(b, suffix);
    await waitFor('the Secret in the relabelled namespace', () => holds(b, ['CN=Fanout CA1']), {
      timeoutMs: 15_000,
    });
    await label(a2, null);
    await waitFor(
      'the Secret gone from the namespace that stopped matching',
      async () => !(await readSecret(a2, 'fan-ca')),
      {
        timeoutMs: 15_000,
      },
    );
    const tb = await waitForBundle(
      fanned,
      'two namespaces',
      (t) => summary(t)?.matched === 2 && summary(t)?.synced === 2,
    );
    expect(condition(tb, 'Ready')?.status).toBe('True');
  });

  test('a namespace created with the label gets it; a deleted one leaves the summary', async () => {
    await createNamespace(created, { [TEAM]: suffix });
    await waitFor('the Secret in the new namespace', () => holds(created, ['CN=Fanout CA1']), {
      timeoutMs: 15_000,
    });
    await kubectl(['delete', 'namespace', a1, '--wait=false']);
    const tb = await waitForBundle(
      fanned,
      'b and the new namespace',
      (t) => summary(t)?.matched === 2 && summary(t)?.synced === 2,
      {
        timeoutMs: 30_000,
      },
    );
    expect(condition(tb, 'Ready')?.status).toBe('True');
  });

  test('an existing Secret whose owner did not consent is left alone, and named in the summary', async () => {
    const before = await readSecret(consent, 'fan-ca');
    await label(consent, suffix);
    const tb = await waitForBundle(fanned, 'one failure', (t) => summary(t)?.failed === 1);
    expect(summary(tb)?.failures?.[0]).toMatchObject({ namespace: consent });
    expect(summary(tb)?.failures?.[0]?.message).toMatch(/was not created by the operator/);
    expect(condition(tb, 'SecretsSynced')).toMatchObject({ status: 'False', reason: 'NotAdopted' });
    expect((await readSecret(consent, 'fan-ca'))?.resourceVersion).toBe(before?.resourceVersion);
    await label(consent, null);
    await waitForBundle(fanned, 'Ready again', (t) => condition(t, 'Ready')?.status === 'True');
  });

  test('a CA change reaches every namespace; resyncs every 2 s and a restart write nothing', async () => {
    await applyBundle(fanned, {
      sources: [{ inline: ca1.pem }, { inline: ca2.pem }],
      deletionPolicy: 'Delete',
      targets: { secrets: [{ namespaceSelector: { matchLabels: { [TEAM]: suffix } }, name: 'fan-ca' }] },
    });
    await waitForBundle(
      fanned,
      'two CAs everywhere',
      (t) => condition(t, 'Ready')?.status === 'True' && t.status?.certificateCount === 2,
    );
    for (const n of [b, created]) expect(await holds(n, ['CN=Fanout CA1', 'CN=Fanout CA2'])).toBe(true);
    const targets = await versions([b, created]);
    const bundleVersion = (await getBundle(fanned))!.metadata.resourceVersion;
    // A restart over targets in force, then resyncs every 2 s: they read, and write nothing.
    const from = requests.length;
    await startOperator(2);
    const reconciles = await metric('trustbundle_reconciles_total{result="success"}');
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await metric('trustbundle_reconciles_total{result="success"}')).toBeGreaterThanOrEqual(
      reconciles + 3,
    );
    expect(writes(from)).toEqual([]);
    expect(
      requests.slice(from).filter((r) => r.path.includes(`/namespaces/${b}/secrets`)).length,
    ).toBeGreaterThan(0);
    expect(await versions([b, created])).toEqual(targets);
    expect((await getBundle(fanned))!.metadata.resourceVersion).toBe(bundleVersion);
  });
});

describe('label-selected sources', () => {
  beforeAll(() => startOperator(600));
  const spec = {
    sources: [{ secret: { namespace: cas, selector: { matchLabels: { [TPP]: suffix } } } }],
    targets: { secrets: [{ namespace: fixed, name: 'fan-ca' }] },
  };

  test('nothing matching refuses the bundle; a labelled Secret brings its CA, named as its source', async () => {
    await applyBundle(selected, spec);
    const refused = await waitForBundle(
      selected,
      'refused',
      (t) => condition(t, 'SourcesValid')?.status === 'False',
    );
    expect(condition(refused, 'SourcesValid')?.reason).toBe('SourceMissing');
    expect(condition(refused, 'SourcesValid')?.message).toMatch(/no Secret matches/);
    await declareSecret(cas, 'tpp-one', { 'ca.crt': ca1.pem }, { labels: { [TPP]: suffix } });
    const tb = await waitForBundle(selected, 'one CA', (t) => t.status?.certificateCount === 1);
    expect(tb.status?.certificates?.[0]?.sources).toEqual([`secret ${cas}/tpp-one key ca.crt`]);
    expect(await holds(fixed, ['CN=Fanout CA1'])).toBe(true);
  });

  test('adding, relabelling and deleting a source Secret changes the bundle', async () => {
    await declareSecret(cas, 'tpp-two', { 'ca.crt': ca2.pem }, { labels: { [TPP]: suffix } });
    await waitFor('both CAs in the target', () => holds(fixed, ['CN=Fanout CA1', 'CN=Fanout CA2']), {
      timeoutMs: 15_000,
    });
    await kubectl(['label', 'secret', '-n', cas, 'tpp-one', `${TPP}-`]);
    await waitFor('CA1 gone with its label', () => holds(fixed, ['CN=Fanout CA2']), { timeoutMs: 15_000 });
    const inForce = (await waitForBundle(selected, 'one CA', (t) => t.status?.certificateCount === 1)).status
      ?.bundleHash;
    await kubectl(['delete', 'secret', '-n', cas, 'tpp-two']);
    // Nothing matches any more: refused, and the last good bundle stays in force.
    const tb = await waitForBundle(
      selected,
      'refused',
      (t) => condition(t, 'SourcesValid')?.status === 'False',
    );
    expect(tb.status?.bundleHash).toBe(inForce);
    expect(await holds(fixed, ['CN=Fanout CA2'])).toBe(true);
  });

  test('a labelled Secret holding a private key is refused as any other source', async () => {
    await declareSecret(cas, 'tpp-three', { 'ca.crt': ca3.pem }, { labels: { [TPP]: suffix } });
    await waitFor('CA3 in force', () => holds(fixed, ['CN=Fanout CA3']), { timeoutMs: 15_000 });
    await declareSecret(cas, 'tpp-leaky', { 'ca.crt': ca1.pem + ca1.keyPem }, { labels: { [TPP]: suffix } });
    const tb = await waitForBundle(selected, 'refused for the private key', (t) =>
      (t.status?.problems ?? []).some((p) => p.code === 'PrivateKey'),
    );
    expect(condition(tb, 'SourcesValid')?.status).toBe('False');
    const problem = tb.status?.problems?.find((p) => p.code === 'PrivateKey');
    expect(problem?.source).toBe(`secret ${cas}/tpp-leaky key ca.crt`);
    expect(await holds(fixed, ['CN=Fanout CA3'])).toBe(true);
  });
});
