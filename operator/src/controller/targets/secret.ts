// The Secret target: the bundle under one key (`ca.crt` for ingress-nginx's auth-tls-secret),
// labelled with the owning bundle and annotated with its hash. Written by server-side apply,
// and only when the cached digests say the Secret does not hold the bundle already.
import { createHash } from 'node:crypto';
import { BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL, FIELD_MANAGER } from '../../api/v1alpha1.ts';
import type { Bundle } from '../../bundle/types.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { TargetSecret } from '../../kube/objects.ts';
import type { Target, TargetResult } from './target.ts';

export const digestOf = (value: string): string => createHash('sha256').update(value).digest('hex');

export interface SecretTargetDeps {
  client: KubeClient;
  /** The cached view of the Secret (label-selected watch), undefined when absent. */
  current: () => Promise<TargetSecret | undefined>;
  /** Does a TrustBundle of this name exist? (An owner label of a deleted bundle is not a claim.) */
  bundleExists: (name: string) => boolean;
}

export class SecretTarget implements Target {
  readonly id: string;
  private readonly namespace: string;
  private readonly name: string;
  private readonly key: string;
  private readonly deps: SecretTargetDeps;

  constructor(ref: { namespace: string; name: string; key: string }, deps: SecretTargetDeps) {
    this.namespace = ref.namespace;
    this.name = ref.name;
    this.key = ref.key;
    this.deps = deps;
    this.id = `Secret ${ref.namespace}/${ref.name}`;
  }

  async publish(bundle: Bundle, bundleName: string): Promise<TargetResult> {
    const value = Buffer.from(bundle.pem).toString('base64');
    const current = await this.deps.current();
    if (current?.owner && current.owner !== bundleName && this.deps.bundleExists(current.owner)) {
      return {
        state: 'Conflict',
        wrote: false,
        message: `${this.id} is already published by TrustBundle ${current.owner}; two bundles cannot own one Secret`,
      };
    }
    if (
      current &&
      current.owner === bundleName &&
      current.bundleHash === bundle.hash &&
      current.digests.get(this.key) === digestOf(value)
    ) {
      return { state: 'Synced', wrote: false };
    }
    await this.deps.client.apply(
      `/api/v1/namespaces/${this.namespace}/secrets/${this.name}`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: this.name,
          namespace: this.namespace,
          labels: { [BUNDLE_LABEL]: bundleName },
          annotations: { [BUNDLE_HASH_ANNOTATION]: bundle.hash },
        },
        data: { [this.key]: value },
      },
      FIELD_MANAGER,
    );
    return { state: 'Synced', wrote: true };
  }
}
