// The authorization-server step of the pipeline: a bundle names AuthorizationServer objects
// (administrators' objects), one bundle per server among those the server's spec.allowedBundles
// lists, and the operator pushes the bundle to each in Enforce mode, or only reports the
// difference in DryRun. Each server's status says what was last done to it. Nothing here takes a
// URL or a credential from a TrustBundle, and a bundle the server does not allow reaches nothing.
import type { Logger } from 'pino';
import {
  AS_PATH,
  cloudentityTargetOf,
  type AuthorizationServer,
  type AuthorizationServerStatus,
} from '../api/authorization-server.ts';
import {
  API_VERSION,
  FIELD_MANAGER,
  type AuthorizationServerReference,
  type AuthorizationServerTargetStatus,
  type Condition,
  type ConditionType,
  type TrustBundle,
} from '../api/v1alpha1.ts';
import type { AuthorizationServerPool } from '../authserver/index.ts';
import { AuthorizationServerError, diffTrust, syncTrust } from '../authserver/index.ts';
import type { Bundle } from '../bundle/types.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { objectKey } from '../kube/objects.ts';
import { Reflector } from '../kube/reflector.ts';
import type { OperatorMetrics } from '../observability/metrics.ts';
import { allowsBundle, authorizationServerRefused, type TrustBoundary } from './boundary.ts';
import {
  canonicalJSON,
  failedTarget as failed,
  mergeConditions,
  rfc3339,
  type ConditionInput,
} from './status.ts';

export const authorizationServerRef = (name: string): string => objectKey('AuthorizationServer', '', name);

export interface AuthorizationServerOptions {
  client: KubeClient;
  boundary: TrustBoundary;
  pool: AuthorizationServerPool;
  events: EventRecorder;
  log: Logger;
  metrics?: OperatorMetrics;
  /** Every bundle, to decide which one publishes to a server named by several. */
  bundles: () => TrustBundle[];
  onChange: (name: string) => void;
  checkMs: number;
}

export interface PushOutcome {
  statuses: AuthorizationServerTargetStatus[];
  failed: boolean;
  checkAfterMs?: number;
  retryAfterMs?: number;
}

const olderFirst = (a: TrustBundle, b: TrustBundle): number => {
  const ta = a.metadata.creationTimestamp ? Date.parse(String(a.metadata.creationTimestamp)) : 0;
  const tb = b.metadata.creationTimestamp ? Date.parse(String(b.metadata.creationTimestamp)) : 0;
  return ta - tb || (a.metadata.name! < b.metadata.name! ? -1 : 1);
};

/** A certificate as the difference names it: subject and SHA-256 (lower-case hex, as bundle hashes). */
const described = (c: { subject: string; sha256: string }): string =>
  `${c.subject} sha256:${c.sha256.replace(/:/g, '').toLowerCase()}`;

export class AuthorizationServerTargets {
  readonly reflector: Reflector<AuthorizationServer, AuthorizationServer>;
  private readonly o: AuthorizationServerOptions;

  constructor(o: AuthorizationServerOptions) {
    this.o = o;
    this.reflector = new Reflector<AuthorizationServer, AuthorizationServer>({
      client: o.client,
      path: AS_PATH,
      transform: (as) => as,
      keyOf: (as) => as.metadata.name!,
      resourceVersionOf: (as) => as.metadata.resourceVersion,
      onError: (err) =>
        o.log.warn({ err: (err as Error).message }, 'watch of AuthorizationServers failed; retrying'),
      handlers: {
        // The operator's own status writes leave the generation as it is: no reconcile for those.
        upsert: (as, old) => {
          if (!old || old === as || old.metadata.generation !== as.metadata.generation)
            o.onChange(as.metadata.name!);
        },
        remove: (as) => {
          o.onChange(as.metadata.name!);
          this.retainClients();
        },
      },
    });
  }

  start(): void {
    this.reflector.start();
  }

  stop(): void {
    this.reflector.stop();
  }

  /** Closes the clients (tokens, connections) of servers no allowed bundle names any more. */
  retainClients(): void {
    const kept = this.reflector
      .list()
      .flatMap((as) =>
        this.allowedNaming(as).length > 0
          ? [{ cloudentity: cloudentityTargetOf(as, this.o.boundary.trustNamespace) }]
          : [],
      );
    this.o.pool.retain(kept);
  }

  /** The bundles that name a server, oldest first. */
  private naming(server: string): TrustBundle[] {
    return this.o
      .bundles()
      .filter((tb) => tb.spec.targets?.authorizationServers?.some((r) => r.name === server))
      .sort(olderFirst);
  }

  /** The bundles that name a server and that its spec.allowedBundles lists, oldest first. */
  private allowedNaming(as: AuthorizationServer): TrustBundle[] {
    return this.naming(as.metadata.name!).filter((tb) => allowsBundle(as, tb.metadata.name!));
  }

