// One trust anchor (or a few) per rule of the engine's per-consumer judgement, each breaking
// exactly that rule, with the TPP client certificate the consumers are asked to accept under it.
import fc from 'fast-check';
import type { ProblemCode } from '../../src/bundle/types.ts';
import {
  buildCert,
  caExtensions,
  CN,
  dnsName,
  EXT,
  ipName,
  issueLeaf,
  keyId,
  keyPair,
  nameDer,
  NULL,
  O,
  oid,
  PURPOSE,
  seq,
  STRING,
  tlv,
  type AnchorKey,
  type BuiltCert,
  type CertSpec,
  type Extension,
  type NameSpec,
} from '../support/anchors.ts';

export interface AnchorCase {
  id: string;
  /** The problem the engine must raise (none for the well-formed controls). */
  code?: ProblemCode;
  /** The bundle's certificates, PEM in this order. */
  anchors: BuiltCert[];
  /** The TPP client certificate, issued by the anchor that the case is about. */
  leaf: BuiltCert;
}

const subject = (cn: string): NameSpec => [
  [O, STRING.utf8, 'Trust Test'],
  [CN, STRING.utf8, cn],
];

/** A root CA whose spec `change` adjusts; its leaf is issued by it. */
function root(
  id: string,
  code: ProblemCode | undefined,
  change: (s: CertSpec) => void = () => {},
): AnchorCase {
  const spec: CertSpec = { key: 'ec', subject: subject(`Anchor ${id}`), extensions: caExtensions('ec') };
  change(spec);
  const cert = buildCert(spec);
  return { id, ...(code ? { code } : {}), anchors: [cert], leaf: issueLeaf(spec) };
}

const withExt = (s: CertSpec, ...extra: ReturnType<typeof EXT.extKeyUsage>[]): void => {
  s.extensions.push(...extra);
};
const replaceExt = (s: CertSpec, oidText: string, e: ReturnType<typeof EXT.extKeyUsage>): void => {
  s.extensions = s.extensions.map((x) => (x.oid === oidText ? e : x));
};

