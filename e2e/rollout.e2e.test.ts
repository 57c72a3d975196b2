// Rollouts on the real control plane (kube-controller-manager, kube-scheduler, KWOK): once per
// distinct bundle, coalesced, never on a paused workload, with a deadline.
import { jest } from '@jest/globals';
import { cleanupTestNamespaces, createTestNamespace, kubectl, uniqueSuffix } from './harness/kube.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  condition,
  deleteBundle,
  readSecret,
  waitForBundle,
  bundleEvents,
} from './support/trustbundles.ts';
import {
  applyWorkload,
  replicaSetCount,
  revisionCount,
  templateHash,
  type Kind,
} from './support/workloads.ts';
import type { TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';
import {
  declareBundle,
  deploymentKey,
  etcdHistory,
  etcdRevision,
  secretKey,
  secretsBeforeTemplates,
} from './support/faults.ts';

jest.setTimeout(180_000);

const ssl = new OpenSSL();
const cas = Array.from({ length: 12 }, (_, i) => ssl.cert({ subject: `/CN=Rollout CA ${i}` }));
let op: OperatorProcess;
let ns: string;
const bundles: string[] = [];
type RolloutTargets = NonNullable<TrustBundleSpec['targets']>['rollouts'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await installCrds();
  ns = (await createTestNamespace('ingress-nginx')).name;
  op = await OperatorProcess.start({
    env: { RESYNC_SECONDS: '2', ROLLOUT_DEBOUNCE_SECONDS: '1', ROLLOUT_DEADLINE_SECONDS: '8' },
  });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await Promise.all(bundles.map(deleteBundle));
  await cleanupTestNamespaces();
  ssl.cleanup();
});

function spec(caIndexes: number[], rollouts: RolloutTargets, secret: string): TrustBundleSpec {
  return {
    sources: caIndexes.map((i) => ({ inline: cas[i]!.pem })),
    targets: { secrets: [{ namespace: ns, name: secret }], rollouts },
  };
}

const rolloutsComplete = (name: string, hash?: string) =>
  waitForBundle(
    name,
    'RolloutsComplete',
    (b) => condition(b, 'RolloutsComplete')?.status === 'True' && (!hash || b.status?.bundleHash === hash),
    { timeoutMs: 60_000 },
  );

test('a bundle change restarts the ingress controller once: new ReplicaSet, Pods Ready, condition True', async () => {
  const deploy = `ingress-nginx-controller-${uniqueSuffix()}`;
  await applyWorkload('Deployment', ns, deploy, { replicas: 2 });
  await kubectl(['-n', ns, 'rollout', 'status', `deployment/${deploy}`, '--timeout=60s']);
  expect(await replicaSetCount(ns, deploy)).toBe(1);
  const fromRevision = await etcdRevision();

  const name = `roll-${uniqueSuffix()}`;
  bundles.push(name);
  const targets = [{ kind: 'Deployment' as const, namespace: ns, name: deploy }];
  await applyBundle(name, spec([0, 1], targets, `${name}-ca`));
  const first = await rolloutsComplete(name);
  expect(await replicaSetCount(ns, deploy)).toBe(2);
  expect(await templateHash('Deployment', ns, deploy)).toBe(first.status!.bundleHash);
  expect(first.status!.targets!.rollouts![0]).toMatchObject({
    kind: 'Deployment',
    name: deploy,
    state: 'Complete',
    bundleHash: first.status!.bundleHash,
  });
  expect(condition(first, 'Ready')!.status).toBe('True');

  // Changing a CA: exactly one more ReplicaSet.
  await applyBundle(name, spec([0, 2], targets, `${name}-ca`));
  const second = await waitForBundle(
    name,
    'new hash complete',
    (b) =>
      b.status?.bundleHash !== first.status!.bundleHash &&
      condition(b, 'RolloutsComplete')?.status === 'True',
    { timeoutMs: 60_000 },
  );
  expect(await replicaSetCount(ns, deploy)).toBe(3);
  await kubectl(['-n', ns, 'rollout', 'status', `deployment/${deploy}`, '--timeout=60s']);

  // Nothing new: no ReplicaSet across resyncs (2 s) and an operator restart.
  await sleep(5_000);
  await op.kill('SIGKILL');
  op = await OperatorProcess.start({
    env: { RESYNC_SECONDS: '2', ROLLOUT_DEBOUNCE_SECONDS: '1', ROLLOUT_DEADLINE_SECONDS: '8' },
  });
  await sleep(5_000);
  expect(await replicaSetCount(ns, deploy)).toBe(3);
  expect(await templateHash('Deployment', ns, deploy)).toBe(second.status!.bundleHash);
  // Secrets before rollout, as etcd stored them: each hash in the Secret before the pod template.
  const order = secretsBeforeTemplates(
    await etcdHistory(secretKey(ns, `${name}-ca`), fromRevision),
    await etcdHistory(deploymentKey(ns, deploy), fromRevision),
  );
  expect(order).toEqual({ checked: 2, violations: [] });
});

