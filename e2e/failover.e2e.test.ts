// Two replicas with leader election: one acts, the other takes over within the lease duration
// when the first is killed, and no change is missed.
import { jest } from '@jest/globals';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from './harness/kube.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import { applyBundle, deleteBundle, readSecret, subjectsOf } from './support/trustbundles.ts';

jest.setTimeout(120_000);

const ssl = new OpenSSL();
const replicas: OperatorProcess[] = [];
const name = `failover-${uniqueSuffix()}`;

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
  await deleteBundle(name);
  await cleanupTestNamespaces();
  ssl.cleanup();
});

test('the standby takes over after the leader is killed and applies the next change', async () => {
  await installCrds();
  const system = (await createTestNamespace('trustbundle-system')).name;
  const apim = (await createTestNamespace('apim')).name;
  const env = { LEADER_ELECT: 'true', LEASE_NAMESPACE: system, LEASE_NAME: 'failover', LEASE_DURATION: '3' };
  const a = await OperatorProcess.start({ env });
  replicas.push(a);
  await waitFor('the first replica to lead', () => a.lines.some((l) => l.includes('became leader')));
  const b = await OperatorProcess.start({ env });
  replicas.push(b);

  const [ca1, ca2] = [ssl.cert({ subject: '/CN=CA1' }), ssl.cert({ subject: '/CN=CA2' })];
  const targets = { secrets: [{ namespace: apim, name: 'rootca' }] };
  await applyBundle(name, { sources: [{ inline: ca1.pem }], targets });
  await waitFor(
    'the leader to publish CA1',
    async () => subjectsOf((await readSecret(apim, 'rootca'))?.data['ca.crt'])[0] === 'CN=CA1',
  );
  expect(b.lines.some((l) => l.includes('became leader'))).toBe(false);
  expect(b.lines.some((l) => l.includes(name))).toBe(false);

  const killedAt = Date.now();
  await a.kill('SIGKILL');
  await applyBundle(name, { sources: [{ inline: ca2.pem }], targets });
  await waitFor(
    'the standby to take over and publish CA2',
    async () => subjectsOf((await readSecret(apim, 'rootca'))?.data['ca.crt'])[0] === 'CN=CA2',
    { timeoutMs: 20_000 },
  );
  const took = Date.now() - killedAt;
  console.log(`failover: leader killed → change applied by the standby in ${took} ms (lease 3 s)`);
  expect(b.lines.some((l) => l.includes('became leader'))).toBe(true);
});