export function anchorCases(): AnchorCase[] {
  const ownKeyId = keyId(keyPair('ec').publicKey);
  const cases: AnchorCase[] = [
    // ---- controls: well-formed anchors every consumer takes ----
    root('good-ec', undefined),
    root('good-rsa', undefined, (s) => ((s.key = 'rsa'), (s.extensions = caExtensions('rsa')))),
    root('good-rsa-pss', undefined, (s) => ((s.key = 'rsa-pss'), (s.extensions = caExtensions('rsa-pss')))),
    root('good-ed25519', undefined, (s) => ((s.key = 'ed25519'), (s.extensions = caExtensions('ed25519')))),
    root('unknown-noncritical-extension', undefined, (s) =>
      withExt(s, { oid: '1.3.6.1.4.1.55555.1', value: NULL }),
    ),
    root('eku-clientauth', undefined, (s) => withExt(s, EXT.extKeyUsage(PURPOSE.clientAuth))),
    root('eku-server-and-client', undefined, (s) =>
      withExt(s, EXT.extKeyUsage(PURPOSE.serverAuth, PURPOSE.clientAuth)),
    ),
    root('aki-own-keyid', undefined, (s) => withExt(s, EXT.authorityKeyIdentifier({ keyId: ownKeyId }))),
    root('aki-own-issuer-and-serial', undefined, (s) => {
      s.serial = Buffer.from([0x47, 0x11]);
      withExt(
        s,
        EXT.authorityKeyIdentifier({ keyId: ownKeyId, issuer: nameDer(s.subject), serial: s.serial }),
      );
    }),
    root('name-constraints-good', undefined, (s) =>
      withExt(s, EXT.nameConstraints([dnsName('example.com')])),
    ),
    root('serial-20-octets', undefined, (s) => (s.serial = Buffer.alloc(20, 0x7f))),
    root('issuer-differs-in-case-and-string-type', undefined, (s) => {
      s.issuer = [
        [O, STRING.printable, 'TRUST TEST'],
        [CN, STRING.utf8, 'anchor issuer-differs-in-case-and-string-type'],
      ];
    }),

    // ---- §4.2.1.9: CAs by basicConstraints (NotCA is the policy's requireCA, on by default) ----
    root('v1-root', 'NotCA', (s) => ((s.version = 'absent'), (s.extensions = []))),
    root('no-basic-constraints-with-key-cert-sign', 'NotCA', (s) => s.extensions.splice(0, 1)),
    root('no-basic-constraints-no-key-usage', 'NotCA', (s) => s.extensions.splice(0, 2)),
    root('basic-constraints-not-ca', 'NotCA', (s) =>
      replaceExt(s, '2.5.29.19', EXT.basicConstraints('absent')),
    ),
    root('key-usage-without-key-cert-sign', 'NotCA', (s) => replaceExt(s, '2.5.29.15', EXT.keyUsage(0x02))),

    // ---- §4.2: a critical extension the consumer does not know ----
    root('unknown-critical-extension', 'UnknownCriticalExtension', (s) =>
      withExt(s, { oid: '1.3.6.1.4.1.55555.1', critical: true, value: NULL }),
    ),
    root('critical-ski', 'CriticalKeyIdentifier', (s) =>
      replaceExt(s, '2.5.29.14', EXT.subjectKeyIdentifier(ownKeyId, true)),
    ),
    root('critical-aki', 'CriticalKeyIdentifier', (s) =>
      withExt(s, EXT.authorityKeyIdentifier({ keyId: ownKeyId }, true)),
    ),

    // ---- §4.2.1.12: extendedKeyUsage without clientAuth ----
    root('eku-any-without-clientauth', 'ClientAuthNotAllowed', (s) =>
      withExt(s, EXT.extKeyUsage(PURPOSE.any)),
    ),
    root('eku-serverauth-only', 'ClientAuthNotAllowed', (s) =>
      withExt(s, EXT.extKeyUsage(PURPOSE.serverAuth)),
    ),

    // ---- §4.2.1.1: an AKI that contradicts self-issuance ----
    root('aki-other-keyid', 'AuthorityKeyIdMismatch', (s) =>
      withExt(s, EXT.authorityKeyIdentifier({ keyId: Buffer.alloc(20, 0xab) })),
    ),
    root('aki-other-serial', 'AuthorityKeyIdMismatch', (s) => {
      s.serial = Buffer.from([0x47, 0x12]);
      withExt(s, EXT.authorityKeyIdentifier({ issuer: nameDer(s.subject), serial: Buffer.from([0x01]) }));
    }),
    root('aki-other-issuer', 'AuthorityKeyIdMismatch', (s) =>
      withExt(
        s,
        EXT.authorityKeyIdentifier({ issuer: nameDer(subject('Someone Else')), serial: Buffer.from([1]) }),
      ),
    ),

    // ---- §4.2.1.10: malformed nameConstraints ----
    root('name-constraints-wildcard-dns', 'MalformedNameConstraints', (s) =>
      withExt(s, EXT.nameConstraints([dnsName('*.example.com')])),
    ),
    root('name-constraints-bad-ip-mask', 'MalformedNameConstraints', (s) =>
      withExt(s, EXT.nameConstraints([ipName([10, 0, 0, 0, 255, 0, 255, 0])])),
    ),
    root('name-constraints-directory-name', 'UnknownCriticalExtension', (s) =>
      withExt(s, EXT.nameConstraints([tlv(0xa4, nameDer([[O, STRING.utf8, 'TPP']]))])),
    ),
    root('name-constraints-ip-wrong-length', 'MalformedNameConstraints', (s) =>
      withExt(s, EXT.nameConstraints([ipName([10, 0, 0, 0, 255])])),
    ),

    // ---- §4.1.2.2: serial number ----
    root('serial-negative', 'BadSerialNumber', (s) => (s.serial = Buffer.from([0xff, 0x01]))),
    root('serial-zero', 'BadSerialNumber', (s) => (s.serial = Buffer.from([0x00]))),
    root('serial-21-octets', 'BadSerialNumber', (s) => (s.serial = Buffer.alloc(21, 0x11))),

    // ---- DER (X.690 §11): BER booleans, explicit defaults, trailing bytes ----
    root('ber-boolean-ca', 'NotDER', (s) => replaceExt(s, '2.5.29.19', EXT.basicConstraints('ber-true'))),
    root('ber-boolean-critical', 'NotDER', (s) =>
      replaceExt(s, '2.5.29.19', { ...EXT.basicConstraints(), critical: 'ber-true' }),
    ),
    root('explicit-default-critical', 'NotDER', (s) =>
      replaceExt(s, '2.5.29.14', { ...EXT.subjectKeyIdentifier(ownKeyId), critical: 'explicit-false' }),
    ),
    root('trailing-bytes-in-key-usage', 'NotDER', (s) =>
      replaceExt(s, '2.5.29.15', {
        ...EXT.keyUsage(0x06),
        value: Buffer.concat([EXT.keyUsage(0x06).value, NULL]),
      }),
    ),
    root('trailing-bytes-in-basic-constraints', 'NotDER', (s) =>
      replaceExt(s, '2.5.29.19', {
        ...EXT.basicConstraints(),
        value: Buffer.concat([EXT.basicConstraints().value, NULL]),
      }),
    ),
    root('non-minimal-length-in-ski', 'NotDER', (s) =>
      replaceExt(s, '2.5.29.14', {
        oid: '2.5.29.14',
        value: Buffer.concat([Buffer.from([0x04, 0x81, 20]), ownKeyId]),
      }),
    ),

    // ---- §4.1.1.2: signature algorithm in the TBS differs from the outer one ----
    root('signature-algorithm-parameters-differ', 'SignatureAlgorithmMismatch', (s) => {
      s.key = 'rsa';
      s.extensions = caExtensions('rsa');
      s.innerAlgorithm = seq(oid('1.2.840.113549.1.1.11')); // no NULL parameters
    }),
    root('signature-algorithm-differs', 'SignatureAlgorithmMismatch', (s) => {
      s.innerAlgorithm = seq(oid('1.2.840.10045.4.3.3')); // ecdsa-with-SHA384 inside, SHA-256 outside
    }),

    // ---- self-issuance by RFC 5280 §7.1 name matching, then the signature really checked ----
    root('bad-signature-issuer-case-differs', 'BadSignature', (s) => {
      s.issuer = [
        [O, STRING.utf8, 'trust test'],
        [CN, STRING.utf8, 'ANCHOR BAD-SIGNATURE-ISSUER-CASE-DIFFERS'],
      ];
      s.signer = { key: 'ec', keyLabel: 'forger' };
    }),
    root('bad-signature-issuer-string-type-differs', 'BadSignature', (s) => {
      s.issuer = [
        [O, STRING.printable, 'Trust Test'],
        [CN, STRING.printable, 'Anchor bad-signature-issuer-string-type-differs'],
      ];
      s.signer = { key: 'ec', keyLabel: 'forger' };
    }),
    root('bad-signature-rsa-pss', 'BadSignature', (s) => {
      s.key = 'rsa-pss';
      s.extensions = caExtensions('rsa-pss');
      s.signer = { key: 'rsa-pss', keyLabel: 'forger' };
    }),
  ];
  cases.push(...intermediatesAndRollover());
  return cases;
}

