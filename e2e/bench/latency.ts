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
  BENCH_TRUST_NAMESPACE,
} from './peers.ts';
import { BenchPlane } from './plane.ts';
import { Findings, MB, percentile, quick } from './results.ts';
import { EventStream, type Meta } from './stream.ts';
import { AcpContractServer } from '../support/acp-contract-server.ts';
import { AS_PATH } from '../../operator/src/api/authorization-server.ts';
import { API_VERSION, BUNDLE_HASH_ANNOTATION } from '../../operator/src/api/v1alpha1.ts';
import { RESTART_ON_ANNOTATION } from '../../operator/src/controller/boundary.ts';
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

const BASE = 9;
const VARIANTS = 16;
const TIMEOUT_MS = 30_000;

/** A second consequence of the same change, timed from the same instant (an ACP PUT, a rollout). */
interface Consequence {
  samples: number[];
  /** Armed before the change is sent; resolves with performance.now() when the consequence is seen. */
  arm(i: number): Promise<number>;
}

interface LaneOptions {
  name: string;
  namespace: string;
  /** Adds targets beyond the Secret/ConfigMap one. */
  decorate?: (bundle: object) => object;
  consequences?: Consequence[];
}

interface Lane extends LaneOptions {
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

  async open(subject: Subject, options: LaneOptions): Promise<Lane> {
    const { name, namespace } = options;
    const client = this.plane.client;
    await subject.prepareTargetNamespace(this.plane, namespace);
    const targets = await watchTargets(client, subject, namespace, subject.targetName(name));
    const bundles = await watchBundles(client, subject, name);
    // The starting point: the extra variant, so that change 0 changes the bundle too.
    const first = this.base.join('') + this.variants[VARIANTS]!;
    const body = pemBody(this.variants[VARIANTS]!);
    const arrived = targets.next(
      `${subject.label}: first target of ${name}`,
      (e) => targetHolds(subject, e.object, body),
      60_000,
    );
    const bundle = subject.bundle(name, [first], namespace);
    const created = await applyBundle(client, subject, options.decorate?.(bundle) ?? bundle);
    await arrived;
    const generation = created.metadata?.generation ?? 1;
    await bundles
      .next(`${subject.label}: first status of ${name}`, (e) => subject.settled(e.object, generation), 60_000)
      .catch(() => undefined); // it may have settled before the watch saw the apply's response
    return { ...options, subject, targets, bundles, generation, samples: [], settleMs: [] };
  }

  /** Change `i`; records its latencies unless it is a warm-up change. */
  async change(lane: Lane, i: number, record: boolean): Promise<void> {
    const { subject } = lane;
    const body = pemBody(this.variant(i));
    const expected = lane.generation + 1;
    const arrived = lane.targets.next(
      `${subject.label}: change ${i} of ${lane.name} in the target`,
      (e) => e.type !== 'DELETED' && targetHolds(subject, e.object, body),
      TIMEOUT_MS,
    );
    const settled = lane.bundles.next(
      `${subject.label}: status of generation ${expected} of ${lane.name}`,
      (e) => subject.settled(e.object, expected),
      TIMEOUT_MS,
    );
    const consequences = (lane.consequences ?? []).map((c) => c.arm(i));
    const t0 = performance.now();
    lane.generation = await changeSources(this.plane.client, subject, lane.name, [this.sources(i)]);
    if (lane.generation !== expected)
      throw new Error(`${subject.label}: expected generation ${expected}, got ${lane.generation}`);
    const event = await arrived;
    const seen = await Promise.all(consequences);
    const done = await settled;
    if (record) {
      lane.samples.push(event.at - t0);
      lane.settleMs.push(done.at - t0);
      seen.forEach((at, k) => lane.consequences![k]!.samples.push(at - t0));
    }
  }

