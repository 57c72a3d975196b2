// Convergence latency, ours and trust-manager's on one plane with the same certificates: a merge
// patch of the bundle's inline source → the watch event of the target that holds the new CA.
// Each change waits for the previous one to settle (target written and status caught up), and
// the two controllers take turns in blocks, so drift in the shared machine's load hits both alike.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchmarkContext } from './benchmark.ts';
import { containsCertificate, corpus, pemBlocks, pemBody } from './ca-corpus.ts';
import {
  buildOperator,
  ensureTrustManagerBuilt,
  OurOperator,
  TRUST_MANAGER_CRDS,
  TrustManager,
} from './peers.ts';
import { BenchPlane } from './plane.ts';
import { Findings, MB, percentile, quick } from './results.ts';
import { EventStream } from './stream.ts';
import {
  applyBundle,
  changeSources,
  FIELD_MANAGER,
  ours,
  TARGET_KEY,
  targetHolds,
  trustManager,
  TM_TRUST_NAMESPACE,
  watchBundles,
  watchTargets,
  type Conditioned,
  type Subject,
  type Target,
} from './subjects.ts';

const BUNDLE = 'bench-latency';
const BASE = 9;
const VARIANTS = 16;
const TIMEOUT_MS = 30_000;

interface Lane {
  subject: Subject;
  targets: EventStream<Target>;
  bundles: EventStream<Conditioned>;
  generation: number;
  samples: number[];
  settleMs: number[];
}

export class LatencyRun {
  private readonly plane: BenchPlane;
  private readonly base: string[];
  private readonly variants: string[];

  constructor(plane: BenchPlane, certificates: string[]) {
    this.plane = plane;
    this.base = certificates.slice(0, BASE);
    this.variants = certificates.slice(BASE, BASE + VARIANTS + 1);
  }

  /** The sources of change `i`: 9 fixed CAs and one that differs from the previous change's. */
  sources(i: number): string {
    return this.base.join('') + this.variant(i);
  }

  variant(i: number): string {
    return this.variants[i % VARIANTS]!;
  }

  async open(subject: Subject, namespace: string): Promise<Lane> {
    const client = this.plane.client;
    await subject.prepareTargetNamespace(this.plane, namespace);
    const targets = await watchTargets(client, subject, namespace, subject.targetName(BUNDLE));
    const bundles = await watchBundles(client, subject, BUNDLE);
    // The starting point: the extra variant, so that change 0 changes the bundle too.
    const first = this.base.join('') + this.variants[VARIANTS]!;
    const body = pemBody(this.variants[VARIANTS]!);
    const arrived = targets.next(
      `${subject.label}: first target`,
      (e) => targetHolds(subject, e.object, body),
      60_000,
    );
    const created = await applyBundle(client, subject, subject.bundle(BUNDLE, [first], namespace));
    await arrived;
    const generation = created.metadata?.generation ?? 1;
    await bundles
      .next(`${subject.label}: first status`, (e) => subject.settled(e.object, generation), TIMEOUT_MS)
      .catch(() => undefined); // it may have settled before the watch saw the apply's response
    return { subject, targets, bundles, generation, samples: [], settleMs: [] };
  }

  /** Change `i`; records its latency unless it is a warm-up change. */
  async change(lane: Lane, i: number, record: boolean): Promise<void> {
    const { subject } = lane;
    const body = pemBody(this.variant(i));
    const expected = lane.generation + 1;
    const arrived = lane.targets.next(
      `${subject.label}: change ${i} in the target`,
      (e) => e.type !== 'DELETED' && targetHolds(subject, e.object, body),
      TIMEOUT_MS,
    );
    const settled = lane.bundles.next(
      `${subject.label}: status of generation ${expected}`,
      (e) => subject.settled(e.object, expected),
      TIMEOUT_MS,
    );
    const t0 = performance.now();
    lane.generation = await changeSources(this.plane.client, subject, BUNDLE, [this.sources(i)]);
    if (lane.generation !== expected)
      throw new Error(`${subject.label}: expected generation ${expected}, got ${lane.generation}`);
    const event = await arrived;
    const done = await settled;
    if (record) {
      lane.samples.push(event.at - t0);
      lane.settleMs.push(done.at - t0);
    }
  }

