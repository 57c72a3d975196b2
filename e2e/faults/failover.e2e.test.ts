// Failover: two replicas with leader election, the leader repeatedly SIGKILLed, or frozen
// (SIGSTOP) past its lease and thawed — the case where a deposed leader wakes up with work in
// hand. Each replica reaches the API server through its own recording proxy, so every request
// is known by who sent it. Never two writers: every write (anything but the Lease) comes from a
// replica that renewed the lease less than a lease duration before, and the writers follow each
// other without ever interleaving. No missed change: each change made around a fault is published.
import { jest } from '@jest/globals';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { readSecret } from '../support/trustbundles.ts';
import {
  BUNDLE_HASH,
  declareBundle,
  expectedHash,
  RecordingProxy,
  removeBundles,
  sleep,
  type ProxyRecord,
} from '../support/faults.ts';
import { recordRow, scale } from './results.ts';

const ROUNDS = scale(4, 20);
const LEASE_S = 2;
jest.setTimeout(120_000 + ROUNDS * 30_000);

const ssl = new OpenSSL();
const cas = Array.from(
  { length: 3 * ROUNDS + 4 },
  (_, i) => ssl.cert({ subject: `/CN=Failover Root ${i}` }).pem,
);
const name = `failover-${uniqueSuffix()}`;
const log: ProxyRecord[] = [];

interface Replica {
  id: string;
  proxy: RecordingProxy;
  op: OperatorProcess;
}
const replicas: Replica[] = [];

afterAll(async () => {
  for (const r of replicas) {
    if (r.op.pid && r.op.running) process.kill(r.op.pid, 'SIGCONT');
    await r.op.kill('SIGKILL');
    await r.proxy.stop();
  }
  await removeBundles([name]);
  await cleanupTestNamespaces();
  ssl.cleanup();
});

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const isLease = (r: ProxyRecord) => r.path.includes('/leases');

/**
 * Writes that break "never two writers": each write must come while its writer holds the lease —
 * the last successful Lease write before it (in the order the proxies saw them, so no clock and
 * no lag decides) is the writer's own — and writers follow each other without interleaving.
 */
function judgeWriters(records: ProxyRecord[]): {
  violations: string[];
  writers: string[];
  writes: number;
  /** The longest time a write came after its writer's previous lease renewal. */
  longestGapMs: number;
} {
  const leaseWrites = records
    .filter((r) => isLease(r) && WRITE.has(r.method) && r.status >= 200 && r.status < 300 && r.end > 0)
    .sort((a, b) => a.end - b.end);
  const writes = records.filter((r) => !isLease(r) && WRITE.has(r.method)).sort((a, b) => a.start - b.start);
  const violations: string[] = [];
  let longestGapMs = 0;
  for (const w of writes) {
    const before = leaseWrites.filter((l) => l.end <= w.start);
    const holder = before.at(-1);
    const own = before.filter((l) => l.identity === w.identity).at(-1);
    if (own) longestGapMs = Math.max(longestGapMs, w.start - own.end);
    if (holder?.identity !== w.identity) {
      violations.push(
        `${w.identity} sent ${w.method} ${w.path.split('?')[0]} while ${holder ? `${holder.identity} held the lease` : 'nobody held the lease'}` +
          (own ? ` (${w.start - own.end} ms after its own last renewal)` : ''),
      );
    }
  }
  const writers: string[] = [];
  for (const w of writes) if (writers.at(-1) !== w.identity) writers.push(w.identity);
  const seen = new Set<string>();
  for (const id of writers) {
    if (seen.has(id))
      violations.push(`${id} wrote again after another replica had written (${writers.join(' → ')})`);
    seen.add(id);
  }
  return { violations, writers, writes: writes.length, longestGapMs };
}

