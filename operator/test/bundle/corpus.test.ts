// The bad-input corpus (./corpus/cases.ts) against the engine: every case gives a clear error that
// names the problem and, where there is one, the source; never an exception, never a bundle, never
// key material in the report. Then fuzzing around the corpus: a bad case mixed with good sources,
// in any position, still publishes nothing.
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { buildBundle, type BuildReport, type Source } from '../../src/bundle/index.ts';
import { OpenSSL } from '../support/openssl.ts';
import { buildCorpus, type CorpusCase } from './corpus/cases.ts';
import { recordRow } from '../../../e2e/faults/results.ts';

const ssl = new OpenSSL();
afterAll(() => ssl.cleanup());
const corpus = buildCorpus(ssl);
const goodCAs = [0, 1, 2].map((i) => ssl.cert({ subject: `/CN=Fuzz Good Root ${i}` }).pem);

const named = (c: CorpusCase): Source[] => c.sources.map((content, i) => ({ name: `inline[${i}]`, content }));

/** What is wrong with the engine's answer to a case; empty when it is right. */
function verdict(c: CorpusCase, build: () => BuildReport): string[] {
  let r: BuildReport;
  try {
    r = build();
  } catch (err) {
    return [`threw ${(err as Error).message}`];
  }
  const wrong: string[] = [];
  if (r.bundle) wrong.push(`published a bundle ${r.bundle.hash}`);
  const errors = r.problems.filter((p) => p.severity === 'error');
  const hit = errors.find((p) => p.code === c.code);
  if (!hit) wrong.push(`expected ${c.code}, got ${errors.map((p) => p.code).join(', ') || 'no error'}`);
  else {
    if (hit.message.length < 30) wrong.push(`message too terse: "${hit.message}"`);
    if (c.culprit !== undefined) {
      const name = `inline[${c.culprit}]`;
      if (hit.source !== name || !hit.message.includes(name))
        wrong.push(`does not name ${name}: ${hit.source} "${hit.message}"`);
    }
  }
  const report = JSON.stringify({ problems: r.problems, subjects: r.certificates.map((x) => x.subject) });
  for (const s of c.secrets ?? []) if (report.includes(s)) wrong.push('the report repeats key material');
  return wrong;
}

test('the corpus holds at least 50 distinct cases in every category', () => {
  expect(corpus.length).toBeGreaterThanOrEqual(50);
  expect(new Set(corpus.map((c) => c.id)).size).toBe(corpus.length);
  expect(new Set(corpus.map((c) => c.category))).toEqual(
    new Set(['pem', 'key', 'block', 'binary', 'unicode', 'der', 'policy', 'size', 'crl']),
  );
});

test.each(corpus.map((c) => [c.id, c] as const))('%s: a clear error, no bundle, no crash', (_id, c) => {
  expect(verdict(c, () => buildBundle(named(c), c.policy))).toEqual([]);
});

test('the same bad input gives the same problems every time', () => {
  for (const c of corpus.filter((x) => x.category !== 'size')) {
    const a = buildBundle(named(c), c.policy).problems;
    const b = buildBundle(named(c), c.policy).problems;
    expect(b).toEqual(a);
  }
});

test('a duplicated bad certificate is reported once', () => {
  const c = corpus.find((x) => x.id === 'same-leaf-thousand-times')!;
  const r = buildBundle(named(c), c.policy);
  expect(r.problems.filter((p) => p.code === 'NotCA')).toHaveLength(1);
  expect(r.certificates).toHaveLength(1);
});

test('fuzzing: a bad case anywhere among good sources still publishes nothing', () => {
  // Not the bundle-wide verdicts: good sources beside an only-expired CA make a valid bundle.
  const small = corpus.filter((c) => c.sources.length > 0 && c.category !== 'size' && c.code !== 'Empty');
  fc.assert(
    fc.property(
      fc.constantFrom(...small),
      fc.array(fc.constantFrom(...goodCAs), { maxLength: 4 }),
      fc.nat(),
      (c, good, at) => {
        const sources: (string | Uint8Array)[] = [...good];
        const bad = [...c.sources];
        sources.splice(at % (sources.length + 1), 0, ...bad);
        const r = buildBundle(
          sources.map((content, i) => ({ name: `inline[${i}]`, content })),
          c.policy,
        );
        expect(r.bundle).toBeUndefined();
        expect(r.problems.some((p) => p.severity === 'error' && p.code === c.code)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzzing: any prefix of a bad case is refused too, and never throws', () => {
  const texts = corpus.filter((c) => c.sources.length === 1 && typeof c.sources[0] === 'string');
  fc.assert(
    fc.property(fc.constantFrom(...texts), fc.double({ min: 0, max: 1, noNaN: true }), (c, cut) => {
      const text = c.sources[0] as string;
      const prefix = text.slice(0, Math.floor(text.length * cut));
      const r = buildBundle([{ name: 'inline[0]', content: prefix }], c.policy);
      // A prefix of bad input can at most be a prefix that ends exactly after good blocks.
      if (r.bundle) expect(prefix.includes('PRIVATE KEY')).toBe(false);
      expect(r.problems.length + (r.bundle ? 1 : 0)).toBeGreaterThan(0);
    }),
    { numRuns: 300 },
  );
});

test('summary: the corpus through the engine, for the reliability report', () => {
  const t0 = performance.now();
  const failures = corpus.flatMap((c) =>
    verdict(c, () => buildBundle(named(c), c.policy)).map((w) => `${c.id}: ${w}`),
  );
  const ms = performance.now() - t0;
  recordRow({
    suite: 'corpus-unit',
    order: 50,
    title: 'Bad-input corpus, engine (unit)',
    tried: `${corpus.length} cases in ${new Set(corpus.map((c) => c.category)).size} categories + 600 fuzzed mixes and prefixes`,
    faults: null,
    badInputs: corpus.length,
    lost: null,
    extraRollouts: null,
    changedByBadInput: failures.filter((f) => f.includes('published a bundle')).length,
    saw:
      failures.length === 0
        ? `every case refused with its own error code, naming the source; no throw, no key echoed (${ms.toFixed(0)} ms)`
        : `${failures.length} wrong answers: ${failures.slice(0, 3).join('; ')}`,
  });
  expect(failures).toEqual([]);
});
