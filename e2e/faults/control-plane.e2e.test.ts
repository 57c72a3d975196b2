// Control-plane faults under load: while source Secrets of several bundles keep changing, the
// kube-apiserver and then etcd are SIGKILLed and started again. The operator's watches must come
// back (the last changes, made after the faults, arrive with no resync to help), and the stored
// history of every target — read from etcd, so writes made while the API server was away are
// seen too — must only ever step forward through the hashes its bundle had, ending at the last.
import { jest } from '@jest/globals';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { condition, getBundle, readSecret } from '../support/trustbundles.ts';
import {
  BUNDLE_HASH,
  checkWrites,
  declareBundle,
  declareSecret,
  etcdHistory,
  etcdRevision,
  expectedHash,
  faultSeed,
  plane,
  removeBundles,
  secretKey,
  seededRandom,
  sleep,
  storedPem,
} from '../support/faults.ts';
import { recordRow, scale } from './results.ts';

const BUNDLES = scale(6, 12);
const CYCLES = scale(1, 5);
jest.setTimeout(180_000 + CYCLES * 60_000);

const seed = faultSeed();
const random = seededRandom(seed);
const ssl = new OpenSSL();
const cas = Array.from({ length: 10 }, (_, i) => ssl.cert({ subject: `/CN=Plane Root ${i}` }).pem);
const names = Array.from({ length: BUNDLES }, (_, k) => `plane-${k}-${uniqueSuffix()}`);
let ns: string;
let op: OperatorProcess | undefined;

afterAll(async () => {
  await op?.kill('SIGKILL');
  await removeBundles(names);
  await cleanupTestNamespaces();
  ssl.cleanup();
});

/** A set of 1–4 CAs not used before by this bundle. */
function freshSet(used: Set<string>): string {
  for (;;) {
    const set = [...cas.keys()]
      .sort(() => random() - 0.5)
      .slice(0, 1 + Math.floor(random() * 4))
      .sort((a, b) => a - b);
    const key = set.join(',');
    if (used.has(key)) continue;
    used.add(key);
    return set.map((i) => cas[i]!).join('');
  }
}

test(`kube-apiserver and etcd SIGKILLed ${CYCLES} time(s) each under load: watches recover, no stale write, no lost update`, async () => {
  await installCrds();
  ns = (await createTestNamespace('faults-plane')).name;
  const fromRevision = await etcdRevision();
  const used = names.map(() => new Set<string>());
  for (const [k, name] of names.entries()) {
    await declareSecret(ns, `src-${k}`, { 'ca.crt': freshSet(used[k]!) });
    await declareBundle(name, {
      sources: [{ secret: { namespace: ns, name: `src-${k}` } }],
      targets: { secrets: [{ namespace: ns, name: `tgt-${k}` }] },
    });
  }
  op = await OperatorProcess.start({ env: { RESYNC_SECONDS: '600' } });
  await Promise.all(
    names.map((name) =>
      waitFor(`${name} Ready`, async () => condition(await getBundle(name), 'Ready')?.status === 'True'),
    ),
  );

  // The load: one source change every ~100 ms, round robin; failures (the plane is down) retried.
  let loading = true;
  const load = { written: 0, failed: 0 };
  const loader = (async () => {
    for (let k = 0; loading; k = (k + 1) % BUNDLES) {
      const pem = freshSet(used[k]!);
      for (;;) {
        try {
          await declareSecret(ns, `src-${k}`, { 'ca.crt': pem });
          load.written++;
          break;
        } catch {
          load.failed++;
          if (!loading) break;
          await sleep(200);
        }
      }
      await sleep(100);
    }
  })();

  const timeline: string[] = [];
  await sleep(1_000);
  for (let c = 1; c <= CYCLES; c++) {
    for (const component of ['kube-apiserver', 'etcd'] as const) {
      await plane('stop', component, { kill: true });
      const down = 1_000 + random() * 1_500;
      await sleep(down);
      const took = await plane('start', component);
      timeline.push(
        `cycle ${c}: ${component} SIGKILLed, down ${(down / 1000).toFixed(1)} s, serving again ${(took / 1000).toFixed(1)} s after the start`,
      );
      await sleep(1_500);
    }
  }
  loading = false;
  await loader;

  // After the faults: one more change per bundle; only working watches deliver it (no resync).
  const final = names.map((_, k) => freshSet(used[k]!));
  await Promise.all(final.map((pem, k) => declareSecret(ns, `src-${k}`, { 'ca.crt': pem })));
  const t0 = Date.now();
  const lost: string[] = [];
  await Promise.all(
    names.map(async (name, k) => {
      const want = expectedHash([final[k]!]);
      try {
        await waitFor(
          `${name}: the last change`,
          async () => (await readSecret(ns, `tgt-${k}`))?.annotations[BUNDLE_HASH] === want,
          { timeoutMs: 60_000, intervalMs: 100 },
        );
      } catch (err) {
        lost.push((err as Error).message);
      }
    }),
  );
  const recovered = Date.now() - t0;

  let writes = 0;
  const stale: string[] = [];
  const torn: string[] = [];
  let states = 0;
  for (let k = 0; k < BUNDLES; k++) {
    const sources = (await etcdHistory(secretKey(ns, `src-${k}`), fromRevision)).filter((v) => !v.deleted);
    const declared = sources.map((v) => expectedHash([storedPem(v.value)]));
    states += declared.length;
    const check = checkWrites(await etcdHistory(secretKey(ns, `tgt-${k}`), fromRevision), declared);
    writes += check.writes;
    stale.push(...check.stale.map((s) => `${names[k]}: ${s}`));
    torn.push(...check.torn.map((s) => `${names[k]}: ${s}`));
    if (check.finalHash !== declared.at(-1))
      lost.push(`${names[k]}: the last stored write is not the last state`);
  }
  const watchErrors = op.lines.filter((l) => /failed; retrying/.test(l)).length;
  console.log(`control-plane suite, seed ${seed}\n${timeline.join('\n')}`);
  recordRow({
    suite: 'control-plane',
    order: 20,
    title: 'Control plane (kube-apiserver, etcd SIGKILLed under load)',
    tried:
      `${CYCLES} kube-apiserver + ${CYCLES} etcd kills while ${BUNDLES} bundles changed every ~${BUNDLES * 100} ms ` +
      `(${load.written} source writes, ${load.failed} refused while down)`,
    faults: CYCLES * 2,
    badInputs: null,
    lost: lost.length,
    extraRollouts: null,
    changedByBadInput: null,
    saw:
      `watches recovered after ${watchErrors} watch/list errors: the last change of every bundle published ` +
      `${(recovered / 1000).toFixed(1)} s after it was made; ${writes} target writes in etcd for ${states} source states, ` +
      `${stale.length} stale, ${torn.length} torn`,
  });
  expect(lost).toEqual([]);
  expect(stale).toEqual([]);
  expect(torn).toEqual([]);
  expect(watchErrors).toBeGreaterThan(0);
});
