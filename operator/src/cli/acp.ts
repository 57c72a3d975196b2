// `trustbundle acp check`: the first contact with a Cloudentity ACP, without a cluster. Token,
// GET of the server, the redaction guard, and the difference between its root_cas and a bundle;
// a write only with --apply, verified by reading back. Credentials come from a file or the
// environment, never from the command line (other users see argv), and are never printed.
import { readFile } from 'node:fs/promises';
import type { CloudentityTarget } from '../api/v1alpha1.ts';
import {
  AuthorizationServerError,
  CloudentityAuthorizationServer,
  diffTrust,
  REDACTED_MESSAGE,
  type CertificateRef,
  type CloudentityOptions,
  type TrustDiff,
} from '../authserver/index.ts';
import { buildBundle } from '../bundle/build.ts';
import { resolvePolicy } from '../bundle/policy.ts';
import {
  flag,
  optionalInteger,
  optionalString,
  parse,
  requiredString,
  UsageError,
  type Parsed,
} from './args.ts';
import { EXIT, writeErr, type Command } from './command.ts';
import { problemLine, summaryLine } from './report.ts';
import { readSources } from './sources.ts';

const ENV_ID = 'ACP_CLIENT_ID';
const ENV_SECRET = 'ACP_CLIENT_SECRET';
/** Names the in-memory stand-ins for the Secrets the operator would read. */
const CREDENTIALS = { namespace: 'cli', name: 'credentials' };
const CA = { namespace: 'cli', name: 'ca-file', key: 'ca.crt' };

interface Credentials {
  id: string;
  secret: string;
  from: string;
}

