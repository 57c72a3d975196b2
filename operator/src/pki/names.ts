// Distinguished names: the attribute vocabulary of root CAs and of the Open Finance Brasil
// client-certificate profile, and the two ways people write a subject on a command line.
import forge from 'node-forge';

const { asn1 } = forge;

export interface NameAttribute {
  /** Short name (`CN`) or dotted OID. */
  type: string;
  value: string;
}

interface AttributeType {
  oid: string;
  /** ASN.1 string type: X.520 makes country codes and serial numbers PrintableString. */
  string: 'utf8' | 'printable' | 'ia5';
}

const ATTRIBUTES: Record<string, AttributeType> = {
  C: { oid: '2.5.4.6', string: 'printable' },
  ST: { oid: '2.5.4.8', string: 'utf8' },
  L: { oid: '2.5.4.7', string: 'utf8' },
  O: { oid: '2.5.4.10', string: 'utf8' },
  OU: { oid: '2.5.4.11', string: 'utf8' },
  CN: { oid: '2.5.4.3', string: 'utf8' },
  serialNumber: { oid: '2.5.4.5', string: 'printable' },
  businessCategory: { oid: '2.5.4.15', string: 'utf8' },
  jurisdictionC: { oid: '1.3.6.1.4.1.311.60.2.1.3', string: 'printable' },
  organizationIdentifier: { oid: '2.5.4.97', string: 'utf8' },
  UID: { oid: '0.9.2342.19200300.100.1.1', string: 'utf8' },
  DC: { oid: '0.9.2342.19200300.100.1.25', string: 'ia5' },
  emailAddress: { oid: '1.2.840.113549.1.9.1', string: 'ia5' },
};

const ALIASES: Record<string, string> = {
  countryname: 'C',
  stateorprovincename: 'ST',
  localityname: 'L',
  organizationname: 'O',
  organizationalunitname: 'OU',
  commonname: 'CN',
  jurisdictioncountryname: 'jurisdictionC',
  jurisdictionofincorporationcountryname: 'jurisdictionC',
  userid: 'UID',
};
const BY_LOWER = new Map<string, string>(Object.keys(ATTRIBUTES).map((k) => [k.toLowerCase(), k]));

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const OID = /^[0-2](\.\d+)+$/;

function attributeType(type: string): AttributeType {
  if (OID.test(type)) return { oid: type, string: 'utf8' };
  const lower = type.toLowerCase();
  const key = BY_LOWER.get(lower) ?? ALIASES[lower];
  if (!key) {
    throw new Error(
      `unknown name attribute "${type}" (known: ${Object.keys(ATTRIBUTES).join(', ')}, or an OID)`,
    );
  }
  return ATTRIBUTES[key]!;
}

/** Splits on unescaped `sep`, removing the backslash escapes. */
function splitEscaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) current += text[++i];
    else if (ch === sep) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/**
 * Parses `/C=BR/O=Example/CN=Root` (openssl's `-subj`) or `C=BR, O=Example, CN=Root` (as
 * `inspect` and `openssl x509 -subject` print names). Both list the attributes in encoding
 * order; a backslash escapes the separator.
 */
export function parseName(text: string): NameAttribute[] {
  const trimmed = text.trim();
  const openssl = trimmed.startsWith('/');
  const parts = openssl ? splitEscaped(trimmed.slice(1), '/') : splitEscaped(trimmed, ',');
  const attributes = parts.map((part) => {
    const eq = part.indexOf('=');
    const type = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || value === '')
      throw new Error(`invalid name component "${part}" in "${text}": expected TYPE=VALUE`);
    attributeType(type);
    return { type, value };
  });
  if (attributes.length === 0) throw new Error('empty name');
  return attributes;
}

/** The DER-ready ASN.1 of a Name with one attribute per RDN, in the order given. */
export function nameToAsn1(attributes: NameAttribute[]): forge.asn1.Asn1 {
  return asn1.create(
    asn1.Class.UNIVERSAL,
    asn1.Type.SEQUENCE,
    true,
    attributes.map(({ type, value }) => {
      const t = attributeType(type);
      if (t.string === 'printable' && !PRINTABLE.test(value)) {
        throw new Error(
          `${type} value "${value}" must be a PrintableString (letters, digits, space, '()+,-./:=?)`,
        );
      }
      // eslint-disable-next-line no-control-regex
      if (t.string === 'ia5' && !/^[\x00-\x7f]*$/.test(value)) throw new Error(`${type} value must be ASCII`);
      const tag =
        t.string === 'printable'
          ? asn1.Type.PRINTABLESTRING
          : t.string === 'ia5'
            ? asn1.Type.IA5STRING
            : asn1.Type.UTF8;
      const bytes = t.string === 'utf8' ? forge.util.encodeUtf8(value) : value;
      return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(t.oid).getBytes()),
          asn1.create(asn1.Class.UNIVERSAL, tag, false, bytes),
        ]),
      ]);
    }),
  );
}
