// Fan-out: one bundle of 10 CAs written into N labelled namespaces (BENCH_FANOUT_N, default 100),
// ours (Secret target) and trust-manager's (ConfigMap target) on one plane, one after the other,
// with the API floor (the same N writes made by the benchmark) measured in the same run. Every
// latency runs from the request that causes the change to the watch event that shows its effect
// in the last namespace: cold start (controller spawn → all N targets hold the bundle), one CA
// changed, a labelled namespace created, a labelled source Secret created (ours only); then peak
// RSS, a restart over the targets in force and an idle window of resyncs, counted at the API server.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchmarkContext } from './benchmark.ts';
import { corpus } from './ca-corpus.ts';
import {
  apiFloor,
  FanoutTargets,
  FLOOR_CONCURRENCY,
  FLOOR_LABEL,
  namespaceFloor,
  type FloorTimes,
} from './fanout-targets.ts';
import {
  BUNDLE_NAME,
  NAMESPACE_LABEL,
  oursSide,
  SOURCE_LABEL,
  SOURCE_NAMESPACE,
  trustManagerSide,
  type Side,
} from './fanout-sides.ts';
import {
  buildOperator,
  ensureTrustManagerBuilt,
  metricSum,
  operatorNodeOptions,
  TRUST_MANAGER_CRDS,
} from './peers.ts';
import { cpuSecondsOf } from './process.ts';
import { BenchPlane, MUTATING_VERBS, requestDelta, sumRequests } from './plane.ts';
import { Findings, MB, percentile, quick } from './results.ts';
import { describeRequests, pool, quiesce, RESOURCES } from './scale.ts';
import { applyBundle, FIELD_MANAGER, TARGET_KEY, TM_TRUST_NAMESPACE } from './subjects.ts';

const CAS = 10;

