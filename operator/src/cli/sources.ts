// FILE arguments → the engine's named sources; `-` is stdin, readable once.
import type { Source } from '../bundle/types.ts';
import { UsageError } from './args.ts';
import { readInput, STDIO } from './files.ts';

export async function readSources(files: string[], maxInputBytes: number): Promise<Source[]> {
  if (files.length === 0) throw new UsageError('no input files (use - for stdin)');
  if (files.filter((f) => f === STDIO).length > 1) throw new UsageError('stdin (-) can be read only once');
  const sources: Source[] = [];
  let budget = maxInputBytes;
  for (const name of files) {
    // Reading stops just past the budget: the engine then reports InputTooLarge.
    const content = await readInput(name, Math.max(budget, 0));
    budget -= content.length;
    sources.push({ name: name === STDIO ? 'stdin' : name, content });
  }
  return sources;
}
