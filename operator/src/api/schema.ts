// The OpenAPI v3 schema of TrustBundle v1alpha1: the single source of truth the CRD is generated from.
// Structural (every object lists its properties or is a typed map), every field described, so
// `kubectl explain tb.spec…` documents the API; defaults and enums come from ./v1alpha1.ts.
import {
  ANCHOR_POLICIES,
  CERTIFICATE_ACTIONS,
  CERTIFICATE_STATUSES,
  CONSUMERS,
  CRL_KEY,
  DEFAULT_CLIENT_ID_KEY,
  DEFAULT_CLIENT_SECRET_KEY,
  DEFAULT_DELETION_POLICY,
  DEFAULT_KEY,
  DEFAULT_PASSWORD_KEY,
  DEFAULT_TRUSTSTORE_KEY,
  DELETION_POLICIES,
  DEFAULT_POLICY,
  LIMITS,
  ROLLOUT_KINDS,
  ROLLOUT_STATES,
  SYNC_STATES,
  UNUSABLE_ACTIONS,
} from './v1alpha1.ts';
import { SELECTOR_OPERATORS } from '../kube/selector.ts';

import {
  array,
  boolean,
  dataKey,
  HASH,
  httpsURL,
  integer,
  name,
  namespace,
  object,
  string,
  conditionSchema,
  rootSchema,
  type JSONSchema,
} from './schema-builders.ts';

export type { JSONSchema, ValidationRule } from './schema-builders.ts';

const LABEL_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

/** metav1.LabelSelector: matchLabels and matchExpressions, as Kubernetes defines them. */
const labelSelector = (description: string, extra: { minProperties?: number } = {}) =>
  object(
    description,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all be present with these values.',
        maxProperties: 32,
        additionalProperties: string('Label value.', { maxLength: 63, pattern: LABEL_VALUE }),
      },
      matchExpressions: array(
        'Requirements that must all hold.',
        object(
          'A label requirement: In and NotIn need values, Exists and DoesNotExist take none.',
          {
            key: string('Label key.', { minLength: 1, maxLength: 317, pattern: LABEL_KEY }),
            operator: string('In, NotIn, Exists or DoesNotExist.', { enum: SELECTOR_OPERATORS }),
            values: array('Label values.', string('Label value.', { maxLength: 63, pattern: LABEL_VALUE }), {
              maxItems: 64,
            }),
          },
          {
            required: ['key', 'operator'],
            'x-kubernetes-validations': [
              {
                rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
                message: 'In and NotIn need values; Exists and DoesNotExist take none',
              },
            ],
          },
        ),
        { maxItems: 16 },
      ),
    },
    { 'x-kubernetes-map-type': 'atomic', ...extra },
  );

const sourceReference = (kind: 'Secret' | 'ConfigMap') =>
  object(
    `A ${kind} holding one or more PEM CERTIFICATE blocks under one key, named, or every ${kind} of ` +
      'the namespace a label selector matches. Exactly one of name or selector.',
    {
      namespace: namespace(kind),
      name: name(kind),
      selector: labelSelector(
        `Every ${kind} of the namespace with these labels contributes its key; each is named in the ` +
          'status as a source of its certificates. A labelled object is vetted like a named one.',
        { minProperties: 1 },
      ),
      key: dataKey(`Key within the ${kind}'s data.`, DEFAULT_KEY),
      optional: boolean(
        `When true, a missing ${kind} or key (with a selector: no ${kind} matching, or a matching one ` +
          'without the key) is skipped instead of holding the bundle back. Defaults to false: the bundle ' +
          'is refused and the last good bundle stays in force.',
        { default: false },
      ),
    },
    {
      required: ['namespace'],
      'x-kubernetes-validations': [
        { rule: 'has(self.name) != has(self.selector)', message: 'set exactly one of name or selector' },
      ],
    },
  );

