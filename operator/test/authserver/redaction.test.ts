// The redaction guard: what a write back of ACP's server object would reset must be in the read.
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { redactedFields } from '../../src/authserver/index.ts';

type Json = Record<string, unknown>;

const ec = (): Json => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  kid: 'sig1',
  use: 'sig',
});
const rsa = (): Json => ({
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: 'enc1',
  use: 'enc',
});
const ed = (): Json => ({
  ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }),
  kid: 'ed',
});
const publicPart = (key: Json): Json =>
  Object.fromEntries(
    Object.entries(key).filter(([k]) => !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].includes(k)),
  );

const [EC, RSA, ED] = [ec(), rsa(), ed()];
const SECRET = randomBytes(32).toString('base64url');

function server(change: (s: Json) => void = () => {}): Json {
  const s: Json = {
    tenant_id: 'bank',
    id: 'openbanking_brasil',
    secret: SECRET,
    subject_identifier_algorithm_salt: randomBytes(24).toString('base64url'),
    jwks: {
      keys: [structuredClone(EC), structuredClone(RSA), structuredClone(ED)],
      revoked_signing_keys: null,
    },
  };
  change(s);
  return s;
}
const keys = (s: Json): Json[] => (s.jwks as { keys: Json[] }).keys;

describe('redactedFields', () => {
  it('finds nothing in a complete read (EC, RSA and Ed25519 keys, revoked keys without private parts)', () => {
    expect(redactedFields(server())).toEqual([]);
    expect(
      redactedFields(server((s) => ((s.jwks as Json).revoked_signing_keys = [publicPart(ec())]))),
    ).toEqual([]);
  });

  it.each<[string, (s: Json) => void, RegExp]>([
    ['secret absent', (s) => delete s.secret, /^secret: absent/],
    ['secret empty', (s) => (s.secret = ''), /^secret: empty/],
    ['secret null', (s) => (s.secret = null), /^secret: absent/],
    [
      'secret masked with asterisks',
      (s) => (s.secret = `${SECRET.slice(0, 4)}****************************`),
      /^secret: masked/,
    ],
    ['secret one repeated character', (s) => (s.secret = 'x'.repeat(43)), /^secret: masked/],
    ['secret saying so', (s) => (s.secret = '[REDACTED-REDACTED-REDACTED-REDACTED]'), /^secret: masked/],
    ['secret shorter than the spec allows', (s) => (s.secret = SECRET.slice(0, 12)), /fewer than the 32/],
    ['secret of another type', (s) => (s.secret = { value: SECRET }), /not a string/],
    [
      'salt empty',
      (s) => (s.subject_identifier_algorithm_salt = ''),
      /^subject_identifier_algorithm_salt: empty/,
    ],
    ['salt masked', (s) => (s.subject_identifier_algorithm_salt = '••••••'), /salt: masked/],
    ['jwks absent', (s) => delete s.jwks, /^jwks: absent/],
    ['jwks without keys', (s) => ((s.jwks as Json).keys = []), /^jwks.keys: empty/],
    ['jwks.keys not a list', (s) => ((s.jwks as Json).keys = { a: 1 }), /^jwks.keys: not a list/],
    ['an EC key without d', (s) => delete keys(s)[0]!.d, /jwks.keys\[0\] \(kid sig1\): private d absent/],
    ['an EC key with d masked', (s) => (keys(s)[0]!.d = '********'), /kid sig1\): private d not base64url/],
    ['an EC key with d empty', (s) => (keys(s)[0]!.d = ''), /kid sig1\): private d empty/],
    [
      'an EC key with a d that is not its key',
      (s) => (keys(s)[0]!.d = 'AAAA'),
      /kid sig1\): its private part is not the private key of its public part/,
    ],
    [
      'an RSA key without private parts',
      (s) => (keys(s)[1] = publicPart(RSA)),
      /kid enc1\): private d absent/,
    ],
    [
      'an RSA key with qi masked',
      (s) => (keys(s)[1]!.qi = 'REDACTED*'),
      /kid enc1\): private qi not base64url/,
    ],
    [
      'an RSA key with the private part of another key',
      (s) => Object.assign(keys(s)[1]!, { ...rsa(), kid: 'enc1', n: RSA.n }),
      /kid enc1\): its private part is not the private key of its public part/,
    ],
    ['an Ed25519 key without d', (s) => (keys(s)[2] = publicPart(ED)), /kid ed\): private d absent/],
    ['a key of a type JWKs do not define', (s) => (keys(s)[0]!.kty = 'XYZ'), /key type "XYZ" is not one/],
    ['a key without kty', (s) => delete keys(s)[0]!.kty, /key type null/],
    [
      'a key that is not an object',
      (s) => ((s.jwks as { keys: unknown[] }).keys[0] = 'sig1'),
      /jwks.keys\[0\]: not a JSON object/,
    ],
    [
      'the next signing key without d',
      (s) => ((s.jwks as Json).next_signing_key = publicPart(ec())),
      /jwks.next_signing_key/,
    ],
    [
      'a revoked key with a masked private part',
      (s) => ((s.jwks as Json).revoked_signing_keys = [{ ...ec(), d: '***' }]),
      /jwks.revoked_signing_keys\[0\].*not base64url/,
    ],
  ])('refuses a read with %s', (_what, change, problem) => {
    const found = redactedFields(server(change));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(problem);
  });

  it('never repeats a value it looked at', () => {
    const read = server((s) => {
      s.secret = SECRET.slice(0, 20);
      keys(s)[0]!.d = `${String(EC.d).slice(0, 10)}!`;
    });
    const text = redactedFields(read).join('\n');
    expect(text).not.toContain(SECRET.slice(0, 20));
    expect(text).not.toContain(String(EC.d).slice(0, 10));
  });
});
