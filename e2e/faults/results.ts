// What each fault suite tried and saw, one JSON row per suite, and the table and last line the
// soak report prints from them. No cluster dependency: the unit corpus test records here too.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `make soak` sets SOAK=1: every suite runs at full length. */
export const SOAK = process.env.SOAK === '1';

/** The bounded size in `make test`, the full one in `make soak`. */
export const scale = (bounded: number, soak: number): number => (SOAK ? soak : bounded);

export interface FaultRow {
  /** File name of the row: one per suite. */
  suite: string;
  /** Order in the table. */
  order: number;
  title: string;
  /** What was tried, e.g. "20 SIGKILLs at random points of a reconcile". */
  tried: string;
  faults: number;
  badInputs: number;
  lost: number;
  extraRollouts: number;
  changedByBadInput: number;
  /** What was seen, e.g. "converged after every restart (median 1.9 s)". */
  saw: string;
  soak: boolean;
  at: string;
}

export function resultsDir(): string {
  return process.env.FAULTS_RESULTS_DIR || join(REPO_ROOT, '.cluster', 'faults-results');
}

/** Writes the suite's row and prints it, so each run says what it did even without the report. */
export function recordRow(row: Omit<FaultRow, 'soak' | 'at'>): FaultRow {
  const full: FaultRow = { ...row, soak: SOAK, at: new Date().toISOString() };
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${row.suite}.json`), JSON.stringify(full, null, 2) + '\n');
  console.log(`${row.title}: tried ${row.tried}; saw ${row.saw}\n${soakLine([full])}`);
  return full;
}

export function readRows(dir = resultsDir()): FaultRow[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FaultRow)
    .sort((a, b) => a.order - b.order || (a.suite < b.suite ? -1 : 1));
}

const sum = (rows: FaultRow[], k: 'faults' | 'badInputs' | 'lost' | 'extraRollouts' | 'changedByBadInput') =>
  rows.reduce((n, r) => n + r[k], 0);

/** The line the suite ends with. */
export function soakLine(rows: FaultRow[]): string {
  return (
    `soak: ${sum(rows, 'faults')} faults, ${sum(rows, 'badInputs')} bad inputs, ${sum(rows, 'lost')} updates lost, ` +
    `${sum(rows, 'extraRollouts')} extra rollouts, ${sum(rows, 'changedByBadInput')} targets changed by bad input`
  );
}

const cell = (s: string | number): string => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderTable(rows: FaultRow[]): string {
  const head =
    '| suite | tried | faults | bad inputs | updates lost | extra rollouts | targets changed by bad input | seen |\n' +
    '|---|---|--:|--:|--:|--:|--:|---|\n';
  const body = rows
    .map(
      (r) =>
        `| ${cell(r.title)} | ${cell(r.tried)} | ${r.faults} | ${r.badInputs} | ${r.lost} | ${r.extraRollouts} | ${r.changedByBadInput} | ${cell(r.saw)} |`,
    )
    .join('\n');
  const total = `| **total** | | **${sum(rows, 'faults')}** | **${sum(rows, 'badInputs')}** | **${sum(rows, 'lost')}** | **${sum(rows, 'extraRollouts')}** | **${sum(rows, 'changedByBadInput')}** | |`;
  return head + body + '\n' + total + '\n';
}
