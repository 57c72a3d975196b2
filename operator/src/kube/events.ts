// Kubernetes Events about TrustBundles. Repeats of the same event within a window are
// dropped, so a bundle that keeps failing does not flood the API server.
import { API_VERSION, KIND } from '../api/v1alpha1.ts';
import type { KubeClient } from './client.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(bundle: { name: string; uid?: string }, type: EventType, reason: string, message: string): void;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  /** Cluster-scoped objects' events live in this namespace, as kubectl expects. */
  private readonly namespace: string;
  private readonly recent = new Map<string, number>();
  private readonly windowMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    client: KubeClient,
    options: { component: string; namespace?: string; windowMs?: number; onError: (err: unknown) => void },
  ) {
    this.client = client;
    this.component = options.component;
    this.namespace = options.namespace ?? 'default';
    this.windowMs = options.windowMs ?? 600_000;
    this.onError = options.onError;
  }

  record(bundle: { name: string; uid?: string }, type: EventType, reason: string, message: string): void {
    const key = `${bundle.name}\u0000${reason}\u0000${message}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.windowMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) {
      for (const [k, t] of this.recent) if (now - t >= this.windowMs) this.recent.delete(k);
    }
    const time = new Date(now).toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${bundle.name}.`, namespace: this.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: bundle.name,
        ...(bundle.uid ? { uid: bundle.uid } : {}),
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: process.env.HOSTNAME ?? this.component,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    this.client.request('POST', `/api/v1/namespaces/${this.namespace}/events`, { body }).catch(this.onError);
  }
}
