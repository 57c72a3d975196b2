// Leader election against a fake API server whose answers the test releases, with the clock
// moved by hand: what a replica frozen mid-renewal believes when it wakes up.
import { jest } from '@jest/globals';
import { KubeError, type KubeClient } from '../../src/kube/client.ts';
import { LeaderElector } from '../../src/kube/lease.ts';

let clock = 1_000_000;
beforeEach(() => {
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
});
const electors: LeaderElector[] = [];
afterEach(async () => {
  // Stopped even when an expectation failed, so no renew timer outlives the test.
  for (const e of electors.splice(0)) await e.stop().catch(() => undefined);
  jest.restoreAllMocks();
});

/** An API server without the Lease yet; the create is answered when the test says so. */
function server() {
  let answer!: () => void;
  const created = new Promise<void>((resolve) => (answer = resolve));
  const client = {
    get: async () => {
      throw new KubeError(404, 'NotFound', 'GET lease: 404');
    },
    request: async (method: string) => {
      if (method !== 'POST') throw new Error(`unexpected ${method}`);
      await created;
      return {};
    },
  } as unknown as KubeClient;
  return { client, answer };
}

function elector(client: KubeClient, started: () => void) {
  const e = new LeaderElector({
    client,
    namespace: 'ns',
    name: 'op',
    identity: 'replica-1',
    leaseDurationMs: 2_000,
    renewDeadlineMs: 1_500,
    retryPeriodMs: 60_000, // one tick in this test
    onStartedLeading: started,
    onStoppedLeading: () => undefined,
  });
  electors.push(e);
  return e;
}

test('a lease write answered promptly is held for the renew deadline from when it was sent', async () => {
  const { client, answer } = server();
  let started!: () => void;
  const leading = new Promise<void>((resolve) => (started = resolve));
  const e = elector(client, started);
  e.start();
  answer();
  await leading;
  expect(e.holdsLease).toBe(true);
  clock += 1_400;
  expect(e.holdsLease).toBe(true);
  clock += 200;
  expect(e.holdsLease).toBe(false);
});

test('a replica frozen between sending its lease write and reading the answer does not write on waking', async () => {
  const { client, answer } = server();
  let started!: () => void;
  const leading = new Promise<void>((resolve) => (started = resolve));
  const e = elector(client, started);
  e.start();
  await new Promise((r) => setImmediate(r)); // the create is on its way
  clock += 2_500; // frozen past the lease: a standby may hold it by now
  answer();
  await leading;
  expect(e.isLeader).toBe(true);
  // Counted from the send, the renewal is 2.5 s old: no write may go out on its strength.
  expect(e.holdsLease).toBe(false);
});
