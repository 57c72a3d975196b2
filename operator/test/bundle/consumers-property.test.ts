// Property: on generated trust anchors that combine the faults of ./anchor-cases.ts at random
// (serials, BER booleans, written-out defaults, trailing bytes, critical flags, AKIs, EKUs,
// nameConstraints, unknown extensions, signature algorithms, issuer spellings, forged
// self-signatures), the engine's per-consumer verdict is the consumer's own: OpenSSL as nginx
// runs it, Go's crypto/x509, and Java PKIX over the truststore the operator writes. Bounded for
// `make test`: RUNS anchors per run (TB_PROPERTY_RUNS), a fresh seed each time, printed on
// failure (TB_PROPERTY_SEED replays it).
import fc from 'fast-check';
import { buildBundle, type Consumer } from '../../src/bundle/index.ts';
import {
  buildCert,
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
  type CertSpec,
  type Extension,
} from '../support/anchors.ts';
import { Consumers } from '../support/consumers.ts';

const RUNS = Number(process.env.TB_PROPERTY_RUNS ?? 60);
const SEED = Number(process.env.TB_PROPERTY_SEED ?? Date.now() % 2 ** 31);

const consumers = new Consumers();
afterAll(() => consumers.cleanup());

type Flag = boolean | 'explicit-false' | 'ber-true';
const flag = fc.constantFrom<Flag>(false, false, false, true, 'explicit-false', 'ber-true');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { freq: 2, nil: undefined });

const anchorSpec = fc.record({
  key: fc.constantFrom<AnchorKey>('ec', 'ec', 'rsa', 'rsa-pss', 'ed25519'),
  serial: fc.constantFrom('random', 'negative', 'zero', '20-octets', '21-octets'),
  issuer: fc.constantFrom('same', 'same', 'case', 'string-type'),
  forged: fc.constantFrom(false, false, false, true),
  basicConstraints: fc.record({
    cA: fc.constantFrom<'true' | 'ber-true'>('true', 'true', 'ber-true'),
    critical: flag,
    trailing: fc.boolean(),
  }),
  keyUsage: fc.record({ present: fc.boolean(), trailing: fc.boolean() }),
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
type Generated = typeof anchorSpec extends fc.Arbitrary<infer T> ? T : never;

const trailing = (e: Extension, on: boolean): Extension =>
  on ? { ...e, value: Buffer.concat([e.value, NULL]) } : e;
const critical = (e: Extension, f: Flag): Extension => ({ ...e, critical: f });

function toCertSpec(g: Generated, n: number): CertSpec {
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
  const ext: Extension[] = [
    trailing(
      critical(
        EXT.basicConstraints(g.basicConstraints.cA),
        g.basicConstraints.critical === false ? true : g.basicConstraints.critical,
      ),
      g.basicConstraints.trailing,
    ),
  ];
  if (g.keyUsage.present) ext.push(trailing(EXT.keyUsage(0x06), g.keyUsage.trailing));
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
  if (g.issuer === 'case') spec.issuer = subject.map(([t, s, v]) => [t, s, v.toUpperCase()]);
  if (g.issuer === 'string-type') spec.issuer = subject.map(([t, , v]) => [t, STRING.printable, v]);
  if (g.forged) spec.signer = { key: g.key, keyLabel: 'forger' };
  if (g.algorithm === 'parameters-differ' && g.key === 'rsa')
    spec.innerAlgorithm = seq(oid('1.2.840.113549.1.1.11'));
  if (g.algorithm === 'algorithms-differ') spec.innerAlgorithm = seq(oid('1.2.840.10045.4.3.3'));
  return spec;
}

test(`generated anchors: the engine's verdict per consumer is the consumer's own (${RUNS} runs, seed ${SEED})`, async () => {
  const generated = fc.sample(anchorSpec, { numRuns: RUNS, seed: SEED });
  const specs = generated.map(toCertSpec);
  const inputs = specs.map((spec) => ({ roots: buildCert(spec).pem, leaf: issueLeaf(spec).pem }));
  const [openssl, go, java] = await Promise.all([
    Promise.all(inputs.map((i) => consumers.openssl(i))),
    consumers.go(inputs),
    consumers.java(inputs, 'operator'),
  ]);
  const wrong: object[] = [];
  const counts = { nginx: 0, go: 0, java: 0 };
  inputs.forEach((input, i) => {
    const report = buildBundle([{ name: 'generated', content: input.roots }], { requireCA: false });
    const cert = report.certificates[0];
    const engine = (c: Consumer): boolean | string => (cert ? cert.consumers[c].length === 0 : 'unparsable');
    const truth = { nginx: openssl[i]!.ok, go: go[i]!.ok, java: java[i]!.ok };
    for (const c of ['nginx', 'go', 'java'] as const) if (!truth[c]) counts[c]++;
    const said = { nginx: engine('nginx'), go: engine('go'), java: engine('java') };
    if (said.nginx !== truth.nginx || said.go !== truth.go || said.java !== truth.java)
      wrong.push({
        generated: generated[i],
        engine: cert?.consumers ?? report.problems.map((p) => p.message),
        consumers: { openssl: openssl[i], go: go[i], java: java[i] },
      });
  });
  if (process.env.TB_PROPERTY_DUMP)
    (await import('node:fs')).writeFileSync(process.env.TB_PROPERTY_DUMP, JSON.stringify(wrong));
  if (wrong.length)
    console.log(`seed ${SEED}: ${wrong.length} disagreements\n${JSON.stringify(wrong.slice(0, 5), null, 1)}`);
  expect(wrong).toEqual([]);
  // The generator does reach each consumer's refusals (else agreement would prove little).
  expect(counts.nginx).toBeGreaterThan(0);
  expect(counts.go).toBeGreaterThan(0);
  expect(counts.java).toBeGreaterThan(0);
}, 300_000);