/** `{"client_id": …, "client_secret": …}`, or `client_id=…` / `client_secret=…` lines. */
export function parseCredentials(text: string, from: string): Credentials {
  let values: Record<string, unknown> = {};
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      values = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      // Not repeated: the text holds the secret.
      throw new UsageError(`${from} is not valid JSON`);
    }
  } else {
    for (const line of trimmed.split(/\r?\n/)) {
      const m = /^\s*(?:export\s+)?([A-Za-z_]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
      if (m) values[m[1]!.toLowerCase().replace(/^acp_/, '')] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  const id = values.client_id;
  const secret = values.client_secret;
  if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '') {
    throw new UsageError(`${from} must give client_id and client_secret`);
  }
  return { id, secret, from };
}

async function credentials(p: Parsed): Promise<Credentials> {
  const file = optionalString(p, 'credentials-file');
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(
        `cannot read --credentials-file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    return parseCredentials(text, `--credentials-file ${file}`);
  }
  const id = process.env[ENV_ID];
  const secret = process.env[ENV_SECRET];
  if (!id || !secret) {
    throw new UsageError(`no credentials: give --credentials-file FILE, or set ${ENV_ID} and ${ENV_SECRET}`);
  }
  return { id, secret, from: `the environment (${ENV_ID}, ${ENV_SECRET})` };
}

async function bundlePem(files: string[]): Promise<string | undefined> {
  const policy = resolvePolicy({});
  const report = buildBundle(await readSources(files, policy.maxInputBytes), policy);
  for (const problem of report.problems) writeErr(problemLine(problem));
  if (!report.bundle) writeErr(`${summaryLine(report)}; nothing compared`);
  return report.bundle?.pem;
}

const line = (sign: string, c: CertificateRef): string => `  ${sign} ${c.subject}  SHA-256 ${c.sha256}`;

function report(diff: TrustDiff): string {
  const held = diff.certificates.length - diff.added.length + diff.removed.length;
  const out = [`root_cas: ${held} certificate${held === 1 ? '' : 's'}; bundle: ${diff.certificates.length}`];
  if (diff.previousUnreadable)
    out.push(`root_cas are not a clean list of certificates: ${diff.previousUnreadable}`);
  for (const c of diff.added) out.push(line('+', c));
  for (const c of diff.removed) out.push(line('-', c));
  return out.join('\n') + '\n';
}

/** The adapter; an endpoint it refuses (not https, credentials in the URL) is a usage error. */
function connect(target: CloudentityTarget, options: CloudentityOptions): CloudentityAuthorizationServer {
  try {
    return new CloudentityAuthorizationServer(target, options);
  } catch (err) {
    if (err instanceof AuthorizationServerError && err.kind === 'config') throw new UsageError(err.message);
    throw err;
  }
}

async function check(p: Parsed): Promise<number> {
  const creds = await credentials(p);
  const caFile = optionalString(p, 'ca-file');
  const ca =
    caFile === undefined
      ? undefined
      : await readFile(caFile).catch(() => {
          throw new UsageError(`cannot read --ca-file ${caFile}`);
        });
  const target: CloudentityTarget = {
    url: requiredString(p, 'url'),
    tenant: requiredString(p, 'tenant'),
    server: requiredString(p, 'server'),
    credentialsSecret: CREDENTIALS,
    ...(optionalString(p, 'token-url') ? { tokenURL: optionalString(p, 'token-url')! } : {}),
    ...(optionalString(p, 'admin-url') ? { adminURL: optionalString(p, 'admin-url')! } : {}),
    ...(ca ? { caSecret: CA } : {}),
  };
  if (p.positionals.length === 0) throw new UsageError('a bundle file is required (PEM; - for stdin)');
  const pem = await bundlePem(p.positionals);
  if (pem === undefined) return EXIT.rejected;
  const timeout = optionalInteger(p, 'timeout', 1);
  const verbose = flag(p, 'verbose');
  const adapter = connect(target, {
    readSecret: async (_namespace, name) =>
      name === CA.name
        ? { [CA.key]: ca! }
        : { client_id: Buffer.from(creds.id), client_secret: Buffer.from(creds.secret) },
    credentialsLabel: creds.from,
    logger: { warn: (_obj, msg) => writeErr(`warning: ${msg}`) },
    ...(timeout ? { requestTimeoutMs: timeout * 1000 } : {}),
    ...(verbose
      ? { onExchange: (e) => writeErr(`${e.method} ${e.path} → ${e.status || 'no answer'} (${e.ms} ms)`) }
      : {}),
  });
  try {
    process.stdout.write(`server: ${adapter.description}\n`);
    const diff = await diffTrust(adapter, pem);
    process.stdout.write(report(diff));
    if (diff.inSync) {
      process.stdout.write('in sync: root_cas hold exactly the bundle; nothing to write\n');
      return EXIT.ok;
    }
    if (diff.redacted) {
      process.stdout.write(`refused: ${REDACTED_MESSAGE}:\n${diff.redacted.map((r) => `  ${r}\n`).join('')}`);
      process.stdout.write('nothing written\n');
      return EXIT.rejected;
    }
    const summary = `${diff.added.length} to add, ${diff.removed.length} to remove`;
    if (!flag(p, 'apply')) {
      process.stdout.write(`different: ${summary}; nothing written (run with --apply to write)\n`);
      return EXIT.rejected;
    }
    await adapter.writeTrust(pem);
    const after = await diffTrust(adapter, pem);
    if (!after.inSync) {
      process.stdout.write(`written, but the read back differs from the bundle:\n${report(after)}`);
      return EXIT.rejected;
    }
    process.stdout.write(`applied: ${summary}; read back: root_cas hold exactly the bundle\n`);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof AuthorizationServerError)) throw err;
    writeErr(`error: ${err.message}`);
    return EXIT.rejected;
  } finally {
    adapter.close();
  }
}

const checkCommand: Command = {
  name: 'check',
  summary: "compare an authorization server's root_cas with a bundle; write only with --apply",
  help: `Usage: trustbundle acp check --url URL --tenant ID --server ID FILE... [--apply] [options]

The first contact with a Cloudentity ACP, without a cluster: gets a token (client credentials),
reads the authorization server, checks that the read carries what writing it back would
otherwise reset (its secret, salt and private signing keys: the redaction guard), and prints
the certificates the bundle in FILE (PEM, as trustbundle build writes it; - for stdin) would add
to and remove from the server's root_cas, by subject and SHA-256. Nothing is written unless
--apply is given; then the server is written and read back to verify.

Options:
  --url URL                  ACP base URL (https://acp.example.com)
  --tenant ID                tenant id
  --server ID                authorization server (workspace) id
  --token-url URL            token endpoint (default URL/TENANT/admin/oauth2/token)
  --admin-url URL            admin API base (default URL/api/admin/TENANT)
  --ca-file FILE             CA certificates (PEM) to verify ACP's TLS certificate with,
                             instead of the system roots
  --credentials-file FILE    the admin client: JSON {"client_id": …, "client_secret": …} or
                             client_id=… and client_secret=… lines. Without it the environment:
                             ${ENV_ID} and ${ENV_SECRET}. Never on the command line.
  --apply                    write root_cas when they differ, then read back
  --timeout SECONDS          deadline of one HTTP exchange (default 10)
  -v, --verbose              log each HTTP exchange (method, path, status, time) to stderr
  -h, --help                 show this help

Exit status: 0 in sync (or written and verified), 1 different (without --apply), refused by the
guard, or failed, 2 usage error.`,
  async run(args) {
    const p = parse(
      args,
      {
        url: { type: 'string' },
        tenant: { type: 'string' },
        server: { type: 'string' },
        'token-url': { type: 'string' },
        'admin-url': { type: 'string' },
        'ca-file': { type: 'string' },
        'credentials-file': { type: 'string' },
        apply: { type: 'boolean' },
        timeout: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
      },
      true,
    );
    return check(p);
  },
};

export const ACP_COMMANDS: Command[] = [checkCommand];
