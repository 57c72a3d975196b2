// The consumers' own verdicts on a set of trust anchors and a TPP client certificate issued under
// one of them: OpenSSL as nginx configures it (`openssl verify -purpose sslclient`, no partial
// chain), a real nginx handshake, Go's crypto/x509 (./anchorcheck, built from the Go module proxy
// by hack/build-tools.sh) and Java's PKIX CertPathValidator over a PKCS#12 truststore
// (./AnchorCheck.java). Each answers ok, or the consumer's own error text.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildBundle } from '../../src/bundle/build.ts';
import { toPkcs12 } from '../../src/bundle/formats.ts';
import { curlRequest } from '../../../e2e/support/enforcement.ts';
import { Nginx } from '../../../e2e/support/nginx.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const JAVA_SOURCE = fileURLToPath(new URL('./AnchorCheck.java', import.meta.url));

export interface ConsumerCase {
  /** The trust anchors, concatenated PEM (what ca.crt / root_cas / the truststore hold). */
  roots: string;
  /** The TPP client certificate, PEM. */
  leaf: string;
}

export interface Verdict {
  ok: boolean;
  error?: string;
}

export class Consumers {
  readonly dir = mkdtempSync(join(tmpdir(), 'tb-consumers-'));
  private n = 0;
  private goBinary: string | undefined;
  private javaClasses: Promise<string> | undefined;

  private file(name: string, content: string | Buffer): string {
    const path = join(this.dir, `${++this.n}-${name}`);
    writeFileSync(path, content);
    return path;
  }

  /** `openssl verify -purpose sslclient -CAfile roots leaf`: the check nginx's `ssl_verify_client on` makes. */
  async openssl(c: ConsumerCase): Promise<Verdict> {
    const roots = this.file('roots.pem', c.roots);
    const leaf = this.file('leaf.pem', c.leaf);
    try {
      await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', roots, leaf]);
      return { ok: true };
    } catch (err) {
      const { stdout, stderr } = err as { stdout?: string; stderr?: string };
      const text = `${stdout ?? ''}${stderr ?? ''}`;
      const reason = /error \d+ at \d+ depth lookup: .*/.exec(text)?.[0] ?? text.trim().split('\n')[0];
      return { ok: false, error: reason ?? 'refused' };
    }
  }

  /** Go's crypto/x509 Verify (ExtKeyUsageClientAuth, the roots as the pool), one process for all cases. */
  async go(cases: ConsumerCase[]): Promise<Verdict[]> {
    this.goBinary ??= execFileSync(join(REPO, 'hack/build-tools.sh'), ['anchorcheck'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .at(-1)!;
    const input = cases.map((c) => JSON.stringify(c)).join('\n') + '\n';
    const out = await pipe(this.goBinary, [], input);
    return out.map((line) => {
      const v = JSON.parse(line) as { ok: boolean; error?: string; skipped?: string[] };
      const skipped = v.skipped?.length ? ` (skipped: ${v.skipped.join('; ')})` : '';
      return v.ok ? { ok: true } : { ok: false, error: `${v.error ?? ''}${skipped}` };
    });
  }

  /**
   * Java: the anchors go into a PKCS#12 truststore, by `keytool -importcert` (one JVM per
   * certificate, so for a handful of cases) or by the operator's own writer (toPkcs12), and one
   * JVM validates every case with CertPathValidator "PKIX".
   */
  async java(cases: ConsumerCase[], store: 'keytool' | 'operator'): Promise<Verdict[]> {
    const classes = join(this.dir, 'classes');
    this.javaClasses ??= (async () => {
      mkdirSync(classes);
      await run('javac', ['-d', classes, JAVA_SOURCE], { timeout: 120_000 });
      return classes;
    })();
    await this.javaClasses;
    // keytool is a JVM per certificate: a few at a time, not one per case at once.
    const lines = await inBatches(cases, store === 'keytool' ? 3 : cases.length, async (c) => {
      const p12 = join(this.dir, `${++this.n}-truststore.p12`);
      const failure =
        store === 'keytool' ? await this.keytoolImport(c.roots, p12) : this.operatorStore(c, p12);
      return failure ?? `${p12}\tchangeit\t${this.file('leaf.pem', c.leaf)}`;
    });
    const toCheck = lines.filter((l) => !l.startsWith('!'));
    const out = toCheck.length
      ? await pipe('java', ['-cp', classes, 'AnchorCheck'], toCheck.join('\n') + '\n')
      : [];
    let i = 0;
    return lines.map((l) => {
      if (l.startsWith('!')) return { ok: false, error: l.slice(1) };
      const [verdict, why] = out[i++]!.split('\t');
      return verdict === 'ok' ? { ok: true } : { ok: false, error: why ?? 'refused' };
    });
  }

  /** keytool imports each certificate as a trusted entry; '!reason' when it refuses one. */
  private async keytoolImport(roots: string, p12: string): Promise<string | undefined> {
    const blocks = roots.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
    for (const [i, block] of blocks.entries()) {
      try {
        await run('keytool', [
          '-importcert', '-noprompt', '-storetype', 'PKCS12', '-keystore', p12, '-storepass', 'changeit',
          '-alias', `ca${i}`, '-file', this.file('ca.pem', block),
        ], { timeout: 60_000 }); // prettier-ignore
      } catch (err) {
        const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
        return `!keytool -importcert: ${text.trim().replace(/\s+/g, ' ')}`;
      }
    }
    return undefined;
  }

  /** The truststore the operator itself would write for these anchors (every one, as given). */
  private operatorStore(c: ConsumerCase, p12: string): string | undefined {
    const parsed = buildBundle([{ name: 'roots', content: c.roots }], {
      requireCA: false,
      unusable: 'Warn',
      anchors: 'AllowIntermediates',
    });
    if (parsed.certificates.length === 0) return '!no certificate to store';
    const bundle = { pem: c.roots, hash: '', crls: [], certificates: parsed.certificates };
    writeFileSync(p12, toPkcs12(bundle, 'changeit', { iterations: 1 }));
    return undefined;
  }

  /** A real nginx (ssl_verify_client on, ssl_verify_depth 1) and curl: one handshake per case. */
  async nginx(cases: ConsumerCase[], leafKeyPem: string): Promise<Verdict[]> {
    const nginx = await Nginx.create({ dir: join(this.dir, 'nginx') });
    const keyFile = this.file('leaf.key', leafKeyPem);
    const verdicts: Verdict[] = [];
    try {
      for (const [i, c] of cases.entries()) {
        try {
          await nginx.apply(c.roots, `case-${i}`);
        } catch (err) {
          verdicts.push({ ok: false, error: (err as Error).message });
          continue;
        }
        const answer = await curlRequest(
          { host: '127.0.0.1', port: nginx.httpsPort, serverCaFile: nginx.serverCaFile },
          { name: 'tpp', certFile: this.file('leaf.pem', c.leaf), keyFile },
        );
        const verify = nginx.clientVerdicts().at(-1);
        verdicts.push(
          answer.status === 200
            ? { ok: true }
            : {
                ok: false,
                error: `${answer.status} ${answer.reason ?? answer.error ?? ''} (${verify ?? ''})`,
              },
        );
      }
    } finally {
      await nginx.stop();
    }
    return verdicts;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `work` over `items`, `size` at a time, results in order. */
async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

/** Runs a line-oriented checker: input lines in, one output line per input line. */
function pipe(command: string, args: string[], input: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`${command} exited ${code}: ${stderr.trim()}`));
      else resolve(stdout.trimEnd().split('\n'));
    });
    child.stdin.end(input);
  });
}
