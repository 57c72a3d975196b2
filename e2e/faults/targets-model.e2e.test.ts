// Targets, model-based: seeded random sequences of what people and tools do to published objects
// (hand edits of the bundle key and of other keys, deletions, the owner label or an operator
// annotation removed, `helm upgrade` re-rendering or re-creating the object as another field
// manager, the namespace deleted and re-created), interleaved with bundle changes, operator
// SIGKILLs and cut watch streams, over a Secret, a ConfigMap and a ClusterTrustBundle, with the
// resync off so that only watch events repair. After each sequence, within CONVERGE_MS, every
// target holds exactly the bundle's bytes, others' keys are kept, the status says so, and the
// consenting Deployment carries the bundle's hash. Throughout, an etcd watch checks that no status
// claimed Synced for bytes etcd did not hold for longer than LAG_MS; at the end, no rollout was made
// without a bundle change. FAULTS_SEED replays a run.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../../operator/src/bundle/index.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from '../harness/kube.ts';
import { EchoFirstProxy } from '../support/echo-first-proxy.ts';
import {
  declareBundle,
  etcdRevision,
  extraRollouts,
  faultSeed,
  median,
  removeBundles,
  rolloutsOf,
  seededRandom,
  sleep,
  watchEtcd,
} from '../support/faults.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import {
  ClaimMonitor,
  clusterTrustBundleVersion,
  editBundleKey,
  editOtherKey,
  helmRender,
  modelTarget,
  observe,
  remove,
  removeAnnotation,
  removeLabel,
  targetId,
  type ModelTarget,
} from '../support/target-model.ts';
import { condition, getBundle } from '../support/trustbundles.ts';
import { applyWorkload, templateHash } from '../support/workloads.ts';
import { recordRow, scale } from './results.ts';

const SEQUENCES = scale(3, 30);
const OPS_PER_SEQUENCE = scale(10, 25);
/**
 * Every target back within this after a sequence's last operation. The slowest legitimate path is
 * a namespace re-created while the bundle's retries back off (failures in a terminating namespace).
 */
const CONVERGE_MS = 30_000;
/**
 * A status may say Synced for bytes etcd no longer holds while the operator sees the change and
 * acts (its watch latency and one reconcile), at most this long; time it is down does not count.
 */
const LAG_MS = 1_000;
jest.setTimeout(180_000 + SEQUENCES * (OPS_PER_SEQUENCE * 4_000 + CONVERGE_MS));

