// `trustbundle inspect FILE...`: what would the bundle be, and why not.
import { buildBundle } from '../bundle/build.ts';
import { resolvePolicy } from '../bundle/policy.ts';
import { flag, parse } from './args.ts';
import { EXIT, type Command } from './command.ts';
import { POLICY_HELP, POLICY_OPTIONS, policyFlags } from './policy-flags.ts';
import { renderTable, reportJson } from './report.ts';
import { readSources } from './sources.ts';

export const inspect: Command = {
  name: 'inspect',
  summary: 'show the certificates in PEM files, their status and problems',
  help: `Usage: trustbundle inspect FILE... [--json] [policy flags]

Reads the PEM files (- for stdin) as the operator would and prints each distinct certificate:
subject, SHA-256 fingerprint prefix, notAfter, key, status, whether nginx (OpenSSL), Go and Java
can use it as a client-authentication trust anchor (ok/no), and problem codes; then every problem.

Options:
  --json                     print the report as JSON
  -h, --help                 show this help

${POLICY_HELP}

Exit status: 0 the bundle would be accepted, 1 the policy rejects it, 2 usage error.`,
  async run(args) {
    const p = parse(args, { json: { type: 'boolean' }, ...POLICY_OPTIONS }, true);
    const { policy, now } = policyFlags(p);
    const sources = await readSources(p.positionals, resolvePolicy(policy).maxInputBytes);
    const report = buildBundle(sources, policy, now ? { now } : {});
    process.stdout.write(
      flag(p, 'json') ? JSON.stringify(reportJson(report), null, 2) + '\n' : renderTable(report),
    );
    return report.bundle ? EXIT.ok : EXIT.rejected;
  },
};