/** Intermediates (with and without their issuer) and a key rollover's self-issued certificates. */
function intermediatesAndRollover(): AnchorCase[] {
  const rootSpec: CertSpec = {
    key: 'rsa',
    keyLabel: 'parent',
    subject: subject('Parent Root'),
    extensions: caExtensions('rsa', 'parent'),
  };
  const parent = buildCert(rootSpec);
  const interSpec: CertSpec = {
    key: 'ec',
    keyLabel: 'issuing',
    subject: subject('Issuing CA'),
    issuer: rootSpec.subject,
    extensions: [
      ...caExtensions('ec', 'issuing'),
      EXT.authorityKeyIdentifier({ keyId: keyId(keyPair('rsa', 'parent').publicKey) }),
    ],
    signer: { key: 'rsa', keyLabel: 'parent' },
  };
  const inter = buildCert(interSpec);
  const forgedInter = buildCert({ ...interSpec, signer: { key: 'ec', keyLabel: 'forger' } });

  // Key rollover (RFC 4210 §4.4): the old root, the new root, and NewWithOld (the new key, signed by the old).
  const name = subject('Rolling Root');
  const oldSpec: CertSpec = {
    key: 'ec',
    keyLabel: 'old',
    subject: name,
    extensions: caExtensions('ec', 'old'),
  };
  const newSpec: CertSpec = {
    key: 'ec',
    keyLabel: 'new',
    subject: name,
    extensions: caExtensions('ec', 'new'),
  };
  const oldRoot = buildCert(oldSpec);
  const newWithOld = buildCert({
    ...newSpec,
    extensions: [
      ...newSpec.extensions,
      EXT.authorityKeyIdentifier({ keyId: keyId(keyPair('ec', 'old').publicKey) }),
    ],
    signer: { key: 'ec', keyLabel: 'old' },
  });
  const newWithOldNoAki = buildCert({ ...newSpec, signer: { key: 'ec', keyLabel: 'old' } });
  const leafOfNew = issueLeaf(newSpec);
  return [
    { id: 'intermediate-with-its-issuer', anchors: [parent, inter], leaf: issueLeaf(interSpec) },
    {
      id: 'intermediate-without-its-issuer',
      code: 'IssuerNotInBundle',
      anchors: [inter],
      leaf: issueLeaf(interSpec),
    },
    {
      id: 'intermediate-forged',
      code: 'BadSignature',
      anchors: [parent, forgedInter],
      leaf: issueLeaf(interSpec),
    },
    {
      id: 'rollover-new-with-old-beside-old',
      code: 'RolloverCertificate',
      anchors: [oldRoot, newWithOld],
      leaf: leafOfNew,
    },
    {
      id: 'rollover-new-with-old-no-aki',
      code: 'RolloverCertificate',
      anchors: [oldRoot, newWithOldNoAki],
      leaf: leafOfNew,
    },
    { id: 'rollover-new-with-old-alone', code: 'IssuerNotInBundle', anchors: [newWithOld], leaf: leafOfNew },
  ];
}

