// Command-line parsing on node:util parseArgs, with the typed readers and usage errors every
// command shares. A UsageError exits 2.
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export function parse(args: string[], options: OptionSpec, allowPositionals: boolean): Parsed {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

export function optionalString(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requiredString(p: Parsed, name: string): string {
  const v = optionalString(p, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function strings(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function optionalInteger(p: Parsed, name: string, min = 0): number | undefined {
  const v = optionalString(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(
      `--${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${v}"`,
    );
  }
  return n;
}

export function optionalDate(p: Parsed, name: string): Date | undefined {
  const v = optionalString(p, name);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(`--${name} must be a date such as 2027-01-31T00:00:00Z, not "${v}"`);
  return d;
}

export function oneOf<T extends string>(p: Parsed, name: string, allowed: readonly T[]): T | undefined {
  const v = optionalString(p, name);
  if (v === undefined) return undefined;
  const match = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!match) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${v}"`);
  return match;
}
