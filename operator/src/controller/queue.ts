// A work queue keyed by bundle name, as controller-runtime's: a key is processed by one worker
// at a time; adds while it is queued coalesce; adds while it is processing run it once more
// afterwards; failures come back after an exponential, jittered delay.

export interface QueueOptions {
  concurrency: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepth?: (depth: number) => void;
}

export type ProcessResult = { requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly options: Required<Omit<QueueOptions, 'onDepth'>> & Pick<QueueOptions, 'onDepth'>;
  private readonly process: (key: string) => Promise<ProcessResult>;
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(process: (key: string) => Promise<ProcessResult>, options: QueueOptions) {
    this.process = process;
    this.options = { baseDelayMs: 200, maxDelayMs: 300_000, ...options };
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.options.onDepth?.(this.queue.length);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.queued.has(key)) return;
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Drops the retry history of a key (after success, or when the object is gone). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Resolves when nothing is queued or processing (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private backoff(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const exp = Math.min(this.options.baseDelayMs * 2 ** (n - 1), this.options.maxDelayMs);
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      this.options.onDepth?.(this.queue.length);
      void this.work(key);
    }
  }

  private async work(key: string): Promise<void> {
    let retryAfter: number | undefined;
    try {
      const result = await this.process(key);
      this.forget(key);
      retryAfter = result?.requeueAfterMs;
    } catch (err) {
      // A failure may say when to come back (a server's Retry-After); never sooner than the backoff.
      const asked = (err as { retryAfterMs?: number } | null)?.retryAfterMs ?? 0;
      retryAfter = Math.max(this.backoff(key), Number.isFinite(asked) ? asked : 0);
    } finally {
      this.processing.delete(key);
      this.running--;
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (retryAfter !== undefined) this.addAfter(key, retryAfter);
    this.pump();
    if (this.running === 0 && this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
