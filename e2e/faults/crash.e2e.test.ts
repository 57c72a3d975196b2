// Crash: the operator is SIGKILLed at random points of its reconciles — after a random delay, the
// moment the target Secret holds the new bundle, the moment the Deployment's rollout starts, and
// with more changes made while it is down. After each restart the declared state must be reached
// (no update lost), every bundle hash must cause at most one rollout, and the stored history of
// the target Secret (read back from etcd) must never go back to an older bundle.
import { jest } from '@jest/globals';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  uniqueSuffix,
  waitFor,
} from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { condition, getBundle, readSecret } from '../support/trustbundles.ts';
import { applyWorkload, templateHash } from '../support/workloads.ts';
import {
  BUNDLE_HASH,
  checkWrites,
  declareBundle,
  declareSecret,
  deploymentKey,
  etcdHistory,
  etcdRevision,
  expectedHash,
  extraRollouts,
  faultSeed,
  median,
  removeBundles,
  rolloutsOf,
  secretKey,
  secretsBeforeTemplates,
  seededRandom,
  sleep,
} from '../support/faults.ts';
import { recordRow, scale } from './results.ts';

const ITERATIONS = scale(20, 100);
jest.setTimeout(120_000 + ITERATIONS * 30_000);

const seed = faultSeed();
const random = seededRandom(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const ssl = new OpenSSL();
const cas = Array.from({ length: 10 }, (_, i) => ssl.cert({ subject: `/CN=Crash Root ${i}` }).pem);
const ENV = { ROLLOUT_DEBOUNCE_SECONDS: '0', RESYNC_SECONDS: '600' };
// Reconciles take ~100 ms here: `early` kills land inside them, the watch-triggered kills land
// between the Secret write and the rollout, or between the rollout and the status.
const MODES = ['early', 'secret-written', 'rollout-started', 'while-down'] as const;
type Mode = (typeof MODES)[number];

/** A declared state: one CA inline in the bundle, the others in a source Secret. */
interface State {
  inline: number;
  secret: number[];
  hash: string;
}

const name = `crash-${uniqueSuffix()}`;
let ns: string;
let op: OperatorProcess | undefined;

afterAll(async () => {
  await op?.kill('SIGKILL');
  await removeBundles([name]);
  await cleanupTestNamespaces();
  ssl.cleanup();
});

const stateOf = (inline: number, secret: number[]): State => ({
  inline,
  secret,
  hash: expectedHash([cas[inline]!, secret.map((i) => cas[i]!).join('')]),
});

/** A state whose hash was never declared, differing from `from` in one place only. */
function nextState(from: State, used: Set<string>): State {
  for (;;) {
    const others = [...cas.keys()].filter((i) => i !== from.inline);
    const next =
      random() < 0.5
        ? stateOf(pick(others.filter((i) => !from.secret.includes(i))), from.secret)
        : stateOf(
            from.inline,
            [...others]
              .sort(() => random() - 0.5)
              .slice(0, 1 + Math.floor(random() * 3))
              .sort((a, b) => a - b),
          );
    if (!used.has(next.hash)) return next;
  }
}

async function declare(s: State, previous: State | undefined): Promise<void> {
  if (!previous || previous.secret.join() !== s.secret.join())
    await declareSecret(ns, 'crash-src', { 'ca.crt': s.secret.map((i) => cas[i]!).join('') });
  if (!previous || previous.inline !== s.inline)
    await declareBundle(name, {
      sources: [{ inline: cas[s.inline]! }, { secret: { namespace: ns, name: 'crash-src' } }],
      targets: {
        secrets: [{ namespace: ns, name: 'rootca' }],
        rollouts: [{ kind: 'Deployment', namespace: ns, name: 'ingress' }],
      },
    });
}

const targetHash = async (): Promise<string | undefined> =>
  (await readSecret(ns, 'rootca'))?.annotations[BUNDLE_HASH];

/** Polls fast (the point is to kill right after it happens). */
const soon = (what: string, check: () => Promise<boolean>) =>
  waitFor(what, check, { timeoutMs: 20_000, intervalMs: 10 });

async function converged(hash: string): Promise<void> {
  await waitFor(
    `the declared bundle ${hash.slice(0, 19)} everywhere`,
    async (seen) => {
      const [tb, secret, template] = await Promise.all([
        getBundle(name),
        targetHash(),
        templateHash('Deployment', ns, 'ingress'),
      ]);
      seen({ status: tb?.status?.bundleHash, ready: condition(tb, 'Ready')?.message, secret, template });
      return (
        tb?.status?.observedGeneration === tb?.metadata.generation &&
        tb?.status?.bundleHash === hash &&
        condition(tb, 'Ready')?.status === 'True' &&
        secret === hash &&
        template === hash
      );
    },
    { timeoutMs: 45_000, intervalMs: 50 },
  );
}

test(`${ITERATIONS} SIGKILLs at random points of reconciles lose no update and roll out each hash at most once`, async () => {
  await installCrds();
  ns = (await createTestNamespace('faults-crash')).name;
  await applyWorkload('Deployment', ns, 'ingress', { replicas: 1 });
  // Every ReplicaSet is kept (the default keeps 10), so every rollout of the run can be counted.
  await kubectl([
    '-n',
    ns,
    'patch',
    'deployment',
    'ingress',
    '-p',
    '{"spec":{"revisionHistoryLimit":100000}}',
  ]);
  await kubectl(['-n', ns, 'rollout', 'status', 'deployment/ingress', '--timeout=60s']);
  const fromRevision = await etcdRevision();

  const declared: string[] = [];
  const used = new Set<string>();
  let state = stateOf(0, [1]);
  op = await OperatorProcess.start({ env: ENV });
  await declare(state, undefined);
  declared.push(state.hash);
  used.add(state.hash);
  await converged(state.hash);

  const lines: string[] = [];
  /** The hash each converged iteration ended with: each must show up among the rollouts. */
  const reached = new Set<string>([state.hash]);
  const took: number[] = [];
  const lost: string[] = [];
  let downChanges = 0;
  const modes = new Map<Mode, number>();
  for (let i = 1; i <= ITERATIONS; i++) {
    const mode = pick(MODES);
    modes.set(mode, (modes.get(mode) ?? 0) + 1);
    const next = nextState(state, used);
    const t0 = Date.now();
    await declare(next, state);
    state = next;
    declared.push(state.hash);
    used.add(state.hash);
    if (mode === 'early') await sleep(random() * 250);
    else if (mode === 'secret-written')
      await soon('the new Secret', async () => (await targetHash()) === state.hash);
    else if (mode === 'rollout-started')
      await soon('the rollout', async () => (await templateHash('Deployment', ns, 'ingress')) === state.hash);
    else await sleep(random() * 300);
    const killedAfter = Date.now() - t0;
    await op.kill('SIGKILL');
    const [atKill, tb] = await Promise.all([targetHash(), getBundle(name)]);
    const seenAtKill =
      `Secret ${atKill === state.hash ? 'new' : 'old'}, status ${tb?.status?.bundleHash === state.hash ? 'new' : 'old'}, ` +
      `template ${(await templateHash('Deployment', ns, 'ingress')) === state.hash ? 'new' : 'old'}`;
    const whileDown = mode === 'while-down' || random() < 0.25 ? 1 + Math.floor(random() * 2) : 0;
    for (let k = 0; k < whileDown; k++) {
      const more = nextState(state, used);
      await declare(more, state);
      state = more;
      declared.push(state.hash);
      used.add(state.hash);
      downChanges++;
    }
    const restarted = Date.now();
    op = await OperatorProcess.start({ env: ENV, waitReady: false });
    try {
      await converged(state.hash);
      reached.add(state.hash);
      took.push(Date.now() - restarted);
      lines.push(
        `crash ${i}/${ITERATIONS}: ${mode}, killed ${killedAfter} ms after the change (${seenAtKill})` +
          `${whileDown ? `, then ${whileDown} change(s) while down` : ''} → converged ${Date.now() - restarted} ms after the restart`,
      );
    } catch (err) {
      lost.push(`iteration ${i}: ${(err as Error).message}`);
      lines.push(`crash ${i}/${ITERATIONS}: ${mode} → NOT converged: ${(err as Error).message}`);
    }
  }

  const rollouts = await rolloutsOf(ns, 'ingress');
  const { extra, why } = extraRollouts(rollouts, declared);
  const uncounted = [...reached].filter((h) => !rollouts.byHash.has(h));
  const secretHistory = await etcdHistory(secretKey(ns, 'rootca'), fromRevision);
  const writes = checkWrites(secretHistory, declared);
  // Secrets before rollout, across every crash: each hash stored in the Secret before the template.
  const order = secretsBeforeTemplates(
    secretHistory,
    await etcdHistory(deploymentKey(ns, 'ingress'), fromRevision),
  );
  const rolled = [...rollouts.byHash.values()].reduce((a, b) => a + b, 0);
  console.log(`crash suite, seed ${seed} (FAULTS_SEED=${seed} replays it)\n${lines.join('\n')}`);
  recordRow({
    suite: 'crash',
    order: 10,
    title: 'Operator crash (SIGKILL during reconciles)',
    tried:
      `${ITERATIONS} SIGKILLs (${[...modes].map(([m, n]) => `${n} ${m}`).join(', ')}), ` +
      `${declared.length} bundle states, ${downChanges} declared while the operator was down`,
    faults: ITERATIONS,
    badInputs: null,
    lost: lost.length,
    extraRollouts: extra,
    changedByBadInput: null,
    saw:
      `declared state reached after ${took.length}/${ITERATIONS} restarts (median ${(median(took) / 1000).toFixed(1)} s, ` +
      `max ${(Math.max(0, ...took) / 1000).toFixed(1)} s); ${rolled} rollouts for ${declared.length} hashes; ` +
      `${writes.writes} target writes in etcd, ${writes.stale.length} stale, ${writes.torn.length} torn; ` +
      `${order.checked} pod-template hashes, each stored in the Secret first (${order.violations.length} not)`,
  });
  expect(lost).toEqual([]);
  expect(why).toEqual([]);
  // The count saw every rollout the run is known to have caused.
  expect(uncounted).toEqual([]);
  expect(writes.stale).toEqual([]);
  expect(writes.torn).toEqual([]);
  expect(writes.finalHash).toBe(state.hash);
  expect(order.violations).toEqual([]);
  expect(order.checked).toBeGreaterThan(1);
});
