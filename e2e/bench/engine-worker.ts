// One measured parser in its own process, so that its peak RSS is its own:
//   node e2e/bench/engine-worker.ts engine|engine-warm|forge CORPUS ITERATIONS
// prints one JSON line: { certificates, seconds[], maxRssBytes, baselineRssBytes, heapUsedBytes },
// heapUsedBytes being what the last result retains after a full GC (with --expose-gc).
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { buildBundle, CertificateCache, type BuildReport } from '../../operator/src/bundle/index.ts';
import { splitPem } from './corpus.ts';

const SOURCES = 10;
const BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g;

function engine(text: string, iterations: number, warm: boolean) {
  const sources = splitPem(text, SOURCES).map((content, i) => ({
    name: `configmap bench/cas-${i}`,
    content,
  }));
  const policy = { maxCertificates: 1_000_000, maxInputBytes: 1 << 30 };
  const shared = new CertificateCache(1_000_000);
  if (warm) buildBundle(sources, policy, { cache: shared });
  const seconds: number[] = [];
  let report: BuildReport | undefined;
  for (let i = 0; i < iterations; i++) {
    const cache = warm ? shared : new CertificateCache(1_000_000);
    const t0 = performance.now();
    report = buildBundle(sources, policy, { cache });
    seconds.push((performance.now() - t0) / 1000);
    if (!report.bundle) throw new Error(`the corpus was rejected: ${report.problems[0]?.message}`);
  }
  return { certificates: report!.bundle!.certificates.length, seconds, keep: report };
}

function nodeForge(text: string, iterations: number) {
  const seconds: number[] = [];
  let parsed = 0;
  let asn1Only = 0;
  let keep: unknown[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    keep = [];
    parsed = 0;
    asn1Only = 0;
    // Block by block: forge.pem.decode over the whole 10,000-certificate text is quadratic
    // (about 40 s here), which would measure that rather than certificate parsing.
    for (const pem of text.match(BLOCK) ?? []) {
      const asn1 = forge.asn1.fromDer(forge.pem.decode(pem)[0]!.body);
      try {
        keep.push(forge.pki.certificateFromAsn1(asn1));
        parsed++;
      } catch {
        // node-forge models only RSA public keys: an EC certificate gets as far as its ASN.1.
        keep.push(asn1);
        asn1Only++;
      }
    }
    seconds.push((performance.now() - t0) / 1000);
  }
  return { certificates: parsed + asn1Only, parsed, asn1Only, seconds, keep };
}

const [mode, corpus, iterationsText] = process.argv.slice(2);
const text = readFileSync(corpus!, 'utf8');
const iterations = Number(iterationsText ?? 3);
const baselineRssBytes = process.memoryUsage().rss;
const result =
  mode === 'forge' ? nodeForge(text, iterations) : engine(text, iterations, mode === 'engine-warm');
const { keep: _keep, ...figures } = result;
// Retained heap: what the last result holds once garbage is collected (run with --expose-gc).
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(
  JSON.stringify({
    ...figures,
    baselineRssBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: process.memoryUsage().heapUsed,
  }) + '\n',
);
