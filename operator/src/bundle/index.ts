export * from './types.ts';
export { buildBundle, toPem, type BuildOptions } from './build.ts';
export { CertificateCache, sha256Fingerprint } from './certificate.ts';
export { DEFAULT_POLICY, resolvePolicy } from './policy.ts';
export { readPem } from './pem.ts';
export { crlSignedBy, parseCrl, type ParsedCrl } from './crl.ts';
