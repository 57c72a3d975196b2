// The DER primitives the engine reads certificates and CRLs with: strict (definite, minimal
// lengths; single-byte tags), allocation-free, and shared by ./x509.ts and ./crl.ts.

export class DerError extends Error {}

export interface Node {
  tag: number;
  /** Offset of the tag byte: `whole()` is the element as signed (e.g. the TBS bytes). */
  at: number;
  /** Offset of the value, and just past it. */
  start: number;
  end: number;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  explicit0: 0xa0,
  explicit3: 0xa3,
} as const;

/** While set (see `leniently`), lengths in more bytes than needed are read, as OpenSSL reads them. */
let lenient = false;

/**
 * Runs `read` reading non-minimal lengths instead of refusing them: for the values of extensions,
 * where OpenSSL reads past them and ./x509.ts records them as DER faults instead.
 */
export function leniently<T>(read: () => T): T {
  lenient = true;
  try {
    return read();
  } finally {
    lenient = false;
  }
}

export function node(der: Uint8Array, at: number, limit: number): Node {
  if (at + 2 > limit) throw new DerError(`truncated at byte ${at}`);
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported multi-byte tag at byte ${at}`);
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError(`indefinite length at byte ${at} (BER, not DER)`);
    if (count > 4 || start + count > limit) throw new DerError(`bad length at byte ${at}`);
    if (der[start] === 0 && !lenient) throw new DerError(`non-minimal length at byte ${at}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    if (length < 0x80 && !lenient) throw new DerError(`non-minimal length at byte ${at}`);
    start += count;
  }
  if (start + length > limit) throw new DerError(`value at byte ${at} runs past its container`);
  return { tag, at, start, end: start + length };
}

export function children(der: Uint8Array, parent: Node): Node[] {
  const out: Node[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = node(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

export function want(n: Node | undefined, tag: number, what: string): Node {
  if (!n || n.tag !== tag) throw new DerError(`${what} is missing or malformed`);
  return n;
}

export const value = (der: Uint8Array, n: Node): Uint8Array => der.subarray(n.start, n.end);
export const whole = (der: Uint8Array, n: Node): Uint8Array => der.subarray(n.at, n.end);
export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Dotted OID text; an arc past 2^53 (UUID OIDs) is carried exactly as a BigInt. */
export function oidText(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes[bytes.length - 1]! & 0x80)
    throw new DerError('malformed OBJECT IDENTIFIER');
  const arcs: (number | bigint)[] = [];
  let acc: number | bigint = 0;
  let fresh = true;
  for (const byte of bytes) {
    if (fresh && byte === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    fresh = false;
    if (typeof acc === 'number' && acc >= 2 ** 45) acc = BigInt(acc);
    acc = typeof acc === 'bigint' ? (acc << 7n) | BigInt(byte & 0x7f) : acc * 128 + (byte & 0x7f);
    if (byte < 0x80) {
      arcs.push(acc);
      acc = 0;
      fresh = true;
    }
  }
  const head = arcs.shift()!;
  if (typeof head === 'bigint') return ['2', head - 80n, ...arcs].join('.');
  const top = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [top, head - top * 40, ...arcs].join('.');
}

/** An INTEGER's magnitude as upper-case hex without leading zero bytes (as openssl prints serials). */
export function integerHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return hex(bytes.subarray(i)).toUpperCase();
}

function digits(d: Uint8Array, from: number, n: number, what: string): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = d[i]! - 0x30;
    if (c < 0 || c > 9) throw new DerError(`${what} is not a date`);
    v = v * 10 + c;
  }
  return v;
}

/** A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 allows. */
export function time(d: Uint8Array, n: Node | undefined, what: string): Date {
  const len = n ? n.end - n.start : 0;
  let at = n?.start ?? 0;
  let year: number;
  if (n?.tag === TAG.utcTime && len === 13) {
    const yy = digits(d, at, 2, what);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    at += 2;
  } else if (n?.tag === TAG.generalizedTime && len === 15) {
    year = digits(d, at, 4, what);
    at += 4;
  } else throw new DerError(`${what} is not a UTCTime or GeneralizedTime in UTC`);
  if (d[n.end - 1] !== 0x5a) throw new DerError(`${what} is not in UTC`);
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((o) => digits(d, at + o, 2, what)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    throw new DerError(`${what} is not a date`);
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCDate() !== day) throw new DerError(`${what} is not a date`);
  return date;
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

function stringValue(d: Uint8Array, n: Node): string {
  const bytes = value(d, n);
  switch (n.tag) {
    case 0x0c: // UTF8String
      return utf8.decode(bytes);
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x14: // TeletexString, as Latin-1 like OpenSSL
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return latin1.decode(bytes);
    case 0x1e: // BMPString: UTF-16BE
      if (bytes.length % 2) throw new DerError('odd-length BMPString');
      return Buffer.from(bytes).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (bytes.length % 4) throw new DerError('malformed UniversalString');
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        s += String.fromCodePoint(
          ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0,
        );
      }
      return s;
    }
    default:
      throw new DerError(`a name attribute value of ASN.1 type 0x${n.tag.toString(16)} is not a string`);
  }
}

