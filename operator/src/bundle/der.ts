// A certificate's framing and its signature algorithm, by name and strength.
import { children, node, oidText, TAG, value, want } from './asn1.ts';

/** Why the bytes are not one framed DER certificate, or undefined when they are. */
export function certificateFramingError(der: Uint8Array): string | undefined {
  let outer;
  try {
    outer = node(der, 0, der.length);
  } catch (err) {
    return (err as Error).message;
  }
  if (outer.tag !== TAG.sequence) return 'not a DER SEQUENCE';
  if (outer.end < der.length) return `${der.length - outer.end} bytes after the certificate`;
  return undefined;
}

/** OID of Certificate.signatureAlgorithm (RFC 5280 §4.1.1.2), or undefined if unreadable. */
export function signatureAlgorithmOid(der: Uint8Array): string | undefined {
  try {
    const [, algId] = children(der, node(der, 0, der.length));
    return oidText(
      value(der, want(children(der, want(algId, TAG.sequence, 'signatureAlgorithm'))[0], TAG.oid, 'OID')),
    );
  } catch {
    return undefined;
  }
}

export interface SignatureAlgorithm {
  name: string;
  /** The digest's strength class: `broken` (MD2/MD4/MD5), `sha1`, `strong`, or `unknown`. */
  digest: 'broken' | 'sha1' | 'strong' | 'unknown';
}

const SIGNATURE_ALGORITHMS: Record<string, SignatureAlgorithm> = {
  '1.2.840.113549.1.1.2': { name: 'md2WithRSAEncryption', digest: 'broken' },
  '1.2.840.113549.1.1.3': { name: 'md4WithRSAEncryption', digest: 'broken' },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', digest: 'broken' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', digest: 'sha1' },
  '1.3.14.3.2.29': { name: 'sha1WithRSASignature', digest: 'sha1' },
  '1.2.840.113549.1.1.10': { name: 'RSASSA-PSS', digest: 'strong' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', digest: 'strong' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', digest: 'strong' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', digest: 'strong' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', digest: 'strong' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', digest: 'sha1' },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', digest: 'strong' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', digest: 'strong' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', digest: 'strong' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', digest: 'strong' },
  '1.2.840.10040.4.3': { name: 'dsa-with-SHA1', digest: 'sha1' },
  '2.16.840.1.101.3.4.3.2': { name: 'dsa-with-SHA256', digest: 'strong' },
  '1.3.101.112': { name: 'Ed25519', digest: 'strong' },
  '1.3.101.113': { name: 'Ed448', digest: 'strong' },
};

export function signatureAlgorithm(der: Uint8Array): SignatureAlgorithm {
  return signatureAlgorithmByOid(signatureAlgorithmOid(der));
}

export function signatureAlgorithmByOid(oid: string | undefined): SignatureAlgorithm {
  return (oid && SIGNATURE_ALGORITHMS[oid]) || { name: oid ? `OID ${oid}` : 'unreadable', digest: 'unknown' };
}
