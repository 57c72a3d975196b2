// Trust anchors built field by field, so that each rule of the engine can be met by a certificate
// that breaks exactly that rule (a critical unknown extension, a BER boolean, a negative serial…):
// a small DER writer assembles the TBSCertificate, node:crypto signs it. Each anchor comes with a
// TPP client certificate issued under it, for the consumers' own verdicts (./consumers.ts).
import { generateKeyPairSync, randomBytes, sign, constants, type KeyObject } from 'node:crypto';
import { toPem } from '../../src/bundle/build.ts';
import { keyIdentifier } from '../../src/pki/x509.ts';

/** One DER element: tag, definite minimal length, contents. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
export const octets = (bytes: Buffer): Buffer => tlv(0x04, bytes);
export const NULL = Buffer.from([0x05, 0x00]);

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(BigInt);
  const out: number[] = [];
  const push = (v: bigint): void => {
    const bytes = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) bytes.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...bytes);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Buffer.from(out));
}

/** A positive INTEGER with its minimal encoding. */
export function integer(n: number | bigint): Buffer {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

export const STRING = { utf8: 0x0c, printable: 0x13, ia5: 0x16 } as const;
/** A Name: one RDN per attribute, [OID, string tag, text]. */
export type NameSpec = [string, number, string][];
export const CN = '2.5.4.3';
export const O = '2.5.4.10';

export const nameDer = (spec: NameSpec): Buffer =>
  seq(...spec.map(([type, tag, text]) => tlv(0x31, seq(oid(type), tlv(tag, Buffer.from(text, 'utf8'))))));

export interface Extension {
  oid: string;
  /** `explicit-false` encodes the DEFAULT FALSE, which DER forbids; `ber-true` encodes TRUE as 0x01. */
  critical?: boolean | 'explicit-false' | 'ber-true';
  /** The extnValue's contents. */
  value: Buffer;
}

const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function extensionDer(e: Extension): Buffer {
  const critical =
    e.critical === true
      ? TRUE
      : e.critical === 'explicit-false'
        ? Buffer.from([0x01, 0x01, 0x00])
        : e.critical === 'ber-true'
          ? Buffer.from([0x01, 0x01, 0x01])
          : Buffer.alloc(0);
  return seq(oid(e.oid), critical, octets(e.value));
}

export const EXT = {
  basicConstraints: (cA: 'true' | 'ber-true' | 'absent' = 'true', critical = true): Extension => ({
    oid: '2.5.29.19',
    critical,
    value: seq(cA === 'true' ? TRUE : cA === 'ber-true' ? Buffer.from([0x01, 0x01, 0x01]) : Buffer.alloc(0)),
  }),
  /** keyUsage from its first byte (0x06: keyCertSign, cRLSign; 0x80: digitalSignature). */
  keyUsage: (byte = 0x06, critical = true): Extension => {
    let unused = 0;
    while (unused < 7 && !(byte & (1 << unused))) unused++;
    return { oid: '2.5.29.15', critical, value: tlv(0x03, Buffer.from([unused, byte])) };
  },
  subjectKeyIdentifier: (id: Buffer, critical = false): Extension => ({
    oid: '2.5.29.14',
    critical,
    value: octets(id),
  }),
  authorityKeyIdentifier: (
    a: { keyId?: Buffer; issuer?: Buffer; serial?: Buffer },
    critical = false,
  ): Extension => ({
    oid: '2.5.29.35',
    critical,
    value: seq(
      a.keyId ? tlv(0x80, a.keyId) : Buffer.alloc(0),
      a.issuer ? tlv(0xa1, tlv(0xa4, a.issuer)) : Buffer.alloc(0),
      a.serial ? tlv(0x82, a.serial) : Buffer.alloc(0),
    ),
  }),
  extKeyUsage: (...purposes: string[]): Extension => ({
    oid: '2.5.29.37',
    value: seq(...purposes.map(oid)),
  }),
  /** nameConstraints with permitted subtrees, each a GeneralName's DER ([2] dNSName, [7] iPAddress). */
  nameConstraints: (permitted: Buffer[], critical = true): Extension => ({
    oid: '2.5.29.30',
    critical,
    value: seq(tlv(0xa0, ...permitted.map((gn) => seq(gn)))),
  }),
};

export const PURPOSE = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  any: '2.5.29.37.0',
};
export const dnsName = (name: string): Buffer => tlv(0x82, Buffer.from(name, 'ascii'));
export const ipName = (bytes: number[]): Buffer => tlv(0x87, Buffer.from(bytes));

export type AnchorKey = 'ec' | 'rsa' | 'rsa-pss' | 'ed25519';