const source = object(
  'One place root CA certificates come from: exactly one of inline, secret or configMap.',
  {
    inline: string(
      'PEM text with one or more CERTIFICATE blocks. Any other block (a private key above all) rejects the source.',
      { minLength: 1, maxLength: LIMITS.inlineBytes },
    ),
    secret: sourceReference('Secret'),
    configMap: sourceReference('ConfigMap'),
  },
  {
    'x-kubernetes-validations': [
      {
        rule: '[has(self.inline), has(self.secret), has(self.configMap)].exists_one(x, x)',
        message: 'each source must set exactly one of inline, secret or configMap',
      },
    ],
  },
);

const action = (description: string, defaultAction: string) =>
  string(description, { enum: CERTIFICATE_ACTIONS, default: defaultAction });

const policy = object(
  'How certificates are vetted before they enter the bundle. Every field has a safe default; ' +
    'a violation keeps the last good bundle in force and is reported in the status.',
  {
    requireCA: boolean(
      `Every certificate must carry basicConstraints cA=TRUE. Defaults to ${DEFAULT_POLICY.requireCA}.`,
      { default: DEFAULT_POLICY.requireCA },
    ),
    expired: action(
      'What to do with a certificate whose notAfter has passed: Drop it with a warning, Reject the whole ' +
        `bundle, or Allow it. Defaults to ${DEFAULT_POLICY.expired}.`,
      DEFAULT_POLICY.expired,
    ),
    notYetValid: action(
      'What to do with a certificate whose notBefore lies in the future: Drop, Reject or Allow. ' +
        `Defaults to ${DEFAULT_POLICY.notYetValid}.`,
      DEFAULT_POLICY.notYetValid,
    ),
    expiryWarningDays: integer(
      'A certificate expiring within this many days is reported as a warning. ' +
        `Defaults to ${DEFAULT_POLICY.expiryWarningDays}.`,
      { default: DEFAULT_POLICY.expiryWarningDays, minimum: 0, maximum: 3650 },
    ),
    minRSABits: integer(`Smallest accepted RSA modulus in bits. Defaults to ${DEFAULT_POLICY.minRSABits}.`, {
      default: DEFAULT_POLICY.minRSABits,
      minimum: 1024,
      maximum: 16384,
    }),
    minECBits: integer(
      'Smallest accepted elliptic-curve size in bits (256 accepts P-256, P-384 and P-521). ' +
        `Defaults to ${DEFAULT_POLICY.minECBits}.`,
      { default: DEFAULT_POLICY.minECBits, minimum: 256, maximum: 521 },
    ),
    allowSHA1Signatures: boolean(
      `Accept certificates signed with SHA-1. Defaults to ${DEFAULT_POLICY.allowSHA1Signatures}.`,
      { default: DEFAULT_POLICY.allowSHA1Signatures },
    ),
    maxCertificates: integer(
      `Most distinct certificates a bundle may hold. Defaults to ${DEFAULT_POLICY.maxCertificates}.`,
      { default: DEFAULT_POLICY.maxCertificates, minimum: 1, maximum: 10000 },
    ),
    crl: string(
      'Revocation lists (X509 CRL blocks in the sources) are published as ca.crl beside ca.crt. nginx with ' +
        'ssl_crl refuses every client of a CA that has no current CRL, so: RequireForAll refuses a bundle in ' +
        'which some CA lacks one (the last good bundle stays in force); PublishIfComplete publishes the ' +
        'certificates but no ca.crl until every CA has one (a warning says so). The same holds when the CRL ' +
        'in force passes its nextUpdate with no newer one in the sources: PublishIfComplete withdraws ca.crl, ' +
        `RequireForAll keeps the bundle refused. Defaults to ${DEFAULT_POLICY.crl}.`,
      { enum: ['RequireForAll', 'PublishIfComplete'], default: DEFAULT_POLICY.crl },
    ),
    unusable: string(
      'What to do with a certificate that a consumer the bundle reaches cannot use as a client-authentication ' +
        'trust anchor (nginx/OpenSSL for Secret and ConfigMap targets, Go for authorization servers, Java for ' +
        'truststores; see docs/consumers.md): Reject the bundle (the last good one stays in force and the status ' +
        'names the certificate, the consumer and the reason) or Warn and publish it. ' +
        `Defaults to ${DEFAULT_POLICY.unusable}.`,
      { enum: UNUSABLE_ACTIONS, default: DEFAULT_POLICY.unusable },
    ),
    anchors: string(
      'Which CAs may be trust anchors: RootsOnly (self-signed) or AllowIntermediates too (nginx needs an issuing ' +
        'CA in its file when clients do not send it). An intermediate whose issuer is not in the bundle is ' +
        'reported: nginx will not use it, Go and Java trust it as a full anchor. ' +
        `Defaults to ${DEFAULT_POLICY.anchors}.`,
      { enum: ANCHOR_POLICIES, default: DEFAULT_POLICY.anchors },
    ),
    maxInputBytes: integer(
      `Most bytes read from all sources together. Defaults to ${DEFAULT_POLICY.maxInputBytes} (4 MiB).`,
      { default: DEFAULT_POLICY.maxInputBytes, minimum: 1024, maximum: 64 * 1024 * 1024 },
    ),
  },
  { default: {} },
);