  /** The target after the last change holds exactly that change's certificates. */
  async verify(lane: Lane, namespace: string, last: number): Promise<void> {
    const target = await this.plane.client.get<Target>(
      `${lane.subject.targetPath(namespace)}/${lane.subject.targetName(BUNDLE)}`,
    );
    const text = lane.subject.targetText(target) ?? '';
    const held = new Set(pemBlocks(text).map(pemBody));
    const want = pemBlocks(this.sources(last)).map(pemBody);
    if (held.size !== want.length || !want.every((b) => held.has(b)))
      throw new Error(
        `${lane.subject.label}: the target holds ${held.size} certificates, not the ${want.length} of the last change`,
      );
  }

  async close(lane: Lane): Promise<void> {
    await Promise.all([lane.targets.stop(), lane.bundles.stop()]);
    await this.plane.client.request('DELETE', lane.subject.bundlePath(BUNDLE)).catch(() => undefined);
  }
}

/**
 * The floor: one merge patch of a ConfigMap by the benchmark itself and the watch event that shows
 * it. A controller's latency is at least two of these (the bundle write, then the target write).
 */
class FloorLane {
  private readonly run: LatencyRun;
  private readonly plane: BenchPlane;
  private stream?: EventStream<Target>;
  readonly samples: number[] = [];
  private static readonly PATH = '/api/v1/namespaces/bench-latency-floor/configmaps';

  constructor(run: LatencyRun, plane: BenchPlane) {
    this.run = run;
    this.plane = plane;
  }

  async open(): Promise<void> {
    await this.plane.ensureNamespace('bench-latency-floor');
    await this.plane.client.apply(
      `${FloorLane.PATH}/floor`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'floor' }, data: {} },
      FIELD_MANAGER,
    );
    this.stream = await EventStream.start<Target>(this.plane.client, FloorLane.PATH, {
      fieldSelector: 'metadata.name=floor',
    });
  }

  async change(i: number, record: boolean): Promise<void> {
    const text = this.run.sources(i);
    const body = pemBody(this.run.variant(i));
    const arrived = this.stream!.next(
      `floor change ${i}`,
      (e) => containsCertificate(e.object.data?.[TARGET_KEY] ?? '', body),
      TIMEOUT_MS,
    );
    const t0 = performance.now();
    await this.plane.client.mergePatch(`${FloorLane.PATH}/floor`, { data: { [TARGET_KEY]: text } });
    const e = await arrived;
    if (record) this.samples.push(e.at - t0);
  }

  async close(): Promise<void> {
    await this.stream?.stop();
  }
}

