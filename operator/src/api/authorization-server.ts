// AuthorizationServer v1alpha1: an administrator's object. It says where an authorization server
// is and which credentials (in the operator's trust namespace) may change its trusted client CAs;
// a TrustBundle only names it. Whoever may write TrustBundles never chooses a URL or a credential.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  array,
  boolean,
  dataKey,
  httpsURL,
  integer,
  name,
  object,
  string,
  conditionSchema,
  rootSchema,
  type JSONSchema,
} from './schema-builders.ts';
import type { API_VERSION } from './v1alpha1.ts';
import {
  DEFAULT_CLIENT_ID_KEY,
  DEFAULT_CLIENT_SECRET_KEY,
  DEFAULT_KEY,
  GROUP,
  VERSION,
  type CloudentityTarget,
  type Condition,
} from './v1alpha1.ts';

export const AS_KIND = 'AuthorizationServer';
export const AS_LIST_KIND = 'AuthorizationServerList';
export const AS_PLURAL = 'authorizationservers';
export const AS_SINGULAR = 'authorizationserver';
export const AS_SHORT_NAMES = ['authz'];
export const AS_CRD_NAME = `${AS_PLURAL}.${GROUP}`;
export const AS_PATH = `/apis/${GROUP}/${VERSION}/${AS_PLURAL}`;

export const AS_MODES = ['Enforce', 'DryRun'] as const;
export type AuthorizationServerMode = (typeof AS_MODES)[number];
export const AS_CONDITION_TYPES = ['Ready', 'Connected'] as const;
/** At most this many TrustBundles may be allowed to publish to one server. */
export const AS_MAX_ALLOWED_BUNDLES = 16;

export interface AuthorizationServerSpec {
  /**
   * The TrustBundles (cluster-scoped, by name) the administrator allows to publish to this server.
   * No other bundle reaches it; among these, the oldest that names it publishes.
   */
  allowedBundles: string[];
  /** Enforce writes the bundle; DryRun only reports the difference. Defaults to Enforce. */
  mode?: AuthorizationServerMode;
  cloudentity: {
    url: string;
    tenant: string;
    server: string;
    tokenURL?: string;
    adminURL?: string;
    /** In the operator's trust namespace. */
    credentialsSecret: { name: string; clientIDKey?: string; clientSecretKey?: string };
    caSecret?: { name: string; key?: string };
    insecureSkipTLSVerify?: boolean;
  };
}

export interface AuthorizationServerStatus {
  observedGeneration?: number;
  /** The TrustBundle that writes this server: the oldest of `spec.allowedBundles` naming it. */
  publishedBy?: string;
  bundleHash?: string;
  lastSyncTime?: string;
  lastError?: string;
  /** DryRun: the certificates (subject and SHA-256) the bundle would add and remove. */
  difference?: { added: string[]; removed: string[] };
  conditions?: (Omit<Condition, 'type'> & { type: (typeof AS_CONDITION_TYPES)[number] })[];
}

export interface AuthorizationServer {
  apiVersion: typeof API_VERSION;
  kind: typeof AS_KIND;
  metadata: V1ObjectMeta;
  spec: AuthorizationServerSpec;
  status?: AuthorizationServerStatus;
}

/** The adapter's view: the credentials and CA Secrets are those of the trust namespace. */
export function cloudentityTargetOf(as: AuthorizationServer, trustNamespace: string): CloudentityTarget {
  const c = as.spec.cloudentity;
  return {
    url: c.url,
    tenant: c.tenant,
    server: c.server,
    ...(c.tokenURL ? { tokenURL: c.tokenURL } : {}),
    ...(c.adminURL ? { adminURL: c.adminURL } : {}),
    credentialsSecret: { namespace: trustNamespace, ...c.credentialsSecret },
    ...(c.caSecret ? { caSecret: { namespace: trustNamespace, ...c.caSecret } } : {}),
    ...(c.insecureSkipTLSVerify ? { insecureSkipTLSVerify: true } : {}),
  };
}

const ID = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

