import { readFileSync } from 'node:fs';
import { trustbundle } from './cli.ts';

const COMMANDS = [['inspect'], ['build'], ['pki'], ['pki', 'ca'], ['pki', 'client'], ['pki', 'sign-csr']];

describe('help and usage', () => {
  test('trustbundle --help lists the commands', () => {
    const r = trustbundle(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trustbundle COMMAND/);
    for (const c of ['inspect', 'build', 'pki']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  test.each(COMMANDS)('trustbundle %s --help (and -h) prints its usage, exit 0', (...command) => {
    for (const flag of ['--help', '-h']) {
      const r = trustbundle([...command, flag]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^Usage: trustbundle ${command.join(' ')} `));
    }
  });

  test('--help wins over other arguments, even invalid ones', () => {
    const r = trustbundle(['build', '--bogus', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trustbundle build /);
  });

  test('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(trustbundle(['--version']).stdout).toBe(`${pkg.version}\n`);
  });

  test.each([
    [[], /a command is required/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['pki'], /a command is required/],
    [['build', 'x.pem'], /--out is required/],
    [['build', '--out'], /argument missing/],
  ])('%p is a usage error: exit 2, message on stderr', (args, why) => {
    const r = trustbundle(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(why);
  });
});
