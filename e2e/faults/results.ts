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
  /** Counters: null (shown n/a) when the suite does not measure it, never a 0 it did not count. */
  faults: number | null;
  badInputs: number | null;
  /** Updates not published, or targets not restored. */
  lost: number | null;
  extraRollouts: number | null;
  changedByBadInput: number | null;
  /** Times the status said a target was Synced with bytes etcd did not hold (beyond the lag allowed). */
  falseSynced?: number | null;
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

type Counter = 'faults' | 'badInputs' | 'lost' | 'extraRollouts' | 'changedByBadInput' | 'falseSynced';
const COUNTERS: Counter[] = [
  'faults',
  'badInputs',
  'lost',
  'extraRollouts',
  'changedByBadInput',
  'falseSynced',
];

/** The sum over the suites that measure it; null when none does. */
function sum(rows: FaultRow[], k: Counter): number | null {
  const measured = rows.map((r) => r[k]).filter((v): v is number => typeof v === 'number');
  return measured.length ? measured.reduce((a, b) => a + b, 0) : null;
}
const shown = (v: number | null | undefined): string => (typeof v === 'number' ? String(v) : 'n/a');

/** The counters that must be 0 for a run to be good. */
export const badCounters = (r: FaultRow): string[] =>
  (['lost', 'extraRollouts', 'changedByBadInput', 'falseSynced'] as const).filter((k) => (r[k] ?? 0) > 0);

/** The line the suite ends with; `failed` names what did not pass (a red jest run), never green then. */
export function soakLine(rows: FaultRow[], failed: string[] = []): string {
  return (
    `soak${failed.length ? ` FAILED (${failed.join(', ')})` : ''}: ${shown(sum(rows, 'faults'))} faults, ` +
    `${shown(sum(rows, 'badInputs'))} bad inputs, ${shown(sum(rows, 'lost'))} updates or targets lost, ` +
    `${shown(sum(rows, 'extraRollouts'))} extra rollouts, ${shown(sum(rows, 'changedByBadInput'))} targets changed by bad input, ` +
    `${shown(sum(rows, 'falseSynced'))} false Synced reports`
  );
}

const cell = (s: string | number): string => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table; rows of suites in `failed` are marked. */
export function renderTable(rows: FaultRow[], failed: string[] = []): string {
  const head =
    '| suite | tried | faults | bad inputs | updates or targets lost | extra rollouts | targets changed by bad input | false Synced | seen |\n' +
    '|---|---|--:|--:|--:|--:|--:|--:|---|\n';
  const body = rows
    .map(
      (r) =>
        `| ${cell(r.title)}${failed.includes(r.suite) ? ' — **FAILED**' : ''} | ${cell(r.tried)} | ` +
        COUNTERS.map((k) => shown(r[k])).join(' | ') +
        ` | ${cell(r.saw)} |`,
    )
    .join('\n');
  const total = `| **total** | | ${COUNTERS.map((k) => `**${shown(sum(rows, k))}**`).join(' | ')} | |`;
  return head + body + '\n' + total + '\n';
}
