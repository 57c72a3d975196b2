// Building blocks of the CRDs' OpenAPI v3 schemas: structural, every field described, with the
// name rules of Kubernetes itself.
import { CONDITION_STATUSES } from './v1alpha1.ts';
export interface ValidationRule {
  rule: string;
  message: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

export interface JSONSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  description?: string;
  format?: string;
  enum?: readonly (string | number | boolean)[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, JSONSchema>;
  additionalProperties?: JSONSchema;
  items?: JSONSchema;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'granular' | 'atomic';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export type Extra = Omit<JSONSchema, 'type' | 'description' | 'properties' | 'items'>;

export const string = (description: string, extra: Extra = {}): JSONSchema => ({
  type: 'string',
  description,
  ...extra,
});
export const integer = (description: string, extra: Extra = {}): JSONSchema => ({
  type: 'integer',
  description,
  ...extra,
});
export const boolean = (description: string, extra: Extra = {}): JSONSchema => ({
  type: 'boolean',
  description,
  ...extra,
});
export const object = (
  description: string,
  properties: Record<string, JSONSchema>,
  extra: Extra = {},
): JSONSchema => ({
  type: 'object',
  description,
  ...extra,
  properties,
});
export const array = (description: string, items: JSONSchema, extra: Extra = {}): JSONSchema => ({
  type: 'array',
  description,
  ...extra,
  items,
});

// Kubernetes name rules (apimachinery validation): namespaces are DNS-1123 labels, object names
// DNS-1123 subdomains, data keys of Secrets and ConfigMaps `[-._a-zA-Z0-9]+`.
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DATA_KEY = '^[-._a-zA-Z0-9]+$';
export const HASH = '^sha256:[0-9a-f]{64}$';

export const namespace = (what: string) =>
  string(`Namespace of the ${what}.`, { minLength: 1, maxLength: 63, pattern: DNS1123_LABEL });
export const name = (what: string) =>
  string(`Name of the ${what}.`, { minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN });
export const dataKey = (description: string, defaultKey: string) =>
  string(`${description} Defaults to "${defaultKey}".`, {
    default: defaultKey,
    minLength: 1,
    maxLength: 253,
    pattern: DATA_KEY,
  });

export const httpsURL = (description: string): JSONSchema =>
  string(description, {
    minLength: 1,
    maxLength: 2048,
    'x-kubernetes-validations': [
      {
        rule: "isURL(self) && url(self).getScheme() == 'https' && url(self).getHost() != ''",
        message: 'must be an https:// URL with a host',
      },
    ],
  });

const CONDITION_TYPE =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';

/** A metav1.Condition, as the Kubernetes API conventions define it. */
export const conditionSchema = (of: string, types: string): JSONSchema =>
  object(
    `An observation of one aspect of ${of}, following the Kubernetes API conventions.`,
    {
      type: string(types, { maxLength: 316, pattern: CONDITION_TYPE }),
      status: string('True, False or Unknown.', { enum: CONDITION_STATUSES }),
      reason: string('CamelCase reason for the last transition.', {
        minLength: 1,
        maxLength: 1024,
        pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      }),
      message: string('Human-readable details of the last transition.', { maxLength: 32768 }),
      observedGeneration: integer('The .metadata.generation the condition was set for.', {
        format: 'int64',
        minimum: 0,
      }),
      lastTransitionTime: string('When the status last changed.', { format: 'date-time' }),
    },
    { required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'] },
  );

/** The root of a kind's schema: the API server accepts nothing but a type for metadata. */
export const rootSchema = (description: string, spec: JSONSchema, status: JSONSchema): JSONSchema =>
  object(
    description,
    {
      apiVersion: string('APIVersion defines the versioned schema of this representation of an object.'),
      kind: string('Kind is a string value representing the REST resource this object represents.'),
      metadata: { type: 'object' },
      spec,
      status,
    },
    { required: ['spec'] },
  );