  /** The target after the last change holds exactly that change's certificates. */
  async verify(lane: Lane, last: number): Promise<void> {
    const target = await this.plane.client.get<Target>(
      `${lane.subject.targetPath(lane.namespace)}/${lane.subject.targetName(lane.name)}`,
    );
    const text = lane.subject.targetText(target) ?? '';
    const held = new Set(pemBlocks(text).map(pemBody));
    const want = pemBlocks(this.sources(last)).map(pemBody);
    if (held.size !== want.length || !want.every((b) => held.has(b)))
      throw new Error(
        `${lane.subject.label}: the target of ${lane.name} holds ${held.size} certificates, not the ${want.length} of the last change`,
      );
  }

  async close(lane: Lane): Promise<void> {
    await Promise.all([lane.targets.stop(), lane.bundles.stop()]);
    await this.plane.client.request('DELETE', lane.subject.bundlePath(lane.name)).catch(() => undefined);
  }
}

/** A lane of our operator whose bundle has `targets` beside its Secret, and one more thing to time. */
function laneWith(name: string, namespace: string, consequence: Consequence, targets: object): LaneOptions {
  return {
    name,
    namespace,
    consequences: [consequence],
    decorate: (b) => {
      const tb = b as { spec: { targets: object } };
      tb.spec.targets = { ...tb.spec.targets, ...targets };
      return tb;
    },
  };
}

const ACP_SERVER = 'openbanking_brasil';
/** The bundle of the ACP lane, the one the AuthorizationServer allows. */
const ACP_LANE = 'bench-latency-acp';

/** Change → the operator's PUT of the authorization server arrives at the ACP contract server. */
async function acpLane(plane: BenchPlane, acp: AcpContractServer, run: LatencyRun): Promise<LaneOptions> {
  const namespace = BENCH_TRUST_NAMESPACE;
  await plane.ensureNamespace(namespace);
  const secret = (name: string, data: Record<string, string>) =>
    plane.client.apply(
      `/api/v1/namespaces/${namespace}/secrets/${name}`,
      { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: data },
      FIELD_MANAGER,
    );
  await secret('acp-admin', { client_id: acp.clientId, client_secret: acp.clientSecret });
  await secret('acp-ca', { 'ca.crt': acp.caPem! });
  await plane.client.apply(
    `${AS_PATH}/bench-acp`,
    {
      apiVersion: API_VERSION,
      kind: 'AuthorizationServer',
      metadata: { name: 'bench-acp' },
      spec: {
        allowedBundles: [ACP_LANE],
        cloudentity: {
          url: acp.url,
          tenant: acp.tenant,
          server: ACP_SERVER,
          credentialsSecret: { name: 'acp-admin' },
          caSecret: { name: 'acp-ca' },
        },
      },
    },
    FIELD_MANAGER,
  );
  const consequence: Consequence = {
    samples: [],
    arm: (i) =>
      new Promise((resolve) => {
        const body = pemBody(run.variant(i));
        const check = (): void => {
          // The PUT that carries this change (a retried or a drift-correcting one would come later).
          const put = acp.requestsTo('put').at(-1);
          const rootCas = put ? String((JSON.parse(put.body) as { root_cas?: unknown }).root_cas ?? '') : '';
          if (containsCertificate(rootCas, body)) resolve(performance.now());
          else acp.inject('put', { before: check });
        };
        acp.inject('put', { before: check });
      }),
  };
  return laneWith(ACP_LANE, namespace, consequence, {
    authorizationServers: [{ name: 'bench-acp' }],
  });
}