const seed = faultSeed();
const random = seededRandom(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const ssl = new OpenSSL();
const cas = Array.from({ length: 8 }, (_, i) => ssl.cert({ subject: `/CN=Model Root ${i}` }).pem);
const stale = ssl.cert({ subject: '/CN=Stale chart value' }).pem;
const name = `model-${uniqueSuffix()}`;
const tmp = mkdtempSync(join(tmpdir(), 'tb-model-'));

const OPERATIONS = [
  'edit-bundle-key',
  'edit-other-key',
  'delete',
  'remove-label',
  'remove-annotation',
  'helm-upgrade',
  'helm-recreate',
  'namespace',
  'bundle-change',
  'restart',
  'cut-watches',
] as const;
type Operation = (typeof OPERATIONS)[number];

interface BundleState {
  cas: number[];
  pem: string;
  hash: string;
}

function bundleOf(indices: number[]): BundleState {
  const r = buildBundle([{ name: 'inline', content: indices.map((i) => cas[i]!).join('') }]);
  if (!r.bundle) throw new Error('test CAs do not build');
  return { cas: indices, pem: r.bundle.pem, hash: r.bundle.hash };
}

let stableNs: string;
let volatileNs: string;
let targets: ModelTarget[];
/** What the last hand edit of another key left, per target (undefined: nothing to keep). */
const others = new Map<string, string | undefined>();
let proxy: EchoFirstProxy;
let op: OperatorProcess;
let kubeconfig: string;
let monitor: ClaimMonitor;
let ctbVersion: string;
const ENV = () => ({ KUBECONFIG: kubeconfig, RESYNC_SECONDS: '3600', ROLLOUT_DEBOUNCE_SECONDS: '0' });

async function declare(b: BundleState): Promise<void> {
  monitor.declared(b.hash, b.pem);
  const byKind = (kind: string) => targets.filter((t) => t.kind === kind);
  await declareBundle(name, {
    sources: [{ inline: b.cas.map((i) => cas[i]!).join('') }],
    targets: {
      secrets: byKind('Secret').map((t) => ({ namespace: t.namespace!, name: t.name })),
      configMaps: byKind('ConfigMap').map((t) => ({ namespace: t.namespace!, name: t.name })),
      clusterTrustBundles: byKind('ClusterTrustBundle').map((t) => ({ name: t.name })),
      rollouts: [{ kind: 'Deployment', namespace: stableNs, name: 'ingress' }],
    },
  });
}

/** Why the declared state is not (yet) everywhere; empty when it is. */
async function divergence(b: BundleState): Promise<string[]> {
  const why: string[] = [];
  const [tb, template, ...seen] = await Promise.all([
    getBundle(name),
    templateHash('Deployment', stableNs, 'ingress'),
    ...targets.map(observe),
  ]);
  targets.forEach((t, i) => {
    const o = seen[i]!;
    const id = targetId(t, t.kind);
    if (!o.exists) return why.push(`${id} missing`);
    if (o.bundle !== b.pem) why.push(`${id} holds other bytes`);
    const other = others.get(id);
    const kept = t.kind === 'ClusterTrustBundle' ? o.labels.team : o.other;
    if (other !== undefined && kept !== other) why.push(`${id} lost someone else's ${other} (has ${kept})`);
  });
  if (tb?.status?.observedGeneration !== tb?.metadata.generation) why.push('status of an older generation');
  if (tb?.status?.bundleHash !== b.hash) why.push(`status hash ${tb?.status?.bundleHash}`);
  if (condition(tb, 'Ready')?.status !== 'True') why.push(`not Ready: ${condition(tb, 'Ready')?.message}`);
  for (const t of targets) {
    const entry = tb?.status?.targets?.[t.statusList]?.find(
      (e) => e.name === t.name && (e as { namespace?: string }).namespace === t.namespace,
    );
    if (entry?.state !== 'Synced' || entry.bundleHash !== b.hash)
      why.push(`status of ${targetId(t, t.kind)}: ${entry?.state} ${entry?.message ?? ''}`);
  }
  if (template !== b.hash) why.push(`Deployment template at ${template}`);
  return why;
}

async function recreateNamespace(): Promise<void> {
  await kubectl(['delete', 'namespace', volatileNs, '--wait=true', '--timeout=120s']);
  await kubectl(['create', 'namespace', volatileNs]);
  for (const t of targets) if (t.namespace === volatileNs) others.set(targetId(t, t.kind), undefined);
}

/** Applies one operation; returns what it did, for the sequence's log. */
async function apply(
  operation: Operation,
  state: { bundle: BundleState; used: Set<string>; declared: string[] },
): Promise<string> {
  const t = pick(targets);
  const id = targetId(t, t.kind);
  switch (operation) {
    case 'edit-bundle-key':
      return (await observe(t)).exists ? (await editBundleKey(t, pick(cas)), `${operation} ${id}`) : 'skip';
    case 'edit-other-key': {
      if (!(await observe(t)).exists) return 'skip';
      const value = `v${Math.floor(random() * 1e6)}`;
      await editOtherKey(t, value);
      others.set(id, value);
      return `${operation} ${id}=${value}`;
    }
    case 'delete':
      await remove(t);
      others.set(id, undefined);
      return `${operation} ${id}`;
    case 'remove-label':
      return (await observe(t)).exists ? (await removeLabel(t), `${operation} ${id}`) : 'skip';
    case 'remove-annotation': {
      const mark = random() < 0.5;
      return (await removeAnnotation(t, mark, name))
        ? `${operation} ${mark ? 'mark' : 'hash'} ${id}`
        : 'skip';
    }
    case 'helm-upgrade':
      await helmRender(t, stale, name, ctbVersion);
      return `${operation} ${id}`;
    case 'helm-recreate':
      await remove(t);
      others.set(id, undefined);
      await helmRender(t, stale, name, ctbVersion);
      return `${operation} ${id}`;
    case 'namespace':
      await recreateNamespace();
      return `${operation} ${volatileNs}`;
    case 'bundle-change': {
      let next: BundleState;
      do {
        const k = 1 + Math.floor(random() * 3);
        next = bundleOf(
          [...cas.keys()]
            .sort(() => random() - 0.5)
            .slice(0, k)
            .sort(),
        );
      } while (state.used.has(next.hash));
      state.used.add(next.hash);
      state.declared.push(next.hash);
      state.bundle = next;
      await declare(next);
      return `${operation} → ${next.hash.slice(7, 19)}`;
    }
    case 'restart': {
      await op.kill('SIGKILL');
      monitor.down(Date.now());
      const meanwhile: string[] = [];
      for (let k = Math.floor(random() * 3); k > 0; k--) {
        const o = pick(OPERATIONS.filter((x) => x !== 'restart' && x !== 'namespace'));
        meanwhile.push(await apply(o, state));
      }
      op = await OperatorProcess.start({ env: ENV() });
      monitor.up(Date.now());
      return `${operation}${meanwhile.length ? ` (while down: ${meanwhile.join(', ')})` : ''}`;
    }
    case 'cut-watches':
      return `${operation} (${proxy.cutWatches()} streams)`;
  }
}

afterAll(async () => {
  await op?.kill('SIGKILL');
  await proxy?.stop();
  await removeBundles([name]);
  for (const t of targets ?? []) if (t.kind === 'ClusterTrustBundle') await remove(t);
  await cleanupTestNamespaces();
  ssl.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test(`${SEQUENCES} random sequences of ${OPS_PER_SEQUENCE} operations: no target lost, no false Synced, no rollout without a bundle change`, async () => {
  await installCrds();
  stableNs = (await createTestNamespace('model-stable')).name;
  volatileNs = (await createTestNamespace('model-volatile')).name;
  targets = [
    modelTarget('Secret', 'ingress-ca', stableNs),
    modelTarget('ConfigMap', 'gateway-ca', stableNs),
    modelTarget('Secret', 'edge-ca', volatileNs),
    modelTarget('ConfigMap', 'edge-ca', volatileNs),
    modelTarget('ClusterTrustBundle', `tb-model-${uniqueSuffix()}`),
  ];
  ctbVersion = await clusterTrustBundleVersion();
  await applyWorkload('Deployment', stableNs, 'ingress', { replicas: 1 });
  await kubectl([
    '-n',
    stableNs,
    'patch',
    'deployment',
    'ingress',
    '-p',
    '{"spec":{"revisionHistoryLimit":100000}}',
  ]);
  await kubectl(['-n', stableNs, 'rollout', 'status', 'deployment/ingress', '--timeout=60s']);

  const first = bundleOf([0]);
  const state = { bundle: first, used: new Set([first.hash]), declared: [first.hash] };
  monitor = new ClaimMonitor(`/registry/mtls.openbanking.dev/trustbundles/${name}`, targets, LAG_MS);
  const seenKeys = new Map<string, number>();
  const stopWatch = await watchEtcd(
    '/registry/',
    await etcdRevision(),
    (v) => {
      seenKeys.set(v.key, (seenKeys.get(v.key) ?? 0) + 1);
      monitor.see(v, Date.now());
    },
    { prefix: true },
  );

  proxy = await new EchoFirstProxy((_m, path) =>
    /\/(secrets|configmaps|clustertrustbundles)(\/|$)/.test(path),
  ).start();
  kubeconfig = proxy.writeKubeconfig(join(tmp, 'kubeconfig'));
  op = await OperatorProcess.start({ env: ENV() });
  await declare(first);
  await waitFor(
    'the first bundle everywhere',
    async (seen) => {
      const why = await divergence(first);
      seen(why);
      return why.length === 0;
    },
    {
      timeoutMs: CONVERGE_MS,
    },
  );

  const log: string[] = [];
  const lost: string[] = [];
  const took: number[] = [];
  const counts = new Map<string, number>();
  let operations = 0;
  for (let s = 1; s <= SEQUENCES; s++) {
    const done: string[] = [];
    for (let i = 0; i < OPS_PER_SEQUENCE; i++) {
      const operation = pick(OPERATIONS);
      const what = await apply(operation, state);
      if (what !== 'skip') {
        operations++;
        counts.set(operation, (counts.get(operation) ?? 0) + 1);
      }
      done.push(what);
      await sleep(random() * 400);
    }
    const t0 = Date.now();
    try {
      await waitFor(
        `sequence ${s}: the declared bundle in every target and the status`,
        async (seen) => {
          const why = await divergence(state.bundle);
          seen(why);
          return why.length === 0;
        },
        { timeoutMs: CONVERGE_MS, intervalMs: 100 },
      );
      took.push(Date.now() - t0);
    } catch (err) {
      lost.push(`sequence ${s}: ${(err as Error).message}\n${op.logTail(40)}`);
    }
    log.push(`sequence ${s}/${SEQUENCES}: ${done.join('; ')} → converged in ${Date.now() - t0} ms`);
  }
  await sleep(500);
  stopWatch();
  monitor.finish(Date.now());

  const rollouts = await rolloutsOf(stableNs, 'ingress');
  const { extra, why } = extraRollouts(rollouts, state.declared);
  const rolled = [...rollouts.byHash.values()].reduce((a, b) => a + b, 0);
  console.log(`targets model, seed ${seed} (FAULTS_SEED=${seed} replays it)\n${log.join('\n')}`);
  const longest = Math.max(0, ...took);
  recordRow({
    suite: 'targets-model',
    order: 15,
    title: 'Targets, model-based (random edits, deletions, Helm, namespaces, restarts, cut watches)',
    tried:
      `${SEQUENCES} sequences (seed ${seed}), ${operations} operations (` +
      `${[...counts].map(([o, n]) => `${n} ${o}`).join(', ')}) over ${targets.length} targets, resync off`,
    faults: operations,
    badInputs: null,
    lost: lost.length,
    extraRollouts: extra,
    changedByBadInput: null,
    falseSynced: monitor.falseClaims.length,
    saw:
      `every target back within ${(CONVERGE_MS / 1000).toFixed(0)} s in ${took.length}/${SEQUENCES} sequences ` +
      `(median ${(median(took) / 1000).toFixed(1)} s, longest ${(longest / 1000).toFixed(1)} s); ` +
      `${monitor.statuses} statuses checked against etcd, ${monitor.falseClaims.length} false Synced ` +
      `(longest lag ${monitor.longestMs} ms, allowed ${LAG_MS}); ${rolled} rollouts for ${state.declared.length} bundle hashes; ` +
      `${proxy.held} write answers held until their echo, ${proxy.timedOut} released at the proxy's 5 s deadline`,
  });
  // The watch saw every target and the bundle (the keys are right, so the check means something).
  const keys = [...targets.map((t) => t.etcdKey), `/registry/mtls.openbanking.dev/trustbundles/${name}`];
  expect(keys.filter((k) => !seenKeys.has(k))).toEqual([]);
  expect(lost).toEqual([]);
  expect(monitor.falseClaims).toEqual([]);
  expect(why).toEqual([]);
  expect(rollouts.byHash.has(state.bundle.hash)).toBe(true);
});
