// Prometheus's text exposition format (0.0.4) for the few kinds of metric the operator has:
// counters, gauges and histograms with labels, and the process metrics every Prometheus client
// exports by convention. Kept here rather than taken from prom-client, which loads
// @opentelemetry/api for exemplars the operator does not use: ~13 MB of RSS at start, a tenth of
// the operator's memory budget (docs/performance.md).
import { readdirSync, readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type LabelValues<L extends string> = Partial<Record<L, string | number>>;

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string =>
  s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `{a="1",b="2"}` in the given order, or '' without labels. */
function labelText(pairs: [string, string][]): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** The HELP and TYPE lines that announce a metric family. */
const header = (name: string, help: string, type: string): string =>
  `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`;

interface Collectable {
  readonly name: string;
  collect(): string | Promise<string>;
}

abstract class Metric<L extends string, S> implements Collectable {
  readonly name: string;
  private readonly help: string;
  private readonly type: string;
  protected readonly labelNames: readonly L[];
  /** Series by the JSON of their label values, in labelNames order. */
  protected readonly series = new Map<string, { labels: [string, string][]; state: S }>();

  constructor(name: string, help: string, type: string, labelNames: readonly L[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labelNames;
    registry.register(this);
  }

  protected abstract initial(): S;
  protected abstract lines(labels: [string, string][], state: S): string[];

  /** The label pairs of a series, in labelNames order. */
  private labelsOf(values: LabelValues<L>): [string, string][] {
    return this.labelNames.flatMap((k): [string, string][] =>
      values[k] === undefined ? [] : [[k, String(values[k])]],
    );
  }

  protected state(values: LabelValues<L> = {}): S {
    for (const k of Object.keys(values))
      if (!this.labelNames.includes(k as L)) throw new Error(`${this.name}: unknown label ${k}`);
    const labels = this.labelsOf(values);
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, state: this.initial() }));
    return s.state;
  }

  remove(values: LabelValues<L>): void {
    this.series.delete(JSON.stringify(this.labelsOf(values)));
  }

  collect(): string {
    const out = [header(this.name, this.help, this.type)];
    for (const { labels, state } of this.series.values()) out.push(...this.lines(labels, state));
    return out.join('\n');
  }
}

/** A metric of one value per series (counter, gauge); a series without labels exists from the start. */
abstract class SingleValue<L extends string> extends Metric<L, { value: number }> {
  constructor(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    labelNames: readonly L[],
    registry: Registry,
  ) {
    super(name, help, type, labelNames, registry);
    if (labelNames.length === 0) this.state();
  }

  protected initial() {
    return { value: 0 };
  }

  protected lines(labels: [string, string][], s: { value: number }): string[] {
    return [`${this.name}${labelText(labels)} ${formatValue(s.value)}`];
  }
}

export class Counter<L extends string = never> extends SingleValue<L> {
  constructor(name: string, help: string, labelNames: readonly L[], registry: Registry) {
    super(name, help, 'counter', labelNames, registry);
  }

  inc(values: LabelValues<L> = {}, by = 1): void {
    if (by < 0) throw new Error(`${this.name}: a counter only goes up`);
    this.state(values).value += by;
  }
}

export class Gauge<L extends string = never> extends SingleValue<L> {
  constructor(name: string, help: string, labelNames: readonly L[], registry: Registry) {
    super(name, help, 'gauge', labelNames, registry);
  }

