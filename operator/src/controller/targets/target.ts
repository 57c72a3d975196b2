// Targets are a family: each kind (Secret today; ConfigMap, ClusterTrustBundle, … next) is one
// small adapter behind this interface, so a new kind is an addition, not an edit of the pipeline.
import type { Bundle } from '../../bundle/types.ts';

export interface TargetResult {
  /** `Synced` when the target holds the bundle; `Conflict` when another bundle owns it. */
  state: 'Synced' | 'Conflict' | 'Failed';
  /** True when this reconcile wrote to the target. */
  wrote: boolean;
  message?: string;
}

export interface Target {
  /** Human-readable identity, e.g. `Secret open-banking-apim/apitraffic-mtls-rootca`. */
  readonly id: string;
  /** Puts the bundle in place unless it is there already; never throws for expected states. */
  publish(bundle: Bundle, bundleName: string): Promise<TargetResult>;
}