function setting(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${v}: a positive integer is expected`);
  return n;
}

interface Settings {
  n: number;
  changes: number;
  peerChanges: number;
  created: number;
  selected: number;
  idleSeconds: number;
  resyncSeconds: number;
}

function settings(): Settings {
  const n = setting('BENCH_FANOUT_N', quick() ? 20 : 100);
  const changes = setting('BENCH_FANOUT_CHANGES', quick() ? 5 : 20);
  return {
    n,
    changes,
    // trust-manager writes ~5 namespaces a second: 20 changes at N = 100 would take 7 minutes.
    peerChanges: Math.min(changes, setting('BENCH_FANOUT_PEER_CHANGES', n >= 1000 ? 2 : 5)),
    created: setting('BENCH_FANOUT_NEW_NAMESPACES', quick() ? 5 : 20),
    selected: setting('BENCH_FANOUT_SELECTED', quick() ? 3 : 10),
    idleSeconds: quick() ? 15 : 60,
    resyncSeconds: quick() ? 3 : 5,
  };
}

const namespaceName = (i: number): string => `bench-fan-${String(i).padStart(4, '0')}`;

interface SideFigures {
  readySeconds: number;
  changeMs: number[];
  createdMs: number[];
  selectedMs: number[];
  peakRssBytes: number;
}

class FanoutRun {
  private readonly plane: BenchPlane;
  private readonly context: BenchmarkContext;
  private readonly found: Findings;
  private readonly s: Settings;
  private readonly certificates: string[];
  readonly namespaces: string[];
  /** Distinguishes the namespaces this run creates from those of earlier runs on a kept cluster. */
  private readonly runId = Date.now().toString(36);

  constructor(plane: BenchPlane, context: BenchmarkContext, found: Findings, s: Settings, certs: string[]) {
    this.plane = plane;
    this.context = context;
    this.found = found;
    this.s = s;
    this.certificates = certs;
    this.namespaces = Array.from({ length: s.n }, (_, i) => namespaceName(i));
  }

  private log(line: string): void {
    this.context.log(line);
  }

  /** The 10 CAs in force after change `i` (-1: the initial ones): 9 fixed, the 10th changes. */
  private cas(i: number): string[] {
    const fixed = this.certificates.slice(0, CAS - 1);
    return [...fixed, this.certificates[i < 0 ? CAS - 1 : CAS + i]!];
  }

  private selectedCa(j: number): string {
    return this.certificates[CAS + this.s.changes + j]!;
  }

  private timeoutMs(): number {
    // trust-manager needs ~0.2 s per namespace; leave it room.
    return 120_000 + this.s.n * 500;
  }

  async prepare(): Promise<void> {
    const t0 = performance.now();
    await this.plane.ensureNamespace(TM_TRUST_NAMESPACE);
    await this.plane.ensureNamespace(SOURCE_NAMESPACE);
    await pool(this.namespaces, FLOOR_CONCURRENCY, (ns) =>
      this.plane.ensureNamespace(ns, { [NAMESPACE_LABEL]: 'true' }),
    );
    // On a kept cluster, an earlier run may have labelled more namespaces: N would be wrong.
    const labelled = await this.plane.client.get<{ items: { metadata: { name: string } }[] }>(
      '/api/v1/namespaces',
      { query: { labelSelector: NAMESPACE_LABEL } },
    );
    const ours = new Set(this.namespaces);
    const extra = labelled.items.map((i) => i.metadata.name).filter((ns) => !ours.has(ns));
    await pool(extra, FLOOR_CONCURRENCY, (ns) => this.unlabel(ns));
    // Leftovers of an earlier run on a kept cluster would make the cold start look instant.
    await this.plane.deleteCollection(`/apis/mtls.openbanking.dev/v1alpha1/trustbundles`);
    await this.plane.deleteCollection(`/apis/trust.cert-manager.io/v1alpha1/bundles`);
    await this.plane.deleteCollection(`/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets`, SOURCE_LABEL);
    await pool(this.namespaces, FLOOR_CONCURRENCY, async (ns) => {
      await this.plane.deleteCollection(`/api/v1/namespaces/${ns}/secrets`, `mtls.openbanking.dev/bundle`);
      await this.plane.deleteCollection(
        `/api/v1/namespaces/${ns}/configmaps`,
        `trust.cert-manager.io/bundle`,
      );
    });
    this.log(`${this.s.n} labelled namespaces ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async unlabel(ns: string): Promise<void> {
    await this.plane.client.mergePatch(`/api/v1/namespaces/${ns}`, {
      metadata: { labels: { [NAMESPACE_LABEL]: null } },
    });
  }

  async floor(): Promise<FloorTimes> {
    const pem = (i: number): string => this.cas(i).join('');
    const floor = await apiFloor(this.plane.client, this.namespaces, { first: pem(-1), second: pem(0) });
    this.log(
      `API floor, ${this.s.n} Secrets of ${CAS} CAs: create ${floor.createSequential.toFixed(2)} s sequential, ` +
        `${floor.createConcurrent.toFixed(2)} s ${FLOOR_CONCURRENCY} at once; change ${floor.updateSequential.toFixed(2)} s / ` +
        `${floor.updateConcurrent.toFixed(2)} s`,
    );
    return floor;
  }

  /** Namespaces created by the benchmark and a Secret written into each at once (unlabelled: no controller's). */
  async namespaceFloor(): Promise<number[]> {
    const names = Array.from({ length: this.s.created }, (_, j) => `bench-fan-floor-${this.runId}-${j}`);
    const samples = await namespaceFloor(
      this.plane.client,
      names,
      { [FLOOR_LABEL]: 'true' },
      this.cas(-1).join(''),
    );
    const what = `the benchmark creates a namespace, then at once a Secret in it (${samples.length} namespaces, one at a time)`;
    this.found.figure('api-floor-namespace-created-p50', percentile(samples, 50), 'ms', what);
    this.found.figure('api-floor-namespace-created-p99', percentile(samples, 99), 'ms', what);
    return samples;
  }

  async measure(side: Side): Promise<SideFigures> {
    const { client } = this.plane;
    const { n } = this.s;
    const who = side.subject.label;
    const f = this.found;
    const p = side.prefix;
    const targets = await FanoutTargets.start(client, side.targets);
    const bundlePath = side.subject.bundlePath(BUNDLE_NAME);
    let current = this.cas(-1);
    await applyBundle(client, side.subject, side.bundle(current.join('')));
    const before = await this.plane.requestCounts();
    const ctrl = await side.start({
      logFile: join(this.context.resultsDir, `${p || 'operator-'}fanout-${n}.log`),
    });
    let stopped = false;
    try {
      // Cold start.
      const readyAt = await targets.waitAll(this.namespaces, current, this.timeoutMs());
      const readySeconds = (readyAt - ctrl.spawnedAt) / 1000;
      const coldReconciles = await quiesce(() => ctrl.reconciles(), 1500, this.timeoutMs());
      const cold = requestDelta(before, await this.plane.requestCounts(), RESOURCES);
      const coldCpu = cpuSecondsOf(ctrl.pid);
      f.figure(
        `${p}fanout-ready-${n}`,
        readySeconds,
        's',
        `${who}: spawn → all ${n} targets hold the bundle of ${CAS} CAs`,
      );
      f.figure(
        `${p}fanout-requests-per-namespace`,
        sumRequests(cold) / n,
        'requests',
        `${who}: API requests (all verbs but WATCH) per namespace during the cold start (${coldReconciles} reconciles)`,
      );
      f.figure(
        `${p}fanout-cpu-${n}`,
        coldCpu,
        'CPU-s',
        `${who}: CPU time of the process up to the end of its cold start`,
      );
      f.details[`${p}cold-requests`] = Object.fromEntries(cold ?? []);
      this.log(`  ${who} cold start requests: ${describeRequests(cold)}`);

      // One CA changed → all N targets updated.
      const changes = p ? this.s.peerChanges : this.s.changes;
      const changeMs: number[] = [];
      for (let i = 0; i < changes; i++) {
        const next = this.cas(i);
        const arrived = targets.waitAll(this.namespaces, [next[CAS - 1]!], this.timeoutMs());
        const t0 = performance.now();
        await client.mergePatch(bundlePath, side.patch(next.join('')));
        changeMs.push((await arrived) - t0);
        current = next;
        await quiesce(() => ctrl.reconciles(), 500, this.timeoutMs());
      }
      const changeWhat = `${who}: one CA of ${CAS} changed → all ${n} targets hold it, over ${changes} changes`;
      f.figure(`${p}fanout-change-p50`, percentile(changeMs, 50), 'ms', changeWhat);
      f.figure(`${p}fanout-change-p99`, percentile(changeMs, 99), 'ms', changeWhat);

      // A namespace created with the label → its target exists and holds the bundle.
      const createdMs: number[] = [];
      const createdNamespaces: string[] = [];
      for (let j = 0; j < this.s.created; j++) {
        const ns = `bench-fan-new-${p || 'ours-'}${this.runId}-${j}`;
        const arrived = targets.waitAll([ns], current, 60_000);
        const t0 = performance.now();
        await this.plane.ensureNamespace(ns, { [NAMESPACE_LABEL]: 'true' });
        createdMs.push((await arrived) - t0);
        createdNamespaces.push(ns);
      }
      const createdWhat = `${who}: a namespace created with the label → its target holds the bundle (${this.s.created} namespaces, one at a time)`;
      f.figure(`${p}namespace-created-p50`, percentile(createdMs, 50), 'ms', createdWhat);
      f.figure(`${p}namespace-created-p99`, percentile(createdMs, 99), 'ms', createdWhat);

      // A new labelled source Secret → every target holds its CA (ours only: trust-manager's
      // sources name their objects).
      const selectedMs: number[] = [];
      if (!p) {
        const all = [...this.namespaces, ...createdNamespaces];
        for (let j = 0; j < this.s.selected; j++) {
          const pem = this.selectedCa(j);
          const arrived = targets.waitAll(all, [pem], this.timeoutMs());
          const t0 = performance.now();
          await client.request('POST', `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets`, {
            body: {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: `selected-${this.runId}-${j}`, labels: { [SOURCE_LABEL]: 'true' } },
              stringData: { [TARGET_KEY]: pem },
            },
            query: { fieldManager: FIELD_MANAGER },
          });
          selectedMs.push((await arrived) - t0);
          await quiesce(() => ctrl.reconciles(), 500, this.timeoutMs());
        }
        const what = `${who}: a labelled source Secret created → all ${all.length} targets hold its CA (${this.s.selected} Secrets, one at a time)`;
        f.figure('selected-source-p50', percentile(selectedMs, 50), 'ms', what);
        f.figure('selected-source-p99', percentile(selectedMs, 99), 'ms', what);
      }

      const { peakRssBytes } = ctrl.memory();
      f.figure(
        `${p}rss-fanout-${n}`,
        peakRssBytes / MB,
        'MB',
        `${who}: peak RSS (VmHWM) over all of the above`,
      );
      f.figure(
        `${p}fanout-open-files`,
        readdirSync(`/proc/${ctrl.pid}/fd`).length,
        'fds',
        `${who}: open file descriptors (mostly API server connections) at the end`,
      );
      if (!p) {
        const metrics = await ctrl.metrics();
        f.figure(
          `heap-used-fanout-${n}`,
          metricSum(metrics, 'nodejs_heap_size_used_bytes') / MB,
          'MB',
          `${who}: V8 heap in use at the end (${(metricSum(metrics, 'nodejs_external_memory_bytes') / MB).toFixed(1)} MB external)`,
        );
      }
      f.details[`${p}samples`] = { changeMs, createdMs, selectedMs };
      await ctrl.stop();
      stopped = true;
      await this.idle(side);
      // The namespaces created here would add to the other controller's N.
      await pool(createdNamespaces, FLOOR_CONCURRENCY, (ns) => this.unlabel(ns));
      return { readySeconds, changeMs, createdMs, selectedMs, peakRssBytes };
    } finally {
      if (!stopped) await ctrl.stop();
      await targets.stop();
    }
  }

  /** A restart over N targets in force, then a window of resyncs: every mutating request counts. */
  private async idle(side: Side): Promise<void> {
    const { n, idleSeconds, resyncSeconds } = this.s;
    const p = side.prefix;
    const who = side.subject.label;
    const beforeStart = await this.plane.requestCounts();
    const ctrl = await side.start({
      resyncSeconds,
      logFile: join(this.context.resultsDir, `${p || 'operator-'}fanout-${n}-idle.log`),
    });
    try {
      await quiesce(() => ctrl.reconciles(), 1500, this.timeoutMs());
      const afterStart = await this.plane.requestCounts();
      const r0 = await ctrl.reconciles();
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      const r1 = await ctrl.reconciles();
      const afterIdle = await this.plane.requestCounts();
      const restart = requestDelta(beforeStart, afterStart, RESOURCES);
      const idle = requestDelta(afterStart, afterIdle, RESOURCES);
      const resync = p
        ? 'at its defaults (it has no resync setting)'
        : `with RESYNC_SECONDS=${resyncSeconds}`;
      this.found.figure(
        `${p}fanout-restart-writes`,
        sumRequests(restart, MUTATING_VERBS),
        'requests',
        `${who}: mutating API requests when it restarts over ${n} targets in force`,
      );
      this.found.figure(
        `${p}fanout-idle-writes`,
        sumRequests(idle, MUTATING_VERBS),
        'requests',
        `${who}: mutating API requests during ${idleSeconds} s idle ${resync} over ${n} targets (goal 0; ${r1 - r0} reconciles in the window)`,
      );
      this.found.details[`${p}idle-requests`] = Object.fromEntries(idle ?? []);
      this.found.details[`${p}restart-requests`] = Object.fromEntries(restart ?? []);
    } finally {
      await ctrl.stop();
    }
  }
}