// ---- generated anchors ----

type Flag = boolean | 'explicit-false' | 'ber-true';
const flag = fc.constantFrom<Flag>(false, false, false, true, 'explicit-false', 'ber-true');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { freq: 2, nil: undefined });

/** The root that generated intermediates are issued by (in the bundle or not). */
export const GENERATED_PARENT: CertSpec = {
  key: 'rsa',
  keyLabel: 'generated-parent',
  subject: [
    [O, STRING.utf8, 'Trust Test'],
    [CN, STRING.utf8, 'Generated Parent Root'],
  ],
  extensions: caExtensions('rsa', 'generated-parent'),
};

/** A trust anchor combining the faults of the cases above at random, for the property test. */
export const generatedAnchor = fc.record({
  key: fc.constantFrom<AnchorKey>('ec', 'ec', 'rsa', 'rsa-pss', 'ed25519'),
  serial: fc.constantFrom('random', 'negative', 'zero', '20-octets', '21-octets'),
  issuer: fc.constantFrom('same', 'same', 'case', 'string-type'),
  /** A root, or an intermediate issued by a well-formed root that is or is not in the bundle. */
  chain: fc.constantFrom('root', 'root', 'intermediate-with-issuer', 'intermediate-alone'),
  forged: fc.constantFrom(false, false, false, true),
  basicConstraints: fc.record({
    // Mostly CAs; now and then no basicConstraints at all, or cA absent (FALSE).
    cA: fc.constantFrom<'true' | 'ber-true' | 'absent' | 'no-extension'>(
      'true',
      'true',
      'true',
      'true',
      'ber-true',
      'absent',
      'no-extension',
    ),
    critical: flag,
    trailing: fc.boolean(),
  }),
  keyUsage: fc.record({
    present: fc.boolean(),
    certSign: fc.constantFrom(true, true, true, false),
    trailing: fc.boolean(),
  }),
  ski: maybe(fc.record({ critical: flag, nonMinimal: fc.boolean(), trailing: fc.boolean() })),
  aki: maybe(
    fc.record({
      form: fc.constantFrom('own-key', 'other-key', 'own-issuer-serial', 'other-serial'),
      critical: fc.boolean(),
      trailing: fc.boolean(),
    }),
  ),
  eku: maybe(
    fc.record({
      purposes: fc.constantFrom<string[]>(
        [PURPOSE.clientAuth],
        [PURPOSE.serverAuth],
        [PURPOSE.any],
        [PURPOSE.serverAuth, PURPOSE.clientAuth],
      ),
      trailing: fc.boolean(),
    }),
  ),
  nameConstraints: maybe(
    fc.record({
      base: fc.constantFrom<'dns' | 'wildcard-dns' | 'ip' | 'ip-mask' | 'ip-length' | 'directory-name'>(
        'dns',
        'wildcard-dns',
        'ip',
        'ip-mask',
        'ip-length',
        'directory-name',
      ),
      critical: fc.boolean(),
      trailing: fc.boolean(),
    }),
  ),
  unknown: fc.constantFrom<Flag | 'absent'>('absent', 'absent', false, true),
  algorithm: fc.constantFrom('same', 'same', 'parameters-differ', 'algorithms-differ'),
});
export type GeneratedAnchor = typeof generatedAnchor extends fc.Arbitrary<infer T> ? T : never;

