// Regenerates ./acp-admin-spec.json, the part of ACP's admin API spec the contract server is
// built from, out of a checkout of github.com/cloudentity/acp-client-go:
//
//   git clone https://github.com/cloudentity/acp-client-go /tmp/acp-client-go
//   node e2e/support/acp-spec-extract.ts /tmp/acp-client-go > e2e/support/acp-admin-spec.json
//   npx prettier --write e2e/support/acp-admin-spec.json
//
// It keeps the definitions `Server` and `ServerResponse` reach (and `Error`), without their prose,
// the two operations on `/servers/{wid}`, and one fact the spec does not state: which fields
// ACP's own Go client sends as `null` (a slice, map or pointer whose json tag has no omitempty,
// read from the generated models), since a real ACP must accept what its own client sends.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

type Schema = Record<string, unknown>;

const PROSE = new Set(['description', 'example', 'title']);

/** Without prose; `names` is set for a map of names (`properties`, `headers`), whose keys all stay. */
function strip(value: unknown, names = false): unknown {
  if (Array.isArray(value)) return value.map((v) => strip(v));
  if (value === null || typeof value !== 'object') return value;
  const out: Schema = {};
  for (const [k, v] of Object.entries(value)) {
    if (!names && PROSE.has(k)) continue;
    out[k] = strip(v, !names && (k === 'properties' || k === 'headers'));
  }
  return out;
}

function references(schema: unknown, into: Set<string>, definitions: Record<string, Schema>): void {
  if (Array.isArray(schema)) return schema.forEach((s) => references(s, into, definitions));
  if (schema === null || typeof schema !== 'object') return;
  const ref = (schema as Schema).$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop()!;
    if (!into.has(name)) {
      into.add(name);
      references(definitions[name], into, definitions);
    }
    return;
  }
  for (const v of Object.values(schema)) references(v, into, definitions);
}

/** Go struct name → json names of its fields that marshal to null when unset. */
function goNullable(modelsDir: string, names: Set<string>): Record<string, string[]> {
  const sources = readdirSync(modelsDir)
    .filter((f) => f.endsWith('.go'))
    .map((f) => readFileSync(join(modelsDir, f), 'utf8'))
    .join('\n');
  const sliceTypes = new Set([...sources.matchAll(/^type (\w+) (?:\[\]|map\[)/gm)].map((m) => m[1]!));
  const out: Record<string, string[]> = {};
  for (const name of [...names].sort()) {
    const body = new RegExp(`^type ${name} struct \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(sources)?.[1];
    if (!body) continue;
    const fields: string[] = [];
    for (const m of body.matchAll(/^\t\w+ (\S+) `json:"([^"]+)"/gm)) {
      const [goType, tag] = [m[1]!, m[2]!];
      const [json, ...flags] = tag.split(',');
      if (flags.includes('omitempty') || json === '-') continue;
      if (/^(\[\]|map\[|\*|interface)/.test(goType) || sliceTypes.has(goType)) fields.push(json!);
    }
    if (fields.length > 0) out[name] = fields.sort();
  }
  return out;
}

function main(checkout: string): void {
  const spec = yaml.load(readFileSync(join(checkout, 'spec/admin.yaml'), 'utf8')) as {
    definitions: Record<string, Schema>;
    paths: Record<string, Record<string, Schema>>;
    responses: Record<string, Schema>;
  };
  const names = new Set(['Server', 'ServerResponse', 'Error']);
  for (const n of [...names]) references(spec.definitions[n], names, spec.definitions);
  const path = spec.paths['/servers/{wid}']!;
  const operations = Object.fromEntries(
    ['get', 'put'].map((m) => {
      const op = path[m] as { parameters: unknown[]; responses: Record<string, unknown> };
      return [
        `${m.toUpperCase()} /servers/{wid}`,
        strip({ parameters: op.parameters, responses: op.responses }),
      ];
    }),
  );
  const usedResponses = new Set<string>(['preconditionFailedHTTPError']);
  for (const op of Object.values(operations)) {
    for (const r of Object.values((op as { responses: Record<string, Schema> }).responses)) {
      if (typeof r.$ref === 'string') usedResponses.add(r.$ref.split('/').pop()!);
    }
  }
  const commit = execFileSync('git', ['-C', checkout, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const extract = {
    source: {
      repository: 'github.com/cloudentity/acp-client-go',
      commit,
      file: 'spec/admin.yaml',
      license: 'Apache-2.0',
    },
    operations,
    responses: Object.fromEntries([...usedResponses].sort().map((r) => [r, strip(spec.responses[r])])),
    definitions: Object.fromEntries([...names].sort().map((n) => [n, strip(spec.definitions[n])])),
    goNullable: goNullable(join(checkout, 'clients/admin/models'), names),
  };
  process.stdout.write(JSON.stringify(extract, null, 1) + '\n');
}

main(process.argv[2] ?? '.');