function ratios(
  found: Findings,
  n: number,
  floor: FloorTimes,
  ours: SideFigures,
  theirs?: SideFigures,
): void {
  const ms = (s: number): number => s * 1000;
  const p50 = percentile(ours.changeMs, 50);
  const p99 = percentile(ours.changeMs, 99);
  found.figure(
    `api-floor-fanout-${n}`,
    floor.createSequential,
    's',
    `the benchmark creates the ${n} Secrets itself, one after the other`,
  );
  found.figure(
    `api-floor-fanout-${n}-concurrent`,
    floor.createConcurrent,
    's',
    `the benchmark creates the ${n} Secrets itself, ${FLOOR_CONCURRENCY} at once (the operator's bound)`,
  );
  found.figure(
    `api-floor-change-${n}`,
    ms(floor.updateSequential),
    'ms',
    `the benchmark changes the ${n} Secrets (server-side apply), one after the other`,
  );
  found.figure(
    `api-floor-change-${n}-concurrent`,
    ms(floor.updateConcurrent),
    'ms',
    `the benchmark changes the ${n} Secrets (server-side apply), ${FLOOR_CONCURRENCY} at once`,
  );
  const vs = (name: string, value: number, what: string): void => found.figure(name, value, 'x', what);
  vs(
    'fanout-ready-vs-floor',
    ours.readySeconds / floor.createSequential,
    'ours / the floor (sequential creates), cold fan-out; target ≤ 2',
  );
  vs(
    'fanout-ready-vs-floor-concurrent',
    ours.readySeconds / floor.createConcurrent,
    `ours / the floor (${FLOOR_CONCURRENCY} creates at once), cold fan-out`,
  );
  vs(
    'fanout-change-p50-vs-floor',
    p50 / ms(floor.updateSequential),
    'ours / the floor (sequential changes), change p50; target ≤ 2',
  );
  vs(
    'fanout-change-p99-vs-floor',
    p99 / ms(floor.updateSequential),
    'ours / the floor (sequential changes), change p99; target ≤ 2',
  );
  vs(
    'fanout-change-p50-vs-floor-concurrent',
    p50 / ms(floor.updateConcurrent),
    `ours / the floor (${FLOOR_CONCURRENCY} changes at once), change p50`,
  );
  if (!theirs) return;
  vs(
    'fanout-ready-vs-trust-manager',
    ours.readySeconds / theirs.readySeconds,
    'ours / trust-manager, cold fan-out; target ≤ 0.1',
  );
  vs(
    'fanout-change-p50-vs-trust-manager',
    p50 / percentile(theirs.changeMs, 50),
    'ours / trust-manager, change p50; target ≤ 0.1',
  );
  vs(
    'fanout-change-p99-vs-trust-manager',
    p99 / percentile(theirs.changeMs, 99),
    'ours / trust-manager, change p99; target ≤ 0.1',
  );
  vs(
    'rss-fanout-vs-trust-manager',
    ours.peakRssBytes / theirs.peakRssBytes,
    'ours / trust-manager, peak RSS',
  );
}

