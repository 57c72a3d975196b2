// `trustbundle build FILE... --out PATH`: the bundle, written only when the policy accepts it.
import { buildBundle } from '../bundle/build.ts';
import {
  OUTPUT_FORMATS,
  checkPkcs12Password,
  toHelmValue,
  toPkcs12,
  type OutputFormat,
} from '../bundle/formats.ts';
import { resolvePolicy } from '../bundle/policy.ts';
import type { Bundle } from '../bundle/types.ts';
import { oneOf, optionalString, parse, requiredString, UsageError, type Parsed } from './args.ts';
import { EXIT, writeErr, type Command } from './command.ts';
import { readPasswordFile, STDIO, writeFileAtomic } from './files.ts';
import { POLICY_HELP, POLICY_OPTIONS, policyFlags } from './policy-flags.ts';
import { problemLine, summaryLine } from './report.ts';
import { readSources } from './sources.ts';
import { renderTemplate } from './template.ts';
import { readFile } from 'node:fs/promises';

async function password(p: Parsed, format: OutputFormat): Promise<string | undefined> {
  const inline = optionalString(p, 'password');
  const file = optionalString(p, 'password-file');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('give --password or --password-file, not both');
  if (format !== 'pkcs12') {
    if (inline !== undefined || file !== undefined)
      throw new UsageError('a password applies only to --format pkcs12');
    return undefined;
  }
  const value = file !== undefined ? await readPasswordFile(file) : inline;
  if (value === undefined) throw new UsageError('--format pkcs12 needs --password or --password-file');
  try {
    checkPkcs12Password(value);
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  return value;
}

function render(
  bundle: Bundle,
  format: OutputFormat,
  pass: string | undefined,
  template: string | undefined,
): string | Buffer {
  if (template !== undefined) return renderTemplate(template, bundle);
  if (format === 'helm-value') return toHelmValue(bundle);
  if (format === 'pkcs12') return toPkcs12(bundle, pass!);
  return bundle.pem;
}

export const build: Command = {
  name: 'build',
  summary: 'validate PEM files and write the bundle (PEM, Helm value or PKCS#12)',
  help: `Usage: trustbundle build FILE... --out PATH [--format pem|helm-value|pkcs12] [policy flags]

Validates the CA certificates in the PEM files (- for stdin), deduplicates and orders them, and
writes the bundle to PATH (- for stdout) only when the policy accepts it. The file is replaced
atomically; when anything is wrong it is left exactly as it was and the reasons go to stderr.
The same inputs in any order give the same bytes.

Options:
  --out PATH                 where to write the bundle (- for stdout); required
  --format FORMAT            pem (default; ingress-nginx ca.crt), helm-value (base64 for
                             apitraffic.ingressMtlsRootCa) or pkcs12 (Java truststore)
  --password P               PKCS#12 password (visible to other local users; prefer a file)
  --password-file F          read the PKCS#12 password from the first line of F
  --template FILE            render FILE (Handlebars) instead of a format: {{pem}}, {{base64}},
                             {{hash}}, {{crl}}, {{#each certificates}}{{subject}} {{notAfter}}
                             {{fingerprintSHA256}} {{pem}}{{/each}}; an unknown name is an error
  -h, --help                 show this help

${POLICY_HELP}

Exit status: 0 written, 1 rejected by the policy or not written, 2 usage error.`,
  async run(args) {
    const p = parse(
      args,
      {
        out: { type: 'string', short: 'o' },
        format: { type: 'string' },
        password: { type: 'string' },
        'password-file': { type: 'string' },
        template: { type: 'string' },
        ...POLICY_OPTIONS,
      },
      true,
    );
    const out = requiredString(p, 'out');
    const format = oneOf(p, 'format', OUTPUT_FORMATS) ?? 'pem';
    const templateFile = optionalString(p, 'template');
    if (templateFile !== undefined && p.values.format !== undefined)
      throw new UsageError('give --format or --template, not both');
    const template = templateFile === undefined ? undefined : await readFile(templateFile, 'utf8');
    const pass = await password(p, format);
    const { policy, now } = policyFlags(p);
    const sources = await readSources(p.positionals, resolvePolicy(policy).maxInputBytes);
    const report = buildBundle(sources, policy, now ? { now } : {});
    for (const problem of report.problems) writeErr(problemLine(problem));
    if (!report.bundle) {
      writeErr(`${summaryLine(report)}; ${out === STDIO ? 'nothing written' : `${out} left unchanged`}`);
      return EXIT.rejected;
    }
    try {
      await writeFileAtomic(out, render(report.bundle, format, pass, template));
    } catch (err) {
      writeErr(`error: ${err instanceof Error ? err.message : String(err)}; ${out} left unchanged`);
      return EXIT.rejected;
    }
    const n = report.bundle.certificates.length;
    writeErr(
      `wrote ${n} certificate${n === 1 ? '' : 's'} (${template === undefined ? format : `template ${templateFile}`}) to ${out === STDIO ? 'stdout' : out}, bundle ${report.bundle.hash}`,
    );
    return EXIT.ok;
  },
};
