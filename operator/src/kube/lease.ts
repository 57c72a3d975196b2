// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timings: a leader renews
// every retryPeriod; if it cannot renew within renewDeadline it steps down; a candidate takes
// an unrenewed lease once leaseDuration has passed since its last renewal.
import { isConflict, isNotFound, type KubeClient } from './client.ts';

export interface LeaseOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Called once when leadership is lost; the process should stop acting (and usually exit). */
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date): string => d.toISOString().replace('Z', '000Z');

export class LeaderElector {
  private readonly o: Required<Omit<LeaseOptions, 'onError'>> & Pick<LeaseOptions, 'onError'>;
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  /** The lease record last seen and when (local clock), so expiry never depends on clock skew. */
  private observed?: { resourceVersion: string; at: number };

  constructor(options: LeaseOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Leading, and renewed less than renewDeadline ago: a standby cannot have taken the lease yet.
   * A leader that was frozen longer than that stops writing before it learns it was deposed.
   */
  get holdsLease(): boolean {
    return this.leading && Date.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  /** The path of the Lease (and of its collection), which leader election itself must write. */
  get leasePath(): string {
    return this.path;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`;
  }

  start(): void {
    void this.tick();
  }

  /** Steps down and, when leading, releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.o.client.get<Lease>(this.path);
      if (lease.spec.holderIdentity === this.o.identity) {
        lease.spec.holderIdentity = '';
        lease.spec.renewTime = microTime(new Date(0));
        await this.o.client.request('PUT', this.path, { body: lease });
      }
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs);
  }

  private async tick(): Promise<void> {
    try {
      const renewedAt = await this.tryAcquireOrRenew();
      if (renewedAt !== undefined) {
        // When the write was sent, not when its answer was read: a process frozen in between
        // must not wake up believing it renewed just now, while a standby already took over.
        this.lastRenew = renewedAt;
        if (!this.leading && !this.stopped) {
          this.leading = true;
          this.o.onStartedLeading();
        }
      } else if (this.leading) {
        this.lose();
      }
    } catch (err) {
      this.o.onError?.(err);
      if (this.leading && Date.now() - this.lastRenew > this.o.renewDeadlineMs) this.lose();
    }
    this.schedule();
  }

  private lose(): void {
    this.leading = false;
    this.o.onStoppedLeading();
  }

  /** The local time the successful acquire or renew was sent; undefined when the lease is another's. */
  private async tryAcquireOrRenew(): Promise<number | undefined> {
    const now = new Date();
    const spec = (prev?: Lease['spec']): Lease['spec'] => ({
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      acquireTime:
        prev?.holderIdentity === this.o.identity && prev.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions:
        (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity === this.o.identity ? 0 : prev ? 1 : 0),
    });
    let lease: Lease;
    try {
      lease = await this.o.client.get<Lease>(this.path, { timeoutMs: this.o.retryPeriodMs * 2 });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const sentAt = Date.now();
        await this.o.client.request(
          'POST',
          `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`,
          {
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.o.name, namespace: this.o.namespace },
              spec: spec(),
            },
          },
        );
        return sentAt;
      } catch (e) {
        if (isConflict(e) || (e as { status?: number }).status === 409) return undefined;
        throw e;
      }
    }
    const holder = lease.spec.holderIdentity;
    const rv = lease.metadata.resourceVersion ?? '';
    if (this.observed?.resourceVersion !== rv) this.observed = { resourceVersion: rv, at: now.getTime() };
    const duration = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    const released = !holder || (lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0) === 0;
    if (!released && holder !== this.o.identity && this.observed.at + duration > now.getTime())
      return undefined;
    try {
      const sentAt = Date.now();
      await this.o.client.request('PUT', this.path, {
        body: { ...lease, spec: spec(lease.spec) },
        timeoutMs: this.o.retryPeriodMs * 2,
      });
      return sentAt;
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }
}
