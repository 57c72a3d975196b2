// Polling with an error that says what was awaited and what was seen last.
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** Records the state a check observed, for the timeout message. */
export type Seen = (state: unknown) => void;

export class WaitTimeoutError extends Error {
  readonly lastSeen: unknown;
  constructor(description: string, timeoutMs: number, lastSeen: unknown) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${description}; last seen: ${describeState(lastSeen)}`,
    );
    this.name = 'WaitTimeoutError';
    this.lastSeen = lastSeen;
  }
}

const NOTHING = Symbol('nothing seen');

/**
 * Calls `check` until it returns a truthy value and returns that value. A check that throws or
 * returns a falsy value is retried; on timeout the error names `description` and the last state:
 * what the check passed to `seen`, else its last result or error.
 */
export async function waitFor<T>(
  description: string,
  check: (seen: Seen) => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 200 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastSeen: unknown;
  for (;;) {
    let explicit: unknown = NOTHING;
    try {
      const result = await check((state) => {
        explicit = state;
      });
      if (result) return result;
      lastSeen = explicit !== NOTHING ? explicit : result;
    } catch (err) {
      lastSeen = explicit !== NOTHING ? explicit : err;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(description, timeoutMs, lastSeen);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}

const MAX_STATE_CHARS = 2000;

export function describeState(state: unknown): string {
  let text: string;
  if (state instanceof Error) text = describeError(state);
  else if (typeof state === 'string') text = state;
  else {
    try {
      text = JSON.stringify(state) ?? String(state);
    } catch {
      text = String(state);
    }
  }
  return text.length > MAX_STATE_CHARS ? `${text.slice(0, MAX_STATE_CHARS)}… (${text.length} chars)` : text;
}

/** client-node's ApiException carries the Status body as text; its message is what matters. */
function describeError(err: Error): string {
  const { code, body } = err as Error & { code?: unknown; body?: unknown };
  if (typeof code === 'number' && body !== undefined) {
    let message: unknown;
    try {
      message = (typeof body === 'string' ? JSON.parse(body) : body)?.message;
    } catch {
      message = undefined;
    }
    if (typeof message === 'string') return `HTTP ${code}: ${message}`;
  }
  return `${err.name}: ${err.message}`;
}
