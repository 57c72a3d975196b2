// One adapter per distinct authorization-server target, kept across reconciles so that tokens and
// connections are reused; a target whose spec changes gets a new adapter.
import type { AuthorizationServerTarget } from '../api/v1alpha1.ts';
import { CloudentityAuthorizationServer, type CloudentityOptions } from './cloudentity.ts';
import type { AuthorizationServer } from './types.ts';

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
  );
}

/** Equal for equal specs, whatever the order of their fields. */
export function targetKey(target: AuthorizationServerTarget): string {
  return JSON.stringify(stable(target));
}

export class AuthorizationServerPool {
  private readonly options: CloudentityOptions;
  private readonly adapters = new Map<string, CloudentityAuthorizationServer>();

  constructor(options: CloudentityOptions) {
    this.options = options;
  }

  /** Throws an `AuthorizationServerError` (kind `config`) for a target it cannot talk to. */
  get(target: AuthorizationServerTarget): AuthorizationServer {
    const key = targetKey(target);
    let adapter = this.adapters.get(key);
    if (!adapter) {
      adapter = new CloudentityAuthorizationServer(target.cloudentity, this.options);
      this.adapters.set(key, adapter);
    }
    return adapter;
  }

  /** Drops the adapters of every target not listed (call with all targets of all bundles). */
  retain(targets: Iterable<AuthorizationServerTarget>): void {
    const keep = new Set([...targets].map(targetKey));
    for (const [key, adapter] of this.adapters) {
      if (keep.has(key)) continue;
      adapter.close();
      this.adapters.delete(key);
    }
  }

  get size(): number {
    return this.adapters.size;
  }

  close(): void {
    this.retain([]);
  }
}
