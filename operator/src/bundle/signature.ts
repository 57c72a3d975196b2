// Does a signed structure (a certificate's TBS, a CRL's TBSCertList) verify with a given key?
// node:crypto does the arithmetic; this picks the digest and, for RSASSA-PSS, the padding, salt
// length and hash from the AlgorithmIdentifier's parameters (RFC 4055).
import { constants, verify, type KeyObject } from 'node:crypto';
import { children, DerError, hex, node, oidText, TAG, value, want, type Node } from './asn1.ts';

export interface Signed {
  signatureOid: string;
  /** The AlgorithmIdentifier's parameters, whole (tag and length included). */
  signatureParameters?: Uint8Array;
  tbs: Uint8Array;
  signature: Uint8Array;
}

/** The digest node:crypto verifies with, by signature algorithm; null for EdDSA. */
const DIGEST: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.3.14.3.2.29': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1',
  '2.16.840.1.101.3.4.3.2': 'sha256',
  '1.3.101.112': null,
  '1.3.101.113': null,
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

/** RSASSA-PSS-params (RFC 4055): hash, MGF1 hash, salt length; the defaults are SHA-1 and 20. */
function pssParameters(params: Uint8Array): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  const hashOf = (algId: Node | undefined): string => {
    const oid = oidText(value(params, want(children(params, algId!)[0], TAG.oid, 'a hash algorithm')));
    const name = HASHES[oid];
    if (!name) throw new DerError(`unsupported hash ${oid}`);
    return name;
  };
  for (const field of children(
    params,
    want(node(params, 0, params.length), TAG.sequence, 'PSS parameters'),
  )) {
    const inner = node(params, field.start, field.end);
    if (field.tag === 0xa0) hash = hashOf(inner);
    else if (field.tag === 0xa1) mgfHash = hashOf(children(params, inner)[1]);
    else if (field.tag === 0xa2) saltLength = Number(BigInt('0x' + hex(value(params, inner))));
  }
  if (mgfHash !== hash) throw new DerError(`MGF1 with ${mgfHash} under ${hash} is not supported`);
  return { hash, saltLength };
}

/**
 * True or false when the signature can be checked; undefined when it cannot be asked (an
 * algorithm OpenSSL no longer computes, unknown parameters).
 */
export function signedBy(signed: Signed, key: KeyObject): boolean | undefined {
  let digest: string | null | undefined = DIGEST[signed.signatureOid];
  let options: KeyObject | { key: KeyObject; padding: number; saltLength: number } = key;
  if (signed.signatureOid === RSASSA_PSS) {
    let pss;
    try {
      pss = pssParameters(signed.signatureParameters ?? new Uint8Array());
    } catch {
      return undefined;
    }
    digest = pss.hash;
    options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength };
  }
  if (digest === undefined) return undefined;
  try {
    return verify(digest, signed.tbs, options, signed.signature);
  } catch {
    return false;
  }
}
