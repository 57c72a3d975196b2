// The shape of Cloudentity ACP's authorization server object, for the contract server.
//
// Derived from ACP's admin OpenAPI spec (definition `Server`); the facts and their source are at
// the top of ./acp-contract-server.ts.
import { X509Certificate } from 'node:crypto';

export type FieldType = 'string' | 'boolean' | 'integer' | 'object' | 'array';

export interface FieldSpec {
  type: FieldType;
  enum?: readonly string[];
  /** Allowed values of the strings of an array. */
  items?: readonly string[];
  format?: 'duration';
}

const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'self_signed_tls_client_auth',
  'tls_client_auth',
  'none',
  'unspecified',
] as const;

/** Properties of the `Server` definition. */
export const SERVER_FIELDS: Readonly<Record<string, FieldSpec>> = {
  access_token_strategy: { type: 'string', enum: ['jwt', 'opaque'] },
  access_token_ttl: { type: 'string', format: 'duration' },
  advanced: { type: 'object' },
  authentication_context_settings: { type: 'object' },
  authentication_mechanisms: {
    type: 'array',
    items: ['totp', 'password', 'otp', 'email_otp', 'sms_otp', 'webauthn'],
  },
  authorization_code_ttl: { type: 'string', format: 'duration' },
  backchannel_token_delivery_modes_supported: { type: 'array' },
  backchannel_user_code_parameter_supported: { type: 'boolean' },
  cdr: { type: 'object' },
  color: { type: 'string' },
  consent_id_namespace: { type: 'string' },
  cookie_max_age: { type: 'string', format: 'duration' },
  custom_issuer_url: { type: 'string' },
  description: { type: 'string' },
  device_authorization: { type: 'object' },
  dynamic_client_registration: { type: 'object' },
  dynamic_scope_separator: { type: 'string' },
  enable_idp_discovery: { type: 'boolean' },
  enable_legacy_clients_with_no_software_statement: { type: 'boolean' },
  enable_quick_access: { type: 'boolean' },
  enable_trust_anchor: { type: 'boolean' },
  enforce_id_token_encryption: { type: 'boolean' },
  enforce_pkce: { type: 'boolean' },
  enforce_pkce_for_public_clients: { type: 'boolean' },
  fdx: { type: 'object' },
  grant_types: {
    type: 'array',
    items: [
      'authorization_code',
      'implicit',
      'client_credentials',
      'refresh_token',
      'password',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:openid:params:grant-type:ciba',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
  },
  id: { type: 'string' },
  id_token_ttl: { type: 'string', format: 'duration' },
  identity_assurance: { type: 'object' },
  idp_discovery: { type: 'object' },
  issuer_id: { type: 'string' },
  jwks: { type: 'object' },
  key_type: { type: 'string', enum: ['rsa', 'ecdsa', 'ps'] },
  legal_entity: { type: 'object' },
  logo_uri: { type: 'string' },
  metadata: { type: 'object' },
  name: { type: 'string' },
  obbr: { type: 'object' },
  organization: { type: 'object' },
  parent_id: { type: 'string' },
  profile: {
    type: 'string',
    enum: [
      'default',
      'demo',
      'workforce',
      'consumer',
      'partners',
      'third_party',
      'fapi_advanced',
      'fapi_rw',
      'fapi_ro',
      'openbanking_uk_fapi_advanced',
      'openbanking_uk',
      'openbanking_br',
      'openbanking_br_unico',
      'cdr_australia',
      'cdr_australia_fapi_rw',
      'fdx',
      'openbanking_ksa',
      'fapi_20_security',
      'fapi_20_message_signing',
      'connect_id',
    ],
  },
  pushed_authorization_request_ttl: { type: 'string', format: 'duration' },
  refresh_token_ttl: { type: 'string', format: 'duration' },
  require_pushed_authorization_requests: { type: 'boolean' },
  response_types: { type: 'object' },
  root_cas: { type: 'string' },
  rotated_secrets: { type: 'array' },
  saml: { type: 'object' },
  scope_claim_formats: { type: 'array' },
  secret: { type: 'string' },
  settings: { type: 'object' },
  sso: { type: 'object' },
  styling: { type: 'object' },
  subject_format: { type: 'string', enum: ['hash', 'legacy'] },
  subject_identifier_algorithm_salt: { type: 'string' },
  subject_identifier_types: { type: 'array', items: ['public', 'pairwise'] },
  template: { type: 'boolean' },
  tenant_id: { type: 'string' },
  token_endpoint_auth_methods: {
    type: 'array',
    items: CLIENT_AUTH_METHODS,
  },
  token_endpoint_auth_signing_alg_values: { type: 'array' },
  token_endpoint_authn_methods: {
    type: 'array',
    items: CLIENT_AUTH_METHODS,
  },
  trust_anchor_configuration: { type: 'object' },
  type: { type: 'string', enum: ['admin', 'developer', 'system', 'regular', 'organization'] },
  version: { type: 'integer' },
};

/** In `ServerResponse` only. */
export const READ_ONLY_FIELDS: readonly string[] = [
  'issuer_url',
  'mtls_issuer_url',
  'supported_application_purposes',
  'theme_id',
];

export const REQUIRED_FIELDS: readonly string[] = ['tenant_id'];

export interface Rejection {
  status: 400 | 422;
  error: string;
  details?: Record<string, unknown>;
}

const GO_DURATION = /^(0|[+-]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;
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

function typeProblem(name: string, value: unknown, spec: FieldSpec): string | undefined {
  const is = (t: FieldType): boolean =>
    t === 'array'
      ? Array.isArray(value)
      : t === 'object'
        ? value !== null && typeof value === 'object' && !Array.isArray(value)
        : t === 'integer'
          ? Number.isInteger(value)
          : typeof value === t;
  if (!is(spec.type)) return `${name} in body must be of type ${spec.type}`;
  if (spec.enum && !spec.enum.includes(value as string)) {
    return `${name} in body should be one of [${spec.enum.join(' ')}]`;
  }
  if (spec.format === 'duration' && !GO_DURATION.test(value as string)) {
    return `${name} in body must be of type duration: "${String(value)}"`;
  }
  if (spec.type === 'array') {
    for (const [i, item] of (value as unknown[]).entries()) {
      if (typeof item !== 'string') return `${name}.${i} in body must be of type string`;
      if (spec.items && !spec.items.includes(item)) {
        return `${name}.${i} in body should be one of [${spec.items.join(' ')}]`;
      }
    }
  }
  return undefined;
}

/** Checks a PUT body against `Server`; `tenant`/`server` are the path's ids. */
export function checkServerBody(body: unknown, tenant: string, server: string): Rejection | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { status: 400, error: 'request body must be a JSON object' };
  }
  const fields = Object.keys(body);
  const readOnly = fields.filter((f) => READ_ONLY_FIELDS.includes(f));
  if (readOnly.length > 0) {
    return {
      status: 400,
      error: `read-only fields in body: ${readOnly.join(', ')}`,
      details: { fields: readOnly },
    };
  }
  const unknown = fields.filter((f) => !(f in SERVER_FIELDS));
  if (unknown.length > 0) {
    return {
      status: 400,
      error: `unknown fields in body: ${unknown.join(', ')}`,
      details: { fields: unknown },
    };
  }
  const o = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const f of REQUIRED_FIELDS)
    if (o[f] === undefined || o[f] === '') problems.push(`${f} in body is required`);
  for (const f of fields) {
    const p = typeProblem(f, o[f], SERVER_FIELDS[f]!);
    if (p) problems.push(p);
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
