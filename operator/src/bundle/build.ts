// sources → bundle + report. Pure: no I/O, no clock unless `now` is omitted.
import { createHash } from 'node:crypto';
import { CertificateCache } from './certificate.ts';
import type { ParsedCertificate } from './certificate.ts';
import { judgeCrls, parseCrlCached, type ParsedCrl } from './crl.ts';
import { readPem, type PemCertificate } from './pem.ts';
import { judge, resolvePolicy } from './policy.ts';
import { certificateFindings, type Finding } from './consumers.ts';
import { consumerVerdicts, issuerView } from './issuers.ts';
import {
  CONSUMERS,
  type BuildReport,
  type Bundle,
  type CertificateInfo,
  type Consumer,
  type Policy,
  type Problem,
  type Source,
} from './types.ts';

export interface BuildOptions {
  now?: Date;
  /** Shared across builds so that each distinct DER is parsed once. */
  cache?: CertificateCache;
  /**
   * Under `crl: PublishIfComplete` only: a CRL past its nextUpdate is dropped with a warning
   * instead of refusing the bundle, so its CA counts as one without a CRL and no ca.crl is
   * published. For when the CRL in force has itself lapsed: keeping it would make nginx refuse
   * every client of that CA (see judgeCrls).
   */
  dropLapsedCrls?: boolean;
  /**
   * The consumers the bundle is published to, whose verdicts count under `policy.unusable`
   * (nginx: Secret/ConfigMap targets; go: authorization servers; java: truststores). Every
   * certificate is judged for all three either way; by default all three count.
   */
  consumers?: readonly Consumer[];
}

const defaultCache = new CertificateCache(50_000);

/** The earliest notAfter among the bundle's certificates (its next expiry); none for no certificate. */
export function earliestNotAfter(bundle: Bundle): Date | undefined {
  return bundle.certificates.reduce<Date | undefined>(
    (min, c) => (!min || c.notAfter < min ? c.notAfter : min),
    undefined,
  );
}

export function toPem(der: Buffer, label: 'CERTIFICATE' | 'X509 CRL' = 'CERTIFICATE'): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const sha256 = (text: string): string => 'sha256:' + createHash('sha256').update(text).digest('hex');

/** Canonical order: by subject, then fingerprint; independent of the order of the inputs. */
function compare(a: ParsedCertificate, b: ParsedCertificate): number {
  if (a.subject !== b.subject) return a.subject < b.subject ? -1 : 1;
  return a.fingerprintSHA256 < b.fingerprintSHA256 ? -1 : a.fingerprintSHA256 > b.fingerprintSHA256 ? 1 : 0;
}

