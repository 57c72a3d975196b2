// The shapes of Cloudentity ACP's authorization server object, read from the spec itself:
// ./acp-admin-spec.json is the part of acp-client-go's `spec/admin.yaml` that `Server` and
// `ServerResponse` reach (regenerate it with ./acp-spec-extract.ts). This module validates a
// value against one of its definitions, the way a go-openapi server words its 422s, and builds
// a sample object holding every field the spec defines. What the spec leaves open, and what the
// contract server does about it, is listed at the top of ./acp-contract-server.ts.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Schema {
  type?: 'string' | 'boolean' | 'integer' | 'number' | 'object' | 'array';
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  required?: string[];
  $ref?: string;
  default?: unknown;
}

export interface AdminSpecExtract {
  source: { repository: string; commit: string; file: string };
  operations: Record<string, { parameters: unknown[]; responses: Record<string, unknown> }>;
  responses: Record<string, unknown>;
  definitions: Record<string, Schema>;
  /** Definition → properties ACP's Go client marshals as `null` when unset. */
  goNullable: Record<string, string[]>;
}

export const ADMIN_SPEC: AdminSpecExtract = JSON.parse(
  readFileSync(join(import.meta.dirname, 'acp-admin-spec.json'), 'utf8'),
) as AdminSpecExtract;

const SERVER = ADMIN_SPEC.definitions.Server!;
const SERVER_RESPONSE = ADMIN_SPEC.definitions.ServerResponse!;

/** In `ServerResponse` and not in `Server`: computed by ACP. */
export const READ_ONLY_FIELDS: readonly string[] = Object.keys(SERVER_RESPONSE.properties!).filter(
  (f) => !(f in SERVER.properties!),
);

export const REQUIRED_FIELDS: readonly string[] = SERVER.required ?? [];

export interface Validation {
  /** go-openapi style: `jwks.keys.0.kty in body is required`. */
  problems: string[];
  /** Properties the spec does not define (it does not forbid them either: no additionalProperties). */
  unknown: string[];
}