const namespaceSelector = (kind: string) =>
  labelSelector(
    `Write the ${kind} into every namespace with these labels (the label is the namespace owner's ` +
      'consent) that --target-namespaces allows, and follow namespaces as they are created, relabelled ' +
      "and deleted. A namespace that stops matching is handled by the bundle's deletionPolicy. " +
      'An empty selector matches every namespace.',
  );

const ONE_NAMESPACE_RULE = {
  rule: 'has(self.namespace) != has(self.namespaceSelector)',
  message: 'set exactly one of namespace or namespaceSelector',
};

const secretTarget = object(
  'A Secret the operator writes the bundle into, e.g. the one an nginx ingress names in auth-tls-secret. ' +
    'It is created if missing. Besides the bundle key (and the truststore key) the operator owns ca.crl: ' +
    'it holds the CRLs when every CA has a current one and is removed otherwise, whoever wrote it. ' +
    'Other keys in the Secret are left alone.',
  {
    namespace: namespace('target Secret'),
    namespaceSelector: namespaceSelector('Secret'),
    name: name('target Secret'),
    key: dataKey('Key the PEM bundle is written under.', DEFAULT_KEY),
    truststore: object(
      'Also write the bundle as a PKCS#12 truststore (trusted certificate entries) for Java servers. ' +
        'It is regenerated only when the bundle or its password changes.',
      {
        key: dataKey('Key the PKCS#12 truststore is written under.', DEFAULT_TRUSTSTORE_KEY),
        passwordSecret: object(
          "Secret holding the store password. Without it the store uses Java's default password, changeit " +
            '(a truststore holds only public certificates; the password guards its integrity, not secrets).',
          {
            namespace: namespace('password Secret'),
            name: name('password Secret'),
            key: dataKey('Key of the password.', DEFAULT_PASSWORD_KEY),
          },
          { required: ['namespace', 'name'] },
        ),
      },
    ),
  },
  {
    required: ['name'],
    'x-kubernetes-validations': [
      ONE_NAMESPACE_RULE,
      {
        rule: `!has(self.key) || self.key != '${CRL_KEY}'`,
        message: `key must not be ${CRL_KEY}: the operator writes the CRLs there`,
      },
      {
        rule: `!has(self.truststore) || !has(self.truststore.key) || self.truststore.key != '${CRL_KEY}'`,
        message: `truststore.key must not be ${CRL_KEY}: the operator writes the CRLs there`,
      },
      {
        rule: `!has(self.truststore) || (has(self.key) ? self.key : '${DEFAULT_KEY}') != (has(self.truststore.key) ? self.truststore.key : '${DEFAULT_TRUSTSTORE_KEY}')`,
        message: 'truststore.key must differ from key',
      },
    ],
  },
);