export const latencyBenchmark: Benchmark = {
  name: 'latency',
  description:
    'convergence latency: bundle change (merge patch of an inline source) → target updated, seen through a watch; ' +
    'ours (TrustBundle → Secret) and trust-manager (Bundle → ConfigMap), taking turns on one control plane',
  async run(context: BenchmarkContext) {
    const { log } = context;
    const found = new Findings(log);
    const changes = quick() ? 50 : 200;
    const block = quick() ? 10 : 25;
    const warmup = 5;
    ensureTrustManagerBuilt(log);
    const certificates = await corpus(BASE + VARIANTS + 1);
    const plane = await BenchPlane.open();
    let op: OurOperator | undefined;
    let tm: TrustManager | undefined;
    try {
      await plane.applyManifests(join(process.cwd(), 'crds'));
      await plane.applyManifests(TRUST_MANAGER_CRDS);
      await plane.waitCrdEstablished('trustbundles.mtls.openbanking.dev');
      await plane.waitCrdEstablished('bundles.trust.cert-manager.io');
      const run = new LatencyRun(plane, certificates);

      op = await OurOperator.start({
        build: buildOperator(log),
        logFile: join(context.resultsDir, 'operator-latency.log'),
      });
      tm = await TrustManager.start({
        kubeconfig: plane.kubeconfigPath,
        trustNamespace: TM_TRUST_NAMESPACE,
        logFile: join(context.resultsDir, 'trust-manager-latency.log'),
      });
      const lanes = [await run.open(ours, 'bench-latency'), await run.open(trustManager, 'bench-latency-tm')];
      const floor = new FloorLane(run, plane);
      await floor.open();
      log(`${warmup} warm-up changes each, then ${changes} measured changes each, in turns of ${block}`);
      for (let i = 0; i < warmup; i++) {
        for (const lane of lanes) await run.change(lane, i, false);
        await floor.change(i, false);
      }
      for (let done = 0; done < changes; done += block) {
        const turn = Array.from({ length: Math.min(block, changes - done) }, (_, k) => warmup + done + k);
        for (const lane of lanes) for (const i of turn) await run.change(lane, i, true);
        for (const i of turn) await floor.change(i, true);
      }
      await floor.close();
      const last = warmup + changes - 1;
      await run.verify(lanes[0]!, 'bench-latency', last);
      await run.verify(lanes[1]!, 'bench-latency-tm', last);
      const [mine, theirs] = lanes as [Lane, Lane];
      const memOurs = op.memory();
      const memTm = tm.memory();
      for (const lane of lanes) await run.close(lane);

      const p = (l: Lane, q: number) => percentile(l.samples, q);
      found.figure(
        'latency-secret-p50',
        p(mine, 50),
        'ms',
        `TrustBundle change → target Secret updated, median of ${changes}`,
      );
      found.figure('latency-secret-p99', p(mine, 99), 'ms', `same, 99th percentile of ${changes}`);
      found.figure('latency-secret-max', p(mine, 100), 'ms', 'same, slowest change');
      found.figure(
        'latency-status-p50',
        percentile(mine.settleMs, 50),
        'ms',
        'change → status Ready for the new generation, median',
      );
      found.figure(
        'trust-manager-latency-p50',
        p(theirs, 50),
        'ms',
        `Bundle change → target ConfigMap updated, median of ${changes}`,
      );
      found.figure('trust-manager-latency-p99', p(theirs, 99), 'ms', 'same, 99th percentile');
      found.figure(
        'latency-floor-p50',
        percentile(floor.samples, 50),
        'ms',
        'the floor: one merge patch of a ConfigMap → its watch event (a controller needs two such writes), median',
      );
      found.figure('latency-floor-p99', percentile(floor.samples, 99), 'ms', 'the floor, 99th percentile');
      found.figure(
        'vs-trust-manager-latency-ratio',
        p(mine, 50) / p(theirs, 50),
        'x',
        'ours / trust-manager, p50 (lower is better)',
      );
      found.figure(
        'vs-trust-manager-latency-p99-ratio',
        p(mine, 99) / p(theirs, 99),
        'x',
        'ours / trust-manager, p99',
      );
      found.figure(
        'latency-rss',
        memOurs.peakRssBytes / MB,
        'MB',
        'our operator, peak RSS (VmHWM) after the latency run',
      );
      found.figure(
        'trust-manager-latency-rss',
        memTm.peakRssBytes / MB,
        'MB',
        'trust-manager, peak RSS (VmHWM) after the latency run',
      );
      found.note(
        `Latency is measured from just before the merge patch is sent to the arrival of the target's watch event ` +
          `in the benchmark process (both controllers and the benchmark share the machine's 2 cores with the API server and etcd). ` +
          `${warmup} warm-up changes per controller are not counted.`,
      );
      found.note(
        'Change → authorization server (ACP contract server) and change → rollout triggered: not measured yet; ' +
          'those targets are not wired into the controller at this commit (slots `latency-acp-*`, `latency-rollout-*`).',
      );
      found.details.samplesMs = { ours: mine.samples, trustManager: theirs.samples };
      found.details.statusMs = { ours: mine.settleMs, trustManager: theirs.settleMs };
      return found.result();
    } finally {
      await op?.stop();
      await tm?.stop();
      await plane.close();
    }
  },
};
