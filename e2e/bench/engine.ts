// The engine benchmark: parse + validate + dedupe + order 10,000 CA certificates, compared in
// the same run with node-forge parsing the same PEM and with openssl reading it
// (`openssl crl2pkcs7 -nocrl -certfile | openssl pkcs7 -print_certs -noout`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, type Benchmark, type BenchmarkContext, type Figure } from './benchmark.ts';
import { loadCorpus } from './corpus.ts';
import { hotspots, type Hotspot } from './profile.ts';

const COUNT = 10_000;
const TARGET = 50_000; // certificates/s, DESIGN.md
const WORKER = new URL('./engine-worker.ts', import.meta.url).pathname;

interface WorkerResult {
  certificates: number;
  seconds: number[];
  maxRssBytes: number;
  baselineRssBytes: number;
  heapUsedBytes: number;
  parsed?: number;
  asn1Only?: number;
}

function worker(mode: string, corpus: string, iterations: number, nodeArgs: string[] = []): WorkerResult {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', ...nodeArgs, WORKER, mode, corpus, String(iterations)],
    {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`${mode} worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as WorkerResult;
}

function openssl(corpus: string, iterations: number): { seconds: number[]; certificates: number } {
  const seconds: number[] = [];
  let certificates = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const r = spawnSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        'openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs -noout',
        '-',
        corpus,
      ],
      { encoding: 'utf8', maxBuffer: 256 << 20 },
    );
    seconds.push((performance.now() - t0) / 1000);
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    certificates = (r.stdout.match(/^subject=/gm) ?? []).length;
  }
  return { seconds, certificates };
}

function profileEngine(resultsDir: string, corpus: string, log: BenchmarkContext['log']): Hotspot[] {
  const dir = join(resultsDir, 'engine-profile');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  worker('engine', corpus, 5, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
  const top = hotspots(join(dir, file));
  log(`CPU profile ${join(dir, file)} (open in Chrome DevTools); self time, top functions:`);
  for (const h of top)
    log(
      `  ${h.percent.toFixed(1).padStart(5)}%  ${h.selfMs.toFixed(0).padStart(6)} ms  ${h.function}  ${h.location}`,
    );
  return top;
}

const rate = (certs: number, seconds: number[]): number => Math.round(certs / median(seconds));
const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;

export const engineBenchmark: Benchmark = {
  name: 'engine',
  description: `bundle engine: parse + validate + dedupe + order ${COUNT} CA certificates (RSA-2048 / EC P-256), vs node-forge and openssl`,
  async run({ resultsDir, log }) {
    const corpus = join(resultsDir, 'engine-corpus.pem');
    loadCorpus(corpus, COUNT, log);

    log('engine, cold cache (every certificate parsed), 7 builds in a fresh process');
    const cold = worker('engine', corpus, 7);
    log('engine, one cold build in a fresh process (peak memory of a single build)');
    const single = worker('engine', corpus, 1);
    log('engine, warm cache (a resync of unchanged sources), 7 builds');
    const warm = worker('engine-warm', corpus, 7);
    log('node-forge, 3 parses');
    const forge = worker('forge', corpus, 3);
    log('openssl crl2pkcs7 | openssl pkcs7 -print_certs, 3 runs');
    const ssl = openssl(corpus, 3);
    for (const [what, n] of [
      ['engine', cold.certificates],
      ['node-forge', forge.certificates],
      ['openssl', ssl.certificates],
    ] as const) {
      if (n !== COUNT) throw new Error(`${what} saw ${n} certificates, not ${COUNT}`);
    }

    const engineRate = rate(cold.certificates, cold.seconds);
    const forgeRate = rate(forge.certificates, forge.seconds);
    const opensslRate = rate(ssl.certificates, ssl.seconds);
    const figures: Figure[] = [
      { name: 'engine-certs-per-second', value: engineRate, unit: 'certs/s' },
      {
        name: 'engine-cached-certs-per-second',
        value: rate(warm.certificates, warm.seconds),
        unit: 'certs/s',
      },
      { name: 'engine-build-10k-ms', value: Math.round(median(cold.seconds) * 1000), unit: 'ms' },
      { name: 'engine-peak-rss-one-build', value: mb(single.maxRssBytes), unit: 'MB' },
      { name: 'engine-peak-rss-7-builds', value: mb(cold.maxRssBytes), unit: 'MB' },
      { name: 'engine-heap-retained', value: mb(cold.heapUsedBytes), unit: 'MB' },
      { name: 'forge-certs-per-second', value: forgeRate, unit: 'certs/s' },
      { name: 'forge-peak-rss', value: mb(forge.maxRssBytes), unit: 'MB' },
      { name: 'openssl-certs-per-second', value: opensslRate, unit: 'certs/s' },
      { name: 'engine-vs-forge', value: Math.round((100 * engineRate) / forgeRate) / 100, unit: 'x' },
      { name: 'engine-vs-openssl', value: Math.round((100 * engineRate) / opensslRate) / 100, unit: 'x' },
    ];
    log(
      `node-forge: ${forge.parsed} certificates fully parsed; ${forge.asn1Only} EC certificates only as ASN.1 ` +
        '(node-forge has no EC public keys)',
    );

    const wantProfile = engineRate < TARGET || process.env.BENCH_PROFILE === '1';
    if (engineRate < TARGET) log(`engine below the design target of ${TARGET} certs/s: profiling`);
    const profile = wantProfile ? profileEngine(resultsDir, corpus, log) : undefined;

    return {
      figures,
      details: {
        certificates: COUNT,
        sources: 10,
        targetCertsPerSecond: TARGET,
        engineCold: cold,
        engineSingleBuild: single,
        engineWarm: warm,
        forge,
        openssl: ssl,
        ...(profile ? { profile } : {}),
      },
    };
  },
};
