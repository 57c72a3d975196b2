// A real nginx (Debian's package) on loopback, configured for client-certificate authentication
// the way ingress-nginx configures an Ingress with `auth-tls-secret`: `ssl_verify_client on`, the
// CA file from the Secret's `ca.crt`, `ssl_crl` when the Secret also has a `ca.crl`,
// `ssl_verify_depth 1` (ingress-nginx's default), nginx's own
// 400 for a missing or unverifiable certificate, and the verified certificate passed upstream in
// the headers ingress-nginx uses (`ssl-client-cert` …). The upstream is a second server in the same
// nginx that echoes those headers back, so a client sees what the backend would have seen.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../harness/wait.ts';

const run = promisify(execFile);

export const NGINX_BIN = process.env.NGINX ?? '/usr/sbin/nginx';
/** Where the upstream answers with the generation of the configuration in force. */
export const CONFIG_PATH = '/.trustbundle/config-generation';

export interface NginxOptions {
  /** The prefix directory (config, logs, TLS material); a new temporary one when omitted. */
  dir?: string;
  /** `ssl_verify_depth`; ingress-nginx's `auth-tls-verify-depth` defaults to 1. */
  verifyDepth?: number;
  /** Called with each line nginx writes to its error log while it runs (for progress output). */
  log?: (line: string) => void;
}

