// Enforcement as the ingress controller does it, and the clients that test it.
//
// IngressSync plays the kubelet and the ingress controller: it watches the ingress Deployment, and
// when the operator rolls it (the pod template's bundle-hash annotation changes) it reads the
// target Secret's `ca.crt` and `ca.crl`, as a restarted Pod would mount them, writes them to nginx's
// `ssl_client_certificate` and `ssl_crl` files (no `ssl_crl` when the Secret has no `ca.crl`, as
// ingress-nginx renders it) and reloads nginx, then waits until the new configuration is in force. The clients are the real curl and `openssl s_client`.
import { makeInformer, type Informer, type V1Deployment } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { writeFileSync, renameSync } from 'node:fs';
import { BUNDLE_HASH_ANNOTATION, CRL_KEY, DEFAULT_KEY } from '../../operator/src/api/v1alpha1.ts';
import { clients, kubeConfig } from '../harness/kube.ts';
import { waitFor, type WaitOptions } from '../harness/wait.ts';
import type { Nginx } from './nginx.ts';
import { crlsOf, readSecret, subjectsOf, type CrlSummary } from './trustbundles.ts';

export interface ObjectRef {
  namespace: string;
  name: string;
}

/** One sync of nginx to the bundle a rollout asked for. */
export interface SyncRecord {
  /** The pod template's bundle-hash annotation that triggered it. */
  templateHash: string;
  /** The bundle-hash annotation of the Secret that was read (what nginx now trusts). */
  secretHash?: string;
  /** Subjects of the CAs written to nginx's file. */
  subjects: string[];
  /** The CRLs written to nginx's `ssl_crl` file (none: no `ssl_crl`). */
  crls: CrlSummary[];
  /** The nginx configuration generation (`<n> <hash>`). */
  generation: string;
  /** When it was in force, and how long reading + writing + reloading took. */
  at: string;
  ms: number;
  error?: string;
}

export interface IngressSyncOptions {
  nginx: Nginx;
  deployment: ObjectRef;
  /** The Secret and its keys: `key` (default ca.crt) for the CAs, `crlKey` (default ca.crl) for the CRLs. */
  secret: ObjectRef & { key?: string; crlKey?: string };
  /** Written (atomically) after every sync, for a process that cannot see this one's memory. */
  stateFile?: string;
  log?: (message: string) => void;
}

/** What another process needs to reach the ingress and see what it enforces. */
export interface IngressState {
  url: string;
  host: string;
  port: number;
  serverCaFile: string;
  enforced?: SyncRecord;
  lastError?: SyncRecord;
}

const RETRY_MS = 1_000;

export class IngressSync {
  readonly history: SyncRecord[] = [];
  private readonly o: IngressSyncOptions;
  private informer: Informer<V1Deployment> | undefined;
  private desired: string | undefined;
  private busy = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private count = 0;

  private constructor(options: IngressSyncOptions) {
    this.o = options;
  }

  /** Starts watching; the first sync happens as soon as the Deployment carries a bundle hash. */
  static async start(options: IngressSyncOptions): Promise<IngressSync> {
    const sync = new IngressSync(options);
    await sync.watch();
    sync.writeState();
    return sync;
  }

  /** The last sync that put a bundle in force. */
  get enforced(): SyncRecord | undefined {
    return this.history.findLast((r) => !r.error);
  }

  /** Resolves with the sync that put the bundle with `hash` in force. */
  waitForEnforced(hash: string, options: WaitOptions = { timeoutMs: 60_000 }): Promise<SyncRecord> {
    return waitFor(
      `the ingress to enforce bundle ${hash}`,
      (seen) => {
        seen({ desired: this.desired, last: this.history.at(-1) });
        const r = this.enforced;
        return r?.templateHash === hash && r;
      },
      options,
    );
  }

