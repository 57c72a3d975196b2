// `make bench` → `node e2e/bench/run.ts [NAME...]`: runs the registered benchmarks (all when no
// name is given), prints their figures as the last lines (`bench: <name> <value> <unit>`) and
// writes each benchmark's figures to bench-results/<benchmark>.json. To add a benchmark, write a
// module exporting a `Benchmark` and add one line to BENCHMARKS.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Benchmark, Figure } from './benchmark.ts';

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  engine: async () => (await import('./engine.ts')).engineBenchmark,
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
  for (const name of names) {
    const benchmark = await BENCHMARKS[name]!();
    const log = (line: string): void => void process.stdout.write(`[${name}] ${line}\n`);
    log(benchmark.description);
    const started = new Date();
    const result = await benchmark.run({ resultsDir, log });
    const file = join(resultsDir, `${name}.json`);
    const record = { benchmark: name, date: started.toISOString(), machine: machine(), ...result };
    writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
    log(`figures written to ${file}`);
    all.push(...result.figures);
  }
  process.stdout.write('\n');
  for (const f of all) process.stdout.write(`bench: ${f.name} ${f.value} ${f.unit}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
