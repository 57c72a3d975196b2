// What every `trustbundle` command provides to the dispatcher.
export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Set for a group such as `pki`, which dispatches to these. */
  subcommands?: Command[];
  /** Resolves to the exit code; throws UsageError for exit 2. */
  run(args: string[]): Promise<number>;
}

export const EXIT = { ok: 0, rejected: 1, usage: 2 } as const;

export function writeErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
}
