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
  /** `readTrust` with what a write would have to refuse; servers whose writes keep everything else omit it. */
  readServer?(signal?: AbortSignal): Promise<TrustRead>;
}

/** One read of a server's trusted CAs. */
export interface TrustRead {
  rootCAs: string;
  /**
   * Why writing the server back would reset something (secrets or private keys the read seems to
   * have withheld), one entry per field; empty when a write is safe.
   */
  redacted: string[];
}

/** A certificate as the difference names it. */
export interface CertificateRef {
  /** RFC 4514-style subject, as `trustbundle inspect` prints it. */
  subject: string;
  /** SHA-256 fingerprint of the DER, colon hex. */
  sha256: string;
}

/** What a write would change on one server; computed without writing (`diffTrust`). */
export interface TrustDiff {
  /** The server already holds exactly the bundle's certificates. */
  inSync: boolean;
  /** In the bundle and not on the server. */
  added: CertificateRef[];
  /** On the server and not in the bundle. */
  removed: CertificateRef[];
  /** The bundle's certificates (what the server would hold). */
  certificates: CertificateRef[];
  /** The server's value is not a clean list of certificates (a write replaces it whole): why. */
  previousUnreadable?: string;
  /**
   * Set when a write would be refused because the read looks redacted (see `TrustRead.redacted`):
   * the guard's findings. A DryRun reports them; Enforce gets a `RedactedFieldsError`.
   */
  redacted?: string[];
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