const GO_DURATION = /^(0|[+-]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function definitionName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

function resolve(schema: Schema): { schema: Schema; name?: string } {
  if (schema.$ref === undefined) return { schema };
  const name = definitionName(schema.$ref);
  const found = ADMIN_SPEC.definitions[name];
  if (!found) throw new Error(`the spec extract has no definition ${name}`);
  return { schema: found, name };
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function walk(value: unknown, schema: Schema, path: string, out: Validation, nullable: boolean): void {
  const { schema: s, name } = resolve(schema);
  const at = path === '' ? 'body' : `${path} in body`;
  if (value === null) {
    if (!nullable) out.problems.push(`${at} must be of type ${s.type ?? 'object'}: "null"`);
    return;
  }
  const got = typeOf(value);
  const type = s.type ?? (s.properties ? 'object' : undefined);
  const fits = type === undefined || got === type || (type === 'number' && got === 'integer');
  if (!fits) {
    out.problems.push(`${at} must be of type ${type}: "${got}"`);
    return;
  }
  if (s.enum && !s.enum.includes(value)) {
    out.problems.push(`${at} should be one of [${s.enum.join(' ')}]`);
    return;
  }
  if (typeof value === 'string' && value !== '') {
    if (s.format === 'duration' && !GO_DURATION.test(value))
      out.problems.push(`${at} must be of type duration: "${value}"`);
    if (s.format === 'date-time' && !DATE_TIME.test(value))
      out.problems.push(`${at} must be of type date-time: "${value}"`);
  }
  const prefix = path === '' ? '' : `${path}.`;
  if (Array.isArray(value)) {
    if (s.items) value.forEach((item, i) => walk(item, s.items!, `${prefix}${i}`, out, false));
    return;
  }
  if (got !== 'object') return;
  const object = value as Record<string, unknown>;
  const nullableHere = new Set(name ? (ADMIN_SPEC.goNullable[name] ?? []) : []);
  for (const field of s.required ?? []) {
    if (object[field] === undefined || object[field] === '')
      out.problems.push(`${prefix}${field} in body is required`);
  }
  for (const [field, v] of Object.entries(object)) {
    const property = s.properties?.[field];
    if (property) walk(v, property, `${prefix}${field}`, out, nullableHere.has(field));
    else if (typeof s.additionalProperties === 'object')
      walk(v, s.additionalProperties, `${prefix}${field}`, out, false);
    else if (s.properties && s.additionalProperties !== true) out.unknown.push(`${prefix}${field}`);
  }
}

/** Checks `value` against the spec's definition `definition` (e.g. `Server`). */
export function validate(value: unknown, definition: string): Validation {
  const out: Validation = { problems: [], unknown: [] };
  walk(value, { $ref: `#/definitions/${definition}` }, '', out, false);
  return out;
}

/** The spec says nothing about it; ACP's Go decoder would ignore what it does not know. */
export type UnknownFields = 'reject' | 'drop';

export interface Rejection {
  status: 400 | 422;
  error: string;
  details?: Record<string, unknown>;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Why `text` is not a list of PEM certificates, or undefined when it is one (or empty). */
export function rootCAsProblem(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  let count = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    count++;
    if (m[1] !== 'CERTIFICATE') return `block ${count} is a ${m[1]}, not a CERTIFICATE`;
    try {
      new X509Certificate(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
    } catch {
      return `block ${count} is not a parsable X.509 certificate`;
    }
  }
  if (count === 0) return 'no PEM certificate found';
  if (text.replace(PEM_BLOCK, '').trim() !== '') return 'text outside the PEM blocks';
  return undefined;
}

/**
 * Checks a PUT body against `Server`; `tenant`/`server` are the path's ids. With `unknownFields:
 * 'drop'` the fields the spec does not define (read-only ones included) are removed from `body`.
 */
export function checkServerBody(
  body: unknown,
  tenant: string,
  server: string,
  unknownFields: UnknownFields = 'reject',
): Rejection | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { status: 400, error: 'request body must be a JSON object' };
  }
  const o = body as Record<string, unknown>;
  const { problems, unknown } = validate(o, 'Server');
  if (unknownFields === 'drop') {
    for (const path of unknown) dropPath(o, path);
  } else {
    const readOnly = unknown.filter((f) => READ_ONLY_FIELDS.includes(f));
    if (readOnly.length > 0) {
      return {
        status: 400,
        error: `read-only fields in body: ${readOnly.join(', ')}`,
        details: { fields: readOnly },
      };
    }
    if (unknown.length > 0) {
      return {
        status: 400,
        error: `unknown fields in body: ${unknown.join(', ')}`,
        details: { fields: unknown },
      };
    }
  }
  if (typeof o.tenant_id === 'string' && o.tenant_id !== '' && o.tenant_id !== tenant) {
    problems.push(`tenant_id in body (${o.tenant_id}) does not match the tenant in the path`);
  }
  if (typeof o.id === 'string' && o.id !== '' && o.id !== server) {
    problems.push(`id in body (${o.id}) does not match the server in the path`);
  }
  if (typeof o.root_cas === 'string') {
    const p = rootCAsProblem(o.root_cas);
    if (p) problems.push(`root_cas in body: ${p}`);
  }
  if (problems.length === 0) return undefined;
  return { status: 422, error: `validation failure list:\n${problems.join('\n')}`, details: { problems } };
}

function dropPath(object: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  let at: unknown = object;
  for (const part of parts.slice(0, -1)) at = (at as Record<string, unknown> | undefined)?.[part];
  if (at !== null && typeof at === 'object') delete (at as Record<string, unknown>)[parts.at(-1)!];
}

/** A value of `schema` in the types it gives; `seed` varies strings so that copies differ. */
function sampleOf(schema: Schema, seed: string, depth: number): unknown {
  const { schema: s, name } = resolve(schema);
  if (s.enum) return s.enum[s.enum.length - 1];
  switch (s.type ?? (s.properties ? 'object' : undefined)) {
    case 'boolean':
      return true;
    case 'integer':
      return 7;
    case 'number':
      return 0.5;
    case 'array':
      return s.items && depth > 0 ? [sampleOf(s.items, `${seed}.0`, depth - 1)] : [];
    case 'string':
      if (s.format === 'duration') return '1h2m3s';
      if (s.format === 'date-time') return '2025-04-25T09:46:47Z';
      return `${seed}-value`;
    default: {
      if (!s.properties || depth <= 0) return {};
      // SupportedJSONSchema refers to itself: one level is enough to carry every field.
      const nextDepth = name === 'SupportedJSONSchema' ? 0 : depth - 1;
      return Object.fromEntries(
        Object.entries(s.properties).map(([k, p]) => [k, sampleOf(p, `${seed}.${k}`, nextDepth)]),
      );
    }
  }
}

/** A `Server` holding every field the spec defines, nested ones included, in its types. */
export function fullServerSample(): Record<string, unknown> {
  return sampleOf({ $ref: '#/definitions/Server' }, 'sample', 10) as Record<string, unknown>;
}

/** Every property path of `Server` (nested definitions once), with its schema and Go nullability. */
export function serverProperties(): { path: string; schema: Schema; goNullable: boolean }[] {
  const out: { path: string; schema: Schema; goNullable: boolean }[] = [];
  const visit = (definition: string, prefix: string, seen: Set<string>): void => {
    const s = ADMIN_SPEC.definitions[definition]!;
    const nullable = new Set(ADMIN_SPEC.goNullable[definition] ?? []);
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const path = `${prefix}${k}`;
      out.push({ path, schema: p, goNullable: nullable.has(k) });
      const ref = p.$ref ?? p.items?.$ref;
      const inner = ref && definitionName(ref);
      if (inner && !seen.has(inner) && ADMIN_SPEC.definitions[inner]!.properties && !p.items) {
        visit(inner, `${path}.`, new Set([...seen, inner]));
      }
    }
  };
  visit('Server', '', new Set(['Server']));
  return out;
}

/**
 * Everything in recorded traffic that breaks the spec: each PUT body against `Server`, each server
 * object answered against `ServerResponse` (fields the spec does not define count as breaking).
 */
export function wireViolations(
  requests: readonly { route?: string | undefined; body: string; response?: string | undefined }[],
): string[] {
  const out: string[] = [];
  requests.forEach((r, i) => {
    const check = (text: string, definition: string, what: string): void => {
      const { problems, unknown } = validate(JSON.parse(text), definition);
      for (const p of problems) out.push(`request ${i} ${what}: ${p}`);
      for (const u of unknown) out.push(`request ${i} ${what}: ${u} is not in ${definition}`);
    };
    if (r.route === 'put') check(r.body, 'Server', 'PUT body');
    if (r.response !== undefined) check(r.response, 'ServerResponse', 'answer');
  });
  return out;
}
