// Authorization servers (Cloudentity ACP, …) that must trust the same client CAs as the ingress.

/**
 * One authorization server's set of trusted client CAs, as PEM text.
 * Implementations retry transient failures themselves (bounded) and throw an
 * `AuthorizationServerError` when they give up.
 */
export interface AuthorizationServer {
  /** Names the server for logs, Events and status messages; never carries a secret. */
  readonly description: string;
  /** The trusted CAs as the server holds them now (possibly empty, possibly not valid PEM). */
  readTrust(signal?: AbortSignal): Promise<string>;
  /** Replaces the trusted CAs, leaving every other setting of the server as it is. */
  writeTrust(pem: string, signal?: AbortSignal): Promise<void>;
}

/** What one `syncTrust` found and did. */
export interface TrustSyncResult {
  /** True when the server's trust differed from the bundle and was replaced. */
  changed: boolean;
  /** SHA-256 fingerprints (colon hex) of the bundle's certificates, now in force on the server. */
  certificates: string[];
  /** Fingerprints the push added to, and removed from, what the server held before. */
  added: string[];
  removed: string[];
  /**
   * Set when the server's previous value was not a clean list of certificates (it was then
   * replaced whole): the reason, without the value itself.
   */
  previousUnreadable?: string;
}

/** Structured logger, compatible with pino. */
export interface AuthServerLogger {
  warn(obj: object, msg: string): void;
}

/** Reads the data of a Kubernetes Secret; injected so adapters have no Kubernetes dependency. */
export type ReadSecret = (namespace: string, name: string) => Promise<Record<string, Buffer>>;
