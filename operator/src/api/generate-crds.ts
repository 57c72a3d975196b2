// Generates crds/ from the TypeScript schema: `make crds` (node operator/src/api/generate-crds.ts).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { trustBundleSchema } from './schema.ts';
import { CRD_NAME, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './v1alpha1.ts';

export const CRD_PATH = fileURLToPath(new URL(`../../../crds/${GROUP}_${PLURAL}.yaml`, import.meta.url));

const HEADER = [
  '# Generated from operator/src/api/schema.ts by operator/src/api/generate-crds.ts. Do not edit:',
  '# change the schema and run `make crds`.',
].join('\n');

export function trustBundleCRD(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
      scope: 'Cluster',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Certs', type: 'integer', jsonPath: '.status.certificateCount' },
            { name: 'Hash', type: 'string', jsonPath: '.status.shortHash' },
            // A `date` column prints a relative age, which kubectl shows as <invalid> for a future time.
            { name: 'Next-Expiry', type: 'string', jsonPath: '.status.nextExpiry' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: trustBundleSchema },
        },
      ],
    },
  };
}

/** The CRD file's exact contents. */
export function renderCRDs(): string {
  const body = yaml.dump(trustBundleCRD(), { noRefs: true, lineWidth: 120, quotingType: '"' });
  return `${HEADER}\n---\n${body}`;
}

if (import.meta.main) {
  writeFileSync(CRD_PATH, renderCRDs());
  console.log(`wrote ${CRD_PATH}`);
}
