// The cluster benchmarks' certificates: self-signed root CAs made by the real openssl CLI with a few
// reused keys (P-256, P-384, Ed25519), generated once and cached outside the repository, so a
// second `make bench` spends no time on them. Every certificate is distinct (own subject, serial).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from '../harness/tools.ts';

const run = promisify(execFile);
const CORPUS_DIR = join(cacheRoot(), 'bench-corpus-v1');
const CORPUS_FILE = join(CORPUS_DIR, 'cas.pem');
const BATCH = 200;
const KEYS = [
  { file: 'p256-a.pem', args: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
  { file: 'p256-b.pem', args: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
  { file: 'p384.pem', args: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'] },
  { file: 'ed25519.pem', args: ['-algorithm', 'ED25519'] },
];

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----(\r?\n)?/g;

export function pemBlocks(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/** The base64 body of one PEM certificate, without line breaks: what to look for in a target. */
export function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** True when `text` (PEM) contains the certificate whose body is `body`. */
export function containsCertificate(text: string, body: string): boolean {
  return text.replace(/\s+/g, '').includes(body);
}

async function ensureKeys(): Promise<void> {
  mkdirSync(CORPUS_DIR, { recursive: true, mode: 0o700 });
  for (const k of KEYS) {
    const file = join(CORPUS_DIR, k.file);
    if (!existsSync(file)) await run('openssl', ['genpkey', ...k.args, '-out', file]);
  }
}

/** `count` certificates numbered from `first`, made by one shell loop (one openssl per certificate). */
async function generateBatch(first: number, count: number): Promise<string> {
  const script = `
    for i in $(seq ${first} ${first + count - 1}); do
      case $((i % 4)) in 0) k=p256-a.pem; d=-sha256;; 1) k=p256-b.pem; d=-sha256;; 2) k=p384.pem; d=-sha384;; 3) k=ed25519.pem; d=;; esac
      openssl req -x509 -new -key "$k" $d -days 3650 -set_serial $((100000 + i)) \\
        -subj "/C=BR/O=Bench Bank $((i / 10))/CN=Bench Root CA $i" \\
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign || exit 1
    done`;
  const { stdout } = await run('bash', ['-c', script], { cwd: CORPUS_DIR, maxBuffer: 64 * 1024 * 1024 });
  const certs = pemBlocks(stdout);
  if (certs.length !== count) throw new Error(`openssl made ${certs.length} of ${count} certificates`);
  return certs.join('');
}

let loaded: string[] | undefined;

/** At least `count` distinct CA certificates (PEM), generating the missing ones. */
export async function corpus(count: number): Promise<string[]> {
  if (!loaded) loaded = existsSync(CORPUS_FILE) ? pemBlocks(readFileSync(CORPUS_FILE, 'utf8')) : [];
  if (loaded.length >= count) return loaded;
  await ensureKeys();
  const missing = count - loaded.length;
  console.log(`bench: generating ${missing} CA certificates with openssl (cached in ${CORPUS_DIR})`);
  const t0 = Date.now();
  const batches: number[] = [];
  for (let i = loaded.length; i < count; i += BATCH) batches.push(i);
  const out: string[] = new Array(batches.length);
  let nextBatch = 0;
  const worker = async (): Promise<void> => {
    while (nextBatch < batches.length) {
      const b = nextBatch++;
      const first = batches[b]!;
      out[b] = await generateBatch(first, Math.min(BATCH, count - first));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  const text = (loaded.length ? readFileSync(CORPUS_FILE, 'utf8') : '') + out.join('');
  writeFileSync(`${CORPUS_FILE}.tmp`, text);
  renameSync(`${CORPUS_FILE}.tmp`, CORPUS_FILE);
  loaded = pemBlocks(text);
  console.log(`bench: ${missing} certificates made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return loaded;
}