test(`the leader killed or frozen ${ROUNDS} times: never two writers, no missed change`, async () => {
  await installCrds();
  const system = (await createTestNamespace('faults-failover-system')).name;
  const ns = (await createTestNamespace('faults-failover')).name;
  const env = {
    LEADER_ELECT: 'true',
    LEASE_NAMESPACE: system,
    LEASE_NAME: 'failover',
    LEASE_DURATION: String(LEASE_S),
  };
  let n = 0;
  const launch = async (): Promise<Replica> => {
    const id = `replica-${++n}`;
    const proxy = await RecordingProxy.start(id, log);
    const op = await OperatorProcess.start({ env: { ...env, KUBECONFIG: proxy.kubeconfigPath } });
    const r = { id, proxy, op };
    replicas.push(r);
    return r;
  };
  const isLeader = (r: Replica) => r.op.running && r.op.lines.some((l) => l.includes('became leader'));
  const leader = () =>
    waitFor('a leader', () => replicas.find(isLeader), { timeoutMs: 20_000, intervalMs: 50 });

  let version = 0;
  const lost: string[] = [];
  const change = async (): Promise<string> => {
    const pems = [cas[version]!, cas[version + 1]!];
    version++;
    await declareBundle(name, {
      sources: pems.map((inline) => ({ inline })),
      targets: { secrets: [{ namespace: ns, name: 'rootca' }] },
    });
    return expectedHash(pems);
  };
  const published = async (hash: string, what: string): Promise<number> => {
    const t0 = Date.now();
    try {
      await waitFor(
        `${what} published`,
        async () => (await readSecret(ns, 'rootca'))?.annotations[BUNDLE_HASH] === hash,
        { timeoutMs: 30_000, intervalMs: 50 },
      );
    } catch (err) {
      lost.push((err as Error).message);
    }
    return Date.now() - t0;
  };

  await launch();
  await leader();
  await launch();
  await published(await change(), 'the first bundle');

  const lines: string[] = [];
  let stillRunning = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const mode = round % 2 === 1 ? 'freeze' : 'kill';
    const old = await leader();
    const before = await change();
    await published(before, `round ${round}: the change before the fault`);
    if (mode === 'kill') {
      await old.op.kill('SIGKILL');
      const took = await published(await change(), `round ${round}: the change made with the leader dead`);
      lines.push(`round ${round}: ${old.id} SIGKILLed; a change made at once published ${took} ms later`);
    } else {
      process.kill(old.op.pid!, 'SIGSTOP');
      const during = await published(
        await change(),
        `round ${round}: the change made with the leader frozen`,
      );
      const more = await published(await change(), `round ${round}: a second change while frozen`);
      process.kill(old.op.pid!, 'SIGCONT');
      // A deposed leader that wakes up must notice and stop, not keep writing.
      const exited = await Promise.race([
        old.op.waitExit().then(() => true),
        sleep(10_000).then(() => false),
      ]);
      if (!exited) {
        stillRunning++;
        await old.op.kill('SIGKILL');
      }
      lines.push(
        `round ${round}: ${old.id} frozen; changes published by the standby ${during} ms and ${more} ms later; ` +
          `${old.id} thawed and ${exited ? 'exited by itself' : 'kept running (killed)'}`,
      );
    }
    await launch();
  }
  const last = await change();
  await published(last, 'the last change');

  const { violations, writers, writes, longestGapMs } = judgeWriters(log);
  console.log(`failover suite\n${lines.join('\n')}\nwriters in order: ${writers.join(' → ')}`);
  recordRow({
    suite: 'failover',
    order: 40,
    title: 'Leader failover (two replicas)',
    tried: `${ROUNDS} leader faults (${Math.ceil(ROUNDS / 2)} frozen past the ${LEASE_S} s lease and thawed, ${Math.floor(ROUNDS / 2)} SIGKILLed), ${version} changes around them`,
    faults: ROUNDS,
    badInputs: null,
    lost: lost.length,
    extraRollouts: null,
    changedByBadInput: null,
    saw:
      `${writes} writes by ${writers.length} leaders in turn, ${violations.length} by a replica not holding the lease ` +
      `(longest gap after the writer's renewal ${longestGapMs} ms, lease ${LEASE_S} s); ` +
      `${lost.length === 0 ? 'every change published' : `${lost.length} changes not published`}; ` +
      `${stillRunning} thawed leaders kept running`,
  });
  expect(lost).toEqual([]);
  expect(violations).toEqual([]);
  expect(stillRunning).toBe(0);
  // Every write came from a replica that had renewed the lease less than a lease duration before.
  expect(longestGapMs).toBeGreaterThan(0);
  expect(longestGapMs).toBeLessThan(LEASE_S * 1000);
});
