export * from './types.ts';
export {
  AuthorizationServerError,
  REDACTED_MESSAGE,
  RedactedFieldsError,
  type FailureKind,
} from './errors.ts';
export {
  CloudentityAuthorizationServer,
  READ_ONLY_SERVER_FIELDS,
  type CloudentityOptions,
  type Exchange,
} from './cloudentity.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';
export { diffTrust, syncTrust } from './sync.ts';
export { redactedFields } from './redaction.ts';
export { AuthorizationServerPool, targetKey } from './pool.ts';
