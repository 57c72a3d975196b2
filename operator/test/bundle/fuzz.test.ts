// Property tests: whatever bytes arrive, the engine never throws and never publishes anything
// that was not a certificate of the input.
import fc from 'fast-check';
import { buildBundle, readPem, type BuildReport } from '../../src/bundle/index.ts';
import { OpenSSL } from '../support/openssl.ts';

const ssl = new OpenSSL();
afterAll(() => ssl.cleanup());
const cas = [ssl.cert({ key: 'ec:P-256' }), ssl.cert({ key: 'rsa:2048' }), ssl.cert({ key: 'ed25519' })];
const inputDers = new Set(cas.map((c) => c.der.toString('base64')));

/** Every published certificate is, byte for byte, a CERTIFICATE block of the input text. */
function publishedOnlyInputCertificates(r: BuildReport, input: string): void {
  if (!r.bundle) return;
  const blocks = new Set(
    [...input.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
      Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64').toString('base64'),
    ),
  );
  const out = readPem({ name: 'out', content: r.bundle.pem });
  expect(out.problems).toEqual([]);
  for (const c of out.certificates) expect(blocks.has(c.der.toString('base64'))).toBe(true);
}

test('arbitrary bytes never crash the parser and never yield a bundle', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      const r = buildBundle([{ name: 'fuzz', content: bytes }]);
      expect(r.bundle).toBeUndefined();
      expect(r.problems.some((p) => p.severity === 'error')).toBe(true);
    }),
    { numRuns: 500 },
  );
});

test('arbitrary strings never crash the parser', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 2048 }), (text) => {
      const r = buildBundle([{ name: 'fuzz', content: text }]);
      publishedOnlyInputCertificates(r, text);
    }),
    { numRuns: 500 },
  );
});

test('mutated PEM (byte flips, cuts, insertions) never publishes a foreign certificate', () => {
  const pem = cas.map((c) => c.pem).join('');
  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(pem.length - 1),
      ch: fc.integer({ min: 0, max: 127 }),
    }),
    fc.record({
      kind: fc.constant('cut' as const),
      at: fc.nat(pem.length - 1),
      len: fc.integer({ min: 1, max: 200 }),
    }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(pem.length - 1),
      text: fc.string({ maxLength: 40 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      let text = pem;
      for (const m of mutations) {
        const at = Math.min(m.at, text.length);
        if (m.kind === 'flip') text = text.slice(0, at) + String.fromCharCode(m.ch) + text.slice(at + 1);
        else if (m.kind === 'cut') text = text.slice(0, at) + text.slice(at + m.len);
        else text = text.slice(0, at) + m.text + text.slice(at);
      }
      const r = buildBundle([{ name: 'mutated', content: text }]);
      publishedOnlyInputCertificates(r, text);
      // A flipped byte inside a self-signed root is caught by its signature.
      if (r.bundle)
        for (const c of r.bundle.certificates)
          expect(inputDers.has(c.der.toString('base64')) || !c.selfSigned).toBe(true);
      if (r.bundle) expect(r.problems.every((p) => p.severity === 'warning')).toBe(true);
    }),
    { numRuns: 1000 },
  );
});
