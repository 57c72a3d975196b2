// What a benchmark is to `make bench`: a name, a description, and a run that returns figures.
// Nothing here asserts on time; figures are printed and written to bench-results/.

export interface Figure {
  /** Kebab-case, printed as `bench: <name> <value> <unit>`. */
  name: string;
  value: number;
  unit: string;
}

export interface BenchmarkContext {
  /** bench-results/, created; scratch files may go here too. */
  resultsDir: string;
  /** Progress for people watching; not part of the figures. */
  log(line: string): void;
}

export interface BenchmarkResult {
  figures: Figure[];
  /** Anything else worth keeping in bench-results/<name>.json (settings, raw samples). */
  details?: Record<string, unknown>;
}

export interface Benchmark {
  name: string;
  description: string;
  run(context: BenchmarkContext): Promise<BenchmarkResult>;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
