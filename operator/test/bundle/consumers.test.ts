// Each rule of the engine's per-consumer judgement beside the consumers' own verdicts: for every
// case of ./anchor-cases.ts, a TPP client certificate issued under the anchor is put to OpenSSL
// (`openssl verify -purpose sslclient`), a real nginx handshake, Go's crypto/x509 and Java PKIX
// (truststores from keytool and from the operator's own PKCS#12 writer). The engine must say
// "unusable" for exactly the consumers that refuse, with the case's problem code.
import {
  buildBundle,
  type BuildReport,
  type CertificateInfo,
  type Consumer,
} from '../../src/bundle/index.ts';
import { keyPair } from '../support/anchors.ts';
import { Consumers, type ConsumerCase, type Verdict } from '../support/consumers.ts';
import { anchorCases, type AnchorCase } from './anchor-cases.ts';

const cases = anchorCases();
const consumers = new Consumers();
afterAll(() => consumers.cleanup());

interface Observed {
  openssl: Verdict;
  nginx: Verdict;
  go: Verdict;
  javaKeytool: Verdict;
  javaOperator: Verdict;
}
const observed = new Map<string, Observed>();
const reports = new Map<string, BuildReport>();
const input = (c: AnchorCase): ConsumerCase => ({
  roots: c.anchors.map((a) => a.pem).join(''),
  leaf: c.leaf.pem,
});

beforeAll(async () => {
  const inputs = cases.map(input);
  const leafKey = keyPair('ec', 'leaf').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const [openssl, go, javaKeytool, javaOperator, nginx] = await Promise.all([
    Promise.all(inputs.map((i) => consumers.openssl(i))),
    consumers.go(inputs),
    consumers.java(inputs, 'keytool'),
    consumers.java(inputs, 'operator'),
    consumers.nginx(inputs, leafKey),
  ]);
  cases.forEach((c, i) => {
    observed.set(c.id, {
      openssl: openssl[i]!,
      nginx: nginx[i]!,
      go: go[i]!,
      javaKeytool: javaKeytool[i]!,
      javaOperator: javaOperator[i]!,
    });
    reports.set(c.id, buildBundle([{ name: 'inline[0]', content: input(c).roots }]));
  });
}, 600_000);

/** The certificate the case is about: the leaf's issuer, last of the anchors. */
function underTest(c: AnchorCase): CertificateInfo {
  const der = c.anchors.at(-1)!.der;
  return reports.get(c.id)!.certificates.find((x) => x.der.equals(der))!;
}

const usable = (cert: CertificateInfo, consumer: Consumer): boolean => cert.consumers[consumer].length === 0;

test.each(cases.map((c) => [c.id, c] as const))('%s: the engine says what the consumers do', (_id, c) => {
  const seen = observed.get(c.id)!;
  const cert = underTest(c);
  const verdicts = {
    nginx: usable(cert, 'nginx'),
    go: usable(cert, 'go'),
    java: usable(cert, 'java'),
  };
  const truth = {
    nginx: seen.openssl.ok,
    go: seen.go.ok,
    java: seen.javaKeytool.ok,
  };
  // Side by side in the failure message: the engine's codes and each consumer's own words.
  const detail = { engine: cert.consumers, consumers: seen };
  expect({ verdicts, detail }).toEqual({ verdicts: truth, detail });
  // The real handshake and the operator's truststore agree with the CLI checks.
  expect(seen.nginx.ok).toBe(seen.openssl.ok);
  expect(seen.javaOperator.ok).toBe(seen.javaKeytool.ok);
});

test.each(cases.map((c) => [c.id, c] as const))('%s: the right problem code, and never healthy', (_id, c) => {
  const r = reports.get(c.id)!;
  const cert = underTest(c);
  const mine = r.problems.filter((p) => p.certificate?.fingerprintSHA256 === cert.fingerprintSHA256);
  if (!c.code) {
    expect(mine).toEqual([]);
    expect(r.bundle).toBeDefined();
    return;
  }
  expect(mine.map((p) => p.code)).toContain(c.code);
  const seen = observed.get(c.id)!;
  const refusedBySome = !seen.openssl.ok || !seen.go.ok || !seen.javaKeytool.ok;
  // A certificate some consumer refuses is not published under the default policy, except an
  // intermediate whose issuer is absent: a warning says what each consumer will do with it.
  if (refusedBySome && c.code !== 'IssuerNotInBundle') expect(r.bundle).toBeUndefined();
});
