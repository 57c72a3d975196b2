// Generates crds/ from the TypeScript schemas: `make crds` (node operator/src/api/generate-crds.ts).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import {
  AS_CRD_NAME,
  AS_KIND,
  AS_LIST_KIND,
  AS_PLURAL,
  AS_SHORT_NAMES,
  AS_SINGULAR,
  authorizationServerSchema,
} from './authorization-server.ts';
import type { JSONSchema } from './schema-builders.ts';
import { trustBundleSchema } from './schema.ts';
import { CRD_NAME, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './v1alpha1.ts';

const crdPath = (plural: string): string =>
  fileURLToPath(new URL(`../../../crds/${GROUP}_${plural}.yaml`, import.meta.url));
export const CRD_PATH = crdPath(PLURAL);
export const AS_CRD_PATH = crdPath(AS_PLURAL);

const HEADER = [
  '# Generated from operator/src/api/ by operator/src/api/generate-crds.ts. Do not edit:',
  '# change the schema and run `make crds`.',
].join('\n');

const ready = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function crd(
  name: string,
  names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] },
  columns: object[],
  schema: JSONSchema,
): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name },
    spec: {
      group: GROUP,
      names,
      scope: 'Cluster',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}

export function trustBundleCRD(): Record<string, unknown> {
  return crd(
    CRD_NAME,
    { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
    [
      ready,
      { name: 'Certs', type: 'integer', jsonPath: '.status.certificateCount' },
      { name: 'Hash', type: 'string', jsonPath: '.status.shortHash' },
      // A `date` column prints a relative age, which kubectl shows as <invalid> for a future time.
      { name: 'Next-Expiry', type: 'string', jsonPath: '.status.nextExpiry' },
      age,
    ],
    trustBundleSchema,
  );
}

export function authorizationServerCRD(): Record<string, unknown> {
  return crd(
    AS_CRD_NAME,
    {
      kind: AS_KIND,
      listKind: AS_LIST_KIND,
      plural: AS_PLURAL,
      singular: AS_SINGULAR,
      shortNames: AS_SHORT_NAMES,
    },
    [
      ready,
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
      { name: 'Server', type: 'string', jsonPath: '.spec.cloudentity.server' },
      { name: 'Bundle', type: 'string', jsonPath: '.status.publishedBy' },
      age,
    ],
    authorizationServerSchema,
  );
}

const render = (doc: Record<string, unknown>): string =>
  `${HEADER}\n---\n${yaml.dump(doc, { noRefs: true, lineWidth: 120, quotingType: '"' })}`;

/** The CRD files' exact contents, by path. */
export function renderCRDs(): Map<string, string> {
  return new Map([
    [CRD_PATH, render(trustBundleCRD())],
    [AS_CRD_PATH, render(authorizationServerCRD())],
  ]);
}

if (import.meta.main) {
  for (const [path, text] of renderCRDs()) {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