const clusterTrustBundleName = string(
  'Name of the ClusterTrustBundle (colons allowed, as signer-name prefixes use them).',
  { minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$' },
);

const configMapTarget = object(
  'A ConfigMap the operator writes the bundle into as plain PEM, e.g. for Gateway API frontend ' +
    'client-certificate validation (caCertificateRefs). Created if missing; other keys are left alone.',
  {
    namespace: namespace('target ConfigMap'),
    namespaceSelector: namespaceSelector('ConfigMap'),
    name: name('target ConfigMap'),
    key: dataKey('Key the PEM bundle is written under.', DEFAULT_KEY),
  },
  { required: ['name'], 'x-kubernetes-validations': [ONE_NAMESPACE_RULE] },
);

const clusterTrustBundleTarget = object(
  "A ClusterTrustBundle (certificates.k8s.io, Kubernetes' own trust object, projected into Pods) " +
    'holding the bundle. The operator uses the version the API server serves.',
  {
    name: clusterTrustBundleName,
    signerName: string(
      'Signer the trust anchors belong to, e.g. example.com/tpp. The name must then start with it, ' +
        'slashes turned into colons, and a colon (example.com:tpp:roots); the operator needs the ' +
        '`attest` verb on that signer.',
      { minLength: 1, maxLength: 571, pattern: '^[a-z0-9.-]+/[a-zA-Z0-9.:_-]+$' },
    ),
  },
  {
    required: ['name'],
    'x-kubernetes-validations': [
      {
        rule: "!has(self.signerName) || self.name.startsWith(self.signerName.replace('/', ':') + ':')",
        message:
          'with a signerName, the name must start with the signer name (slashes as colons) and a colon',
      },
      {
        rule: "has(self.signerName) || !self.name.contains(':')",
        message: 'without a signerName, the name must not contain a colon',
      },
    ],
  },
);

const cloudentity = object(
  'Cloudentity ACP: the bundle becomes the `root_cas` (trusted client certificates) of one authorization server.',
  {
    url: httpsURL('Base URL of the ACP instance, e.g. https://acp.example.com.'),
    tenant: string('ACP tenant ID.', {
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
    }),
    server: string('ID of the authorization server (workspace), e.g. openbanking_brasil.', {
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
    }),
    tokenURL: httpsURL(
      'OAuth 2.0 token endpoint for the admin client credentials. Defaults to {url}/{tenant}/admin/oauth2/token.',
    ),
    adminURL: httpsURL('Base of the ACP admin API. Defaults to {url}/api/admin/{tenant}.'),
    credentialsSecret: object(
      'Secret holding the client ID and secret of an ACP admin client allowed to update the server.',
      {
        namespace: namespace('credentials Secret'),
        name: name('credentials Secret'),
        clientIDKey: dataKey('Key of the client ID.', DEFAULT_CLIENT_ID_KEY),
        clientSecretKey: dataKey('Key of the client secret.', DEFAULT_CLIENT_SECRET_KEY),
      },
      { required: ['namespace', 'name'] },
    ),
    caSecret: object(
      "Secret with the PEM CA that signed ACP's TLS certificate, when it is not publicly trusted.",
      {
        namespace: namespace('CA Secret'),
        name: name('CA Secret'),
        key: dataKey('Key of the PEM CA.', DEFAULT_KEY),
      },
      { required: ['namespace', 'name'] },
    ),
    insecureSkipTLSVerify: boolean(
      "Skip verification of ACP's TLS certificate. For labs only: the admin credentials could be intercepted. " +
        'Defaults to false.',
      { default: false },
    ),
  },
  { required: ['url', 'tenant', 'server', 'credentialsSecret'] },
);

const authorizationServer = object(
  'An AuthorizationServer (cluster-scoped, created by an administrator) whose trusted client CAs follow the bundle.',
  {
    name: name('AuthorizationServer'),
    cloudentity: {
      ...cloudentity,
      description:
        'Removed: inline authorization servers let whoever writes a TrustBundle send admin credentials to any URL. ' +
        'Kept only so that bundles of the old shape are read and told what to change.',
    },
  },
  {
    'x-kubernetes-validations': [
      {
        rule: 'has(self.name) && !has(self.cloudentity)',
        message:
          'inline cloudentity targets were removed: an administrator creates an AuthorizationServer ' +
          '(mtls.openbanking.dev/v1alpha1) with this cloudentity spec and this bundle in its allowedBundles, ' +
          'and the bundle names it: {name: <server>}',
      },
    ],
  },
);

const rolloutTarget = object(
  'Workloads restarted once per distinct bundle (the pod template gets the annotation ' +
    'mtls.openbanking.dev/bundle-hash), for servers that do not reload a changed CA file. ' +
    'Exactly one of name or selector. Paused workloads are not touched.',
  {
    kind: string('Kind of workload.', { enum: ROLLOUT_KINDS }),
    namespace: namespace('workload'),
    name: name('workload'),
    selector: object(
      'Selects workloads of this kind in the namespace by label.',
      {
        matchLabels: {
          type: 'object',
          description: 'Labels a workload must carry, all of them.',
          minProperties: 1,
          maxProperties: 32,
          additionalProperties: string('Label value.', { maxLength: 63 }),
        },
      },
      { required: ['matchLabels'] },
    ),
  },
  {
    required: ['kind', 'namespace'],
    'x-kubernetes-validations': [
      {
        rule: 'has(self.name) != has(self.selector)',
        message: 'a rollout must set exactly one of name or selector',
      },
    ],
  },
);

const targets = object(
  'Where the bundle is enforced. None is required: a bundle may serve for validation only.',
  {
    // Atomic lists: a map list's keys must be required, and namespace is not (namespaceSelector).
    secrets: array('Secrets the bundle is written into.', secretTarget, {
      maxItems: LIMITS.secretTargets,
      'x-kubernetes-list-type': 'atomic',
      'x-kubernetes-validations': [
        {
          // The list is atomic (namespace is optional beside namespaceSelector), so uniqueness is a rule.
          rule: "self.all(a, !has(a.__namespace__) || self.filter(b, has(b.__namespace__) && b.__namespace__ == a.__namespace__ && b.name == a.name && (has(b.key) ? b.key : 'ca.crt') == (has(a.key) ? a.key : 'ca.crt')).size() == 1)",
          message: 'the same namespace, name and key appear twice: one target each',
        },
      ],
    }),
    configMaps: array('ConfigMaps the bundle is written into.', configMapTarget, {
      maxItems: LIMITS.configMapTargets,
      'x-kubernetes-list-type': 'atomic',
      'x-kubernetes-validations': [
        {
          // The list is atomic (namespace is optional beside namespaceSelector), so uniqueness is a rule.
          rule: "self.all(a, !has(a.__namespace__) || self.filter(b, has(b.__namespace__) && b.__namespace__ == a.__namespace__ && b.name == a.name && (has(b.key) ? b.key : 'ca.crt') == (has(a.key) ? a.key : 'ca.crt')).size() == 1)",
          message: 'the same namespace, name and key appear twice: one target each',
        },
      ],
    }),
    clusterTrustBundles: array('ClusterTrustBundles the bundle is published as.', clusterTrustBundleTarget, {
      maxItems: LIMITS.clusterTrustBundleTargets,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    authorizationServers: array(
      'Authorization servers whose trusted client CAs are set to the bundle.',
      authorizationServer,
      { maxItems: LIMITS.authorizationServers },
    ),
    rollouts: array('Workloads restarted when the bundle changes.', rolloutTarget, {
      maxItems: LIMITS.rollouts,
    }),
  },
);

const spec = object(
  'Which root CAs are trusted for mutual TLS, how they are vetted, and where the trust is enforced.',
  {
    sources: array('Where the CA certificates come from; the bundle is their deduplicated union.', source, {
      minItems: 1,
      maxItems: LIMITS.sources,
    }),
    policy,
    targets,
    deletionPolicy: string(
      'What deleting the TrustBundle does to its targets: Retain leaves every Secret, authorization ' +
        'server and workload as it is (enforcement stays in force), Delete removes the Secrets it created. ' +
        `Defaults to ${DEFAULT_DELETION_POLICY}.`,
      { enum: DELETION_POLICIES, default: DEFAULT_DELETION_POLICY },
    ),
  },
  { required: ['sources'] },
);

// ---- status ----

const dateTime = (description: string) => string(description, { format: 'date-time' });
const bundleHash = (description: string) => string(description, { pattern: HASH });

const certificateStatus = object(
  'A certificate examined for the bundle.',
  {
    fingerprintSHA256: string('SHA-256 fingerprint of the DER, upper-case hex with colons.'),
    subject: string('Subject distinguished name.'),
    issuer: string('Issuer distinguished name.'),
    serialNumber: string('Serial number, hex.'),
    notAfter: dateTime('End of the validity period.'),
    sources: array('Every source the certificate was found in.', string('A source name, e.g. inline[0].'), {
      maxItems: LIMITS.sources,
    }),
    status: string('Accepted into the bundle, Dropped by the policy, or Rejected.', {
      enum: CERTIFICATE_STATUSES,
    }),
    unusableFor: array(
      'The consumers that cannot use it as a trust anchor (it is published only under policy unusable: Warn).',
      string('nginx (OpenSSL), go (crypto/x509) or java (PKIX).', { enum: CONSUMERS }),
      { maxItems: CONSUMERS.length },
    ),
  },
  { required: ['fingerprintSHA256', 'subject', 'notAfter'] },
);

const problemStatus = object(
  'Something wrong with a source or certificate. Errors keep the last good bundle in force.',
  {
    severity: string('error or warning.', { enum: ['error', 'warning'] }),
    code: string('Machine-readable reason, e.g. PrivateKey, NotCA, Expired, ExpiresSoon.'),
    source: string('The source it was found in; absent for bundle-wide problems.'),
    block: integer('1-based index of the PEM block within the source.'),
    line: integer('Line of the source where the block starts.'),
    certificate: object('The certificate concerned.', {
      subject: string('Subject distinguished name.'),
      fingerprintSHA256: string('SHA-256 fingerprint of the DER.'),
    }),
    message: string('Human-readable explanation.'),
  },
  { required: ['severity', 'code', 'message'] },
);

const syncFields = {
  bundleHash: bundleHash('Hash of the bundle the target holds.'),
  lastSyncTime: dateTime('When the target was last written or verified in sync.'),
  message: string('Details, e.g. the last error.'),
};

const count = (description: string) => integer(description, { minimum: 0 });

/** One entry per target of the spec: a namespace-selected one is summarised, never one entry per namespace. */
const objectTargetStatus = (kind: string) =>
  object(
    `A target ${kind}; for a namespace-selected one, a summary over the namespaces it is written into.`,
    {
      namespace: namespace(kind),
      namespaceSelector: string("The namespace selector, in kubectl's syntax."),
      name: name(kind),
      key: string('Data key of the bundle.'),
      state: string('Pending, Synced or Failed (with a selector: Synced when every namespace is).', {
        enum: SYNC_STATES,
      }),
      matched: count('Namespaces the selector matches inside --target-namespaces.'),
      synced: count('Of those, namespaces whose object holds the bundle.'),
      failed: count('Of those, namespaces whose object could not be brought to the bundle.'),
      notAllowed: count('Namespaces the selector matches outside --target-namespaces: never written.'),
      failures: array(
        `The first ${LIMITS.statusFailures} namespaces that failed, with why.`,
        object(
          'A namespace the target could not be written into.',
          { namespace: namespace(kind), message: string('Why.') },
          { required: ['namespace', 'message'] },
        ),
        { maxItems: LIMITS.statusFailures },
      ),
      ...syncFields,
    },
    { required: ['name', 'state'] },
  );

const targetsStatus = object('Per-target state.', {
  secrets: array('State of each target Secret.', objectTargetStatus('Secret'), {
    maxItems: LIMITS.secretTargets,
  }),
  configMaps: array('State of each target ConfigMap.', objectTargetStatus('ConfigMap'), {
    maxItems: LIMITS.configMapTargets,
  }),
  clusterTrustBundles: array(
    'State of each target ClusterTrustBundle.',
    object(
      'A target ClusterTrustBundle.',
      {
        name: clusterTrustBundleName,
        state: string('Pending, Synced or Failed.', { enum: SYNC_STATES }),
        ...syncFields,
      },
      { required: ['name', 'state'] },
    ),
    { maxItems: LIMITS.clusterTrustBundleTargets },
  ),
  authorizationServers: array(
    'State of each authorization server.',
    object(
      'An authorization server.',
      {
        name: string('The AuthorizationServer.'),
        type: string('Adapter, e.g. cloudentity.'),
        url: string('Base URL.'),
        tenant: string('Tenant ID.'),
        server: string('Authorization server ID.'),
        state: string('Pending, Synced or Failed.', { enum: SYNC_STATES }),
        ...syncFields,
      },
      { required: ['type', 'state'] },
    ),
    { maxItems: LIMITS.authorizationServers },
  ),
  rollouts: array(
    'State of each workload restarted for the bundle (a selector yields one entry per workload).',
    object(
      'A workload.',
      {
        kind: string('Kind of workload.', { enum: ROLLOUT_KINDS }),
        namespace: namespace('workload'),
        name: name('workload'),
        state: string(`Rollout state: ${ROLLOUT_STATES.join(', ')}.`, { enum: ROLLOUT_STATES }),
        ...syncFields,
      },
      { required: ['kind', 'namespace', 'name', 'state'] },
    ),
    { maxItems: LIMITS.statusRollouts },
  ),
});

const condition = conditionSchema(
  'the bundle',
  'Ready, SourcesValid, SecretsSynced, AuthorizationServersSynced, RolloutsComplete; and, for kstatus ' +
    '(Flux), Reconciling while work is in progress and Stalled when a person must act.',
);

const status = object('What the operator observed and did; written by the controller only.', {
  observedGeneration: integer('The .metadata.generation this status describes.', {
    format: 'int64',
    minimum: 0,
  }),
  bundleHash: bundleHash('sha256:<hex> of the bundle PEM in force.'),
  shortHash: string('The first 12 hex characters of bundleHash.', { maxLength: 12 }),
  certificateCount: integer('Number of certificates in the bundle.', { minimum: 0 }),
  nextExpiry: dateTime('The earliest notAfter among the certificates in the bundle.'),
  certificates: array('The certificates examined, at most 100.', certificateStatus, {
    maxItems: LIMITS.statusCertificates,
  }),
  certificatesTruncated: boolean('True when there were more certificates than certificates lists.'),
  crls: array(
    'Revocation lists published as ca.crl with the bundle in force, one per CA.',
    object(
      'A published CRL.',
      {
        issuer: string('The issuing CA.'),
        thisUpdate: dateTime('When the CRL was issued.'),
        nextUpdate: dateTime(
          'When it stops being current. The bundle is rebuilt then: with policy crl PublishIfComplete and ' +
            'no newer CRL in the sources, ca.crl is withdrawn (nginx would refuse every client of the CA).',
        ),
        revokedCount: integer('Number of revoked serials.', { minimum: 0 }),
      },
      { required: ['issuer', 'thisUpdate', 'revokedCount'] },
    ),
    { maxItems: LIMITS.statusCertificates },
  ),
  problems: array('Problems found in the last build, at most 100.', problemStatus, {
    maxItems: LIMITS.statusProblems,
  }),
  problemsTruncated: boolean('True when there were more problems than problems lists.'),
  targets: targetsStatus,
  conditions: array(
    'Ready, SourcesValid, SecretsSynced, AuthorizationServersSynced, RolloutsComplete, Reconciling, Stalled.',
    condition,
    {
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  ),
});

/** The schema of a TrustBundle, as served under spec.versions[].schema.openAPIV3Schema. */
export const trustBundleSchema: JSONSchema = rootSchema(
  'TrustBundle is a set of root CA certificates trusted for mutual TLS, vetted by a policy and rolled out ' +
    'to ingress Secrets, authorization servers and workloads.',
  spec,
  status,
);
