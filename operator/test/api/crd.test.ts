import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { DEFAULT_POLICY as ENGINE_DEFAULT_POLICY } from '../../src/bundle/policy.ts';
import { CRD_PATH, renderCRDs } from '../../src/api/generate-crds.ts';
import type { JSONSchema } from '../../src/api/schema.ts';
import { trustBundleSchema } from '../../src/api/schema.ts';
import { CONDITION_TYPES, CRD_NAME } from '../../src/api/v1alpha1.ts';

interface Node {
  path: string;
  schema: JSONSchema;
}

/** Every schema node with its path, e.g. `.spec.sources[].secret.key`. */
function walk(schema: JSONSchema, path = ''): Node[] {
  const nodes: Node[] = [{ path, schema }];
  for (const [name, child] of Object.entries(schema.properties ?? {}))
    nodes.push(...walk(child, `${path}.${name}`));
  if (schema.items) nodes.push(...walk(schema.items, `${path}[]`));
  if (schema.additionalProperties) nodes.push(...walk(schema.additionalProperties, `${path}{}`));
  return nodes;
}

const nodes = walk(trustBundleSchema);
const at = (path: string): JSONSchema => {
  const node = nodes.find((n) => n.path === path);
  if (!node) throw new Error(`no schema node at ${path}`);
  return node.schema;
};
// The API server accepts nothing but `type: object` for the root metadata.
const exceptRootMetadata = nodes.filter((n) => n.path !== '.metadata');

describe('the checked-in CRD', () => {
  it('is what the schema generates (run `make crds` after changing the API)', () => {
    for (const [path, text] of renderCRDs()) {
      if (readFileSync(path, 'utf8') !== text) {
        throw new Error(`${path} is stale: run \`make crds\` and commit the result`);
      }
    }
  });

  it('is a cluster-scoped TrustBundle CRD with a status subresource and the printer columns', () => {
    const crd = yaml.load(readFileSync(CRD_PATH, 'utf8')) as {
      metadata: { name: string };
      spec: {
        scope: string;
        names: { kind: string; plural: string; shortNames: string[] };
        versions: { name: string; subresources: object; additionalPrinterColumns: { name: string }[] }[];
      };
    };
    expect(crd.metadata.name).toBe(CRD_NAME);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: 'TrustBundle', plural: 'trustbundles', shortNames: ['tb'] });
    const [version] = crd.spec.versions;
    expect(version?.name).toBe('v1alpha1');
    expect(version?.subresources).toEqual({ status: {} });
    expect(version?.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Ready',
      'Certs',
      'Hash',
      'Next-Expiry',
      'Age',
    ]);
  });

  it('carries no YAML anchors or aliases (a reused schema object must be written out in full)', () => {
    for (const text of renderCRDs().values()) expect(text).not.toMatch(/[&*]ref_\d+/);
  });
});

