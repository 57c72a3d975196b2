// The ClusterTrustBundle target: Kubernetes' own cluster-scoped trust object
// (certificates.k8s.io/v1 from 1.37, v1beta1 on 1.33–1.36 clusters that enable it). The version
// is discovered from the API server; when it serves none, the target fails with that reason and
// the other targets still sync.
import type { Bundle } from '../../bundle/types.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { TargetObject } from '../../kube/objects.ts';
import { digestOf, ObjectTarget, type Desired, type TargetDeps } from './target.ts';

const GROUP = 'certificates.k8s.io';
const VERSIONS = ['v1', 'v1beta1'] as const;
const RECHECK_MS = 60_000;

/** Finds which certificates.k8s.io version serves clustertrustbundles; remembered for a minute. */
export class ClusterTrustBundleApi {
  private readonly client: KubeClient;
  private found?: { version: string | undefined; at: number };

  constructor(client: KubeClient) {
    this.client = client;
  }

  async version(): Promise<string | undefined> {
    if (this.found && (this.found.version || Date.now() - this.found.at < RECHECK_MS))
      return this.found.version;
    let version: string | undefined;
    for (const v of VERSIONS) {
      try {
        const list = await this.client.get<{ resources?: { name: string }[] }>(`/apis/${GROUP}/${v}`);
        if (list.resources?.some((r) => r.name === 'clustertrustbundles')) {
          version = v;
          break;
        }
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
    }
    this.found = { version, at: Date.now() };
    return version;
  }

  async collectionPath(): Promise<string | undefined> {
    const v = await this.version();
    return v ? `/apis/${GROUP}/${v}/clustertrustbundles` : undefined;
  }
}

export const TRUST_BUNDLE_KEY = 'trustBundle';

export class ClusterTrustBundleTarget extends ObjectTarget {
  readonly id: string;
  private readonly ref: { name: string; signerName?: string };
  private readonly api: ClusterTrustBundleApi;

  constructor(ref: { name: string; signerName?: string }, api: ClusterTrustBundleApi, deps: TargetDeps) {
    super(deps);
    this.ref = ref;
    this.api = api;
    this.id = `ClusterTrustBundle ${ref.name}`;
  }

  protected async path(): Promise<string> {
    const collection = await this.api.collectionPath();
    if (!collection) {
      throw new Error(
        'the API server serves no ClusterTrustBundle API (certificates.k8s.io/v1, or v1beta1 with the ClusterTrustBundle feature gate)',
      );
    }
    return `${collection}/${this.ref.name}`;
  }

  protected async holds(current: TargetObject, bundle: Bundle): Promise<boolean> {
    return current.digests.get(TRUST_BUNDLE_KEY) === digestOf(bundle.pem);
  }

  protected async desired(bundle: Bundle): Promise<Desired> {
    const version = await this.api.version();
    return {
      body: (metadata) => ({
        apiVersion: `${GROUP}/${version}`,
        kind: 'ClusterTrustBundle',
        metadata: { name: this.ref.name, ...metadata },
        spec: {
          ...(this.ref.signerName ? { signerName: this.ref.signerName } : {}),
          trustBundle: bundle.pem,
        },
      }),
    };
  }
}
