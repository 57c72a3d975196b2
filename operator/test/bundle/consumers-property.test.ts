// Property: on generated trust anchors that combine the faults of ./anchor-cases.ts at random
// (serials, BER booleans, written-out defaults, trailing bytes, critical flags, AKIs, EKUs,
// nameConstraints, unknown extensions, signature algorithms, issuer spellings, forged
// signatures), as roots or as intermediates with or without their issuer, the engine's
// per-consumer verdict is the consumer's own: OpenSSL as nginx runs it, Go's crypto/x509, and
// Java PKIX over the truststore the operator writes. Bounded for `make test`: RUNS anchors per
// run (TB_PROPERTY_RUNS), a fresh seed each time, printed on failure (TB_PROPERTY_SEED replays it).
import fc from 'fast-check';
import { buildBundle, type Consumer } from '../../src/bundle/index.ts';
import { buildCert, issueLeaf } from '../support/anchors.ts';
import { Consumers } from '../support/consumers.ts';
import { GENERATED_PARENT, generatedAnchor, toCertSpec } from './anchor-cases.ts';

const RUNS = Number(process.env.TB_PROPERTY_RUNS ?? 60);
const SEED = Number(process.env.TB_PROPERTY_SEED ?? Date.now() % 2 ** 31);

const consumers = new Consumers();
afterAll(() => consumers.cleanup());

test(`generated anchors: the engine's verdict per consumer is the consumer's own (${RUNS} runs, seed ${SEED})`, async () => {
  const generated = fc.sample(generatedAnchor, { numRuns: RUNS, seed: SEED });
  const specs = generated.map(toCertSpec);
  const parent = buildCert(GENERATED_PARENT).pem;
  const built = specs.map((spec) => buildCert(spec));
  const inputs = specs.map((spec, i) => ({
    roots: (generated[i]!.chain === 'intermediate-with-issuer' ? parent : '') + built[i]!.pem,
    leaf: issueLeaf(spec).pem,
  }));
  const [openssl, go, java] = await Promise.all([
    Promise.all(inputs.map((i) => consumers.openssl(i))),
    consumers.go(inputs),
    consumers.java(inputs, 'operator'),
  ]);
  const wrong: object[] = [];
  const counts = { nginx: 0, go: 0, java: 0 };
  inputs.forEach((input, i) => {
    const report = buildBundle([{ name: 'generated', content: input.roots }], { requireCA: false });
    const cert = report.certificates.find((c) => c.der.equals(built[i]!.der));
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