/** Change → the Deployment's pod template carries the new bundle hash (the restart is triggered). */
async function rolloutLane(plane: BenchPlane): Promise<LaneOptions> {
  const namespace = 'bench-latency-rollout';
  await plane.ensureNamespace(namespace);
  const app = { app: 'ingress' };
  await plane.client.apply(
    `/apis/apps/v1/namespaces/${namespace}/deployments/ingress`,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ingress', namespace, labels: app, annotations: { [RESTART_ON_ANNOTATION]: '*' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: app },
        template: {
          metadata: { labels: app },
          spec: {
            containers: [{ name: 'controller', image: 'registry.invalid/ingress-nginx/controller:v1' }],
            tolerations: [{ operator: 'Exists' }],
          },
        },
      },
    },
    FIELD_MANAGER,
  );
  type Deployment = Meta & { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };
  const deployments = await EventStream.start<Deployment>(
    plane.client,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    {
      fieldSelector: 'metadata.name=ingress',
    },
  );
  const hashOf = (d: Deployment) => d.spec?.template?.metadata?.annotations?.[BUNDLE_HASH_ANNOTATION];
  let current = deployments.initial[0] ? hashOf(deployments.initial[0]) : undefined;
  deployments.subscribe((e) => void (current = hashOf(e.object) ?? current));
  const consequence: Consequence = {
    samples: [],
    arm: async (i) => {
      const before = current;
      const e = await deployments.next(
        `rollout of change ${i}`,
        (ev) => hashOf(ev.object) !== undefined && hashOf(ev.object) !== before,
        TIMEOUT_MS,
      );
      return e.at;
    },
  };
  return laneWith('bench-latency-rollout', namespace, consequence, {
    rollouts: [{ kind: 'Deployment', namespace, name: 'ingress' }],
  });
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
    'ours (TrustBundle → Secret, → ACP contract server, → rollout triggered) and trust-manager (Bundle → ConfigMap), ' +
    'taking turns on one control plane',
  async run(context: BenchmarkContext) {
    const { log } = context;
    const found = new Findings(log);
    const changes = quick() ? 50 : 200;
    const rollouts = quick() ? 5 : 15;
    const block = quick() ? 10 : 25;
    const warmup = 5;
    ensureTrustManagerBuilt(log);
    const certificates = await corpus(BASE + VARIANTS + 1);
    const plane = await BenchPlane.open({ workloads: true });
    const acp = new AcpContractServer({ tls: true, servers: [ACP_SERVER], tokenTTLSeconds: 3600 });
    let op: OurOperator | undefined;
    let tm: TrustManager | undefined;
    try {
      await acp.start();
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
      const mine = await run.open(ours, { name: 'bench-latency', namespace: 'bench-latency' });
      const theirs = await run.open(trustManager, { name: 'bench-latency', namespace: 'bench-latency-tm' });
      const withAcp = await run.open(ours, await acpLane(plane, acp, run));
      const lanes = [mine, theirs, withAcp];
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
      for (const lane of lanes) await run.verify(lane, last);
      const acpHolds = String(acp.serverObject(ACP_SERVER).root_cas ?? '');
      if (!containsCertificate(acpHolds, pemBody(run.variant(last))))
        throw new Error('the ACP contract server does not hold the last change');

      log(`${rollouts} changes with a rollout target (each waits for the rollout to complete)`);
      const withRollout = await run.open(ours, await rolloutLane(plane));
      for (let i = 0; i < rollouts + 1; i++) await run.change(withRollout, warmup + i, i > 0);
      const memOurs = op.memory();
      const memTm = tm.memory();
      for (const lane of [...lanes, withRollout]) await run.close(lane);

      const p = (samples: number[], q: number) => percentile(samples, q);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const slow = (xs: number[]) => (100 * xs.filter((x) => x > 150).length) / xs.length;
      const [acp_, rollout_] = [withAcp.consequences![0]!.samples, withRollout.consequences![0]!.samples];
      const ms = (name: string, value: number, what: string): [string, number, string, string] => [
        name,
        value,
        'ms',
        what,
      ];
      const table: [string, number, string, string][] = [
        ms(
          'latency-secret-p50',
          p(mine.samples, 50),
          `TrustBundle change → target Secret updated, median of ${changes}`,
        ),
        ms('latency-secret-p99', p(mine.samples, 99), `same, 99th percentile of ${changes}`),
        ms('latency-secret-max', p(mine.samples, 100), 'same, slowest change'),
        ms('latency-secret-mean', mean(mine.samples), 'same, mean'),
        ms(
          'latency-status-p50',
          p(mine.settleMs, 50),
          'change → status Ready for the new generation, median',
        ),
        ms(
          'latency-acp-p50',
          p(acp_, 50),
          'change → the ACP contract server receives the PUT of root_cas (a bundle with a Secret and an ACP ' +
            `target), median of ${changes}`,
        ),
        ms('latency-acp-p99', p(acp_, 99), 'same, 99th percentile'),
        ms(
          'latency-acp-secret-p50',
          p(withAcp.samples, 50),
          'the same bundle: change → its target Secret updated, median',
        ),
        ms(
          'latency-rollout-p50',
          p(rollout_, 50),
          'change → Deployment pod template annotated with the new bundle hash (restart triggered), ' +
            `median of ${rollouts}, with the default 2 s rollout debounce`,
        ),
        ms('latency-rollout-max', p(rollout_, 100), `same, slowest of ${rollouts}`),
        ms(
          'trust-manager-latency-p50',
          p(theirs.samples, 50),
          `Bundle change → target ConfigMap updated, median of ${changes}`,
        ),
        ms('trust-manager-latency-p99', p(theirs.samples, 99), 'same, 99th percentile'),
        ms('trust-manager-latency-mean', mean(theirs.samples), 'same, mean'),
        ms(
          'latency-floor-p50',
          p(floor.samples, 50),
          'the floor: one merge patch of a ConfigMap → its watch event (a controller needs two such writes), median',
        ),
        ms('latency-floor-p99', p(floor.samples, 99), 'the floor, 99th percentile'),
        ['latency-secret-over-150ms', slow(mine.samples), '%', 'ours: share of changes slower than 150 ms'],
        [
          'trust-manager-latency-over-150ms',
          slow(theirs.samples),
          '%',
          'trust-manager: share of changes slower than 150 ms (its latencies are bimodal, ~10 ms or ~200 ms, so its ' +
            'p50 swings between runs with the mix; the mean is steadier)',
        ],
        [
          'vs-trust-manager-latency-ratio',
          p(mine.samples, 50) / p(theirs.samples, 50),
          'x',
          'ours / trust-manager, p50 (lower is better)',
        ],
        [
          'vs-trust-manager-latency-p99-ratio',
          p(mine.samples, 99) / p(theirs.samples, 99),
          'x',
          'ours / trust-manager, p99',
        ],
        [
          'vs-trust-manager-latency-mean-ratio',
          mean(mine.samples) / mean(theirs.samples),
          'x',
          'ours / trust-manager, mean',
        ],
        [
          'latency-rss',
          memOurs.peakRssBytes / MB,
          'MB',
          'our operator, peak RSS (VmHWM) after the latency run',
        ],
        [
          'trust-manager-latency-rss',
          memTm.peakRssBytes / MB,
          'MB',
          'trust-manager, peak RSS (VmHWM) after the latency run',
        ],
      ];
      for (const f of table) found.figure(...f);
      found.note(
        `Latency is measured from just before the merge patch is sent to the arrival of the target's watch event ` +
          `in the benchmark process (both controllers and the benchmark share the machine's 2 cores with the API server, etcd, ` +
          `the controller manager and KWOK). ${warmup} warm-up changes per lane are not counted. The ACP time is the arrival ` +
          'of the PUT at the contract server (in the benchmark process); the rollout time is the watch event of the Deployment ' +
          "whose pod template carries the new hash, after the operator's rollout debounce (ROLLOUT_DEBOUNCE_SECONDS, default 2).",
      );
      found.details.samplesMs = {
        ours: mine.samples,
        trustManager: theirs.samples,
        floor: floor.samples,
        acp: acp_,
        acpSecret: withAcp.samples,
        rollout: rollout_,
      };
      found.details.statusMs = { ours: mine.settleMs, trustManager: theirs.settleMs };
      return found.result();
    } finally {
      await op?.stop();
      await tm?.stop();
      await acp.stop();
      await plane.close();
    }
  },
};