  state(): IngressState {
    const { nginx } = this.o;
    const last = this.history.at(-1);
    return {
      url: nginx.url,
      host: '127.0.0.1',
      port: nginx.httpsPort,
      serverCaFile: nginx.serverCaFile,
      ...(this.enforced ? { enforced: this.enforced } : {}),
      ...(last?.error ? { lastError: last } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.informer?.stop();
  }

  private async watch(): Promise<void> {
    const { namespace, name } = this.o.deployment;
    const { apps } = clients();
    const informer = makeInformer<V1Deployment>(
      kubeConfig(),
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      () => apps.listNamespacedDeployment({ namespace }),
    );
    const seen = (d: V1Deployment): void => {
      if (d.metadata?.name !== name) return;
      const hash = d.spec?.template?.metadata?.annotations?.[BUNDLE_HASH_ANNOTATION];
      if (!hash || hash === this.desired) return;
      this.o.log?.(`ingress: Deployment ${namespace}/${name} rolled for ${hash}`);
      this.desired = hash;
      void this.drain();
    };
    informer.on('add', seen);
    informer.on('update', seen);
    // The informer stops on a watch error; start it again, as a kubelet would keep watching.
    informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.o.log?.(`ingress: watch of ${namespace}/deployments failed (${String(err)}); restarting`);
      setTimeout(() => void (this.stopped ? undefined : informer.start()), RETRY_MS).unref();
    });
    this.informer = informer;
    await informer.start();
  }

