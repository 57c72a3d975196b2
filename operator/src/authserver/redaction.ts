// Before ACP's server object is written back whole, it must carry what the write would otherwise
// reset. The spec says of `secret` and `subject_identifier_algorithm_salt` "if not provided, it is
// generated", and the workspace's signing keys live in `jwks`: if a GET withholds or masks any of
// them (the spec does not say it will not), a PUT of what was read would replace the workspace's
// secret, pairwise subjects or signing keys. Pure: says what looks withheld, never the values.
import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';

/** The spec: "It must have at least 32 characters." */
const MIN_SECRET_LENGTH = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Private members by key type: RFC 7518 §6.2.2 (EC), §6.3.2 (RSA), §6.4.1 (oct); RFC 8037 (OKP). */
const PRIVATE_MEMBERS: Record<string, { required: string[]; optional: string[] }> = {
  EC: { required: ['d'], optional: [] },
  OKP: { required: ['d'], optional: [] },
  RSA: { required: ['d'], optional: ['p', 'q', 'dp', 'dq', 'qi'] },
  oct: { required: ['k'], optional: [] },
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A placeholder rather than a value: one repeated character, asterisks, bullets, or "redacted". */
function masked(value: string): boolean {
  return /^(.)\1*$/su.test(value) || /\*\*|•/u.test(value) || /redacted/i.test(value);
}

function secretProblem(object: Json, field: string, minLength: number): string | undefined {
  const v = object[field];
  if (v === undefined || v === null)
    return `${field}: absent (ACP generates a new one when a write leaves it out)`;
  if (typeof v !== 'string') return `${field}: a ${Array.isArray(v) ? 'list' : typeof v}, not a string`;
  if (v === '') return `${field}: empty (ACP generates a new one when a write leaves it out)`;
  if (masked(v)) return `${field}: masked`;
  if (v.length < minLength)
    return `${field}: ${v.length} characters, fewer than the ${minLength} the spec requires`;
  return undefined;
}

function keyName(key: Json, where: string): string {
  return typeof key.kid === 'string' && key.kid !== '' ? `${where} (kid ${key.kid})` : where;
}

/** The public members that a private key determines, by key type. */
const PUBLIC_MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
  RSA: ['n', 'e'],
};

const PROBE = Buffer.from('trustbundle redaction guard');

/**
 * Does the private part make a key, and is it the key of the public part the read shows? Node
 * takes an EC key's public point from x and y as given, so the pair is tried: a signature made
 * with the private part must verify with a key built from the public members alone.
 */
function matchesPublicPart(key: Json): boolean {
  try {
    const privateKey = createPrivateKey({ key: key as JsonWebKey, format: 'jwk' });
    const type = privateKey.asymmetricKeyType;
    // Key agreement keys cannot sign; that they parse is all that can be checked here.
    if (type === 'x25519' || type === 'x448') return true;
    const members = ['kty', ...(PUBLIC_MEMBERS[key.kty as string] ?? [])];
    const publicKey = createPublicKey({
      key: Object.fromEntries(members.map((m) => [m, key[m]])) as JsonWebKey,
      format: 'jwk',
    });
    const digest = type === 'ed25519' || type === 'ed448' ? null : 'sha256';
    return verify(digest, PROBE, publicKey, sign(digest, PROBE, privateKey));
  } catch {
    return false;
  }
}

/** What is wrong with one JWK's private part, in one line; `required`: a key in use must have one. */
function keyProblem(key: unknown, where: string, required: boolean): string | undefined {
  if (!isObject(key)) return `${where}: not a JSON object`;
  const name = keyName(key, where);
  const members = typeof key.kty === 'string' ? PRIVATE_MEMBERS[key.kty] : undefined;
  if (!members)
    return `${name}: key type ${JSON.stringify(key.kty ?? null)} is not one the spec's JWKs can hold`;
  const present = [...members.required, ...members.optional].filter(
    (m) => key[m] !== undefined && key[m] !== null,
  );
  if (!required && present.length === 0) return undefined;
  const absent = members.required.filter((m) => !present.includes(m));
  const empty = present.filter((m) => key[m] === '');
  const notBase64 = present.filter(
    (m) => key[m] !== '' && (typeof key[m] !== 'string' || !BASE64URL.test(key[m])),
  );
  const parts = [
    absent.length > 0 && `private ${absent.join(', ')} absent`,
    empty.length > 0 && `private ${empty.join(', ')} empty`,
    notBase64.length > 0 && `private ${notBase64.join(', ')} not base64url (masked?)`,
  ].filter((p): p is string => typeof p === 'string');
  if (parts.length === 0 && key.kty !== 'oct' && !matchesPublicPart(key)) {
    parts.push(`its private part is not the private key of its public part`);
  }
  return parts.length > 0 ? `${name}: ${parts.join('; ')}` : undefined;
}

function jwksProblems(jwks: unknown): string[] {
  if (jwks === undefined || jwks === null) return ['jwks: absent (the workspace signing keys)'];
  if (!isObject(jwks)) return ['jwks: not a JSON object'];
  if (!Array.isArray(jwks.keys)) return ['jwks.keys: not a list'];
  if (jwks.keys.length === 0) return ['jwks.keys: empty (the workspace signing keys)'];
  const problems = jwks.keys.map((k, i) => keyProblem(k, `jwks.keys[${i}]`, true));
  for (const next of ['next_signing_key', 'next_encryption_key']) {
    if (jwks[next] !== undefined && jwks[next] !== null)
      problems.push(keyProblem(jwks[next], `jwks.${next}`, true));
  }
  // A revoked key may well be kept without its private part; a masked one still gives the read away.
  for (const list of ['revoked_signing_keys', 'revoked_encryption_keys']) {
    const keys = jwks[list];
    if (keys === undefined || keys === null) continue;
    if (!Array.isArray(keys)) problems.push(`jwks.${list}: not a list`);
    else problems.push(...keys.map((k, i) => keyProblem(k, `jwks.${list}[${i}]`, false)));
  }
  return problems.filter((p): p is string => p !== undefined);
}

/**
 * What in the server object read looks withheld, masked or of a shape the spec does not define,
 * among the fields a write back would reset; empty when a write is safe.
 */
export function redactedFields(server: Record<string, unknown>): string[] {
  return [
    secretProblem(server, 'secret', MIN_SECRET_LENGTH),
    secretProblem(server, 'subject_identifier_algorithm_salt', 1),
    ...jwksProblems(server.jwks),
  ].filter((p): p is string => p !== undefined);
}
