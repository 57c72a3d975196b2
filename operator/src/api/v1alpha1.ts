// The TrustBundle API, v1alpha1: the types the controller reads and writes, and the names it uses.
// The schema the CRD is generated from is in ./schema.ts; both draw their enums and defaults from here.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { DEFAULT_POLICY, resolvePolicy } from '../bundle/policy.ts';
import {
  CONSUMERS,
  type AnchorPolicy,
  type CertificateStatus as EngineCertificateStatus,
  type Consumer,
  type ExpiredAction,
  type Policy,
  type UnusablePolicy,
} from '../bundle/types.ts';
import type { LabelSelector } from '../kube/selector.ts';

export type { LabelSelector };

/**
 * The policy a bundle gets for every field it leaves out (the engine's defaults, which the schema
 * publishes), and the function that fills them in. The controller applies them itself instead of
 * relying on the API server's defaulting: bundles built in code (CLI, tests) never went through it.
 */
export { DEFAULT_POLICY, resolvePolicy };

export const GROUP = 'mtls.openbanking.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'TrustBundle';
export const LIST_KIND = 'TrustBundleList';
export const PLURAL = 'trustbundles';
export const SINGULAR = 'trustbundle';
export const SHORT_NAMES = ['tb'];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The server-side apply field manager for everything the operator writes. */
export const FIELD_MANAGER = 'trustbundle-operator';
/** On target Secrets and on pod templates: the hash of the bundle they carry. */
export const BUNDLE_HASH_ANNOTATION = `${GROUP}/bundle-hash`;
/** On target Secrets: the name of the TrustBundle that owns them. */
export const BUNDLE_LABEL = `${GROUP}/bundle`;

