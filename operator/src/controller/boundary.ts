// The trust boundary: the operator acts only where the owner of the thing acted upon agreed.
// Whoever may write a TrustBundle gains nothing of the operator's own power: sources only from the
// trust namespace and the namespaces the administrator listed, credentials only from the trust
// namespace, targets only in allowed namespaces and, when they exist already, only with their
// owner's consent; authorization servers written only by the bundles their administrator lists;
// workloads restarted only when they ask for it. Checked before any API call.
import type { AuthorizationServer } from '../api/authorization-server.ts';
import { GROUP } from '../api/v1alpha1.ts';

/** On an existing Secret, ConfigMap or ClusterTrustBundle: the bundles its owner allows to write it. */
export const ALLOW_BUNDLES_ANNOTATION = `${GROUP}/allow-bundles`;
/** On an object the operator created: the UID of the bundle it was created for. */
export const OWNER_UID_ANNOTATION = `${GROUP}/owner-uid`;
/** On an existing object the operator writes with its owner's consent: the UID of that bundle. */
export const ADOPTED_ANNOTATION = `${GROUP}/adopted-by`;
/** On a Deployment, DaemonSet or StatefulSet: the bundles whose changes may restart it. */
export const RESTART_ON_ANNOTATION = `${GROUP}/restart-on`;

/** `*` allows every namespace the operator's RBAC grants. */
export type NamespaceList = readonly string[] | '*';

export interface BoundaryOptions {
  /** Where credentials, CAs and truststore passwords are read, and sources by default. */
  trustNamespace: string;
  /** Further namespaces sources may be read from. */
  sourceNamespaces?: NamespaceList;
  /** Namespaces targets and rollouts may be in (default: every namespace, RBAC being the bound). */
  targetNamespaces?: NamespaceList;
  /** Signer names a ClusterTrustBundle target may carry (one without a signer is always allowed). */
  clusterTrustBundleSigners?: readonly string[];
  allowInsecureAuthorizationServers?: boolean;
}

/** A comma-separated flag value: `*` for any, else the names. */
export function parseNamespaceList(value: string | undefined, dflt: NamespaceList): NamespaceList {
  if (value === undefined || value.trim() === '') return dflt;
  if (value.trim() === '*') return '*';
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The names listed in a consent annotation (`a,b` or `*`). */
export function consents(
  annotations: Record<string, string> | undefined,
  key: string,
  bundle: string,
): boolean {
  const value = annotations?.[key];
  if (!value) return false;
  return value.split(',').some((v) => {
    const t = v.trim();
    return t === '*' || t === bundle;
  });
}

/** Whether an AuthorizationServer's administrator lists this bundle in `spec.allowedBundles`. */
export const allowsBundle = (as: AuthorizationServer, bundle: string): boolean =>
  (as.spec.allowedBundles ?? []).includes(bundle);

/** Why a bundle may not publish to an AuthorizationServer; undefined when it may. */
export function authorizationServerRefused(as: AuthorizationServer, bundle: string): string | undefined {
  if (allowsBundle(as, bundle)) return undefined;
  return (
    `AuthorizationServer ${as.metadata.name} does not allow TrustBundle ${bundle} (rule AllowedBundles: ` +
    'its administrator lists the bundles that may publish to it in spec.allowedBundles); nothing was sent to it'
  );
}

export class TrustBoundary {
  readonly trustNamespace: string;
  readonly allowInsecureAuthorizationServers: boolean;
  private readonly sources: NamespaceList;
  private readonly targets: NamespaceList;
  private readonly signers: ReadonlySet<string>;

  constructor(o: BoundaryOptions) {
    this.trustNamespace = o.trustNamespace;
    this.sources = o.sourceNamespaces ?? [];
    this.targets = o.targetNamespaces ?? '*';
    this.signers = new Set(o.clusterTrustBundleSigners ?? []);
    this.allowInsecureAuthorizationServers = o.allowInsecureAuthorizationServers ?? false;
  }

  /** Why a source in `namespace` may not be read; undefined when it may. */
  sourceRefused(namespace: string): string | undefined {
    if (namespace === this.trustNamespace) return undefined;
    if (this.sources === '*' || this.sources.includes(namespace)) return undefined;
    return (
      `namespace ${namespace} is not a source namespace (rule SourceNamespaces: sources come from the trust ` +
      `namespace ${this.trustNamespace} or the namespaces the administrator listed in --source-namespaces)`
    );
  }

  /** Why a Secret other than a source or target (a password, a credential) may not be read there. */
  secretRefused(namespace: string, what: string): string | undefined {
    if (namespace === this.trustNamespace) return undefined;
    return `the ${what} Secret must be in the trust namespace ${this.trustNamespace} (rule TrustNamespace), not in ${namespace}`;
  }

  /** May targets be in any namespace (RBAC being the only bound)? */
  get anyTargetNamespace(): boolean {
    return this.targets === '*';
  }

  /** Why a target or workload in `namespace` may not be written; undefined when it may. */
  targetRefused(namespace: string): string | undefined {
    if (this.targets === '*' || this.targets.includes(namespace)) return undefined;
    return `namespace ${namespace} is not a target namespace (rule TargetNamespaces: --target-namespaces)`;
  }

  /** Why a ClusterTrustBundle with this signer may not be written. */
  signerRefused(signerName: string | undefined): string | undefined {
    if (!signerName || this.signers.has(signerName)) return undefined;
    return `signer ${signerName} is not allowed (rule ClusterTrustBundleSigners: --cluster-trust-bundle-signers)`;
  }
}