function sizeOf(content: Source['content']): number {
  return typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses each block of a source; undefined (with an error naming the block) when one does not parse. */
function parseBlocks<T>(
  source: string,
  blocks: PemCertificate[],
  code: 'UnparsableCertificate' | 'UnparsableCRL',
  problems: Problem[],
  parse: (der: Buffer) => Parsed<T>,
): T[] | undefined {
  const values: T[] = [];
  let failed = false;
  for (const { der, block, line } of blocks) {
    const outcome = parse(der);
    if (outcome.ok) {
      values.push(outcome.value);
      continue;
    }
    const what = code === 'UnparsableCRL' ? 'the CRL' : 'the certificate';
    problems.push({
      severity: 'error',
      code,
      source,
      block,
      line,
      message: `source ${source}, block ${block} (line ${line}): ${what} does not parse (${outcome.reason})`,
    });
    failed = true;
  }
  return failed ? undefined : values;
}

/** Deduplication by DER fingerprint: the first sighting makes the entry, later ones add their source. */
function note<E extends { sources: string[] }>(
  seen: Map<string, E>,
  fingerprint: string,
  source: string,
  entry: () => E,
): void {
  const known = seen.get(fingerprint);
  if (!known) seen.set(fingerprint, entry());
  else if (!known.sources.includes(source)) known.sources.push(source);
}

export function buildBundle(
  sources: Source[],
  policy?: Partial<Policy>,
  options: BuildOptions = {},
): BuildReport {
  const p = resolvePolicy(policy);
  const now = options.now ?? new Date();
  const cache = options.cache ?? defaultCache;
  const problems: Problem[] = [];

  const totalBytes = sources.reduce((n, s) => n + sizeOf(s.content), 0);
  if (totalBytes > p.maxInputBytes) {
    problems.push({
      severity: 'error',
      code: 'InputTooLarge',
      message: `the sources hold ${totalBytes} bytes, more than maxInputBytes (${p.maxInputBytes})`,
    });
    return { certificates: [], crls: [], problems };
  }

  const seen = new Map<string, { cert: ParsedCertificate; sources: string[] }>();
  const seenCrls = new Map<string, { crl: ParsedCrl; sources: string[] }>();
  for (const source of sources) {
    const read = readPem(source);
    problems.push(...read.problems);
    const certs = parseBlocks(source.name, read.certificates, 'UnparsableCertificate', problems, (der) => {
      const outcome = cache.parse(der);
      return outcome.ok ? { ok: true, value: outcome.cert } : outcome;
    });
    const crls = parseBlocks(source.name, read.crls, 'UnparsableCRL', problems, (der) => {
      const outcome = parseCrlCached(der);
      return outcome.ok ? { ok: true, value: outcome.crl } : outcome;
    });
    // A block that does not parse rejects its whole source.
    if (!certs || !crls) continue;
    const name = source.name;
    for (const cert of certs) note(seen, cert.fingerprintSHA256, name, () => ({ cert, sources: [name] }));
    for (const crl of crls) note(seenCrls, crl.fingerprintSHA256, name, () => ({ crl, sources: [name] }));
  }

  const ordered = [...seen.values()].sort((a, b) => compare(a.cert, b.cert));
  const all = ordered.map((o) => o.cert);
  const findings = new Map<ParsedCertificate, Finding[]>();
  const issuers = new Map<ParsedCertificate, ParsedCertificate | undefined>();
  for (const cert of all) {
    const view = issuerView(cert, all, p);
    findings.set(cert, [...view.findings, ...certificateFindings(cert)]);
    issuers.set(cert, view.issuer);
  }
  const verdicts = consumerVerdicts(all, findings, issuers);
  const published = options.consumers ?? CONSUMERS;
  const certificates: CertificateInfo[] = [];
  for (const { cert, sources: from } of ordered) {
    // Under requireCA the policy's own NotCA error says it; the finding still sets the verdicts.
    const own = findings.get(cert)!.filter((f) => !(p.requireCA && f.code === 'NotCA'));
    const verdict = judge(cert, from, p, now, own, published);
    problems.push(...verdict.problems);
    const { signature, selfSignatureValid: _checked, facts: _facts, ...facts } = cert;
    certificates.push({
      ...facts,
      signatureAlgorithm: signature.name,
      consumers: verdicts.get(cert)!,
      sources: from,
      status: verdict.status,
    });
  }

  const revocation = judgeCrls([...seenCrls.values()], certificates, p, now, {
    dropLapsed: options.dropLapsedCrls === true && p.crl === 'PublishIfComplete',
  });
  problems.push(...revocation.problems);
  const crls = revocation.crls;

  const accepted = certificates.filter((c) => c.status === 'Accepted');
  if (accepted.length > p.maxCertificates) {
    problems.push({
      severity: 'error',
      code: 'TooManyCertificates',
      message: `${accepted.length} certificates, more than maxCertificates (${p.maxCertificates})`,
    });
  }
  if (accepted.length === 0 && !problems.some((x) => x.severity === 'error')) {
    problems.push({
      severity: 'error',
      code: 'Empty',
      message:
        'no certificate is left to trust; an empty bundle would lock every client out, so nothing is published',
    });
  }
  if (problems.some((x) => x.severity === 'error')) return { certificates, crls, problems };

  const pem = accepted.map((c) => toPem(c.der)).join('');
  const bundle: Bundle = { pem, hash: sha256(pem), certificates: accepted, crls: revocation.published };
  if (revocation.published.length > 0) {
    bundle.crl = revocation.published.map((c) => toPem(c.der, 'X509 CRL')).join('');
    bundle.crlHash = sha256(bundle.crl);
    // What is enforced changes with the CRLs too: the hash (annotations, rollouts) covers both.
    bundle.hash = sha256(pem + bundle.crl);
  }
  return { bundle, certificates, crls, problems };
}