test('ten edits within the debounce give exactly one rollout, of the final bundle', async () => {
  const deploy = `burst-${uniqueSuffix()}`;
  await applyWorkload('Deployment', ns, deploy, { replicas: 1 });
  const name = `burst-${uniqueSuffix()}`;
  bundles.push(name);
  const targets = [{ kind: 'Deployment' as const, namespace: ns, name: deploy }];
  await applyBundle(name, spec([0], targets, `${name}-ca`));
  await rolloutsComplete(name);
  const before = await replicaSetCount(ns, deploy);
  // Through the API (one round trip each, no kubectl process), so that the burst is one: no two
  // edits further apart than the operator's debounce (1 s), which the test checks rather than assumes.
  const at: number[] = [];
  for (let i = 1; i <= 10; i++) {
    await declareBundle(name, spec([0, i], targets, `${name}-ca`));
    at.push(Date.now());
  }
  const widest = Math.max(...at.slice(1).map((t, i) => t - at[i]!));
  console.log(`ten edits applied in ${at.at(-1)! - at[0]!} ms, widest gap ${widest} ms`);
  expect(widest).toBeLessThan(1_000);
  const last = await waitForBundle(
    name,
    'final bundle rolled out',
    (b) => {
      const r = b.status?.targets?.rollouts?.[0];
      return condition(b, 'RolloutsComplete')?.status === 'True' && r?.bundleHash === b.status?.bundleHash;
    },
    { timeoutMs: 60_000 },
  );
  // Past the debounce and a resync (2 s): a late second rollout would show by now.
  await sleep(3_000);
  const rollouts = (await replicaSetCount(ns, deploy)) - before;
  console.log(`burst of 10 edits → ${rollouts} rollout(s)`);
  expect(rollouts).toBe(1);
  expect(await templateHash('Deployment', ns, deploy)).toBe(last.status!.bundleHash);
});

test('a paused Deployment is left alone and the condition says so', async () => {
  const deploy = `paused-${uniqueSuffix()}`;
  await applyWorkload('Deployment', ns, deploy, { replicas: 1, paused: true });
  const name = `paused-${uniqueSuffix()}`;
  bundles.push(name);
  await applyBundle(name, spec([3], [{ kind: 'Deployment', namespace: ns, name: deploy }], `${name}-ca`));
  const tb = await waitForBundle(
    name,
    'RolloutPaused',
    (b) => condition(b, 'RolloutsComplete')?.reason === 'RolloutPaused',
  );
  expect(condition(tb, 'RolloutsComplete')!.message).toMatch(/paused/);
  expect(condition(tb, 'Ready')!.status).toBe('False');
  expect(await templateHash('Deployment', ns, deploy)).toBeUndefined();
  // The Secret target is published all the same.
  expect((await readSecret(ns, `${name}-ca`))?.annotations['mtls.openbanking.dev/bundle-hash']).toBe(
    tb.status!.bundleHash,
  );
});

test.each<[Kind]>([['DaemonSet'], ['StatefulSet']])(
  'a %s is restarted and followed to completion',
  async (kind) => {
    const wl = `${kind.toLowerCase()}-${uniqueSuffix()}`;
    await applyWorkload(kind, ns, wl, { replicas: 1 });
    await kubectl(['-n', ns, 'rollout', 'status', `${kind.toLowerCase()}/${wl}`, '--timeout=60s']);
    const before = await revisionCount(ns, wl);
    const name = `${kind.toLowerCase()}-${uniqueSuffix()}`;
    bundles.push(name);
    await applyBundle(
      name,
      spec([4], [{ kind, namespace: ns, selector: { matchLabels: { app: wl } } }], `${name}-ca`),
    );
    const tb = await rolloutsComplete(name);
    expect(tb.status!.targets!.rollouts).toEqual([
      expect.objectContaining({ kind, name: wl, state: 'Complete' }),
    ]);
    expect(await revisionCount(ns, wl)).toBe(before + 1);
  },
);

test('a workload that never becomes ready times out, and other bundles are still served', async () => {
  const deploy = `stuck-${uniqueSuffix()}`;
  await applyWorkload('Deployment', ns, deploy, {
    replicas: 1,
    unschedulable: true,
    progressDeadlineSeconds: 5,
  });
  const name = `stuck-${uniqueSuffix()}`;
  bundles.push(name);
  await applyBundle(name, spec([5], [{ kind: 'Deployment', namespace: ns, name: deploy }], `${name}-ca`));
  // Meanwhile another bundle converges.
  const other = `other-${uniqueSuffix()}`;
  bundles.push(other);
  await applyBundle(other, {
    sources: [{ inline: cas[6]!.pem }],
    targets: { secrets: [{ namespace: ns, name: `${other}-ca` }] },
  });
  await waitForBundle(other, 'Ready', (b) => condition(b, 'Ready')?.status === 'True');
  const tb = await waitForBundle(
    name,
    'RolloutFailed',
    (b) => condition(b, 'RolloutsComplete')?.reason === 'RolloutFailed',
    { timeoutMs: 90_000 },
  );
  expect(condition(tb, 'RolloutsComplete')!.message).toMatch(/progress deadline|did not finish/);
  expect((await bundleEvents(name)).map((e) => e.reason)).toContainEqual(
    expect.stringMatching(/RolloutFailed/),
  );
});

test('a missing workload is reported, not invented', async () => {
  const name = `missing-${uniqueSuffix()}`;
  bundles.push(name);
  await applyBundle(name, spec([7], [{ kind: 'Deployment', namespace: ns, name: 'nope' }], `${name}-ca`));
  const tb = await waitForBundle(
    name,
    'WorkloadNotFound',
    (b) => condition(b, 'RolloutsComplete')?.reason === 'WorkloadNotFound',
  );
  expect(condition(tb, 'RolloutsComplete')!.message).toContain(`Deployment ${ns}/nope does not exist`);
});

test('kubectl wait on the rollout condition works', async () => {
  const name = bundles[0]!;
  await kubectl(['wait', '--for=condition=RolloutsComplete', `tb/${name}`, '--timeout=30s']);
});
