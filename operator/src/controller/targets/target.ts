// Targets are a family: each kind (Secret, ConfigMap, ClusterTrustBundle, …) is one small adapter
// behind this interface, so a new kind is an addition, not an edit of the pipeline.
import { createHash } from 'node:crypto';
import { BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL, FIELD_MANAGER } from '../../api/v1alpha1.ts';
import type { Bundle } from '../../bundle/types.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { RawTarget, TargetObject } from '../../kube/objects.ts';

export interface TargetResult {
  /** `Synced` when the target holds the bundle; `Conflict` when another bundle owns it. */
  state: 'Synced' | 'Conflict' | 'Failed';
  /** True when this reconcile wrote to the target. */
  wrote: boolean;
  /**
   * The objects as the API server returned them after each write (an apply, then maybe a patch):
   * their watch events are recognised by content, and the status is checked against them.
   */
  written?: RawTarget[];
  /** The cached view that was judged to hold the bundle already (nothing written). */
  held?: TargetObject;
  message?: string;
}

export interface Target {
  /** Human-readable identity, e.g. `Secret open-banking-apim/apitraffic-mtls-rootca`. */
  readonly id: string;
  /** Puts the bundle in place unless it is there already; throws only on API errors. */
  publish(bundle: Bundle, bundleName: string): Promise<TargetResult>;
}

export const digestOf = (value: string): string => createHash('sha256').update(value).digest('hex');

export interface TargetDeps {
  client: KubeClient;
  /** The cached view of the object (label-selected watch), undefined when absent. */
  current: () => Promise<TargetObject | undefined>;
  /** Does a TrustBundle of this name exist? (An owner label of a deleted bundle is not a claim.) */
  bundleExists: (name: string) => boolean;
}

/** The content and bookkeeping one target kind writes for a bundle. */
export interface Desired {
  annotations?: Record<string, string>;
  /**
   * Data keys that must not be there. Server-side apply removes a key only from the operator's
   * own fields, so one that someone else put there (a hand-added `ca.crl`) is removed with a merge
   * patch after the apply.
   */
  absent?: string[];
  /** The server-side apply body, given the metadata the operator always sets. */
  body: (metadata: { labels: Record<string, string>; annotations: Record<string, string> }) => object;
}

/**
 * The shared life of a published object: refuse when another bundle owns it, do nothing when its
 * digests already match, else one server-side apply with the owner label and the bundle hash.
 */
export abstract class ObjectTarget implements Target {
  abstract readonly id: string;
  protected readonly deps: TargetDeps;

  constructor(deps: TargetDeps) {
    this.deps = deps;
  }

  protected abstract path(): Promise<string>;
  protected abstract desired(bundle: Bundle): Promise<Desired>;

  /** Beyond the digests: what else must hold for the target to be in sync (e.g. a truststore). */
  protected upToDate(_current: TargetObject, _bundle: Bundle): boolean {
    return true;
  }

  async publish(bundle: Bundle, bundleName: string): Promise<TargetResult> {
    const current = await this.deps.current();
    if (current?.owner && current.owner !== bundleName && this.deps.bundleExists(current.owner)) {
      return {
        state: 'Conflict',
        wrote: false,
        message: `${this.id} is already published by TrustBundle ${current.owner}; two bundles cannot own one target`,
      };
    }
    if (
      current &&
      current.owner === bundleName &&
      current.annotations[BUNDLE_HASH_ANNOTATION] === bundle.hash &&
      this.upToDate(current, bundle) &&
      (await this.holds(current, bundle))
    ) {
      return { state: 'Synced', wrote: false, held: current };
    }
    const want = await this.desired(bundle);
    const body = want.body({
      labels: { [BUNDLE_LABEL]: bundleName },
      annotations: { [BUNDLE_HASH_ANNOTATION]: bundle.hash, ...want.annotations },
    });
    const path = await this.path();
    const applied = await this.deps.client.apply<RawTarget>(path, body, FIELD_MANAGER);
    const written = applied ? [applied] : [];
    let resourceVersion = applied?.metadata?.resourceVersion;
    const applying = (body as { data?: Record<string, string> }).data ?? {};
    const stray = (want.absent ?? []).filter((k) => !(k in applying) && applied?.data?.[k] !== undefined);
    if (stray.length > 0) {
      // Unconditional: whatever happened meanwhile, these keys must go.
      const patched = await this.deps.client.mergePatch<RawTarget>(
        path,
        { data: Object.fromEntries(stray.map((k) => [k, null])) },
        { query: { fieldManager: FIELD_MANAGER } },
      );
      resourceVersion = patched?.metadata?.resourceVersion;
      if (patched) written.push(patched);
    }
    // An apply that changed nothing (the cache lagged behind our own last write) wrote nothing.
    const wrote = !current || resourceVersion !== current.resourceVersion;
    return { state: 'Synced', wrote, ...(written.length > 0 ? { written } : {}) };
  }

  /** The cached digests equal those of what this bundle would write (for deterministic content). */
  protected abstract holds(current: TargetObject, bundle: Bundle): Promise<boolean>;
}