/** A free TCP port on 127.0.0.1 (the kernel's choice; nginx binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Pids of the processes whose parent is `ppid` (nginx's workers are the master's children). */
export function childPids(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command: state, ppid, …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function writeAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/**
 * A test CA (`server-ca.crt`) and a server certificate for localhost and 127.0.0.1 (`server.crt`,
 * `server.key`) in `tls`, unless already there: what the ingresses under test serve.
 */
export async function makeServerCertificate(tls: string): Promise<void> {
  if (existsSync(join(tls, 'server.crt')) && existsSync(join(tls, 'server-ca.crt'))) return;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const openssl = (args: string[]) => run('openssl', args, { cwd: tls });
  await openssl([
    'req', '-x509', ...ec, '-keyout', 'server-ca.key', '-out', 'server-ca.crt', '-days', '30',
    '-subj', '/O=trustbundle e2e/CN=ingress test server CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  await openssl([
    'req',
    '-new',
    ...ec,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    join(tls, 'server.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
      'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  await openssl([
    'x509', '-req', '-in', 'server.csr', '-CA', 'server-ca.crt', '-CAkey', 'server-ca.key',
    '-CAcreateserial', '-days', '30', '-sha256', '-extfile', 'server.ext', '-out', 'server.crt',
  ]); // prettier-ignore
}

export class Nginx {
  readonly dir: string;
  readonly httpsPort: number;
  readonly upstreamPort: number;
  readonly verifyDepth: number;
  /** The CA that signed nginx's server certificate (for `curl --cacert`). */
  readonly serverCaFile: string;
  /** The file `ssl_client_certificate` names: what the sync step writes the Secret's `ca.crt` to. */
  readonly clientCaFile: string;
  /** The file `ssl_crl` names, present only while CRLs are in force (the Secret's `ca.crl`). */
  readonly clientCrlFile: string;
  private readonly confFile: string;
  private readonly errorLog: string;
  private readonly log: ((line: string) => void) | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private generation = '';

  private constructor(dir: string, httpsPort: number, upstreamPort: number, options: NginxOptions) {
    this.dir = dir;
    this.httpsPort = httpsPort;
    this.upstreamPort = upstreamPort;
    this.verifyDepth = options.verifyDepth ?? 1;
    this.log = options.log;
    this.serverCaFile = join(dir, 'tls', 'server-ca.crt');
    this.clientCaFile = join(dir, 'client-ca', 'ca.crt');
    this.clientCrlFile = join(dir, 'client-ca', 'ca.crl');
    this.confFile = join(dir, 'nginx.conf');
    this.errorLog = join(dir, 'logs', 'error.log');
  }

  /** Prepares the prefix directory, a server certificate for localhost and two free ports; starts nothing. */
  static async create(options: NginxOptions = {}): Promise<Nginx> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tb-nginx-'));
    for (const sub of ['tls', 'client-ca', 'logs', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    const nginx = new Nginx(dir, await freePort(), await freePort(), options);
    await makeServerCertificate(join(dir, 'tls'));
    return nginx;
  }

  get url(): string {
    return `https://localhost:${this.httpsPort}/`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** The generation of the configuration nginx was last confirmed to run. */
  get generationInForce(): string {
    return this.generation;
  }

  /**
   * Puts `caPem` in force as the trusted client CAs, and `crlPem` (when given) as their revocation
   * lists: writes the CA file, the CRL file and the configuration (tagged with `generation`),
   * checks it with `nginx -t`, then starts nginx or reloads it with `nginx -s reload`, and resolves
   * once every worker runs the new configuration. A configuration nginx refuses leaves the previous
   * one in force (and on disk) and rejects with nginx's message.
   */
  async apply(caPem: string, generation: string, crlPem?: string): Promise<void> {
    if (!/^[\w:.+ -]+$/.test(generation))
      throw new Error(`unusable configuration generation "${generation}"`);
    const files = [this.clientCaFile, this.clientCrlFile, this.confFile];
    const previous = files.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined));
    writeAtomic(this.clientCaFile, caPem);
    if (crlPem !== undefined) writeAtomic(this.clientCrlFile, crlPem);
    else rmSync(this.clientCrlFile, { force: true });
    writeAtomic(this.confFile, this.config(generation, crlPem !== undefined));
    try {
      await this.nginx(['-t', '-q']);
    } catch (err) {
      files.forEach((f, i) => {
        const text = previous[i];
        if (text !== undefined) writeAtomic(f, text);
        else rmSync(f, { force: true });
      });
      throw new Error(`nginx refused the configuration for ${generation}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (this.running) await this.reload(generation);
    else await this.launch(generation);
    this.generation = generation;
  }

  /** Stops nginx (SIGQUIT: graceful, then SIGKILL after 5 s); idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGQUIT');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** nginx's verdicts on client certificates ($ssl_client_verify), one per request to the mTLS server, in order. */
  clientVerdicts(): string[] {
    const accessLog = join(this.dir, 'logs', 'access.log');
    if (!existsSync(accessLog)) return [];
    return readFileSync(accessLog, 'utf8')
      .split('\n')
      .map((line) => / verify=(.*?) subject="/.exec(line)?.[1])
      .filter((v): v is string => v !== undefined && v !== '-'); // the plain-HTTP upstream logs "-"
  }

  errorLogTail(lines = 20): string {
    if (!existsSync(this.errorLog)) return '(no error log)';
    return readFileSync(this.errorLog, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  private async launch(generation: string): Promise<void> {
    const child = spawn(NGINX_BIN, this.baseArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) this.log?.(line);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await waitFor(
      `nginx to serve configuration ${generation} on 127.0.0.1:${this.upstreamPort}`,
      async () => {
        if (!this.running) throw new Error(`nginx exited: ${output.trim() || this.errorLogTail()}`);
        return (await this.servedGeneration()) === generation;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    ).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
  }

  /**
   * `nginx -s reload` makes the master start new workers with the new configuration and ask the
   * old ones to finish; the new configuration is in force once a new worker answers with the new
   * generation and every old worker has exited.
   */
  private async reload(generation: string): Promise<void> {
    const master = this.child!.pid!;
    const oldWorkers = childPids(master);
    await this.nginx(['-s', 'reload']);
    await waitFor(
      `nginx to put configuration ${generation} in force`,
      async (seen) => {
        if (!this.running) throw new Error(`nginx exited during the reload: ${this.errorLogTail()}`);
        const served = await this.servedGeneration();
        const lingering = oldWorkers.filter((pid) => childPids(master).includes(pid));
        seen({ served, lingeringOldWorkers: lingering });
        return served === generation && lingering.length === 0;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nnginx error log:\n${this.errorLogTail()}`);
    });
  }

  private async servedGeneration(): Promise<string | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.upstreamPort}${CONFIG_PATH}`);
      return (await res.text()).trim();
    } catch {
      return undefined;
    }
  }

  private baseArgs(): string[] {
    return ['-p', `${this.dir}/`, '-c', this.confFile, '-e', this.errorLog];
  }

  private async nginx(args: string[]): Promise<void> {
    try {
      await run(NGINX_BIN, [...this.baseArgs(), ...args], { timeout: 15_000 });
    } catch (err) {
      const { stderr, message } = err as { stderr?: string; message: string };
      throw new Error((stderr?.trim() || message).replace(/\n+/g, ' | '), { cause: err });
    }
  }

  /** The configuration: one mTLS server (the ingress) and its echoing upstream. */
  config(generation: string, withCrl = false): string {
    const d = this.dir;
    return `# Written by e2e/support/nginx.ts; generation ${generation}
daemon off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${this.errorLog} notice;
events { worker_connections 256; }
http {
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  log_format mtls '$remote_addr "$request" $status verify=$ssl_client_verify subject="$ssl_client_s_dn"';
  access_log ${d}/logs/access.log mtls;

  # The ingress: what ingress-nginx renders for auth-tls-secret + auth-tls-verify-client "on".
  server {
    listen 127.0.0.1:${this.httpsPort} ssl;
    server_name localhost;
    ssl_certificate ${d}/tls/server.crt;
    ssl_certificate_key ${d}/tls/server.key;
    ssl_client_certificate ${this.clientCaFile};${withCrl ? `\n    ssl_crl ${this.clientCrlFile};` : ''}
    ssl_verify_client on;
    ssl_verify_depth ${this.verifyDepth};
    location / {
      proxy_set_header ssl-client-verify $ssl_client_verify;
      proxy_set_header ssl-client-subject-dn $ssl_client_s_dn;
      proxy_set_header ssl-client-issuer-dn $ssl_client_i_dn;
      proxy_set_header ssl-client-cert $ssl_client_escaped_cert;
      proxy_pass http://127.0.0.1:${this.upstreamPort};
    }
  }

  # The backend: echoes what the ingress passed on.
  server {
    listen 127.0.0.1:${this.upstreamPort};
    default_type text/plain;
    location = ${CONFIG_PATH} { return 200 "${generation}\\n"; }
    location / {
      return 200 "ssl-client-verify: $http_ssl_client_verify\\nssl-client-subject-dn: $http_ssl_client_subject_dn\\nssl-client-issuer-dn: $http_ssl_client_issuer_dn\\nssl-client-cert: $http_ssl_client_cert\\n";
    }
  }
}
`;
  }
}
