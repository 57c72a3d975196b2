// Where the API server is and how to authenticate, without loading @kubernetes/client-node: that
// package pulls in every generated API model and costs the process ~60 MB of RSS for what, in a
// pod, is two files. In-cluster service-account credentials and kubeconfig files with a token,
// token file, client certificate or basic auth are read here; a user with an exec plugin or an
// auth provider (cloud logins on developer machines) and merged multi-file KUBECONFIGs are handed
// to client-node, loaded only then.
import type { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';

/** The part of client-node's KubeConfig the REST client uses; either implementation will do. */
export interface ConnectionConfig {
  getCurrentCluster(): { server: string } | null;
  /** Sets headers (Authorization), auth, and TLS options (ca, cert, key, rejectUnauthorized, servername). */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
  };
}

interface NamedUser {
  name: string;
  user?: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    username?: string;
    password?: string;
    exec?: unknown;
    'auth-provider'?: unknown;
  };
}

interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  'current-context'?: string;
}

/** Static credentials: everything is read from files or the kubeconfig, files again on every call. */
class StaticConfig implements ConnectionConfig {
  private readonly server: string;
  private readonly apply: (opts: https.RequestOptions) => void;

  constructor(server: string, apply: (opts: https.RequestOptions) => void) {
    this.server = server;
    this.apply = apply;
  }

  getCurrentCluster(): { server: string } {
    return { server: this.server };
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    this.apply(opts);
  }
}

/** client-node's KubeConfig, loaded only for the cases handled there (require of its ESM build). */
function clientNodeConfig(load: (kc: KubeConfig) => void): ConnectionConfig {
  const { KubeConfig: Config } = createRequire(import.meta.url)('@kubernetes/client-node') as {
    KubeConfig: new () => KubeConfig;
  };
  const kc = new Config();
  load(kc);
  return kc;
}

function setHeader(opts: https.RequestOptions, name: string, value: string): void {
  opts.headers = { ...(opts.headers as Record<string, string> | undefined), [name]: value };
}

export function inClusterConfig(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): ConnectionConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set');
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new StaticConfig(server, (opts) => {
    // Re-read on every call: the kubelet rotates the projected token.
    opts.ca = readFileSync(join(dir, 'ca.crt'));
    setHeader(opts, 'Authorization', `Bearer ${readFileSync(join(dir, 'token'), 'utf8').trim()}`);
  });
}

/** One kubeconfig file, its current context. */
export function kubeconfigFileConfig(path: string): ConnectionConfig {
  const doc = (yaml.load(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`${path}: no current context${contextName ? ` named "${contextName}"` : ''}`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${path}: context "${contextName}" names no cluster with a server`);
  const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec || user['auth-provider']) return clientNodeConfig((kc) => kc.loadFromFile(path));

  const file = (p: string): Buffer => readFileSync(isAbsolute(p) ? p : join(dirname(path), p));
  const fromData = (data: string): Buffer => Buffer.from(data, 'base64');
  return new StaticConfig(cluster.server, (opts) => {
    if (cluster['certificate-authority-data']) opts.ca = fromData(cluster['certificate-authority-data']);
    else if (cluster['certificate-authority']) opts.ca = file(cluster['certificate-authority']);
    if (cluster['insecure-skip-tls-verify']) opts.rejectUnauthorized = false;
    if (cluster['tls-server-name']) opts.servername = cluster['tls-server-name'];
    if (user['client-certificate-data']) opts.cert = fromData(user['client-certificate-data']);
    else if (user['client-certificate']) opts.cert = file(user['client-certificate']);
    if (user['client-key-data']) opts.key = fromData(user['client-key-data']);
    else if (user['client-key']) opts.key = file(user['client-key']);
    const token = user.token ?? (user.tokenFile ? file(user.tokenFile).toString('utf8').trim() : undefined);
    if (token) setHeader(opts, 'Authorization', `Bearer ${token}`);
    if (user.username) opts.auth = `${user.username}:${user.password ?? ''}`;
  });
}

/**
 * The same search as client-node's `loadFromDefault`: KUBECONFIG, then ~/.kube/config, then the
 * in-cluster service account.
 */
export function defaultConnectionConfig(env: NodeJS.ProcessEnv = process.env): ConnectionConfig {
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.length > 0);
  if (paths.length > 1) {
    // Several files are merged by rules of their own: leave that to client-node.
    return clientNodeConfig((kc) => kc.loadFromDefault());
  }
  if (paths.length === 1) return kubeconfigFileConfig(paths[0]!);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigFileConfig(home);
  return inClusterConfig(env);
}