export const fanoutBenchmark: Benchmark = {
  name: 'fanout',
  description:
    `one bundle of ${CAS} CAs → a target in N labelled namespaces (BENCH_FANOUT_N), ours (Secret) and ` +
    "trust-manager's (ConfigMap) on one plane, against the API floor of the same N writes: cold fan-out, " +
    'one CA changed, a labelled namespace created, a labelled source Secret created, peak RSS, restart and idle writes',
  async run(context: BenchmarkContext) {
    const found = new Findings(context.log);
    const s = settings();
    const peer = process.env.BENCH_FANOUT_PEER !== '0';
    found.details.settings = s;
    if (peer) ensureTrustManagerBuilt(context.log);
    const certificates = await corpus(CAS + s.changes + s.selected);
    const plane = await BenchPlane.open();
    try {
      found.details.operator = buildOperator(context.log).description;
      found.details.operatorNodeOptions = operatorNodeOptions() || '(none)';
      await plane.applyManifests(join(process.cwd(), 'crds'));
      await plane.waitCrdEstablished('trustbundles.mtls.openbanking.dev');
      if (peer) {
        await plane.applyManifests(TRUST_MANAGER_CRDS);
        await plane.waitCrdEstablished('bundles.trust.cert-manager.io');
      }
      const run = new FanoutRun(plane, context, found, s, certificates);
      await run.prepare();
      context.log(`API floor: ${s.n} Secret writes by the benchmark`);
      const floor = await run.floor();
      await run.namespaceFloor();
      context.log(`our operator over ${s.n} namespaces`);
      const ours = await run.measure(oursSide(context.log));
      let theirs: SideFigures | undefined;
      if (peer) {
        context.log(`trust-manager over ${s.n} namespaces (${s.peerChanges} changes)`);
        theirs = await run.measure(trustManagerSide(plane));
      }
      context.log('API floor again, to see how much the plane drifted during the run');
      const again = await run.floor();
      found.details.floor = { before: floor, after: again };
      ratios(found, s.n, floor, ours, theirs);
      found.note(
        `N = ${s.n}; ${s.changes} changes for ours, ${peer ? s.peerChanges : 0} for trust-manager; API floor before / after ` +
          `the controllers: sequential creates ${floor.createSequential.toFixed(2)} / ${again.createSequential.toFixed(2)} s, ` +
          `${FLOOR_CONCURRENCY} at once ${floor.createConcurrent.toFixed(2)} / ${again.createConcurrent.toFixed(2)} s.`,
      );
      return found.result();
    } finally {
      await plane.close();
    }
  },
};
