// sources → bundle + report. Pure: no I/O, no clock unless `now` is omitted.
import { createHash } from 'node:crypto';
import { CertificateCache } from './certificate.ts';
import type { ParsedCertificate } from './certificate.ts';
import { readPem } from './pem.ts';
import { judge, resolvePolicy } from './policy.ts';
import type { BuildReport, Bundle, CertificateInfo, Policy, Problem, Source } from './types.ts';

export interface BuildOptions {
  now?: Date;
  /** Shared across builds so that each distinct DER is parsed once. */
  cache?: CertificateCache;
}

const defaultCache = new CertificateCache(50_000);

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

/** Canonical order: by subject, then fingerprint; independent of the order of the inputs. */
function compare(a: ParsedCertificate, b: ParsedCertificate): number {
  if (a.subject !== b.subject) return a.subject < b.subject ? -1 : 1;
  return a.fingerprintSHA256 < b.fingerprintSHA256 ? -1 : a.fingerprintSHA256 > b.fingerprintSHA256 ? 1 : 0;
}

function sizeOf(content: Source['content']): number {
  return typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
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
    return { certificates: [], problems };
  }

  const seen = new Map<string, { cert: ParsedCertificate; sources: string[] }>();
  for (const source of sources) {
    const read = readPem(source);
    problems.push(...read.problems);
    const accepted: { cert: ParsedCertificate }[] = [];
    let sourceFailed = false;
    for (const block of read.certificates) {
      const outcome = cache.parse(block.der);
      if (!outcome.ok) {
        problems.push({
          severity: 'error',
          code: 'UnparsableCertificate',
          source: source.name,
          block: block.block,
          line: block.line,
          message: `source ${source.name}, block ${block.block} (line ${block.line}): the certificate does not parse (${outcome.reason})`,
        });
        sourceFailed = true;
        continue;
      }
      accepted.push({ cert: outcome.cert });
    }
    if (sourceFailed) continue;
    for (const { cert } of accepted) {
      const entry = seen.get(cert.fingerprintSHA256);
      if (!entry) seen.set(cert.fingerprintSHA256, { cert, sources: [source.name] });
      else if (!entry.sources.includes(source.name)) entry.sources.push(source.name);
    }
  }

  const ordered = [...seen.values()].sort((a, b) => compare(a.cert, b.cert));
  const certificates: CertificateInfo[] = [];
  for (const { cert, sources: from } of ordered) {
    const verdict = judge(cert, from, p, now);
    problems.push(...verdict.problems);
    certificates.push({
      subject: cert.subject,
      issuer: cert.issuer,
      serialNumber: cert.serialNumber,
      fingerprintSHA256: cert.fingerprintSHA256,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      keyAlgorithm: cert.keyAlgorithm,
      keySize: cert.keySize,
      ...(cert.curve ? { curve: cert.curve } : {}),
      signatureAlgorithm: cert.signature.name,
      isCA: cert.isCA,
      selfSigned: cert.selfSigned,
      sources: from,
      status: verdict.status,
      der: cert.der,
    });
  }

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
  if (problems.some((x) => x.severity === 'error')) return { certificates, problems };

  const pem = accepted.map((c) => toPem(c.der)).join('');
  const bundle: Bundle = {
    pem,
    hash: 'sha256:' + createHash('sha256').update(pem).digest('hex'),
    certificates: accepted,
  };
  return { bundle, certificates, problems };
}
