// The model-based suite's view of targets: what each kind of target is (where etcd keeps it, how to
// edit it by hand, re-render it as Helm would), and a monitor of etcd's history that finds every
// moment the TrustBundle's status claimed a target Synced that etcd did not hold.
import { BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL } from '../../operator/src/api/v1alpha1.ts';
import {
  ADOPTED_ANNOTATION,
  ALLOW_BUNDLES_ANNOTATION,
  OWNER_UID_ANNOTATION,
} from '../../operator/src/controller/boundary.ts';
import { kubectlAll, storedPem } from './faults.ts';

export type TargetKind = 'Secret' | 'ConfigMap' | 'ClusterTrustBundle';

export interface ModelTarget {
  kind: TargetKind;
  namespace?: string;
  name: string;
  /** Where etcd stores it. */
  etcdKey: string;
  /** kubectl arguments naming it. */
  ref: string[];
  /** The entries of the bundle's status that describe it. */
  statusList: 'secrets' | 'configMaps' | 'clusterTrustBundles';
}

export function modelTarget(kind: TargetKind, name: string, namespace?: string): ModelTarget {
  if (kind === 'ClusterTrustBundle')
    return {
      kind,
      name,
      etcdKey: `/registry/clustertrustbundles/${name}`,
      ref: ['clustertrustbundle', name],
      statusList: 'clusterTrustBundles',
    };
  const plural = kind === 'Secret' ? 'secrets' : 'configmaps';
  return {
    kind,
    namespace,
    name,
    etcdKey: `/registry/${plural}/${namespace}/${name}`,
    ref: ['-n', namespace!, kind.toLowerCase(), name],
    statusList: kind === 'Secret' ? 'secrets' : 'configMaps',
  };
}

