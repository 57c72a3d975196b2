// The JDK's HTTPS server with needClientAuth (MtlsServer.java beside this file), compiled with
// javac into a temporary directory and run as a child process; and curl as its client.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL('./MtlsServer.java', import.meta.url));

/** `javac -d <dir> MtlsServer.java`; returns the class directory. */
export async function compileMtlsServer(dir: string): Promise<string> {
  await run('javac', ['-d', dir, SOURCE], { timeout: 120_000 });
  return dir;
}

/** A self-signed server certificate for localhost in a PKCS#12 keystore (openssl-made), and its PEM. */
export async function serverKeystore(
  dir: string,
  password: string,
): Promise<{ keystore: string; certFile: string }> {
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', 'server.key', '-out', 'server.crt', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'extendedKeyUsage=serverAuth',
  ]); // prettier-ignore
  writeFileSync(join(dir, 'keystore.pass'), password);
  await openssl([
    'pkcs12', '-export', '-inkey', 'server.key', '-in', 'server.crt', '-name', 'server',
    '-out', 'server.p12', '-passout', 'file:keystore.pass',
  ]); // prettier-ignore
  return { keystore: join(dir, 'server.p12'), certFile: join(dir, 'server.crt') };
}

export interface MtlsServerOptions {
  classes: string;
  keystore: string;
  keystorePassword: string;
  truststore: string;
  truststorePassword: string;
}

export class JavaMtlsServer {
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly output: { stderr: string };
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, port: number, output: { stderr: string }, exited: Promise<void>) {
    this.child = child;
    this.port = port;
    this.output = output;
    this.exited = exited;
  }

  static async start(o: MtlsServerOptions): Promise<JavaMtlsServer> {
    const child = spawn('java', ['-cp', o.classes, 'MtlsServer', o.keystore, o.truststore], {
      env: {
        ...process.env,
        KEYSTORE_PASSWORD: o.keystorePassword,
        TRUSTSTORE_PASSWORD: o.truststorePassword,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = { stderr: '' };
    child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the Java server did not start within 60 s: ${output.stderr}`));
      }, 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const m = /listening (\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the Java server exited: ${output.stderr}`));
      });
    });
    return new JavaMtlsServer(child, port, output, exited);
  }

  /** What the server wrote to stderr so far. */
  get log(): string {
    return this.output.stderr;
  }

  /** Closes the server's standard input, which stops it; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface CurlAnswer {
  /** 0 when there was no HTTP answer. */
  status: number;
  body: string;
  /** curl's exit code and its error line, when the request failed. */
  exitCode: number;
  error?: string;
}

/** One GET over mTLS with curl, trusting `serverCaFile` for the server. */
export async function curlGet(
  port: number,
  serverCaFile: string,
  client?: { certFile: string; keyFile: string },
): Promise<CurlAnswer> {
  const args = [
    '--silent', '--show-error', '--max-time', '15', '--cacert', serverCaFile,
    '--write-out', '\n%{http_code}',
    ...(client ? ['--cert', client.certFile, '--key', client.keyFile] : []),
    `https://localhost:${port}/`,
  ]; // prettier-ignore
  return new Promise((resolve) => {
    execFile('curl', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n');
      const status = Number(lines.pop()) || 0;
      const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      const error = stderr.trim().split('\n').at(-1);
      resolve({ status, body: lines.join('\n'), exitCode, ...(error ? { error } : {}) });
    });
  });
}