const spec = object(
  'Where an authorization server is and how the operator may change its trusted client CAs. Only a cluster ' +
    'administrator should be allowed to create these: they choose the URL and the admin credentials.',
  {
    allowedBundles: array(
      'The TrustBundles allowed to publish to this server, by name (TrustBundles are cluster-scoped). ' +
        'A bundle not listed is refused before any request to the server (rule AllowedBundles), so whoever ' +
        'may write TrustBundles cannot put a CA of theirs into its trusted client CAs. Among the listed ' +
        'bundles that name the server, the oldest publishes. Removing a bundle from the list stops its ' +
        'writes; the CAs it already wrote stay until another allowed bundle replaces them. No wildcard.',
      name('TrustBundle'),
      {
        minItems: 1,
        maxItems: AS_MAX_ALLOWED_BUNDLES,
        'x-kubernetes-list-type': 'set',
        'x-kubernetes-validations': [
          {
            rule: "!self.exists(b, b == '*')",
            message:
              "'*' is not allowed: list by name each TrustBundle that may set this server's trusted client CAs",
          },
        ],
      },
    ),
    mode: string(
      'Enforce (the default) writes the bundle; DryRun reads the trusted CAs and reports the difference ' +
        'with the bundle (status and Event) without writing anything: the first-contact mode.',
      { enum: AS_MODES, default: 'Enforce' },
    ),
    cloudentity: object(
      'Cloudentity ACP: the bundle becomes the `root_cas` (trusted client certificates) of one authorization server.',
      {
        url: httpsURL('Base URL of the ACP instance, e.g. https://acp.example.com.'),
        tenant: string('ACP tenant ID.', { minLength: 1, maxLength: 128, pattern: ID }),
        server: string('ID of the authorization server (workspace), e.g. openbanking_brasil.', {
          minLength: 1,
          maxLength: 128,
          pattern: ID,
        }),
        tokenURL: httpsURL(
          'OAuth 2.0 token endpoint for the admin client credentials. Defaults to {url}/{tenant}/admin/oauth2/token.',
        ),
        adminURL: httpsURL('Base of the ACP admin API. Defaults to {url}/api/admin/{tenant}.'),
        credentialsSecret: object(
          "Secret in the operator's trust namespace holding the client ID and secret of an ACP admin client.",
          {
            name: name('credentials Secret'),
            clientIDKey: dataKey('Key of the client ID.', DEFAULT_CLIENT_ID_KEY),
            clientSecretKey: dataKey('Key of the client secret.', DEFAULT_CLIENT_SECRET_KEY),
          },
          { required: ['name'] },
        ),
        caSecret: object(
          "Secret in the operator's trust namespace with the PEM CA that signed ACP's TLS certificate.",
          { name: name('CA Secret'), key: dataKey('Key of the PEM CA.', DEFAULT_KEY) },
          { required: ['name'] },
        ),
        insecureSkipTLSVerify: boolean(
          "Skip verification of ACP's TLS certificate. Honoured only when the operator runs with " +
            '--allow-insecure-authorization-servers; for labs only. Defaults to false.',
          { default: false },
        ),
      },
      { required: ['url', 'tenant', 'server', 'credentialsSecret'] },
    ),
  },
  { required: ['allowedBundles', 'cloudentity'] },
);

const condition = conditionSchema(
  'the server',
  'Ready (the trusted CAs hold the bundle, or in DryRun equal it; reason NoAllowedBundle when only bundles ' +
    'outside spec.allowedBundles name the server) or Connected (token obtained and server read).',
);

const status = object('What the operator last did with this server; written by the operator only.', {
  observedGeneration: integer('The .metadata.generation this status describes.', {
    format: 'int64',
    minimum: 0,
  }),
  publishedBy: string(
    'The TrustBundle that publishes to this server: the oldest of spec.allowedBundles that names it. ' +
      'Absent when none of them does (Ready False, reason NoAllowedBundle).',
  ),
  bundleHash: string('sha256:<hex> of the bundle the server trusts (Enforce) or was compared with (DryRun).'),
  lastSyncTime: string('When the trusted CAs last were written or verified.', { format: 'date-time' }),
  lastError: string('The last error, if the last attempt failed.', { maxLength: 4096 }),
  difference: object('DryRun: how the trusted CAs differ from the bundle.', {
    added: array('Certificates the bundle would add.', string('Subject and SHA-256.'), { maxItems: 100 }),
    removed: array('Certificates the bundle would remove.', string('Subject and SHA-256.'), {
      maxItems: 100,
    }),
  }),
  conditions: array('Ready, Connected.', condition, {
    maxItems: 8,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  }),
});

export const authorizationServerSchema: JSONSchema = rootSchema(
  'AuthorizationServer is an authorization server whose trusted client CAs a TrustBundle may set. ' +
    'Created by cluster administrators; TrustBundles refer to it by name.',
  spec,
  status,
);