  async push(tb: TrustBundle, bundle: Bundle, now: Date): Promise<PushOutcome> {
    const refs = tb.spec.targets?.authorizationServers ?? [];
    if (refs.length === 0) return { statuses: [], failed: false };
    if (!this.reflector.hasSynced) await this.reflector.synced;
    const previous = tb.status?.targets?.authorizationServers ?? [];
    let retryAfterMs = 0;
    const statuses = await Promise.all(
      refs.map(async (ref) => {
        const r = await this.pushOne(tb, bundle, ref, previous, now);
        if (r.retryAfterMs) retryAfterMs = Math.max(retryAfterMs, r.retryAfterMs);
        return r.status;
      }),
    );
    const failed = statuses.some((s) => s.state === 'Failed');
    return {
      statuses,
      failed,
      checkAfterMs: this.o.checkMs,
      ...(failed && retryAfterMs ? { retryAfterMs } : {}),
    };
  }

  private async pushOne(
    tb: TrustBundle,
    bundle: Bundle,
    ref: AuthorizationServerReference,
    previous: AuthorizationServerTargetStatus[],
    now: Date,
  ): Promise<{ status: AuthorizationServerTargetStatus; retryAfterMs?: number }> {
    const bundleName = tb.metadata.name!;
    const event = { name: bundleName, uid: tb.metadata.uid };
    if (!ref.name) {
      const c = ref.cloudentity;
      const message =
        `inline cloudentity targets were removed (${c?.url} tenant ${c?.tenant} server ${c?.server}): nothing was ` +
        `sent there and its root_cas are left as they are. An administrator creates an AuthorizationServer with ` +
        `this cloudentity spec (credentialsSecret and caSecret by name in the trust namespace ` +
        `${this.o.boundary.trustNamespace}) and allowedBundles: [${bundleName}], and the bundle names it: ` +
        `authorizationServers: [{name: <server>}]`;
      this.o.events.record(event, 'Warning', 'MigrationRequired', message);
      const base = {
        type: 'cloudentity' as const,
        url: c?.url ?? '',
        tenant: c?.tenant ?? '',
        server: c?.server ?? '',
      };
      const prev = previous.find((p) => !p.name && p.url === base.url && p.server === base.server);
      return { status: failed(base, message, prev) };
    }
    const name = ref.name;
    const as = this.reflector.get(name);
    const prev = previous.find((p) => p.name === name);
    const base = {
      name,
      type: 'cloudentity' as const,
      url: as?.spec.cloudentity.url ?? '',
      tenant: as?.spec.cloudentity.tenant ?? '',
      server: as?.spec.cloudentity.server ?? '',
    };
    const refuse = (message: string): { status: AuthorizationServerTargetStatus } => ({
      status: failed(base, message, prev),
    });
    if (!as) return refuse(`AuthorizationServer ${name} does not exist`);
    const notAllowed = authorizationServerRefused(as, bundleName);
    if (notAllowed) {
      if (prev?.message !== notAllowed) this.o.events.record(event, 'Warning', 'NotAllowed', notAllowed);
      await this.reportNoAllowedBundle(as, now);
      return refuse(notAllowed);
    }
    // The oldest allowed bundle publishes: a bundle the server does not allow cannot hold it.
    const publisher = this.allowedNaming(as)[0]?.metadata.name;
    if (publisher !== bundleName) {
      return refuse(
        `AuthorizationServer ${name} is published to by TrustBundle ${publisher}; two bundles cannot own one server`,
      );
    }
    if (as.spec.cloudentity.insecureSkipTLSVerify && !this.o.boundary.allowInsecureAuthorizationServers) {
      const message =
        `AuthorizationServer ${name} asks for insecureSkipTLSVerify, which this operator does not allow ` +
        '(rule InsecureAuthorizationServers: --allow-insecure-authorization-servers); nothing was sent';
      await this.writeStatus(as, { publishedBy: bundleName, lastError: message }, now, [
        ['Ready', 'False', 'NotAllowed', message],
      ]);
      return refuse(message);
    }
    const id = `AuthorizationServer ${name} (${base.url} tenant ${base.tenant} server ${base.server})`;
    const dryRun = as.spec.mode === 'DryRun';
    try {
      const server = this.o.pool.get({
        cloudentity: cloudentityTargetOf(as, this.o.boundary.trustNamespace),
      });
      if (dryRun) {
        const diff = await diffTrust(server, bundle.pem);
        const added = diff.added.map(described);
        const removed = diff.removed.map(described);
        const message =
          `${id} (DryRun): the bundle would add ${added.length} and remove ${removed.length} certificates; nothing was written` +
          (diff.redacted
            ? `; Enforce would be refused: the admin API returned redacted fields (${diff.redacted.join(', ')})`
            : '');
        if (prev?.bundleHash !== bundle.hash || prev.message !== message)
          this.o.events.record(event, 'Normal', 'DryRun', message);
        await this.writeStatus(
          as,
          {
            publishedBy: bundleName,
            bundleHash: bundle.hash,
            lastSyncTime: rfc3339(now),
            difference: { added: added.slice(0, 100), removed: removed.slice(0, 100) },
          },
          now,
          [
            ['Connected', 'True', 'Read', 'token obtained and server read'],
            ['Ready', diff.inSync ? 'True' : 'False', 'DryRun', message],
          ],
        );
        return { status: { ...base, state: 'Pending', bundleHash: bundle.hash, message } };
      }
      const result = await syncTrust(server, bundle.pem);
      this.o.metrics?.authorizationServerPushed('cloudentity', result.changed ? 'success' : 'unchanged');
      if (result.changed) {
        const drift = prev?.state === 'Synced' && prev.bundleHash === bundle.hash;
        this.o.events.record(
          event,
          drift ? 'Warning' : 'Normal',
          drift ? 'DriftCorrected' : 'Published',
          `${id}: root_cas ${drift ? 'had been changed there; restored to' : 'now hold'} bundle ${bundle.hash} (${result.added.length} added, ${result.removed.length} removed)`,
        );
      }
      const lastSyncTime =
        result.changed || !prev?.lastSyncTime || prev.bundleHash !== bundle.hash
          ? rfc3339(now)
          : prev.lastSyncTime;
      await this.writeStatus(as, { publishedBy: bundleName, bundleHash: bundle.hash, lastSyncTime }, now, [
        ['Connected', 'True', 'Read', 'token obtained and server read'],
        ['Ready', 'True', 'Synced', `root_cas hold bundle ${bundle.hash}`],
      ]);
      return { status: { ...base, state: 'Synced', bundleHash: bundle.hash, lastSyncTime } };
    } catch (err) {
      this.o.metrics?.authorizationServerPushed('cloudentity', 'error');
      const message = `${id}: ${(err as Error).message}`;
      this.o.events.record(event, 'Warning', 'PushFailed', message);
      await this.writeStatus(as, { publishedBy: bundleName, lastError: message }, now, [
        [
          'Connected',
          err instanceof AuthorizationServerError && err.kind === 'config' ? 'Unknown' : 'False',
          'Failed',
          message,
        ],
        ['Ready', 'False', 'PushFailed', message],
      ]).catch(() => undefined);
      const retryAfterMs = err instanceof AuthorizationServerError ? err.retryAfterMs : undefined;
      return { status: failed(base, message, prev), ...(retryAfterMs ? { retryAfterMs } : {}) };
    }
  }

