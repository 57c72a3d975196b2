// The `trustbundle` command: dispatch, help, and the mapping of failures to exit codes.
import { readFileSync } from 'node:fs';
import { ACP_COMMANDS } from './acp.ts';
import { UsageError, wantsHelp } from './args.ts';
import { build } from './build.ts';
import { EXIT, writeErr, type Command } from './command.ts';
import { inspect } from './inspect.ts';
import { PKI_COMMANDS } from './pki.ts';

function listing(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
}

function group(name: string, summary: string, intro: string, commands: Command[]): Command {
  const help = `${intro}\n\nCommands:\n${listing(commands)}\n\nRun 'trustbundle ${name === 'trustbundle' ? '' : name + ' '}COMMAND --help' for a command's options.`;
  return {
    name,
    summary,
    help,
    subcommands: commands,
    async run(args) {
      const [first, ...rest] = args;
      if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
        if (first === undefined) throw new UsageError(`a command is required\n\n${help}`);
        process.stdout.write(help + '\n');
        return EXIT.ok;
      }
      if (name === 'trustbundle' && first === '--version') {
        process.stdout.write(`${version()}\n`);
        return EXIT.ok;
      }
      const command = commands.find((c) => c.name === first);
      if (!command) throw new UsageError(`unknown command "${first}"\n\n${help}`);
      if (wantsHelp(rest) && !command.subcommands) {
        process.stdout.write(command.help + '\n');
        return EXIT.ok;
      }
      return command.run(rest);
    },
  };
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const pki = group(
  'pki',
  'test PKI: root CAs, Open Finance Brasil client certificates, CSR signing',
  'Usage: trustbundle pki COMMAND [options]\n\nA test PKI for sandboxes and tests (node-forge and node:crypto; no openssl needed).',
  PKI_COMMANDS,
);

const acp = group(
  'acp',
  "Cloudentity ACP: check (and fix) an authorization server's trusted client CAs",
  'Usage: trustbundle acp COMMAND [options]\n\nTalks to a Cloudentity ACP admin API directly, without a cluster.',
  ACP_COMMANDS,
);

const root = group(
  'trustbundle',
  '',
  `Usage: trustbundle COMMAND [options]

Validates, deduplicates and writes the CA bundles that Open Banking platforms use for mutual TLS
(the ingress-nginx ca.crt, Axway's apitraffic.ingressMtlsRootCa, Java truststores).

Options:
  -h, --help     show this help
  --version      print the version`,
  [inspect, build, pki, acp],
);

/** Runs the CLI and resolves to its exit code. */
export async function main(args: string[]): Promise<number> {
  // Find the command path for usage hints ("trustbundle pki ca --help").
  const path = [
    'trustbundle',
    ...args.slice(0, args[0] === 'pki' || args[0] === 'acp' ? 2 : 1).filter((a) => !a.startsWith('-')),
  ];
  try {
    return await root.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      writeErr(`${path.join(' ')}: ${err.message}`);
      if (!err.message.includes('\n')) writeErr(`Run '${path.join(' ')} --help' for usage.`);
      return EXIT.usage;
    }
    writeErr(`${path.join(' ')}: error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.rejected;
  }
}
