// Targets are a family: each kind (Secret, ConfigMap, ClusterTrustBundle, …) is one small adapter
// behind this interface, so a new kind is an addition, not an edit of the pipeline.
import { createHash } from 'node:crypto';
import { BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL, FIELD_MANAGER } from '../../api/v1alpha1.ts';
import type { Bundle } from '../../bundle/types.ts';
import { isConflict, type KubeClient } from '../../kube/client.ts';
import { ADOPTED_ANNOTATION, ALLOW_BUNDLES_ANNOTATION, consents, OWNER_UID_ANNOTATION } from '../boundary.ts';
import type { RawTarget, TargetObject } from '../../kube/objects.ts';

export interface TargetResult {
  /**
   * `Synced` when the target holds the bundle; `Conflict` when another bundle owns it;
   * `NotAdopted` when it exists, was not created by the operator, and its owner gave no consent.
   */
  state: 'Synced' | 'Conflict' | 'NotAdopted' | 'Failed';
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

/** The bundle a target is published for. */
export interface Owner {
  name: string;
  uid: string;
}

export interface Target {
  /** Human-readable identity, e.g. `Secret open-banking-apim/apitraffic-mtls-rootca`. */
  readonly id: string;
  /** Puts the bundle in place unless it is there already; throws only on API errors. */
  publish(bundle: Bundle, owner: Owner): Promise<TargetResult>;
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

  async publish(bundle: Bundle, owner: Owner): Promise<TargetResult> {
    const current = await this.deps.current();
    if (current?.owner && current.owner !== owner.name && this.deps.bundleExists(current.owner)) {
      return {
        state: 'Conflict',
        wrote: false,
        message: `${this.id} is already published by TrustBundle ${current.owner}; two bundles cannot own one target`,
      };
    }
    if (!current) return this.create(bundle, owner);
    const refused = this.adoptionRefused(current, owner);
    if (refused) return refused;
    if (
      current.owner === owner.name &&
      // An object of an earlier release, marked by neither, is written once to be marked.
      (current.annotations[OWNER_UID_ANNOTATION] ?? current.annotations[ADOPTED_ANNOTATION]) !== undefined &&
      current.annotations[BUNDLE_HASH_ANNOTATION] === bundle.hash &&
      this.upToDate(current, bundle) &&
      (await this.holds(current, bundle))
    ) {
      return { state: 'Synced', wrote: false, held: current };
    }
    return this.write(bundle, owner, current, this.madeBy(current, owner));
  }

  /**
   * Whether the operator made this labelled object (for this bundle or one that is gone), or made
   * it before it marked what it made (owner label of this bundle, no adoption record). Anything
   * else it writes only with its owner's consent.
   */
  private madeBy(current: TargetObject, owner: Owner): boolean {
    if (current.annotations[OWNER_UID_ANNOTATION]) return true;
    return current.owner === owner.name && !current.annotations[ADOPTED_ANNOTATION];
  }

  private adoptionRefused(current: TargetObject, owner: Owner): TargetResult | undefined {
    if (this.madeBy(current, owner) || consents(current.annotations, ALLOW_BUNDLES_ANNOTATION, owner.name))
      return undefined;
    return this.notAdopted(owner);
  }

  private notAdopted(owner: Owner): TargetResult {
    return {
      state: 'NotAdopted',
      wrote: false,
      message:
        `${this.id} exists and was not created by the operator; it is left untouched. Its owner may allow ` +
        `this bundle to write it with the annotation ${ALLOW_BUNDLES_ANNOTATION}=${owner.name}`,
    };
  }

  /**
   * A target the cache does not show: created, never applied, so that an object someone else
   * made (unlabelled, hence not in the cache) is never taken over. When it exists, it is written
   * only when the operator made it (its label or its owner-uid for this bundle) or with its
   * owner's consent, and then marked as adopted.
   */
  private async create(bundle: Bundle, owner: Owner): Promise<TargetResult> {
    const path = await this.path();
    const collection = path.slice(0, path.lastIndexOf('/'));
    const want = await this.desired(bundle);
    try {
      const created = await this.deps.client.request<RawTarget>('POST', collection, {
        body: want.body(this.metadata(bundle, owner, want, true)),
        query: { fieldManager: FIELD_MANAGER },
      });
      return { state: 'Synced', wrote: true, ...(created ? { written: [created] } : {}) };
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const existing = await this.deps.client.get<RawTarget>(path);
    const labels = existing.metadata?.labels ?? {};
    const annotations = existing.metadata?.annotations ?? {};
    // The cache had not yet seen an object the operator made: the usual rules apply.
    const seen = { owner: labels[BUNDLE_LABEL], annotations } as TargetObject;
    // Made for this very bundle, its owner label removed by hand (so out of the cache): the
    // owner-uid annotation is the operator's mark, and the object is its own to restore.
    if (labels[BUNDLE_LABEL] === undefined && owner.uid && annotations[OWNER_UID_ANNOTATION] === owner.uid)
      return this.write(bundle, owner, undefined, true);
    if (labels[BUNDLE_LABEL] !== undefined && this.madeBy(seen, owner)) {
      if (labels[BUNDLE_LABEL] !== owner.name && this.deps.bundleExists(labels[BUNDLE_LABEL]))
        return this.publish(bundle, owner);
      return this.write(bundle, owner, undefined, true);
    }
    if (!consents(annotations, ALLOW_BUNDLES_ANNOTATION, owner.name)) return this.notAdopted(owner);
    return this.write(bundle, owner, undefined, false);
  }

  private metadata(
    bundle: Bundle,
    owner: Owner,
    want: Desired,
    made: boolean,
  ): { labels: Record<string, string>; annotations: Record<string, string> } {
    return {
      labels: { [BUNDLE_LABEL]: owner.name },
      annotations: {
        [BUNDLE_HASH_ANNOTATION]: bundle.hash,
        [made ? OWNER_UID_ANNOTATION : ADOPTED_ANNOTATION]: owner.uid,
        ...want.annotations,
      },
    };
  }

  /** One server-side apply of the operator's fields (forced: the object is its own or adopted). */
  private async write(
    bundle: Bundle,
    owner: Owner,
    current: TargetObject | undefined,
    made: boolean,
  ): Promise<TargetResult> {
    const want = await this.desired(bundle);
    const body = want.body(this.metadata(bundle, owner, want, made));
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