const keys = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>();
/** A key pair per kind and label, generated once per process. */
export function keyPair(kind: AnchorKey, label = ''): { publicKey: KeyObject; privateKey: KeyObject } {
  const id = `${kind}/${label}`;
  let pair = keys.get(id);
  if (!pair) {
    pair =
      kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : kind === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.set(id, pair);
  }
  return pair;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export const keyId = keyIdentifier;

const PSS_PARAMS = seq(
  tlv(0xa0, seq(oid('2.16.840.1.101.3.4.2.1'), NULL)),
  tlv(0xa1, seq(oid('1.2.840.113549.1.1.8'), seq(oid('2.16.840.1.101.3.4.2.1'), NULL))),
  tlv(0xa2, integer(32)),
);

/** The signature AlgorithmIdentifier a key kind signs with (SHA-256 throughout). */
export function algorithmOf(kind: AnchorKey): Buffer {
  if (kind === 'ec') return seq(oid('1.2.840.10045.4.3.2'));
  if (kind === 'ed25519') return seq(oid('1.3.101.112'));
  if (kind === 'rsa-pss') return seq(oid('1.2.840.113549.1.1.10'), PSS_PARAMS);
  return seq(oid('1.2.840.113549.1.1.11'), NULL);
}

function signWith(kind: AnchorKey, key: KeyObject, tbs: Buffer): Buffer {
  if (kind === 'ed25519') return sign(null, tbs, key);
  if (kind === 'rsa-pss')
    return sign('sha256', tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return sign('sha256', tbs, key);
}

const utc = (d: Date): Buffer =>
  tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'ascii'));

export interface CertSpec {
  key?: AnchorKey;
  /** Distinguishes key pairs of the same kind (a rollover's old and new key). */
  keyLabel?: string;
  subject: NameSpec;
  /** Defaults to the subject (self-issued). */
  issuer?: NameSpec;
  /** The INTEGER's content bytes; random positive 16 bytes by default. */
  serial?: Buffer;
  extensions: Extension[];
  /** Who signs: the key kind and label; defaults to the certificate's own key. */
  signer?: { key: AnchorKey; keyLabel?: string };
  /** Replaces the AlgorithmIdentifier inside the TBS (the outer one stays the signer's). */
  innerAlgorithm?: Buffer;
  /** Explicit version field content: 0 (v1, which DER forbids to encode) or 2 (v3, the default). */
  version?: 0 | 2 | 'absent';
  notBefore?: Date;
  notAfter?: Date;
}

export interface BuiltCert {
  der: Buffer;
  pem: string;
  spec: CertSpec;
}

const HOUR = 3_600_000;

export function buildCert(spec: CertSpec): BuiltCert {
  const kind = spec.key ?? 'ec';
  const own = keyPair(kind, spec.keyLabel);
  const signerKind = spec.signer?.key ?? kind;
  const signer = keyPair(signerKind, spec.signer ? spec.signer.keyLabel : spec.keyLabel);
  const outer = algorithmOf(signerKind);
  const serial = spec.serial ?? Buffer.concat([Buffer.from([0x40]), randomBytes(15)]);
  const now = Date.now();
  const version = spec.version ?? 2;
  const tbs = seq(
    version === 'absent' ? Buffer.alloc(0) : tlv(0xa0, tlv(0x02, Buffer.from([version]))),
    tlv(0x02, serial),
    spec.innerAlgorithm ?? outer,
    nameDer(spec.issuer ?? spec.subject),
    seq(utc(spec.notBefore ?? new Date(now - HOUR)), utc(spec.notAfter ?? new Date(now + 400 * 24 * HOUR))),
    nameDer(spec.subject),
    own.publicKey.export({ type: 'spki', format: 'der' }),
    spec.extensions.length > 0 ? tlv(0xa3, seq(...spec.extensions.map(extensionDer))) : Buffer.alloc(0),
  );
  const der = seq(tbs, outer, tlv(0x03, Buffer.from([0]), signWith(signerKind, signer.privateKey, tbs)));
  return { der, pem: toPem(der), spec };
}

/** The extensions of a well-formed root CA with this key: CA, keyCertSign + cRLSign, SKI. */
export function caExtensions(kind: AnchorKey = 'ec', keyLabel?: string): Extension[] {
  return [
    EXT.basicConstraints(),
    EXT.keyUsage(0x06),
    EXT.subjectKeyIdentifier(keyId(keyPair(kind, keyLabel).publicKey)),
  ];
}

export const LEAF_NAME = 'tpp.example.com';

/**
 * A TPP client certificate issued by `issuer` (as Open Finance Brasil's look: CN and a DNS name,
 * clientAuth), with its AKI naming the issuer's key.
 */
export function issueLeaf(issuer: CertSpec): BuiltCert {
  const kind = issuer.key ?? 'ec';
  return buildCert({
    key: 'ec',
    keyLabel: 'leaf',
    subject: [
      [O, STRING.utf8, 'TPP'],
      [CN, STRING.utf8, LEAF_NAME],
    ],
    issuer: issuer.subject,
    extensions: [
      EXT.basicConstraints('absent'),
      EXT.keyUsage(0x80),
      EXT.extKeyUsage(PURPOSE.clientAuth),
      { oid: '2.5.29.17', value: seq(dnsName(LEAF_NAME)) },
      EXT.authorityKeyIdentifier({ keyId: keyId(keyPair(kind, issuer.keyLabel).publicKey) }),
    ],
    signer: { key: kind, ...(issuer.keyLabel ? { keyLabel: issuer.keyLabel } : {}) },
    notAfter: new Date(Date.now() + 30 * 24 * HOUR),
  });
}