const trailing = (e: Extension, on: boolean): Extension =>
  on ? { ...e, value: Buffer.concat([e.value, NULL]) } : e;
const critical = (e: Extension, f: Flag): Extension => ({ ...e, critical: f });

export function toCertSpec(g: GeneratedAnchor, n: number): CertSpec {
  const cn = `Generated Anchor ${n}`;
  const subject: [string, number, string][] = [
    [O, STRING.utf8, 'Trust Test'],
    [CN, STRING.utf8, cn],
  ];
  const own = keyId(keyPair(g.key).publicKey);
  const serial =
    g.serial === 'negative'
      ? Buffer.from([0xfe, n & 0xff])
      : g.serial === 'zero'
        ? Buffer.from([0])
        : g.serial === '20-octets'
          ? Buffer.alloc(20, 0x33)
          : g.serial === '21-octets'
            ? Buffer.alloc(21, 0x33)
            : Buffer.from([0x40, n >> 8, n & 0xff, 0x5a]);
  const ext: Extension[] = [];
  const bc = g.basicConstraints;
  if (bc.cA !== 'no-extension')
    ext.push(
      trailing(
        critical(EXT.basicConstraints(bc.cA), bc.critical === false ? true : bc.critical),
        bc.trailing,
      ),
    );
  if (g.keyUsage.present)
    ext.push(trailing(EXT.keyUsage(g.keyUsage.certSign ? 0x06 : 0x02), g.keyUsage.trailing));
  if (g.ski) {
    const ski = g.ski.nonMinimal
      ? { oid: '2.5.29.14', value: Buffer.concat([Buffer.from([0x04, 0x81, 20]), own]) }
      : EXT.subjectKeyIdentifier(own);
    ext.push(trailing(critical(ski, g.ski.critical), g.ski.trailing));
  }
  if (g.aki) {
    const a =
      g.aki.form === 'own-key'
        ? { keyId: own }
        : g.aki.form === 'other-key'
          ? { keyId: Buffer.alloc(20, 0xab) }
          : {
              issuer: nameDer(subject),
              serial: g.aki.form === 'other-serial' ? Buffer.from([0x01]) : serial,
            };
    ext.push(trailing(EXT.authorityKeyIdentifier(a, g.aki.critical), g.aki.trailing));
  }
  if (g.eku) ext.push(trailing(EXT.extKeyUsage(...g.eku.purposes), g.eku.trailing));
  if (g.nameConstraints) {
    const base = {
      dns: dnsName('example.com'),
      'wildcard-dns': dnsName('*.example.com'),
      ip: ipName([10, 0, 0, 0, 255, 0, 0, 0]),
      'ip-mask': ipName([10, 0, 0, 0, 255, 0, 255, 0]),
      'ip-length': ipName([10, 0, 0, 0, 255]),
      'directory-name': tlv(0xa4, nameDer([[O, STRING.utf8, 'TPP']])),
    }[g.nameConstraints.base];
    ext.push(trailing(EXT.nameConstraints([base], g.nameConstraints.critical), g.nameConstraints.trailing));
  }
  if (g.unknown !== 'absent') ext.push(critical({ oid: '1.3.6.1.4.1.55555.1', value: NULL }, g.unknown));
  const spec: CertSpec = { key: g.key, subject, serial, extensions: ext };
  const issuerName = g.chain === 'root' ? subject : GENERATED_PARENT.subject;
  const signer = g.chain === 'root' ? g.key : GENERATED_PARENT.key!;
  if (g.chain !== 'root') {
    spec.issuer = issuerName;
    spec.signer = { key: signer, keyLabel: GENERATED_PARENT.keyLabel! };
  }
  if (g.issuer === 'case') spec.issuer = issuerName.map(([t, s, v]) => [t, s, v.toUpperCase()]);
  if (g.issuer === 'string-type') spec.issuer = issuerName.map(([t, , v]) => [t, STRING.printable, v]);
  if (g.forged) spec.signer = { key: signer, keyLabel: 'forger' };
  if (g.algorithm === 'parameters-differ' && g.key === 'rsa')
    spec.innerAlgorithm = seq(oid('1.2.840.113549.1.1.11'));
  if (g.algorithm === 'algorithms-differ') spec.innerAlgorithm = seq(oid('1.2.840.10045.4.3.3'));
  return spec;
}
