// The operator's JSON logger (pino). Every line passes a scrubber before it is written, so neither a
// field named like a credential nor key material inside any string (a message, an error's stack, a
// nested field) ever reaches the log, whoever wrote the log call.
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const REDACTED = '[Redacted]';

/**
 * Field names whose values are credentials (compared lower-cased, without `-` and `_`). A bare `key`
 * is not among them: in this operator it always names a data key (`ca.crt`); key material itself is
 * caught by its content, wherever it appears.
 */
const SENSITIVE_NAME =
  /passw(or)?d|passphrase|secret(?!s$)|^token|tokens?$|authori[sz]ation$|cookie|credential|(api|private|client|signing|access)key/;
/** Names that address a credential (where it lives, what kind it is) rather than hold it. */
const ADDRESS_NAME = /(url|uri|endpoint|path|file|name|namespace|ref|type|count)$/;

const PRIVATE_KEY_BLOCK =
  /-----BEGIN [^-\r\n]*PRIVATE KEY[^-\r\n]*-----[\s\S]*?(?:-----END [^-\r\n]*PRIVATE KEY[^-\r\n]*-----|$)/g;
const AUTHORIZATION_VALUE = /(authori[sz]ation["']?\s*[:=]\s*["']?)(?:[A-Za-z][\w-]*\s+)?[^\s"',;]+/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
const BASIC = /\b(basic\s+)([A-Za-z0-9+/]{4,}={0,2})/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** A cheap test that lets the (vast majority of) lines without anything suspicious through untouched. */
const SUSPECT =
  /private key|bearer|basic|eyJ|passw|passphrase|secret|token|authori[sz]ation|cookie|credential|(api|private|client|signing|access)[-_]?key/i;

export function isSensitiveName(name: string): boolean {
  const normalised = name.toLowerCase().replace(/[-_]/g, '');
  return SENSITIVE_NAME.test(normalised) && !ADDRESS_NAME.test(normalised);
}

/** Removes private key blocks, authorization header values, bearer/basic credentials and JWTs. */
export function scrubText(text: string): string {
  return (
    text
      .replace(PRIVATE_KEY_BLOCK, '[Redacted PRIVATE KEY]')
      .replace(AUTHORIZATION_VALUE, `$1${REDACTED}`)
      .replace(BEARER, `$1${REDACTED}`)
      // Basic credentials are base64 of `user:password`; prose such as "basic constraints" is not.
      .replace(BASIC, (match, scheme: string, value: string) =>
        Buffer.from(value, 'base64').toString('latin1').includes(':') ? `${scheme}${REDACTED}` : match,
      )
      .replace(JWT, REDACTED)
  );
}

function scrubValue(value: unknown, sensitive: boolean): unknown {
  if (typeof value === 'string') return sensitive ? REDACTED : scrubText(value);
  if (typeof value === 'number') return sensitive ? REDACTED : value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, sensitive));
  if (value !== null && typeof value === 'object') {
    // An object under a credential-like name (e.g. `credentialsSecret: {namespace, name}`) is a
    // reference; its own fields decide.
    return Object.fromEntries(
      Object.entries(value).map(([name, child]) => [name, scrubValue(child, isSensitiveName(name))]),
    );
  }
  return value;
}

/** Scrubs one serialized JSON log line; lines with nothing suspicious are returned as they are. */
export function scrubLine(line: string): string {
  if (!SUSPECT.test(line)) return line;
  const newline = line.endsWith('\n') ? '\n' : '';
  try {
    return JSON.stringify(scrubValue(JSON.parse(line), false)) + newline;
  } catch {
    return scrubText(line);
  }
}

export interface LoggerOptions {
  /** Defaults to the LOG_LEVEL environment variable, else `info`. */
  level?: string;
  /** Defaults to standard output. */
  destination?: DestinationStream;
  name?: string;
}

export function logLevel(value: string | undefined): (typeof LOG_LEVELS)[number] {
  const level = (value ?? '').trim().toLowerCase() || 'info';
  const known = LOG_LEVELS.find((l) => l === level);
  if (!known) throw new Error(`LOG_LEVEL "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
  return known;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    name: options.name ?? 'trustbundle-operator',
    level: logLevel(options.level ?? process.env.LOG_LEVEL),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: { streamWrite: scrubLine },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
