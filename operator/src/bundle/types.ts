// The vocabulary of the bundle engine: named sources in, a bundle and a report out.

/** PEM text (or raw bytes) from one named place, e.g. `inline[0]` or `secret pki/ca1 key ca.crt`. */
export interface Source {
  name: string;
  content: string | Uint8Array;
}

export type ExpiredAction = 'Drop' | 'Reject' | 'Allow';

/**
 * What to do when some CA of the bundle has no current CRL while others have one: nginx with
 * `ssl_crl` refuses every client of a CA that lacks one. `RequireForAll` refuses the bundle (the
 * last good one stays); `PublishIfComplete` publishes the certificates but no `ca.crl`.
 */
export type CrlPolicy = 'RequireForAll' | 'PublishIfComplete';

/**
 * What to do with a certificate that a consumer the bundle publishes to (nginx/OpenSSL, Go, Java)
 * cannot use as a trust anchor: `Reject` the bundle (the last good one stays) or `Warn` and publish.
 */
export type UnusablePolicy = 'Reject' | 'Warn';

/**
 * Which CAs may be anchors: `RootsOnly` (self-signed) or `AllowIntermediates` too, as nginx needs an
 * issuing CA in its file when clients do not send it.
 */
export type AnchorPolicy = 'RootsOnly' | 'AllowIntermediates';

export interface Policy {
  /** Every certificate must carry basicConstraints cA=TRUE. */
  requireCA: boolean;
  /** What to do with a certificate whose notAfter has passed. */
  expired: ExpiredAction;
  /** What to do with a certificate whose notBefore is in the future. */
  notYetValid: ExpiredAction;
  /** A certificate expiring within this many days gets a warning. */
  expiryWarningDays: number;
  minRSABits: number;
  /** Smallest accepted EC curve size in bits (256 accepts P-256, P-384, P-521). */
  minECBits: number;
  allowSHA1Signatures: boolean;
  maxCertificates: number;
  maxInputBytes: number;
  crl: CrlPolicy;
  unusable: UnusablePolicy;
  anchors: AnchorPolicy;
}

export type Severity = 'error' | 'warning';

export type ProblemCode =
  | 'PrivateKey'
  | 'UnsupportedBlock'
  | 'PEMHeaders'
  | 'MalformedPEM'
  | 'InvalidBase64'
  | 'TrailingData'
  | 'NotPEM'
  | 'UnparsableCertificate'
  | 'NotCA'
  | 'Expired'
  | 'NotYetValid'
  | 'ExpiresSoon'
  | 'WeakKey'
  | 'WeakSignature'
  | 'BadSignature'
  | 'UnsupportedKey'
  | 'TooManyCertificates'
  | 'InputTooLarge'
  | 'Empty'
  | 'SourceMissing'
  | 'SourceUnavailable'
  | 'SourceNotAllowed'
  | 'UnparsableCRL'
  | 'UnverifiableCRL'
  | 'UnsupportedCRL'
  | 'StaleCRL'
  | 'CRLNotYetValid'
  | 'SupersededCRL'
  | 'OrphanedCRL'
  | 'MissingCRL'
  | 'UnknownCriticalExtension'
  | 'CriticalKeyIdentifier'
  | 'ClientAuthNotAllowed'
  | 'AuthorityKeyIdMismatch'
  | 'MalformedNameConstraints'
  | 'BadSerialNumber'
  | 'NotDER'
  | 'SignatureAlgorithmMismatch'
  | 'IssuerNotInBundle'
  | 'RolloverCertificate'
  | 'IntermediateCA';

/** The verifiers a bundle reaches: nginx/OpenSSL (ingress), Go's crypto/x509 (ACP), Java PKIX (truststores). */
export const CONSUMERS = ['nginx', 'go', 'java'] as const;
export type Consumer = (typeof CONSUMERS)[number];

export interface Problem {
  severity: Severity;
  code: ProblemCode;
  /** The source's name; absent for bundle-wide problems. */
  source?: string;
  /** 1-based index of the PEM block within the source, and its first line. */
  block?: number;
  line?: number;
  certificate?: { subject: string; fingerprintSHA256: string };
  /** The CRL concerned: its issuer's name and the SHA-256 fingerprint of its DER. */
  crl?: { issuer: string; fingerprintSHA256: string };
  message: string;
}

export type CertificateStatus = 'Accepted' | 'Dropped' | 'Rejected';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  /** Upper-case hex with colons, as openssl prints it. */
  fingerprintSHA256: string;
  notBefore: Date;
  notAfter: Date;
  /** `RSA`, `EC`, `Ed25519`, `Ed448`. */
  keyAlgorithm: string;
  /** RSA modulus bits, EC curve bits, or the fixed size of an EdDSA key. */
  keySize: number;
  curve?: string;
  signatureAlgorithm: string;
  isCA: boolean;
  /** Its keyUsage allows cRLSign (or it has none): OpenSSL refuses a CRL whose issuer may not sign CRLs. */
  mayIssueCRLs: boolean;
  selfSigned: boolean;
  /**
   * Per consumer, the problems that keep it from using this certificate as a client-authentication
   * trust anchor; an empty list when it can.
   */
  consumers: Record<Consumer, ProblemCode[]>;
  /** Every source this certificate came from (deduplicated by DER). */
  sources: string[];
  status: CertificateStatus;
  der: Buffer;
}

export type CrlStatus = 'Accepted' | 'Superseded' | 'Dropped' | 'Rejected';

export interface CrlInfo {
  /** The issuing CA's subject (the CRL's issuer name when no CA of the input matches it). */
  issuer: string;
  /** The CA whose key verifies the CRL's signature. */
  issuerFingerprintSHA256?: string;
  /** Of the CRL's DER. */
  fingerprintSHA256: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** cRLNumber, in decimal. */
  crlNumber?: string;
  revokedCount: number;
  /** Upper-case hex, as CertificateInfo.serialNumber. */
  revokedSerials: string[];
  signatureAlgorithm: string;
  sources: string[];
  status: CrlStatus;
  der: Buffer;
}

export interface Bundle {
  /** Concatenated PEM of the accepted certificates, in canonical order, ending with a newline. */
  pem: string;
  /** `sha256:<hex>` of the PEM bytes, followed by `crl` when CRLs are published. */
  hash: string;
  certificates: CertificateInfo[];
  /**
   * `ca.crl`: concatenated PEM of the CRLs to publish, one current CRL per CA, in the order of the
   * certificates. Absent when the sources carry no CRL or when some CA lacks one.
   */
  crl?: string;
  /** `sha256:<hex>` of `crl`; absent with it. */
  crlHash?: string;
  /** The CRLs in `crl`, in its order; empty when none is published. */
  crls: CrlInfo[];
}

export interface BuildReport {
  /** Present only when the policy accepts the input: never an empty or partial bundle. */
  bundle?: Bundle;
  /** Every distinct certificate examined, accepted or not, in canonical order. */
  certificates: CertificateInfo[];
  /** Every distinct CRL that parsed, published or not (see its status). */
  crls: CrlInfo[];
  problems: Problem[];
}
