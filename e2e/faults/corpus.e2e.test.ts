// The bad-input corpus (operator/test/bundle/corpus/) through the real operator: every bundle
// first publishes a good CA, then gets one bad input — inline, or as bytes in a Secret when
// Kubernetes cannot carry it inline — plus cases only a cluster has (missing objects, a source
// spread over Secrets beyond the input limit). Each must end with SourcesValid=False naming the
// problem and its source, and no target may change: not the bundles' Secrets, and for a bundle
// with every kind of target, neither ACP's root_cas nor the ingress Deployment.
import { jest } from '@jest/globals';
import {
  cleanupTestNamespaces,
  clients,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { buildCorpus, type CorpusCase } from '../../operator/test/bundle/corpus/cases.ts';
import type { TrustBundle, TrustBundleSource, TrustBundleSpec } from '../../operator/src/api/v1alpha1.ts';
import type { ProblemCode } from '../../operator/src/bundle/types.ts';
import { AcpContractServer } from '../support/acp-contract-server.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { condition, getBundle, readSecret, type SecretView } from '../support/trustbundles.ts';
import { applyWorkload } from '../support/workloads.ts';
import {
  contractServerTarget,
  declareBundle,
  declareSecret,
  removeBundles,
  sleep,
} from '../support/faults.ts';
import { recordRow } from './results.ts';

jest.setTimeout(600_000);

const ssl = new OpenSSL();
const suffix = uniqueSuffix();
const MiB = 1024 * 1024;
let ns: string;
let op: OperatorProcess | undefined;
let acp: AcpContractServer | undefined;
const created: string[] = [];

afterAll(async () => {
  await op?.kill('SIGKILL');
  await removeBundles(created);
  await acp?.stop();
  await cleanupTestNamespaces();
  ssl.cleanup();
});

/** A case as the operator gets it: sources in Kubernetes terms, and the names it must report. */
interface ClusterCase {
  id: string;
  what: string;
  code: ProblemCode;
  /** The source name the error must carry, as the operator names sources. */
  source?: string;
  sources: TrustBundleSource[];
  policy?: TrustBundleSpec['policy'];
  /** Objects to create first. */
  secrets: { name: string; data: Record<string, string | Uint8Array> }[];
  keyMaterial: string[];
}

const inlineable = (v: string | Uint8Array): v is string =>
  typeof v === 'string' && v !== '' && !v.includes('\0') && Buffer.byteLength(v) < MiB;

function fromCorpus(c: CorpusCase): ClusterCase {
  const secrets: ClusterCase['secrets'] = [];
  const names: string[] = [];
  const sources = c.sources.map((content, i): TrustBundleSource => {
    if (inlineable(content)) {
      names.push(`inline[${i}]`);
      return { inline: content };
    }
    const name = `src-${c.id}-${i}`.slice(0, 63).replace(/-+$/, '');
    secrets.push({ name, data: { 'ca.crt': content } });
    names.push(`secret ${ns}/${name} key ca.crt`);
    return { secret: { namespace: ns, name } };
  });
  return {
    id: c.id,
    what: c.what,
    code: c.code,
    ...(c.culprit !== undefined ? { source: names[c.culprit] } : {}),
    sources,
    ...(c.policy ? { policy: c.policy } : {}),
    secrets,
    keyMaterial: c.secrets ?? [],
  };
}

/** What only a cluster can get wrong. */
function clusterOnly(good: string): ClusterCase[] {
  const big = good.repeat(Math.floor((900 * 1024) / good.length));
  return [
    {
      id: 'missing-secret',
      what: 'a Secret source that does not exist',
      code: 'SourceMissing',
      source: `secret ${ns}/nowhere key ca.crt`,
      sources: [{ inline: good }, { secret: { namespace: ns, name: 'nowhere' } }],
      secrets: [],
      keyMaterial: [],
    },
    {
      id: 'missing-key',
      what: 'a Secret source without the named key',
      code: 'SourceMissing',
      source: `secret ${ns}/src-missing-key key bundle.pem`,
      sources: [{ secret: { namespace: ns, name: 'src-missing-key', key: 'bundle.pem' } }],
      secrets: [{ name: 'src-missing-key', data: { 'ca.crt': good } }],
      keyMaterial: [],
    },
    {
      id: 'missing-configmap',
      what: 'a ConfigMap source that does not exist',
      code: 'SourceMissing',
      source: `configMap ${ns}/nowhere key ca.crt`,
      sources: [{ configMap: { namespace: ns, name: 'nowhere' } }],
      secrets: [],
      keyMaterial: [],
    },
    {
      id: 'key-named-source',
      what: 'a source naming the tls.key entry of a Secret',
      code: 'PrivateKey',
      source: `secret ${ns}/src-tls-pair key tls.key`,
      sources: [{ secret: { namespace: ns, name: 'src-tls-pair', key: 'tls.key' } }],
      secrets: [{ name: 'src-tls-pair', data: { 'tls.crt': good, 'tls.key': ssl.key('ec:P-256') } }],
      keyMaterial: [],
    },
    {
      id: 'five-secrets-over-4mib',
      what: 'five 900 KiB Secrets, more than the 4 MiB input limit together',
      code: 'InputTooLarge',
      sources: [0, 1, 2, 3, 4].map((i) => ({ secret: { namespace: ns, name: `src-big-${i}` } })),
      secrets: [0, 1, 2, 3, 4].map((i) => ({ name: `src-big-${i}`, data: { 'ca.crt': big } })),
      keyMaterial: [],
    },
  ];
}

/** Runs `work` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

async function listBundles(): Promise<Map<string, TrustBundle>> {
  const list = (await clients().custom.listClusterCustomObject({
    group: 'mtls.openbanking.dev',
    version: 'v1alpha1',
    plural: 'trustbundles',
  })) as { items: TrustBundle[] };
  return new Map(list.items.map((tb) => [tb.metadata.name!, tb]));
}

/** Why the bundle's status does not (yet) report the case right; undefined when it does. */
function misreport(tb: TrustBundle | undefined, c: ClusterCase, goodHash: string): string | undefined {
  if (!tb?.status || tb.status.observedGeneration !== tb.metadata.generation) return 'status not current';
  const valid = condition(tb, 'SourcesValid');
  if (valid?.status !== 'False') return `SourcesValid ${valid?.status} ${valid?.reason}`;
  const hit = tb.status.problems?.find((p) => p.severity === 'error' && p.code === c.code);
  if (!hit) return `no ${c.code} problem: ${valid.reason}: ${valid.message}`;
  if (c.source && (hit.source !== c.source || !hit.message.includes(c.source)))
    return `${c.code} names ${hit.source}, not ${c.source}`;
  if (condition(tb, 'Ready')?.reason !== 'SourcesInvalid') return `Ready ${condition(tb, 'Ready')?.reason}`;
  if (!/No target was changed/.test(valid.message))
    return 'the condition does not say the targets are unchanged';
  if (tb.status.bundleHash !== goodHash) return 'status.bundleHash no longer names the bundle in force';
  return undefined;
}

test('every bad input through the real operator: a condition naming the problem, no target changed', async () => {
  await installCrds();
  ns = (await createTestNamespace('faults-corpus')).name;
  const good = ssl.cert({ subject: '/CN=Corpus Good Root/O=Bank/C=BR' }).pem;
  const corpus = buildCorpus(ssl);
  const cases = [...corpus.filter((c) => c.e2e !== false).map(fromCorpus), ...clusterOnly(good)];
  const bundleOf = (c: ClusterCase) => `corpus-${c.id}`.slice(0, 50) + `-${suffix}`;
  const target = (c: ClusterCase) => `t-${c.id}`.slice(0, 63).replace(/-+$/, '');
  const goodSpec = (c: ClusterCase): TrustBundleSpec => ({
    sources: [{ inline: good }],
    targets: { secrets: [{ namespace: ns, name: target(c) }] },
  });
  op = await OperatorProcess.start({ env: { RESYNC_SECONDS: '2', TRUST_NAMESPACE: ns } });

  // 1. Every bundle publishes the good CA.
  await pool(cases, 8, async (c) => {
    created.push(bundleOf(c));
    await declareBundle(bundleOf(c), goodSpec(c));
  });
  const ready = await waitFor(
    `${cases.length} bundles Ready`,
    async (seen) => {
      const all = await listBundles();
      const waiting = cases.filter((c) => condition(all.get(bundleOf(c)), 'Ready')?.status !== 'True');
      seen(waiting.map((c) => c.id));
      return waiting.length === 0 && all;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const goodHash = ready.get(bundleOf(cases[0]!))!.status!.bundleHash!;
  const before = new Map<string, SecretView | undefined>();
  await pool(cases, 8, async (c) => void before.set(c.id, await readSecret(ns, target(c))));

  // 2. Each gets its bad input.
  const t0 = Date.now();
  await pool(cases, 8, async (c) => {
    for (const s of c.secrets) await declareSecret(ns, s.name, s.data);
    await declareBundle(bundleOf(c), {
      ...goodSpec(c),
      sources: c.sources,
      ...(c.policy ? { policy: c.policy } : {}),
    });
  });
  const wrong = new Map<string, string>();
  try {
    await waitFor(
      'every bad input reported',
      async (seen) => {
        const all = await listBundles();
        wrong.clear();
        for (const c of cases) {
          const why = misreport(all.get(bundleOf(c)), c, goodHash);
          if (why) wrong.set(c.id, why);
        }
        seen(Object.fromEntries(wrong));
        return wrong.size === 0;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  } catch {
    // Reported below, case by case.
  }
  const reportedIn = Date.now() - t0;

  // 3. The sentinel: one bundle with every kind of target, bad inputs one after the other.
  acp = new AcpContractServer({ tls: true, servers: ['openbanking_brasil'], tokenTTLSeconds: 3600 });
  await acp.start();
  const sentinel = `corpus-sentinel-${suffix}`;
  created.push(sentinel);
  const acpTarget = await contractServerTarget(acp, ns, [sentinel]);
  await applyWorkload('Deployment', ns, 'ingress', { replicas: 1 });
  await kubectl(['-n', ns, 'rollout', 'status', 'deployment/ingress', '--timeout=60s']);
  const sentinelSpec = (
    sources: TrustBundleSource[],
    policy?: TrustBundleSpec['policy'],
  ): TrustBundleSpec => ({
    sources,
    ...(policy ? { policy } : {}),
    targets: {
      secrets: [{ namespace: ns, name: 'apitraffic-mtls-rootca' }],
      authorizationServers: [acpTarget],
      rollouts: [{ kind: 'Deployment', namespace: ns, name: 'ingress' }],
    },
  });
  await declareBundle(sentinel, sentinelSpec([{ inline: good }]));
  await waitFor(
    'the sentinel Ready',
    async () => condition(await getBundle(sentinel), 'Ready')?.status === 'True',
    { timeoutMs: 60_000 },
  );
  const sentinelBefore = {
    secret: await readSecret(ns, 'apitraffic-mtls-rootca'),
    acp: acp.serverObject('openbanking_brasil').root_cas,
    puts: acp.requestsTo('put').length,
    deployment: (await clients().apps.readNamespacedDeployment({ namespace: ns, name: 'ingress' })).metadata
      ?.generation,
  };
  const sentinelCases = [
    'pkcs8-rsa-key',
    'der-certificate',
    'leaf-not-ca',
    'expired-under-reject',
    'truncated-no-end',
    'missing-secret',
  ].map((id) => cases.find((c) => c.id === id)!);
  for (const c of sentinelCases) {
    for (const s of c.secrets) await declareSecret(ns, s.name, s.data);
    await declareBundle(sentinel, sentinelSpec(c.sources, c.policy));
    try {
      await waitFor(
        `the sentinel to report ${c.id}`,
        async () => misreport(await getBundle(sentinel), c, sentinelBeforeHash()) === undefined,
        { timeoutMs: 30_000 },
      );
    } catch (err) {
      wrong.set(`sentinel ${c.id}`, (err as Error).message);
    }
  }
  function sentinelBeforeHash(): string {
    return sentinelBefore.secret!.annotations['mtls.openbanking.dev/bundle-hash']!;
  }

  // 4. A few resyncs later (2 s each), nothing has moved.
  await sleep(5_000);
  const changed: string[] = [];
  await pool(cases, 8, async (c) => {
    const after = await readSecret(ns, target(c));
    if (JSON.stringify(after) !== JSON.stringify(before.get(c.id)))
      changed.push(`Secret ${target(c)} (${c.id})`);
  });
  if (
    JSON.stringify(await readSecret(ns, 'apitraffic-mtls-rootca')) !== JSON.stringify(sentinelBefore.secret)
  )
    changed.push('the sentinel Secret');
  if (
    acp.serverObject('openbanking_brasil').root_cas !== sentinelBefore.acp ||
    acp.requestsTo('put').length !== sentinelBefore.puts
  )
    changed.push("ACP's root_cas");
  const generation = (await clients().apps.readNamespacedDeployment({ namespace: ns, name: 'ingress' }))
    .metadata?.generation;
  if (generation !== sentinelBefore.deployment) changed.push('the ingress Deployment (restarted)');

  // 5. Key material that came in through a source is nowhere: statuses, Events, logs.
  const statuses = JSON.stringify([...(await listBundles()).values()].map((tb) => tb.status));
  const events = await kubectl(['get', 'events', '-A', '-o', 'json']);
  const logs = op.lines.join('\n');
  const leaks = cases.flatMap((c) =>
    c.keyMaterial
      .filter((k) => statuses.includes(k) || events.includes(k) || logs.includes(k))
      .map(() => `${c.id}: key material echoed`),
  );
  if (/PRIVATE KEY-----/.test(statuses + events + logs))
    leaks.push('a PEM private key block in statuses, Events or logs');

  const total = cases.length + sentinelCases.length;
  recordRow({
    suite: 'corpus-e2e',
    order: 51,
    title: 'Bad-input corpus through the operator (e2e)',
    tried:
      `${cases.length} bad inputs on their own bundles (${cases.length - 5} from the corpus, 5 only a cluster has) ` +
      `+ ${sentinelCases.length} on a bundle with Secret, ACP and Deployment targets`,
    faults: null,
    badInputs: total,
    lost: null,
    extraRollouts: null,
    changedByBadInput: changed.length,
    saw:
      `${total - wrong.size}/${total} reported with their code and source within ${(reportedIn / 1000).toFixed(1)} s; ` +
      `${changed.length} targets changed; ${leaks.length} key-material echoes in statuses, Events, logs`,
  });
  expect(Object.fromEntries(wrong)).toEqual({});
  expect(changed).toEqual([]);
  expect(leaks).toEqual([]);
});