export const targetId = (t: { namespace?: string; name: string }, kind: string): string =>
  `${kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;

/** The key a hand edit that is none of the operator's business writes. */
export const OTHER_KEY = 'notes.txt';
const BUNDLE_KEY = 'ca.crt';

export interface Observed {
  exists: boolean;
  /** The bundle key's bytes (spec.trustBundle of a ClusterTrustBundle). */
  bundle?: string;
  other?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

async function kubectlOk(args: string[], input = ''): Promise<string> {
  const r = await kubectlAll(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function observe(t: ModelTarget): Promise<Observed> {
  const out = await kubectlOk(['get', ...t.ref, '-o', 'json', '--ignore-not-found']);
  if (!out.trim()) return { exists: false, labels: {}, annotations: {} };
  const o = JSON.parse(out) as {
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    data?: Record<string, string>;
    spec?: { trustBundle?: string };
  };
  const decode = (v: string | undefined) =>
    v === undefined ? undefined : t.kind === 'Secret' ? Buffer.from(v, 'base64').toString() : v;
  return {
    exists: true,
    bundle: t.kind === 'ClusterTrustBundle' ? o.spec?.trustBundle : decode(o.data?.[BUNDLE_KEY]),
    other: decode(o.data?.[OTHER_KEY]),
    labels: o.metadata.labels ?? {},
    annotations: o.metadata.annotations ?? {},
  };
}

const merge = (t: ModelTarget, patch: object) =>
  kubectlOk(['patch', ...t.ref, '--type', 'merge', '-p', JSON.stringify(patch)]);
const encode = (t: ModelTarget, v: string) => (t.kind === 'Secret' ? Buffer.from(v).toString('base64') : v);
const pointer = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** The bundle key replaced by other bytes (a valid CA that is not the bundle). */
export const editBundleKey = (t: ModelTarget, pem: string) =>
  t.kind === 'ClusterTrustBundle'
    ? merge(t, { spec: { trustBundle: pem } })
    : merge(t, { data: { [BUNDLE_KEY]: encode(t, pem) } });

/** A key of someone else's written (a label on a ClusterTrustBundle, which has no other keys). */
export const editOtherKey = (t: ModelTarget, value: string) =>
  t.kind === 'ClusterTrustBundle'
    ? merge(t, { metadata: { labels: { team: value } } })
    : merge(t, { data: { [OTHER_KEY]: encode(t, value) } });

export const remove = (t: ModelTarget) =>
  kubectlOk(['delete', ...t.ref, '--ignore-not-found', '--wait=false']);

export const removeLabel = (t: ModelTarget) =>
  kubectlOk(['label', ...t.ref, `${BUNDLE_LABEL}-`, '--overwrite']);

/**
 * One of the operator's annotations removed: the bundle hash, or its mark (owner UID or adopted-by)
 * but the mark only while the owner label is there, atomically (a JSON patch test), since an
 * object with neither label, mark nor consent is one the operator rightly no longer recognises.
 * Returns false when there was nothing to remove.
 */
export async function removeAnnotation(t: ModelTarget, mark: boolean, bundle: string): Promise<boolean> {
  const now = await observe(t);
  if (!now.exists) return false;
  if (!mark) {
    if (now.annotations[BUNDLE_HASH_ANNOTATION] === undefined) return false;
    await kubectlOk(['annotate', ...t.ref, `${BUNDLE_HASH_ANNOTATION}-`]);
    return true;
  }
  const key = [OWNER_UID_ANNOTATION, ADOPTED_ANNOTATION].find((k) => now.annotations[k] !== undefined);
  if (!key) return false;
  const patch = [
    { op: 'test', path: `/metadata/labels/${pointer(BUNDLE_LABEL)}`, value: bundle },
    { op: 'remove', path: `/metadata/annotations/${pointer(key)}` },
  ];
  const r = await kubectlAll(['patch', ...t.ref, '--type', 'json', '-p', JSON.stringify(patch)]);
  return r.code === 0;
}

/** The version ClusterTrustBundles are served in (`kubectl api-resources`), for helmRender. */
export async function clusterTrustBundleVersion(): Promise<string> {
  const out = await kubectlOk(['api-resources', '--api-group=certificates.k8s.io', '--no-headers']);
  const m = /^clustertrustbundles\s+(?:\S+\s+)?(certificates\.k8s\.io\/v\w+)/m.exec(out);
  if (!m) throw new Error(`no ClusterTrustBundle API served:\n${out}`);
  return m[1]!;
}

/**
 * The object re-rendered by a chart (`helm upgrade`: a server-side apply by another field manager,
 * forced), with its own stale value of the bundle key and its owner's consent to this bundle.
 * `ctbVersion`: see clusterTrustBundleVersion().
 */
export function helmRender(t: ModelTarget, pem: string, bundle: string, ctbVersion: string): Promise<string> {
  const metadata = {
    name: t.name,
    ...(t.namespace ? { namespace: t.namespace } : {}),
    labels: { 'app.kubernetes.io/managed-by': 'Helm' },
    annotations: { [ALLOW_BUNDLES_ANNOTATION]: bundle },
  };
  const body =
    t.kind === 'ClusterTrustBundle'
      ? { apiVersion: ctbVersion, kind: t.kind, metadata, spec: { trustBundle: pem } }
      : { apiVersion: 'v1', kind: t.kind, metadata, data: { [BUNDLE_KEY]: encode(t, pem) } };
  return kubectlOk(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=helm', '-f', '-'],
    JSON.stringify(body),
  );
}

// ---- the status against etcd ---------------------------------------------------------------------

export interface FalseClaim {
  target: string;
  /** How long the status said Synced for bytes etcd did not hold, the operator running. */
  ms: number;
  /** Written after the target changed (else a claim that was true when written and stood). */
  written: boolean;
  statusRevision: number;
  targetRevision: number;
}

interface Open {
  since: number;
  downAtOpen: number;
  written: boolean;
  targetRevision: number;
}

/**
 * Fed every stored version of the TrustBundle and of its targets in revision order (one etcd
 * watch), with the time each arrived: the status claims a target falsely while it says Synced with
 * a hash whose bytes etcd does not hold for the target. Such a claim may last as long as the
 * operator takes to see the change and act (`lagMs`), not longer; time while the operator is down
 * (between down() and up()) does not count, as nothing can correct the status then.
 * Each bundle is made known with declared() before it is applied.
 */
export class ClaimMonitor {
  readonly falseClaims: FalseClaim[] = [];
  /** The longest false claim seen, within the allowance or not. */
  longestMs = 0;
  /** Status versions checked. */
  statuses = 0;
  private statusRevision = 0;
  private claims = new Map<string, string>();
  private readonly held = new Map<string, { revision: number; pem?: string }>();
  private readonly open = new Map<string, Open>();
  private readonly byKey: Map<string, ModelTarget>;
  private readonly bundleKey: string;
  private readonly hashPem = new Map<string, string>();
  private readonly lagMs: number;
  private downMs = 0;
  private downSince?: number;

  constructor(bundleKey: string, targets: ModelTarget[], lagMs: number) {
    this.bundleKey = bundleKey;
    this.lagMs = lagMs;
    this.byKey = new Map(targets.map((t) => [t.etcdKey, t]));
  }

  /** A bundle about to be declared: its hash and PEM, so that claims of it can be judged. */
  declared(hash: string, pem: string): void {
    this.hashPem.set(hash, pem);
  }

  /** The operator stopped (killed): until up(), time does not count against the status. */
  down(at: number): void {
    this.downSince ??= at;
  }

  /** The operator serves again (ready). */
  up(at: number): void {
    if (this.downSince === undefined) return;
    this.downMs += at - this.downSince;
    this.downSince = undefined;
  }

  /** One stored version, as the watch delivered it at `at` (ms). */
  see(v: { key: string; revision: number; deleted: boolean; value: Buffer }, at: number): void {
    if (v.key === this.bundleKey) {
      if (v.deleted) return;
      this.statusRevision = v.revision;
      this.statuses++;
      this.claims = syncedClaims(JSON.parse(v.value.toString('utf8')) as StoredBundle);
    } else {
      const t = this.byKey.get(v.key);
      if (!t) return;
      this.held.set(targetId(t, t.kind), {
        revision: v.revision,
        ...(v.deleted ? {} : { pem: storedPem(v.value) }),
      });
    }
    this.evaluate(at);
  }

  /** Closes the claims still open at the end of a run. */
  finish(at: number): void {
    for (const id of [...this.open.keys()]) this.close(id, at);
  }

  private downTotal(at: number): number {
    return this.downMs + (this.downSince === undefined ? 0 : at - this.downSince);
  }

  private evaluate(at: number): void {
    for (const t of this.byKey.values()) {
      const id = targetId(t, t.kind);
      const hash = this.claims.get(id);
      const held = this.held.get(id);
      const wrong = hash !== undefined && held !== undefined && held.pem !== this.hashPem.get(hash);
      const open = this.open.get(id);
      if (wrong && !open)
        this.open.set(id, {
          since: at,
          downAtOpen: this.downTotal(at),
          written: this.statusRevision > held.revision,
          targetRevision: held.revision,
        });
      else if (!wrong && open) this.close(id, at);
      else if (open && this.statusRevision > open.targetRevision) open.written = true;
    }
  }

  private close(id: string, at: number): void {
    const open = this.open.get(id)!;
    this.open.delete(id);
    const ms = at - open.since - (this.downTotal(at) - open.downAtOpen);
    this.longestMs = Math.max(this.longestMs, ms);
    if (ms > this.lagMs)
      this.falseClaims.push({
        target: id,
        ms,
        written: open.written,
        statusRevision: this.statusRevision,
        targetRevision: open.targetRevision,
      });
  }
}

interface StoredEntry {
  namespace?: string;
  name: string;
  state: string;
  bundleHash?: string;
}
interface StoredBundle {
  status?: { targets?: Partial<Record<'secrets' | 'configMaps' | 'clusterTrustBundles', StoredEntry[]>> };
}

function syncedClaims(tb: StoredBundle): Map<string, string> {
  const out = new Map<string, string>();
  const kinds = { secrets: 'Secret', configMaps: 'ConfigMap', clusterTrustBundles: 'ClusterTrustBundle' };
  for (const [list, kind] of Object.entries(kinds)) {
    for (const e of tb.status?.targets?.[list as keyof typeof kinds] ?? [])
      if (e.state === 'Synced' && e.bundleHash) out.set(targetId(e, kind), e.bundleHash);
  }
  return out;
}