export const CONDITION_TYPES = [
  'Ready',
  'SourcesValid',
  'SecretsSynced',
  'AuthorizationServersSynced',
  'RolloutsComplete',
  // kstatus' abnormal-true conditions, so Flux tells progress from failure.
  'Reconciling',
  'Stalled',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

export const CERTIFICATE_ACTIONS = ['Drop', 'Reject', 'Allow'] as const satisfies readonly ExpiredAction[];
export const UNUSABLE_ACTIONS = ['Reject', 'Warn'] as const satisfies readonly UnusablePolicy[];
export const ANCHOR_POLICIES = ['RootsOnly', 'AllowIntermediates'] as const satisfies readonly AnchorPolicy[];
/** The consumers a certificate is judged for (status.certificates[].unusableFor). */
export { CONSUMERS };
export const ROLLOUT_KINDS = ['Deployment', 'DaemonSet', 'StatefulSet'] as const;
export type RolloutKind = (typeof ROLLOUT_KINDS)[number];
export const DELETION_POLICIES = ['Retain', 'Delete'] as const;
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/** Synchronisation state of one Secret or authorization-server target. */
export const SYNC_STATES = ['Pending', 'Synced', 'Failed'] as const;
export type SyncState = (typeof SYNC_STATES)[number];
/** State of one workload's rollout. `Paused` workloads are never touched. */
export const ROLLOUT_STATES = [
  'Pending',
  'Progressing',
  'Complete',
  'Paused',
  'NotFound',
  'NotAllowed',
  'Failed',
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
export const CERTIFICATE_STATUSES = [
  'Accepted',
  'Dropped',
  'Rejected',
] as const satisfies readonly EngineCertificateStatus[];

export const DEFAULT_KEY = 'ca.crt';
export const DEFAULT_TRUSTSTORE_KEY = 'truststore.p12';
/** Where a Secret target carries the bundle's CRLs: the key ingress-nginx's auth-tls-secret convention reads. */
export const CRL_KEY = 'ca.crl';
export const DEFAULT_PASSWORD_KEY = 'password';
export const DEFAULT_CLIENT_ID_KEY = 'client_id';
export const DEFAULT_CLIENT_SECRET_KEY = 'client_secret';
export const DEFAULT_DELETION_POLICY: DeletionPolicy = 'Retain';

/** Bounds the schema enforces; the controller uses them to truncate status lists. */
export const LIMITS = Object.freeze({
  sources: 100,
  inlineBytes: 1024 * 1024,
  secretTargets: 100,
  configMapTargets: 100,
  clusterTrustBundleTargets: 20,
  authorizationServers: 10,
  rollouts: 100,
  statusCertificates: 100,
  statusProblems: 100,
  statusRollouts: 500,
  /** Namespaces named in the status of one namespace-selected target (the first failures). */
  statusFailures: 5,
});

// ---- spec ----

export interface ObjectKeyReference {
  namespace: string;
  name: string;
  /** Data key; defaults to `ca.crt`. */
  key?: string;
}

/** Exactly one of `name` and `selector` is set. */
export interface SourceReference {
  namespace: string;
  name?: string;
  /** Every object of the namespace with these labels contributes its key. */
  selector?: LabelSelector;
  /** Data key; defaults to `ca.crt`. */
  key?: string;
  /**
   * A missing object or key (or, with a selector, no object matching) is skipped instead of
   * failing the build.
   */
  optional?: boolean;
}

/** Exactly one of the three is set. */
export interface TrustBundleSource {
  inline?: string;
  secret?: SourceReference;
  configMap?: SourceReference;
}

/** As written in a TrustBundle: every field optional (see DEFAULT_POLICY). */
export type TrustBundlePolicy = Partial<Policy>;

/** A PKCS#12 truststore written beside the PEM bundle, for Java servers. */
export interface TruststoreSpec {
  /** Data key; defaults to `truststore.p12`. */
  key?: string;
  /** Secret holding the store password; without it the store uses Java's default, `changeit`. */
  passwordSecret?: ObjectKeyReference;
}

/** Exactly one of `namespace` and `namespaceSelector` is set. */
export interface FannedOutTarget {
  namespace?: string;
  /** The object is written into every namespace with these labels that the trust boundary allows. */
  namespaceSelector?: LabelSelector;
  name: string;
  /** Data key; defaults to `ca.crt`. */
  key?: string;
}

export interface SecretTarget extends FannedOutTarget {
  truststore?: TruststoreSpec;
}

export type ConfigMapTarget = FannedOutTarget;

export interface ClusterTrustBundleTarget {
  name: string;
  /** With a signer name, the object's name must start with it (slashes as colons) and a colon. */
  signerName?: string;
}

export interface CredentialsSecretReference {
  namespace: string;
  name: string;
  clientIDKey?: string;
  clientSecretKey?: string;
}

export interface CloudentityTarget {
  /** Base URL of the ACP instance, `https://…`. */
  url: string;
  tenant: string;
  /** The authorization server (workspace) whose `root_cas` carry the bundle. */
  server: string;
  tokenURL?: string;
  adminURL?: string;
  credentialsSecret: CredentialsSecretReference;
  caSecret?: ObjectKeyReference;
  insecureSkipTLSVerify?: boolean;
}

/** What an authorization-server adapter is made from (built from an AuthorizationServer object). */
export interface AuthorizationServerTarget {
  cloudentity: CloudentityTarget;
}

/** An AuthorizationServer by name. `cloudentity` is the removed inline shape, read only to report it. */
export interface AuthorizationServerReference {
  name?: string;
  cloudentity?: CloudentityTarget;
}

/** Exactly one of `name` and `selector` is set. */
export interface RolloutTarget {
  kind: RolloutKind;
  namespace: string;
  name?: string;
  selector?: { matchLabels: Record<string, string> };
}

export interface TrustBundleTargets {
  secrets?: SecretTarget[];
  configMaps?: ConfigMapTarget[];
  clusterTrustBundles?: ClusterTrustBundleTarget[];
  authorizationServers?: AuthorizationServerReference[];
  rollouts?: RolloutTarget[];
}

export interface TrustBundleSpec {
  sources: TrustBundleSource[];
  policy?: TrustBundlePolicy;
  targets?: TrustBundleTargets;
  deletionPolicy?: DeletionPolicy;
}

// ---- status ----

/** A Kubernetes API conventions condition (metav1.Condition). */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339 date-time. */
  lastTransitionTime: string;
}

export interface CertificateStatus {
  fingerprintSHA256: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  /** RFC 3339 date-time. */
  notAfter: string;
  sources: string[];
  status?: (typeof CERTIFICATE_STATUSES)[number];
  /** The consumers that cannot use it as a trust anchor (published under policy unusable: Warn). */
  unusableFor?: Consumer[];
}

export interface ProblemStatus {
  severity: 'error' | 'warning';
  code: string;
  source?: string;
  block?: number;
  line?: number;
  certificate?: { subject: string; fingerprintSHA256: string };
  message: string;
}

interface TargetSyncStatus {
  bundleHash?: string;
  /** RFC 3339 date-time of the last successful write or verification. */
  lastSyncTime?: string;
  message?: string;
}

/** A namespace where a namespace-selected target could not be brought to the bundle. */
export interface NamespaceFailure {
  namespace: string;
  message: string;
}

/**
 * One Secret or ConfigMap target. A namespace-selected one is summarised (counts and the first
 * failures), so the status stays bounded however many namespaces match.
 */
export interface ObjectTargetStatus extends TargetSyncStatus {
  namespace?: string;
  /** The selector in kubectl's syntax, for a namespace-selected target. */
  namespaceSelector?: string;
  name: string;
  key: string;
  state: SyncState;
  /** Namespaces the selector matches that the trust boundary allows. */
  matched?: number;
  synced?: number;
  failed?: number;
  /** Namespaces the selector matches outside --target-namespaces: never written. */
  notAllowed?: number;
  failures?: NamespaceFailure[];
}

export type SecretTargetStatus = ObjectTargetStatus;
export type ConfigMapTargetStatus = ObjectTargetStatus;

export interface ClusterTrustBundleTargetStatus extends TargetSyncStatus {
  name: string;
  state: SyncState;
}

export interface AuthorizationServerTargetStatus extends TargetSyncStatus {
  /** The AuthorizationServer; absent for an entry of the removed inline shape. */
  name?: string;
  type: 'cloudentity';
  url: string;
  tenant: string;
  server: string;
  state: SyncState;
}

export interface RolloutTargetStatus extends TargetSyncStatus {
  kind: RolloutKind;
  namespace: string;
  name: string;
  state: RolloutState;
}

export interface TrustBundleStatus {
  observedGeneration?: number;
  /** `sha256:<hex>` of the bundle PEM in force. */
  bundleHash?: string;
  /** The first 12 hex characters of the hash, for `kubectl get`. */
  shortHash?: string;
  certificateCount?: number;
  /** RFC 3339 date-time: the earliest notAfter among the accepted certificates. */
  nextExpiry?: string;
  certificates?: CertificateStatus[];
  certificatesTruncated?: boolean;
  crls?: { issuer: string; thisUpdate: string; nextUpdate?: string; revokedCount: number }[];
  problems?: ProblemStatus[];
  problemsTruncated?: boolean;
  targets?: {
    secrets?: SecretTargetStatus[];
    configMaps?: ConfigMapTargetStatus[];
    clusterTrustBundles?: ClusterTrustBundleTargetStatus[];
    authorizationServers?: AuthorizationServerTargetStatus[];
    rollouts?: RolloutTargetStatus[];
  };
  conditions?: Condition[];
}

export interface TrustBundle {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: TrustBundleSpec;
  status?: TrustBundleStatus;
}

export interface TrustBundleList {
  apiVersion: typeof API_VERSION;
  kind: typeof LIST_KIND;
  metadata: { resourceVersion?: string; continue?: string };
  items: TrustBundle[];
}

// ---- defaults the controller applies itself, as it must not depend on API server defaulting ----

/** The key a source or target reference names, `ca.crt` when left out. */
export function keyOf(ref: { key?: string }): string {
  return ref.key || DEFAULT_KEY;
}

/** The first 12 hex characters of a `sha256:<hex>` bundle hash. */
export function shortHash(bundleHash: string): string {
  return bundleHash.replace(/^sha256:/, '').slice(0, 12);
}

export interface CloudentityEndpoints {
  tokenURL: string;
  adminURL: string;
  clientIDKey: string;
  clientSecretKey: string;
}

/** Token and admin API URLs of a Cloudentity target, with ACP's standard layout as the default. */
export function cloudentityEndpoints(target: CloudentityTarget): CloudentityEndpoints {
  const base = target.url.replace(/\/+$/, '');
  const tenant = encodeURIComponent(target.tenant);
  return {
    tokenURL: target.tokenURL || `${base}/${tenant}/admin/oauth2/token`,
    adminURL: target.adminURL || `${base}/api/admin/${tenant}`,
    clientIDKey: target.credentialsSecret.clientIDKey || DEFAULT_CLIENT_ID_KEY,
    clientSecretKey: target.credentialsSecret.clientSecretKey || DEFAULT_CLIENT_SECRET_KEY,
  };
}