/** RFC 4514 escaping of an attribute value. */
function escapeValue(v: string): string {
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  // eslint-disable-next-line no-control-regex -- RFC 4514 escapes control characters
  return s.replace(/[\x00-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A Name in DER order, `C=BR, O=Bank, CN=Root`, multi-valued RDNs joined with `+`. */
export function nameText(d: Uint8Array, name: Node): string {
  want(name, TAG.sequence, 'a Name');
  const rdns: string[] = [];
  for (const rdn of children(d, name)) {
    const parts: string[] = [];
    for (const atv of children(d, want(rdn, TAG.set, 'a name component'))) {
      const [type, val, ...rest] = children(d, want(atv, TAG.sequence, 'a name attribute'));
      if (!val || rest.length) throw new DerError('a name attribute is malformed');
      const oid = oidText(value(d, want(type, TAG.oid, 'a name attribute type')));
      parts.push(`${ATTRIBUTE_NAMES[oid] ?? oid}=${escapeValue(stringValue(d, val))}`);
    }
    if (parts.length === 0) throw new DerError('an empty name component');
    rdns.push(parts.join('+'));
  }
  return rdns.join(', ');
}

/**
 * A Name as RFC 5280 §7.1 compares it (and OpenSSL's X509_NAME_cmp in essence): RDN by RDN, the
 * attributes of an RDN in any order, string values whatever their ASN.1 string type, with case,
 * leading and trailing spaces and runs of inner spaces folded. Two names are the same name when
 * their keys are equal.
 */
export function nameKey(d: Uint8Array, name: Node): string {
  want(name, TAG.sequence, 'a Name');
  return children(d, name)
    .map((rdn) =>
      children(d, want(rdn, TAG.set, 'a name component'))
        .map((atv) => {
          const [type, val] = children(d, want(atv, TAG.sequence, 'a name attribute'));
          const oid = oidText(value(d, want(type, TAG.oid, 'a name attribute type')));
          let text: string;
          try {
            text = stringValue(d, val!).trim().replace(/\s+/g, ' ').toLowerCase();
          } catch {
            text = '#' + hex(whole(d, val!));
          }
          return `${oid}=${JSON.stringify(text)}`;
        })
        .sort()
        .join('+'),
    )
    .join(',');
}

/** What keeps bytes from being one DER element: X.690 §10 and §11, checked all the way down. */
export type DerViolation =
  'ber-boolean' | 'non-minimal-length' | 'indefinite-length' | 'trailing-bytes' | 'malformed';

/** The DER violations in `d[start, end)`, which should hold exactly one element. */
export function derViolations(d: Uint8Array, start: number, end: number): DerViolation[] {
  const found = new Set<DerViolation>();
  const walk = (at: number, limit: number, many: boolean): void => {
    while (at < limit) {
      if (at + 2 > limit) return void found.add('malformed');
      const tag = d[at]!;
      let length = d[at + 1]!;
      let body = at + 2;
      if ((tag & 0x1f) === 0x1f) return void found.add('malformed');
      if (length === 0x80) return void found.add('indefinite-length');
      if (length & 0x80) {
        const count = length & 0x7f;
        if (count > 4 || body + count > limit) return void found.add('malformed');
        length = 0;
        for (let i = 0; i < count; i++) length = length * 256 + d[body + i]!;
        if (length < 0x80 || d[body] === 0) found.add('non-minimal-length');
        body += count;
      }
      if (body + length > limit) return void found.add('malformed');
      if (tag === TAG.boolean && length === 1 && d[body] !== 0 && d[body] !== 0xff) found.add('ber-boolean');
      if (tag & 0x20) walk(body, body + length, true);
      at = body + length;
      if (!many && at < limit) return void found.add('trailing-bytes');
    }
  };
  walk(start, end, false);
  return [...found];
}
