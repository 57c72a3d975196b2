// How a build report reads: a table for people, JSON for pipelines, problem lines for stderr.
import { CONSUMERS, type BuildReport, type CertificateInfo, type Problem } from '../bundle/types.ts';

export function keyLabel(c: CertificateInfo): string {
  if (c.keyAlgorithm === 'EC') return `EC ${c.curve ?? c.keySize}`;
  if (c.keyAlgorithm.startsWith('RSA')) return `${c.keyAlgorithm}-${c.keySize}`;
  return c.keyAlgorithm;
}

function problemsOf(report: BuildReport, c: CertificateInfo): Problem[] {
  return report.problems.filter((p) => p.certificate?.fingerprintSHA256 === c.fingerprintSHA256);
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + '…';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

export function problemLine(p: Problem): string {
  return `${p.severity}: ${p.message}`;
}

export function summaryLine(report: BuildReport): string {
  if (report.bundle) {
    const n = report.bundle.certificates.length;
    const crls = report.bundle.crls.length;
    const withCrl = crls > 0 ? ` and ${crls} CRL${crls === 1 ? '' : 's'}` : '';
    return `accepted: ${n} certificate${n === 1 ? '' : 's'}${withCrl}, bundle ${report.bundle.hash}`;
  }
  const errors = report.problems.filter((p) => p.severity === 'error').length;
  return `rejected: ${errors} error${errors === 1 ? '' : 's'}; no bundle would be published`;
}

export function renderTable(report: BuildReport): string {
  const lines: string[] = [];
  if (report.certificates.length === 0) lines.push('no certificates');
  else {
    // Per consumer: can it use the certificate as a client-authentication trust anchor?
    const rows = [['SUBJECT', 'SHA-256', 'NOT AFTER', 'KEY', 'STATUS', 'NGINX', 'GO', 'JAVA', 'PROBLEMS']];
    for (const c of report.certificates) {
      const codes = [...new Set(problemsOf(report, c).map((p) => p.code))];
      rows.push([
        truncate(c.subject, 60),
        c.fingerprintSHA256.slice(0, 17),
        c.notAfter.toISOString().slice(0, 10),
        keyLabel(c),
        c.status,
        ...CONSUMERS.map((consumer) => (c.consumers[consumer].length === 0 ? 'ok' : 'no')),
        codes.length > 0 ? codes.join(',') : '-',
      ]);
    }
    lines.push(table(rows));
  }
  if (report.crls.length > 0) {
    const rows = [['CRL ISSUER', 'THIS UPDATE', 'NEXT UPDATE', 'REVOKED', 'STATUS']];
    for (const c of report.crls) {
      rows.push([
        truncate(c.issuer, 60),
        c.thisUpdate.toISOString().slice(0, 16),
        c.nextUpdate?.toISOString().slice(0, 16) ?? '-',
        String(c.revokedCount),
        c.status,
      ]);
    }
    lines.push('', table(rows));
  }
  if (report.problems.length > 0) lines.push('', ...report.problems.map(problemLine));
  lines.push('', summaryLine(report));
  return lines.join('\n') + '\n';
}

export function reportJson(report: BuildReport): object {
  return {
    accepted: report.bundle !== undefined,
    ...(report.bundle ? { bundleHash: report.bundle.hash } : {}),
    certificates: report.certificates.map((c) => {
      const { der: _der, ...facts } = c;
      return { ...facts, problems: problemsOf(report, c).map((p) => p.code) };
    }),
    ...(report.crls.length > 0
      ? {
          crls: report.crls.map((c) => {
            const { der: _der, ...facts } = c;
            return facts;
          }),
          crlPublished: report.bundle?.crl !== undefined,
        }
      : {}),
    problems: report.problems,
  };
}
