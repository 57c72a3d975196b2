// The policy flags `inspect` and `build` share, mapped onto the engine's Policy.
import { DEFAULT_POLICY } from '../bundle/policy.ts';
import type { ExpiredAction, Policy } from '../bundle/types.ts';
import { flag, oneOf, optionalDate, optionalInteger, type OptionSpec, type Parsed } from './args.ts';

export const POLICY_OPTIONS: OptionSpec = {
  'allow-non-ca': { type: 'boolean' },
  expired: { type: 'string' },
  'not-yet-valid': { type: 'string' },
  'expiry-warning-days': { type: 'string' },
  'min-rsa-bits': { type: 'string' },
  'min-ec-bits': { type: 'string' },
  'allow-sha1': { type: 'boolean' },
  'max-certificates': { type: 'string' },
  'max-input-bytes': { type: 'string' },
  unusable: { type: 'string' },
  anchors: { type: 'string' },
  now: { type: 'string' },
};

const d = DEFAULT_POLICY;
export const POLICY_HELP = `Policy (defaults are the operator's):
  --allow-non-ca             accept certificates without basicConstraints cA=TRUE
  --expired ACTION           drop | reject | allow expired certificates (default: ${d.expired.toLowerCase()})
  --not-yet-valid ACTION     drop | reject | allow certificates not valid yet (default: ${d.notYetValid.toLowerCase()})
  --expiry-warning-days N    warn about certificates expiring within N days (default: ${d.expiryWarningDays})
  --min-rsa-bits N           smallest accepted RSA key (default: ${d.minRSABits})
  --min-ec-bits N            smallest accepted EC curve, 256/384/521 (default: ${d.minECBits})
  --allow-sha1               accept SHA-1 signatures (MD5 is always refused)
  --max-certificates N       most certificates in one bundle (default: ${d.maxCertificates})
  --max-input-bytes N        most input bytes over all files (default: ${d.maxInputBytes})
  --unusable ACTION          reject | warn when nginx, Go or Java cannot use a CA (default: ${d.unusable.toLowerCase()})
  --anchors KIND             rootsonly | allowintermediates (default: ${d.anchors.toLowerCase()})
  --now TIME                 judge validity at TIME (ISO 8601) instead of the current time`;

const ACTIONS: readonly ExpiredAction[] = ['Drop', 'Reject', 'Allow'];

export interface PolicyFlags {
  policy: Partial<Policy>;
  now?: Date;
}

export function policyFlags(p: Parsed): PolicyFlags {
  const policy: Partial<Policy> = {};
  if (flag(p, 'allow-non-ca')) policy.requireCA = false;
  if (flag(p, 'allow-sha1')) policy.allowSHA1Signatures = true;
  const expired = oneOf(p, 'expired', ACTIONS);
  if (expired) policy.expired = expired;
  const notYetValid = oneOf(p, 'not-yet-valid', ACTIONS);
  if (notYetValid) policy.notYetValid = notYetValid;
  const unusable = oneOf(p, 'unusable', ['Reject', 'Warn'] as const);
  if (unusable) policy.unusable = unusable;
  const anchors = oneOf(p, 'anchors', ['RootsOnly', 'AllowIntermediates'] as const);
  if (anchors) policy.anchors = anchors;
  const numbers: [string, keyof Policy, number][] = [
    ['expiry-warning-days', 'expiryWarningDays', 0],
    ['min-rsa-bits', 'minRSABits', 0],
    ['min-ec-bits', 'minECBits', 0],
    ['max-certificates', 'maxCertificates', 1],
    ['max-input-bytes', 'maxInputBytes', 1],
  ];
  for (const [option, key, min] of numbers) {
    const n = optionalInteger(p, option, min);
    if (n !== undefined) (policy as Record<string, number>)[key] = n;
  }
  const now = optionalDate(p, 'now');
  return now ? { policy, now } : { policy };
}