  /** Syncs until nginx enforces the latest hash asked for; one sync at a time. */
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.stopped && this.desired && this.desired !== this.enforced?.templateHash) {
        const hash = this.desired;
        const record = await this.sync(hash);
        this.history.push(record);
        this.writeState();
        if (record.error) {
          this.o.log?.(`ingress: sync for ${hash} failed: ${record.error}`);
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => void this.drain(), RETRY_MS);
          this.retryTimer.unref();
          return;
        }
        const crls = record.crls.length > 0 ? ` and ${record.crls.length} CRLs` : '';
        this.o.log?.(
          `ingress: nginx enforces ${hash} (${record.subjects.length} CAs${crls}, ${record.ms} ms)`,
        );
      }
    } finally {
      this.busy = false;
    }
  }

  private async sync(templateHash: string): Promise<SyncRecord> {
    const started = performance.now();
    const { namespace, name, key = DEFAULT_KEY, crlKey = CRL_KEY } = this.o.secret;
    const generation = `${++this.count} ${templateHash}`;
    const record = (fields: Partial<SyncRecord>): SyncRecord => ({
      templateHash,
      subjects: [],
      crls: [],
      generation,
      at: new Date().toISOString(),
      ms: Math.round(performance.now() - started),
      ...fields,
    });
    try {
      const secret = await readSecret(namespace, name);
      const pem = secret?.data[key];
      if (!pem) return record({ error: `Secret ${namespace}/${name} has no key ${key}` });
      const crl = secret.data[crlKey];
      await this.o.nginx.apply(pem, generation, crl);
      const secretHash = secret.annotations[BUNDLE_HASH_ANNOTATION];
      return record({ subjects: subjectsOf(pem), crls: crlsOf(crl), ...(secretHash ? { secretHash } : {}) });
    } catch (err) {
      return record({ error: (err as Error).message });
    }
  }

  private writeState(): void {
    if (!this.o.stateFile) return;
    const tmp = `${this.o.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state(), null, 2) + '\n');
    renameSync(tmp, this.o.stateFile);
  }
}

// ---- clients ----

/** A TLS client identity: a certificate and its key, or none at all. */
export interface ClientIdentity {
  name: string;
  certFile?: string;
  keyFile?: string;
}

export type ClientTool = 'curl' | 'openssl';

/** An HTTP answer as a client saw it; status 0 when there was none. */
export interface HttpAnswer {
  tool: ClientTool;
  status: number;
  /** For nginx's own error pages, the <title> (e.g. "400 No required SSL certificate was sent"). */
  reason?: string;
  /** The headers the ingress passed upstream, as the echoing backend returned them. */
  upstream?: {
    /** Traefik passes only a certificate it verified (RequireAndVerifyClientCert) and no verdict. */
    forwardedBy?: 'traefik';
    verify?: string;
    subjectDN?: string;
    issuerDN?: string;
    /** `ssl-client-cert`, URL-decoded: the client certificate PEM. */
    certPem?: string;
  };
  /** Why there was no answer (connection or TLS failure), from the tool's stderr. */
  error?: string;
}

export interface IngressEndpoint {
  host: string;
  port: number;
  serverCaFile: string;
}

/** Parses a raw HTTP/1.1 response (what `curl -i` and `openssl s_client` print). */
export function parseHttpResponse(tool: ClientTool, raw: string): HttpAnswer {
  const status = /^HTTP\/[\d.]+ (\d{3})/m.exec(raw);
  if (!status) return { tool, status: 0, error: 'no HTTP response' };
  const answer: HttpAnswer = { tool, status: Number(status[1]) };
  const title = /<title>([^<]*)<\/title>/.exec(raw);
  if (title) answer.reason = title[1]!;
  const header = (name: string): string | undefined =>
    new RegExp(`^${name}: (.*)$`, 'm').exec(raw)?.[1]?.trim() || undefined;
  const forwarded = header('x-forwarded-tls-client-cert');
  if (forwarded !== undefined)
    answer.upstream = { forwardedBy: 'traefik', certPem: traefikCertPem(forwarded) };
  const verify = header('ssl-client-verify');
  if (verify !== undefined) {
    const cert = header('ssl-client-cert');
    answer.upstream = {
      verify,
      subjectDN: header('ssl-client-subject-dn'),
      issuerDN: header('ssl-client-issuer-dn'),
      ...(cert ? { certPem: decodeURIComponent(cert) } : {}),
    };
  }
  return answer;
}

/** Traefik's X-Forwarded-Tls-Client-Cert (PEM bodies without armour, URL-escaped, comma-separated): the first, as PEM. */
export function traefikCertPem(header: string): string {
  const body = decodeURIComponent(header.split(',')[0]!).replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function execText(
  file: string,
  args: string[],
  input?: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 20_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
    // A client that exits before reading its input (curl after a refused handshake) closes the
    // pipe: that is its answer, not an error of the test.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

/** `curl --cert/--key` (or without a certificate): the status nginx answered. */
export async function curlRequest(endpoint: IngressEndpoint, id: ClientIdentity): Promise<HttpAnswer> {
  const args = [
    '--silent', '--show-error', '--include', '--http1.1', '--max-time', '15',
    '--cacert', endpoint.serverCaFile,
    '--resolve', `localhost:${endpoint.port}:${endpoint.host}`,
    ...(id.certFile ? ['--cert', id.certFile] : []),
    ...(id.keyFile ? ['--key', id.keyFile] : []),
    `https://localhost:${endpoint.port}/`,
  ]; // prettier-ignore
  const { stdout, stderr } = await execText('curl', args);
  const answer = parseHttpResponse('curl', stdout);
  if (answer.status === 0) answer.error = lastLine(stderr) || answer.error;
  return answer;
}

/** `openssl s_client -cert/-key` sending one GET: the status nginx answered. */
export async function opensslRequest(endpoint: IngressEndpoint, id: ClientIdentity): Promise<HttpAnswer> {
  const args = [
    's_client', '-connect', `${endpoint.host}:${endpoint.port}`, '-servername', 'localhost',
    '-CAfile', endpoint.serverCaFile, '-verify_return_error', '-verify_hostname', 'localhost',
    '-quiet', '-ign_eof',
    ...(id.certFile ? ['-cert', id.certFile] : []),
    ...(id.keyFile ? ['-key', id.keyFile] : []),
  ]; // prettier-ignore
  const request = 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
  const { stdout, stderr } = await execText('openssl', args, request);
  const answer = parseHttpResponse('openssl', stdout);
  if (answer.status === 0) answer.error = lastLine(stderr) || answer.error;
  return answer;
}

/** The same request with both tools. */
export function requestWithBoth(endpoint: IngressEndpoint, id: ClientIdentity): Promise<HttpAnswer[]> {
  return Promise.all([curlRequest(endpoint, id), opensslRequest(endpoint, id)]);
}
