// The text exposition format as Prometheus parses it (format 0.0.4): every family announced by
// HELP and TYPE before its samples, label values escaped, histogram buckets cumulative.
import {
  Counter,
  EXPOSITION_CONTENT_TYPE,
  Gauge,
  Histogram,
  Registry,
  registerProcessMetrics,
} from '../../src/observability/prometheus.ts';

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses an exposition strictly; throws on any line Prometheus would refuse. */
function parse(text: string) {
  const families = new Map<string, { type: string; help: string }>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, what, name, rest] = meta as unknown as [string, string, string, string];
      expect(name).toMatch(METRIC);
      const f = families.get(name) ?? { type: '', help: '' };
      if (what === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest);
        f.type = rest;
      } else f.help = rest;
      families.set(name, f);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, body, value] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    let rest = body ?? '';
    while (rest) {
      const l = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(?:,|$)/.exec(rest);
      if (!l) throw new Error(`bad labels in ${line}`);
      expect(l[1]).toMatch(LABEL);
      labels[l[1]!] = l[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const family = name.replace(/_(bucket|sum|count)$/, '');
    expect(families.has(name) || families.get(family)?.type === 'histogram').toBe(true);
    const v = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
    expect(Number.isNaN(v) && value !== 'NaN').toBe(false);
    samples.push({ name, labels, value: v });
  }
  return { families, samples };
}

test('counters, gauges and histograms are exposed as Prometheus parses them', async () => {
  const r = new Registry();
  const c = new Counter('jobs_total', 'Jobs done.\nBy result.', ['result'], r);
  const g = new Gauge('depth', 'Depth of "the" queue \\ now.', [], r);
  const h = new Histogram('took_seconds', 'Time taken.', ['result'], [0.1, 1, 0.5], r);
  c.inc({ result: 'ok' });
  c.inc({ result: 'ok' }, 2);
  c.inc({ result: 'a "quoted"\nvalue\\' });
  g.set({}, 7);
  for (const v of [0.05, 0.3, 0.7, 2]) h.observe({ result: 'ok' }, v);
  const { families, samples } = parse(await r.metrics());
  expect(r.contentType).toBe(EXPOSITION_CONTENT_TYPE);
  expect(families.get('jobs_total')).toEqual({ type: 'counter', help: 'Jobs done.\\nBy result.' });
  expect(families.get('depth')).toEqual({ type: 'gauge', help: 'Depth of "the" queue \\\\ now.' });
  const value = (name: string, labels: Record<string, string>) =>
    samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
  expect(value('jobs_total', { result: 'ok' })).toBe(3);
  expect(value('jobs_total', { result: 'a "quoted"\nvalue\\' })).toBe(1);
  expect(value('depth', {})).toBe(7);
  // Cumulative, bounds sorted, +Inf equal to the count.
  expect(samples.filter((s) => s.name === 'took_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
    ['0.1', 1],
    ['0.5', 2],
    ['1', 3],
    ['+Inf', 4],
  ]);
  expect(value('took_seconds_count', { result: 'ok' })).toBe(4);
  expect(value('took_seconds_sum', { result: 'ok' })).toBeCloseTo(3.05);
});

test('a gauge series can be removed; a counter cannot go down; an unknown label is an error', async () => {
  const r = new Registry();
  const g = new Gauge('per_bundle', 'Per bundle.', ['bundle'], r);
  const c = new Counter('writes_total', 'Writes.', ['kind'], r);
  g.set({ bundle: 'a' }, 1);
  g.set({ bundle: 'b' }, 2);
  g.remove({ bundle: 'a' });
  expect(parse(await r.metrics()).samples.map((s) => s.labels.bundle)).toEqual(['b']);
  expect(() => c.inc({ kind: 'Secret' }, -1)).toThrow(/only goes up/);
  expect(() => c.inc({ other: 'x' } as never)).toThrow(/unknown label other/);
  expect(() => new Counter('writes_total', 'Again.', [], r)).toThrow(/registered already/);
});

test('the process metrics carry the names dashboards know, with live values', async () => {
  const r = new Registry();
  registerProcessMetrics(r);
  const { families, samples } = parse(await r.metrics());
  const value = (name: string) => samples.find((s) => s.name === name)?.value;
  expect(value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(value('process_open_fds')).toBeGreaterThan(2);
  expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  expect(value('nodejs_heap_size_limit_bytes')).toBeGreaterThan(value('nodejs_heap_size_used_bytes')!);
  expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  expect(
    Math.abs(value('process_start_time_seconds')! - (Date.now() / 1000 - process.uptime())),
  ).toBeLessThan(2);
  expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
});
