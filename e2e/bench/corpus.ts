// The engine benchmark's input: COUNT distinct CA certificates (RSA-2048 and EC P-256, a few
// reused keys) made by the real openssl CLI, written once to a PEM file and reused while it holds
// the expected number of certificates.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BATCH = 250;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----\r?\n?/g;

function countCertificates(text: string): number {
  return (text.match(PEM_BLOCK) ?? []).length;
}

/** Makes `path` hold `count` certificates unless it already does. */
export function loadCorpus(path: string, count: number, log: (line: string) => void): void {
  if (existsSync(path) && countCertificates(readFileSync(path, 'utf8')) === count) {
    log(`corpus: ${count} certificates in ${path}`);
    return;
  }
  log(`corpus: generating ${count} CA certificates with openssl into ${path}`);
  const dir = mkdtempSync(join(tmpdir(), 'tb-bench-corpus-'));
  try {
    execFileSync(
      'openssl',
      ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.pem'],
      {
        cwd: dir,
        stdio: 'ignore',
      },
    );
    execFileSync(
      'openssl',
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.pem'],
      {
        cwd: dir,
        stdio: 'ignore',
      },
    );
    const parts: string[] = [];
    for (let first = 0; first < count; first += BATCH) {
      const last = Math.min(count, first + BATCH) - 1;
      const script = `
        for i in $(seq ${first} ${last}); do
          if [ $((i % 2)) -eq 0 ]; then k=rsa.pem; else k=ec.pem; fi
          openssl req -x509 -new -key "$k" -sha256 -days 3650 -set_serial $((200000 + i)) \\
            -subj "/C=BR/O=Engine Bench/CN=Engine Bench CA $i" \\
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign || exit 1
        done`;
      parts.push(execFileSync('bash', ['-c', script], { cwd: dir, maxBuffer: 64 << 20 }).toString());
      log(`corpus: ${last + 1}/${count}`);
    }
    const text = parts.join('');
    if (countCertificates(text) !== count)
      throw new Error(`openssl made ${countCertificates(text)} of ${count}`);
    writeFileSync(path, text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PEM blocks of `text` dealt into `parts` sources of nearly equal size, in order. */
export function splitPem(text: string, parts: number): string[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  const size = Math.ceil(blocks.length / parts);
  const out: string[] = [];
  for (let i = 0; i < parts; i++) out.push(blocks.slice(i * size, (i + 1) * size).join(''));
  return out;
}
