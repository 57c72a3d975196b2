// A target deleted right after the operator repaired it comes back at once, with the resync off:
// the watch event of the deletion is never taken for the echo of the operator's own write. A
// proxy in front of the API server holds the answer to each of the operator's target writes
// until the write's watch event has been delivered, so the echo always arrives first (the order
// that made an earlier version swallow the deletion in 9 of 10 rounds).
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { EchoFirstProxy } from './support/echo-first-proxy.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import { applyBundle, bundleEvents, condition, deleteBundle, waitForBundle } from './support/trustbundles.ts';

jest.setTimeout(600_000);

/** Rounds of edit-then-delete per target kind: a few in `make test`, 100 in `make soak`. */
const ROUNDS = Number(process.env.TARGET_EVENT_ROUNDS ?? (process.env.SOAK ? 100 : 4));
/** How long a repair may take. Without the fix it takes a resync period (here an hour). */
const REPAIR_BOUND_MS = 5_000;

const ssl = new OpenSSL();
const [ca1, ca2] = [ssl.cert({ subject: '/CN=Echo CA1' }), ssl.cert({ subject: '/CN=Echo CA2' })];
const tmp = mkdtempSync(join(tmpdir(), 'tb-echo-'));
const name = `echo-${uniqueSuffix()}`;
const ctb = `tb-echo-${uniqueSuffix()}`;
let ns: string;
let proxy: EchoFirstProxy;
let op: OperatorProcess;

interface Kind {
  kind: string;
  /** kubectl arguments naming the object. */
  ref: () => string[];
  /** The bundle as the object holds it, or undefined when absent. */
  content: (obj: { data?: Record<string, string>; spec?: { trustBundle?: string } }) => string | undefined;
  /** A merge patch replacing the bundle with something else. */
  edit: () => object;
}

const kinds: Kind[] = [
  {
    kind: 'Secret',
    ref: () => ['-n', ns, 'secret', 'ingress-ca'],
    content: (o) => (o.data?.['ca.crt'] ? Buffer.from(o.data['ca.crt'], 'base64').toString() : undefined),
    edit: () => ({ data: { 'ca.crt': Buffer.from(ca2.pem).toString('base64') } }),
  },
  {
    kind: 'ConfigMap',
    ref: () => ['-n', ns, 'configmap', 'gateway-ca'],
    content: (o) => o.data?.['ca.crt'],
    edit: () => ({ data: { 'ca.crt': ca2.pem } }),
  },
  {
    kind: 'ClusterTrustBundle',
    ref: () => ['clustertrustbundle', ctb],
    content: (o) => o.spec?.trustBundle,
    edit: () => ({ spec: { trustBundle: ca2.pem } }),
  },
];

async function read(k: Kind): Promise<string | undefined> {
  const out = await kubectl(['get', ...k.ref(), '-o', 'json', '--ignore-not-found']);
  return out.trim() ? k.content(JSON.parse(out)) : undefined;
}

/** Waits for the target to hold `pem` again; returns how long it took. */
async function repaired(k: Kind, pem: string, what: string): Promise<number> {
  const t0 = Date.now();
  try {
    await waitFor(`${k.kind} ${what} to be repaired`, async () => (await read(k)) === pem, {
      timeoutMs: REPAIR_BOUND_MS,
      intervalMs: 25,
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\noperator log:\n${op.lines.slice(-40).join('\n')}`, {
      cause: err,
    });
  }
  return Date.now() - t0;
}

beforeAll(async () => {
  await installCrds();
  ns = (await createTestNamespace('echo')).name;
  proxy = await new EchoFirstProxy((_method, path) =>
    /\/(secrets|configmaps|clustertrustbundles)(\/|$)/.test(path),
  ).start();
  const kubeconfig = proxy.writeKubeconfig(join(tmp, 'kubeconfig'));
  // The resync is off (an hour): only watch events can bring a target back.
  op = await OperatorProcess.start({ env: { KUBECONFIG: kubeconfig, RESYNC_SECONDS: '3600' } });
  await applyBundle(name, {
    sources: [{ inline: ca1.pem }],
    targets: {
      secrets: [{ namespace: ns, name: 'ingress-ca' }],
      configMaps: [{ namespace: ns, name: 'gateway-ca' }],
      clusterTrustBundles: [{ name: ctb }],
    },
  });
  await waitForBundle(name, 'Ready', (tb) => condition(tb, 'Ready')?.status === 'True');
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await proxy?.stop();
  await deleteBundle(name);
  await kubectl(['delete', 'clustertrustbundle', ctb, '--ignore-not-found']);
  await cleanupTestNamespaces();
  ssl.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test.each(kinds)(
  '$kind: edited by hand, repaired, then deleted: recreated at once, every round',
  async (k) => {
    const pem = await read(k);
    expect(pem).toContain('BEGIN CERTIFICATE');
    const heldBefore = proxy.held;
    const id = k.kind === 'ClusterTrustBundle' ? `ClusterTrustBundle ${ctb}` : `${k.kind} ${ns}/`;
    const repairs = async () =>
      (await bundleEvents(name)).filter((e) => e.reason === 'DriftCorrected' && e.message.startsWith(id))
        .length;
    const corrected = await repairs();
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await kubectl(['patch', ...k.ref(), '--type', 'merge', '-p', JSON.stringify(k.edit())]);
      times.push(await repaired(k, pem!, 'edit'));
      await kubectl(['delete', ...k.ref(), '--wait=false']);
      times.push(await repaired(k, pem!, 'deletion'));
    }
    // The proxy really made the echo of each repair arrive before the write's answer.
    expect(proxy.held - heldBefore).toBeGreaterThanOrEqual(2 * ROUNDS);
    // Each repair is announced: one DriftCorrected Event per edit and per deletion.
    await waitFor('an Event per repair', async () => {
      const now = (await bundleEvents(name)).filter((e) => e.reason === 'DriftCorrected').length;
      return now - corrected >= 2 * ROUNDS;
    });
    const tb = await waitForBundle(name, 'synced', (b) => condition(b, 'SecretsSynced')?.status === 'True');
    expect(condition(tb, 'SecretsSynced')?.status).toBe('True');
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `${k.kind}: ${times.length} repairs with the echo first, median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms`,
    );
  },
);
