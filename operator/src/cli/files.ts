// The CLI's I/O edge: bounded reads (`-` is stdin) and atomic writes (`-` is stdout).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { UsageError } from './args.ts';

export const STDIO = '-';

async function readStream(stream: Readable, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(buf);
    total += buf.length;
    if (total > cap) break; // enough to know it is too large, without reading /dev/zero forever
  }
  return Buffer.concat(chunks);
}

/** Reads a file, or stdin for `-`, stopping just past `cap` bytes. Unreadable input is a usage error. */
export async function readInput(path: string, cap = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  if (path === STDIO) return readStream(process.stdin, cap);
  try {
    const stream = createReadStream(path);
    try {
      return await readStream(stream, cap);
    } finally {
      stream.destroy();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(err));
    throw new UsageError(`cannot read ${path}: ${why}`, { cause: err });
  }
}

export interface WriteOptions {
  /** File mode for a new file; an existing file keeps its mode unless `forceMode`. */
  mode?: number;
  /** Always apply `mode` (private keys: 0600 whatever was there). */
  forceMode?: boolean;
}

/**
 * Writes through a temporary file in the same directory, then renames it over `path`: readers
 * see the old content or the new, never a part, and on any failure the old file is untouched.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Buffer,
  options: WriteOptions = {},
): Promise<void> {
  if (path === STDIO) {
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(data, (err) => (err ? reject(err) : resolve())),
    );
    return;
  }
  let mode = options.mode ?? 0o644;
  let exact = options.forceMode === true;
  if (!exact) {
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isFile()) [mode, exact] = [existing.mode & 0o777, true];
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(tmp, 'wx', mode);
    try {
      await file.writeFile(data);
      if (exact) await chmod(tmp, mode); // open()'s mode is subject to the umask
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'is a directory' : (code ?? String(err));
    throw new Error(`cannot write ${path}: ${why}`, { cause: err });
  }
}

/** A password from a file: its first line, without the line ending. */
export async function readPasswordFile(path: string): Promise<string> {
  const text = (await readInput(path, 64 * 1024)).toString('utf8');
  return text.split(/\r?\n/, 1)[0] ?? '';
}
