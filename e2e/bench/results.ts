// Figures with a line saying what they measure, notes for the human-readable report, the
// statistics the cluster benchmarks use, and bench-results/report.md itself.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchmarkResult, Figure } from './benchmark.ts';

export interface DescribedFigure extends Figure {
  /** What was measured and how, for the report. */
  description?: string;
}

/** Collects a benchmark's figures and notes as it goes, echoing each one as progress. */
export class Findings {
  readonly figures: DescribedFigure[] = [];
  readonly notes: string[] = [];
  readonly details: Record<string, unknown> = {};
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.log = log;
  }

  figure(name: string, value: number, unit: string, description: string): void {
    this.figures.push({ name, value: round(value), unit, description });
    this.log(`  ${name} = ${round(value)} ${unit}`);
  }

  note(text: string): void {
    this.notes.push(text);
    this.log(`  note: ${text}`);
  }

  result(): BenchmarkResult {
    return { figures: this.figures, details: { ...this.details, notes: this.notes } };
  }
}

/** Three significant digits at most: the machine is shared, more would be noise. */
export function round(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return Number(value.toFixed(Math.min(digits, 6)));
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export const MB = 1024 * 1024;

export const quick = (): boolean => process.env.BENCH_QUICK === '1';

export interface ReportRecord {
  benchmark: string;
  description: string;
  result: BenchmarkResult;
}

/** bench-results/report.md: every figure with what it means, then each benchmark's notes. */
export function writeReport(
  resultsDir: string,
  records: ReportRecord[],
  meta: Record<string, unknown>,
): string {
  const lines = [
    '# trustbundle-operator benchmarks (`make bench`)',
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
    '',
    'The machine is shared with other work (2 cores): treat the figures as indications and compare ' +
      'figures of one run with each other. Nothing here is asserted.',
    '',
  ];
  for (const r of records) {
    lines.push(
      `## ${r.benchmark}`,
      '',
      r.description,
      '',
      '| figure | value | unit | what |',
      '|---|---|---|---|',
    );
    for (const f of r.result.figures as DescribedFigure[])
      lines.push(`| \`${f.name}\` | ${f.value} | ${f.unit} | ${f.description ?? ''} |`);
    lines.push('');
    const notes = (r.result.details?.notes ?? []) as string[];
    for (const n of notes) lines.push(`- ${n}`);
    if (notes.length) lines.push('');
  }
  const file = join(resultsDir, 'report.md');
  writeFileSync(file, lines.join('\n'));
  return file;
}
