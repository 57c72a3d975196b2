// Key pairs and the signature algorithm each issuer key signs with. node:crypto generates the
// keys and signs (native speed, and it covers EC and Ed25519, which node-forge cannot sign with).
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type KeySpec =
  { type: 'rsa'; bits: number } | { type: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' } | { type: 'ed25519' };

export type HashName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export const DEFAULT_KEY: KeySpec = { type: 'rsa', bits: 2048 };

const EC_CURVES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;

export function generateKeyPair(spec: KeySpec = DEFAULT_KEY): KeyPair {
  switch (spec.type) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: spec.bits });
    case 'ec':
      return generateKeyPairSync('ec', { namedCurve: EC_CURVES[spec.curve] });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}

/** `rsa:2048`, `rsa` (2048 bits), `ec:P-256`, `ec` (P-256), `ed25519`. */
export function parseKeySpec(text: string): KeySpec {
  const [type, param] = text.toLowerCase().split(':', 2);
  if (type === 'rsa') {
    const bits = param === undefined ? 2048 : Number(param);
    if (!Number.isInteger(bits) || bits < 512 || bits > 16384) {
      throw new Error(`invalid RSA key size "${param}": a number of bits between 512 and 16384`);
    }
    return { type: 'rsa', bits };
  }
  if (type === 'ec') {
    const curve = (param ?? 'p-256').toUpperCase();
    if (curve !== 'P-256' && curve !== 'P-384' && curve !== 'P-521') {
      throw new Error(`unsupported EC curve "${param}": P-256, P-384 or P-521`);
    }
    return { type: 'ec', curve };
  }
  if (type === 'ed25519' && param === undefined) return { type: 'ed25519' };
  throw new Error(`invalid key type "${text}": rsa[:BITS], ec[:P-256|P-384|P-521] or ed25519`);
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Reads a PEM private key (PKCS#8, PKCS#1 or SEC1); the error never repeats the key. */
export function privateKeyFromPem(pem: string | Buffer, what = 'private key'): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? ` (${String(err.code)})` : '';
    throw new Error(`${what} is not a readable unencrypted PEM private key${reason}`, { cause: err });
  }
}

export interface SignatureScheme {
  /** OID of the AlgorithmIdentifier. */
  oid: string;
  /** RSA PKCS#1 v1.5 identifiers carry NULL parameters; ECDSA and EdDSA carry none (RFC 5758, 8410). */
  nullParameters: boolean;
  /** The digest handed to crypto.sign (null for EdDSA). */
  digest: HashName | null;
}

const RSA_OIDS: Record<HashName, string> = {
  md5: '1.2.840.113549.1.1.4',
  sha1: '1.2.840.113549.1.1.5',
  sha256: '1.2.840.113549.1.1.11',
  sha384: '1.2.840.113549.1.1.12',
  sha512: '1.2.840.113549.1.1.13',
};
const ECDSA_OIDS: Partial<Record<HashName, string>> = {
  sha1: '1.2.840.10045.4.1',
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};
const ED25519_OID = '1.3.101.112';

/** The scheme a key signs with; EC keys default to the hash matching the curve. */
export function signatureScheme(key: KeyObject, hash?: HashName): SignatureScheme {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const digest = hash ?? 'sha256';
    return { oid: RSA_OIDS[digest], nullParameters: true, digest };
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const digest = hash ?? (curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256');
    const oid = ECDSA_OIDS[digest];
    if (!oid) throw new Error(`ECDSA with ${digest} is not supported`);
    return { oid, nullParameters: false, digest };
  }
  if (type === 'ed25519') {
    if (hash) throw new Error('Ed25519 signs without a separate hash; do not choose one');
    return { oid: ED25519_OID, nullParameters: false, digest: null };
  }
  throw new Error(`cannot sign with a ${type ?? 'unknown'} key (RSA, EC or Ed25519)`);
}

/** The digest used to verify a signature made with the scheme identified by `oid`. */
export function digestForSignatureOid(oid: string): HashName | null | undefined {
  if (oid === ED25519_OID) return null;
  for (const table of [RSA_OIDS, ECDSA_OIDS]) {
    for (const [digest, known] of Object.entries(table)) if (known === oid) return digest as HashName;
  }
  return undefined;
}