describe('the schema', () => {
  it('is structural: every node has a type, every object lists properties or is a typed map', () => {
    const untyped = exceptRootMetadata.filter((n) => !n.schema.type).map((n) => n.path || '(root)');
    expect(untyped).toEqual([]);
    const openObjects = exceptRootMetadata
      .filter((n) => n.schema.type === 'object')
      .filter(
        (n) =>
          !n.schema.properties &&
          !n.schema.additionalProperties &&
          !n.schema['x-kubernetes-preserve-unknown-fields'],
      )
      .map((n) => n.path);
    expect(openObjects).toEqual([]);
    const arraysWithoutItems = nodes
      .filter((n) => n.schema.type === 'array' && !n.schema.items)
      .map((n) => n.path);
    expect(arraysWithoutItems).toEqual([]);
  });

  it('describes every field, so kubectl explain documents the API', () => {
    const undescribed = exceptRootMetadata.filter((n) => !n.schema.description?.trim()).map((n) => n.path);
    expect(undescribed).toEqual([]);
  });

  it('lists only existing properties as required', () => {
    const dangling = nodes.flatMap((n) =>
      (n.schema.required ?? []).filter((r) => !n.schema.properties?.[r]).map((r) => `${n.path}.${r}`),
    );
    expect(dangling).toEqual([]);
  });

  it('has defaults that satisfy their own type, enum and bounds', () => {
    const bad: string[] = [];
    for (const { path, schema } of nodes) {
      if (!('default' in schema)) continue;
      const v = schema.default;
      const typeOk =
        schema.type === 'integer'
          ? Number.isInteger(v)
          : schema.type === 'object'
            ? typeof v === 'object' && v !== null && !Array.isArray(v)
            : typeof v === schema.type;
      if (!typeOk) bad.push(`${path}: ${JSON.stringify(v)} is not a ${schema.type}`);
      if (schema.enum && !schema.enum.includes(v as string)) bad.push(`${path}: ${String(v)} not in enum`);
      if (typeof v === 'number' && schema.minimum !== undefined && v < schema.minimum)
        bad.push(`${path} < minimum`);
      if (typeof v === 'number' && schema.maximum !== undefined && v > schema.maximum)
        bad.push(`${path} > maximum`);
      if (typeof v === 'string' && schema.pattern && !new RegExp(schema.pattern).test(v))
        bad.push(`${path} pattern`);
    }
    expect(bad).toEqual([]);
  });

  it("publishes exactly the engine's policy defaults", () => {
    const policy = at('.spec.policy');
    const published = Object.fromEntries(
      Object.entries(policy.properties ?? {}).map(([field, s]) => [field, s.default]),
    );
    expect(published).toEqual({ ...ENGINE_DEFAULT_POLICY });
    // An absent policy is defaulted to {} so that its fields' defaults apply.
    expect(policy.default).toEqual({});
  });

  it('defaults source and target keys to ca.crt and the Cloudentity credential keys', () => {
    expect(at('.spec.sources[].secret.key').default).toBe('ca.crt');
    expect(at('.spec.sources[].configMap.key').default).toBe('ca.crt');
    expect(at('.spec.sources[].secret.optional').default).toBe(false);
    expect(at('.spec.targets.secrets[].key').default).toBe('ca.crt');
    expect(at('.spec.targets.authorizationServers[].cloudentity.credentialsSecret.clientIDKey').default).toBe(
      'client_id',
    );
    expect(
      at('.spec.targets.authorizationServers[].cloudentity.credentialsSecret.clientSecretKey').default,
    ).toBe('client_secret');
    expect(at('.spec.targets.authorizationServers[].cloudentity.insecureSkipTLSVerify').default).toBe(false);
    expect(at('.spec.deletionPolicy').default).toBe('Retain');
  });

  it('bounds sources to 1..100 and inline PEM to 1 MiB', () => {
    expect(at('.spec.sources')).toMatchObject({ minItems: 1, maxItems: 100 });
    expect(at('.spec.sources[].inline').maxLength).toBe(1024 * 1024);
    expect(at('.spec').required).toEqual(['sources']);
  });

  it('bounds every list and string that a CEL rule reads, so the API server can estimate its cost', () => {
    // A rule on a node whose lists or strings are unbounded is refused by the API server as too costly.
    const unbounded = nodes
      .filter((n) => n.schema['x-kubernetes-validations'])
      .flatMap((n) => walk(n.schema, n.path))
      .filter(
        (n) =>
          (n.schema.type === 'array' && n.schema.maxItems === undefined) ||
          (n.schema.type === 'string' && n.schema.maxLength === undefined && !n.schema.enum),
      )
      .map((n) => n.path);
    expect(unbounded).toEqual([]);
  });

  it('keeps conditions a list map keyed by type, as the Kubernetes API conventions ask', () => {
    const conditions = at('.status.conditions');
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions.items?.required).toEqual(['type', 'status', 'reason', 'message', 'lastTransitionTime']);
    const typePattern = new RegExp(at('.status.conditions[].type').pattern ?? '');
    for (const type of CONDITION_TYPES) expect(type).toMatch(typePattern);
  });

  it('bounds the status lists', () => {
    expect(at('.status.certificates').maxItems).toBe(100);
    expect(at('.status.problems').maxItems).toBe(100);
  });
});
