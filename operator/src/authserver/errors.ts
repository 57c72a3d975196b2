// Errors an authorization-server adapter reports: the server's own words, never a credential.

export type FailureKind =
  /** The target's configuration or its Secrets are unusable. */
  | 'config'
  /** The credentials were refused (401 from the token endpoint, or 401 twice from the API). */
  | 'auth'
  | 'forbidden'
  | 'notFound'
  /** The server refused the request body (400, 422). */
  | 'rejected'
  /** A concurrent writer kept changing the object (412 after every re-read). */
  | 'conflict'
  | 'throttled'
  /** 5xx after the retries. */
  | 'unavailable'
  | 'timeout'
  | 'network'
  | 'tls'
  /** An answer that does not follow the API (not JSON, a redirect, an unexpected status). */
  | 'protocol'
  /** The server object read lacks what a write back would reset (see `RedactedFieldsError`). */
  | 'redacted'
  | 'aborted';

export interface FailureDetails {
  kind: FailureKind;
  status?: number;
  /** The error text the server sent, already redacted. */
  serverMessage?: string;
  /** Worth retrying later (the controller requeues); false for configuration and refusals. */
  retriable: boolean;
  /** When the server asked for a pause longer than the adapter waits itself. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class AuthorizationServerError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly serverMessage: string | undefined;
  readonly retriable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: FailureDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AuthorizationServerError';
    this.kind = details.kind;
    this.status = details.status;
    this.serverMessage = details.serverMessage;
    this.retriable = details.retriable;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export const REDACTED_MESSAGE =
  'the admin API returned redacted fields; writing the server back would reset them';

/**
 * The adapter read the server object and refuses to write it back: its `secret`, salt or private
 * signing keys look withheld, so a PUT of what was read could reset them. Never retried: the same
 * admin client reads the same way until its role or the server changes. `fields` name what looks
 * withheld (never a value).
 */
export class RedactedFieldsError extends AuthorizationServerError {
  readonly fields: readonly string[];

  constructor(description: string, fields: readonly string[]) {
    super(`${description}: ${REDACTED_MESSAGE} (${fields.join('; ')}); nothing was written`, {
      kind: 'redacted',
      retriable: false,
    });
    this.name = 'RedactedFieldsError';
    this.fields = Object.freeze([...fields]);
  }
}

const MAX_SERVER_TEXT = 400;

/** Replaces every occurrence of the given secrets, and any bearer/basic credential, in `text`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]');
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    // A very short secret is still a secret: replaced where it stands alone, not inside words.
    else if (secret.length > 0) {
      const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'g'), '[redacted]');
    }
  }
  return out;
}

function clip(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ').trim();
  return clean.length > MAX_SERVER_TEXT ? `${clean.slice(0, MAX_SERVER_TEXT)}…` : clean;
}

/**
 * The error text of an answer. ACP's admin API answers `{error, error_code, details, status_code}`;
 * its OAuth endpoints add `error_description`, `error_hint` and `cause`. Anything else is quoted
 * as text, clipped.
 */
export function serverErrorText(body: Buffer, secrets: readonly string[]): string | undefined {
  const raw = body.toString('utf8');
  if (raw.trim() === '') return undefined;
  let text: string;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    const o = parsed as Record<string, unknown>;
    const parts: string[] = [];
    for (const field of ['error', 'error_description', 'error_hint', 'cause']) {
      const v = o[field];
      if (typeof v === 'string' && v !== '' && !parts.includes(v)) parts.push(v);
    }
    if (typeof o.error_code === 'string' && o.error_code !== '') parts.push(`(${o.error_code})`);
    if (o.details !== undefined && o.details !== null && JSON.stringify(o.details) !== '{}') {
      parts.push(`details: ${JSON.stringify(o.details)}`);
    }
    text = parts.length > 0 ? parts.join(' ') : raw;
  } catch {
    text = raw;
  }
  return clip(redact(text, secrets));
}
