// Just enough DER to check a certificate's framing and read its signature algorithm;
// node:crypto's X509Certificate does the real parsing but exposes neither.

interface Tlv {
  tag: number;
  /** Offset of the value. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv | undefined {
  if (offset + 2 > der.length) return undefined;
  const tag = der[offset]!;
  let len = der[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > der.length ? undefined : { tag, start, end };
}

/** Why the bytes are not one framed DER certificate, or undefined when they are. */
export function certificateFramingError(der: Uint8Array): string | undefined {
  const outer = readTlv(der, 0);
  if (!outer || outer.tag !== 0x30) return 'not a DER SEQUENCE';
  if (outer.end < der.length) return `${der.length - outer.end} bytes after the certificate`;
  return undefined;
}

function decodeOid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** OID of Certificate.signatureAlgorithm (RFC 5280 §4.1.1.2), or undefined if unreadable. */
export function signatureAlgorithmOid(der: Uint8Array): string | undefined {
  const cert = readTlv(der, 0);
  if (!cert) return undefined;
  const tbs = readTlv(der, cert.start);
  if (!tbs) return undefined;
  const algId = readTlv(der, tbs.end);
  if (!algId || algId.tag !== 0x30) return undefined;
  const oid = readTlv(der, algId.start);
  if (!oid || oid.tag !== 0x06) return undefined;
  return decodeOid(der.subarray(oid.start, oid.end));
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