  set(values: LabelValues<L>, value: number): void {
    this.state(values).value = value;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends Metric<L, HistogramState> {
  private readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, 'histogram', labelNames, registry);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected lines(labels: [string, string][], s: HistogramState): string[] {
    const out = this.buckets.map(
      (le, i) => `${this.name}_bucket${labelText([['le', formatValue(le)], ...labels])} ${s.counts[i]}`,
    );
    out.push(`${this.name}_bucket${labelText([['le', '+Inf'], ...labels])} ${s.count}`);
    out.push(`${this.name}_sum${labelText(labels)} ${formatValue(s.sum)}`);
    out.push(`${this.name}_count${labelText(labels)} ${s.count}`);
    return out;
  }

  observe(values: LabelValues<L>, value: number): void {
    const s = this.state(values);
    // Buckets are cumulative: every bucket whose bound is at least the value counts it.
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Makes the series exist, at zero, before anything is observed. */
  zero(values: LabelValues<L>): void {
    this.state(values);
  }
}

/** A metric whose value is read when scraped (the process's own). */
class Sampled implements Collectable {
  readonly name: string;
  private readonly head: string;
  private readonly read: () => number | undefined | Promise<number | undefined>;

  constructor(
    name: string,
    help: string,
    type: 'gauge' | 'counter',
    read: () => number | undefined | Promise<number | undefined>,
  ) {
    this.name = name;
    this.head = header(name, help, type);
    this.read = read;
  }

  async collect(): Promise<string> {
    const v = await this.read();
    return v === undefined ? this.head : `${this.head}\n${this.name} ${formatValue(v)}`;
  }
}

export class Registry {
  readonly contentType = EXPOSITION_CONTENT_TYPE;
  private readonly metrics_ = new Map<string, Collectable>();

  register(m: Collectable): void {
    if (this.metrics_.has(m.name)) throw new Error(`metric ${m.name} is registered already`);
    this.metrics_.set(m.name, m);
  }

  /** The exposition of every metric, in the order they were registered. */
  async metrics(): Promise<string> {
    const parts = await Promise.all([...this.metrics_.values()].map((m) => m.collect()));
    return parts.map((p) => `${p}\n`).join('');
  }
}

function procStatus(field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // not Linux
  }
}

/**
 * The process metrics Prometheus's client libraries export under these names (CPU, memory, file
 * descriptors, start time, event-loop lag, V8 heap), read when scraped.
 */
export function registerProcessMetrics(registry: Registry): void {
  const startTime = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  const cpu = () => process.cpuUsage();
  const sampled = (
    name: string,
    help: string,
    type: 'gauge' | 'counter',
    read: () => number | undefined | Promise<number | undefined>,
  ) => registry.register(new Sampled(name, help, type, read));
  sampled(
    'process_cpu_user_seconds_total',
    'User CPU time spent in seconds.',
    'counter',
    () => cpu().user / 1e6,
  );
  sampled(
    'process_cpu_system_seconds_total',
    'System CPU time spent in seconds.',
    'counter',
    () => cpu().system / 1e6,
  );
  sampled('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', () => {
    const c = cpu();
    return (c.user + c.system) / 1e6;
  });
  sampled(
    'process_start_time_seconds',
    'Start time of the process since unix epoch in seconds.',
    'gauge',
    () => startTime,
  );
  sampled('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () =>
    procStatus('VmRSS'),
  );
  sampled('process_virtual_memory_bytes', 'Virtual memory size in bytes.', 'gauge', () =>
    procStatus('VmSize'),
  );
  sampled('process_open_fds', 'Number of open file descriptors.', 'gauge', () => {
    try {
      return readdirSync('/proc/self/fd').length;
    } catch {
      return undefined;
    }
  });
  // As the other clients measure it: how late a callback queued now runs.
  sampled('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', 'gauge', async () => {
    const start = process.hrtime.bigint();
    await new Promise((resolve) => setImmediate(resolve));
    return Number(process.hrtime.bigint() - start) / 1e9;
  });
  sampled(
    'nodejs_heap_size_total_bytes',
    'Process heap size from Node.js in bytes.',
    'gauge',
    () => process.memoryUsage().heapTotal,
  );
  sampled(
    'nodejs_heap_size_used_bytes',
    'Process heap size used from Node.js in bytes.',
    'gauge',
    () => process.memoryUsage().heapUsed,
  );
  // What --max-old-space-size allows: a heap near it is collected often, then the process dies.
  sampled(
    'nodejs_heap_size_limit_bytes',
    'Largest heap V8 allows (--max-old-space-size and the young generation) in bytes.',
    'gauge',
    () => getHeapStatistics().heap_size_limit,
  );
  sampled(
    'nodejs_external_memory_bytes',
    'Node.js external memory size in bytes.',
    'gauge',
    () => process.memoryUsage().external,
  );
}
