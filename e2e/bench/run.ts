// `make bench` → `node e2e/bench/run.ts [NAME...]`: runs the registered benchmarks (all when no
// name is given), prints their figures as the last lines (`bench: <name> <value> <unit>`) and
// writes each benchmark's figures to bench-results/<benchmark>.json. To add a benchmark, write a
// module exporting a `Benchmark` and add one line to BENCHMARKS.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Benchmark, BenchmarkResult, Figure } from './benchmark.ts';
import { writeReport, type ReportRecord } from './results.ts';

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  engine: async () => (await import('./engine.ts')).engineBenchmark,
  latency: async () => (await import('./latency.ts')).latencyBenchmark,
  scale: async () => (await import('./scale.ts')).scaleBenchmark,
  frontends: async () => (await import('./frontends.ts')).frontendsBenchmark,
  fanout: async () => (await import('./fanout.ts')).fanoutBenchmark,
};

function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    // The machine is shared: a high load average means the figures are pessimistic.
    loadAverage: loadavg(),
  };
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('--list')) {
    process.stdout.write(
      `Usage: node e2e/bench/run.ts [NAME...]\n\nBenchmarks: ${Object.keys(BENCHMARKS).join(', ')}\n`,
    );
    return 0;
  }
  const names = args.length > 0 ? args : Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`,
    );
    return 2;
  }
  const resultsDir = resolve('bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const all: Figure[] = [];
  const records: ReportRecord[] = [];
  const failed: string[] = [];
  for (const name of names) {
    const benchmark = await BENCHMARKS[name]!();
    const log = (line: string): void => void process.stdout.write(`[${name}] ${line}\n`);
    log(benchmark.description);
    const started = new Date();
    let result: BenchmarkResult;
    try {
      result = await benchmark.run({ resultsDir, log });
    } catch (err) {
      // One broken benchmark must not cost the figures of the others.
      log(`FAILED: ${(err as Error).stack ?? err}`);
      failed.push(name);
      result = { figures: [], details: { notes: [`FAILED: ${(err as Error).message}`] } };
    }
    const file = join(resultsDir, `${name}.json`);
    const record = { benchmark: name, date: started.toISOString(), machine: machine(), ...result };
    writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
    log(`figures written to ${file}`);
    records.push({ benchmark: name, description: benchmark.description, result });
    all.push(...result.figures);
  }
  const report = writeReport(resultsDir, records, {
    date: new Date().toISOString(),
    mode: process.env.BENCH_QUICK === '1' ? 'quick (BENCH_QUICK=1)' : 'full',
    machine: machine(),
  });
  process.stdout.write(`\nreport: ${report}\n`);
  if (failed.length) process.stdout.write(`failed: ${failed.join(', ')}\n`);
  process.stdout.write('\n');
  for (const f of all) process.stdout.write(`bench: ${f.name} ${f.value} ${f.unit}\n`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