  /**
   * Only bundles the server does not allow name it: its status says so (no publisher), and keeps
   * the hash and time of what its trusted CAs last were set to, which stays in force.
   */
  private async reportNoAllowedBundle(as: AuthorizationServer, now: Date): Promise<void> {
    if (this.allowedNaming(as).length > 0) return; // the allowed publisher writes the status
    const refused = this.naming(as.metadata.name!).map((tb) => tb.metadata.name!);
    const kept = as.status?.bundleHash ? ` (last written: bundle ${as.status.bundleHash})` : '';
    const message =
      `no TrustBundle in spec.allowedBundles names this server; refused: ${refused.sort().join(', ')}. ` +
      `Nothing is sent to it, and its trusted client CAs stay as they are${kept}`;
    await this.writeStatus(
      as,
      {
        ...(as.status?.bundleHash ? { bundleHash: as.status.bundleHash } : {}),
        ...(as.status?.lastSyncTime ? { lastSyncTime: as.status.lastSyncTime } : {}),
      },
      now,
      [['Ready', 'False', 'NoAllowedBundle', message]],
    );
  }

  /** The server's own status: written only when it changes. */
  private async writeStatus(
    as: AuthorizationServer,
    fields: Omit<AuthorizationServerStatus, 'conditions' | 'observedGeneration'>,
    now: Date,
    conditions: [string, 'True' | 'False' | 'Unknown', string, string][],
  ): Promise<void> {
    const status = {
      observedGeneration: as.metadata.generation,
      ...fields,
      conditions: mergeConditions(
        as.status?.conditions as Condition[] | undefined,
        conditions.map(([type, s, reason, message]): ConditionInput => ({
          type: type as ConditionType,
          status: s,
          reason,
          message,
        })),
        as.metadata.generation,
        now,
      ),
    };
    if (canonicalJSON(status) === canonicalJSON(as.status ?? {})) return;
    try {
      await this.o.client.apply(
        `${AS_PATH}/${as.metadata.name}/status`,
        {
          apiVersion: API_VERSION,
          kind: 'AuthorizationServer',
          metadata: { name: as.metadata.name },
          status,
        },
        FIELD_MANAGER,
      );
    } catch (err) {
      if (!isNotFound(err)) this.o.log.warn({ err: (err as Error).message }, 'AuthorizationServer status');
    }
  }
}
