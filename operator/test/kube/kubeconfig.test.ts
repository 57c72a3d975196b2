import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { KubeClient } from '../../src/kube/client.ts';
import {
  defaultConnectionConfig,
  inClusterConfig,
  kubeconfigFileConfig,
  type ConnectionConfig,
} from '../../src/kube/kubeconfig.ts';

let dir: string;
let serverCert: Buffer;
let serverKey: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tb-kubeconfig-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat([
      '-subj',
      '/CN=kube-apiserver',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:kubernetes.test',
      '-keyout',
      'server.key',
      '-out',
      'server.crt',
    ]),
    { cwd: dir, stdio: 'ignore' },
  );
  serverCert = readFileSync(join(dir, 'server.crt'));
  serverKey = readFileSync(join(dir, 'server.key'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Applied {
  headers: Record<string, string>;
  auth?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

async function applied(config: ConnectionConfig): Promise<Applied> {
  const opts: https.RequestOptions = { headers: {} };
  await config.applyToHTTPSOptions(opts);
  return opts as unknown as Applied;
}

function writeKubeconfig(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return path;
}

describe('kubeconfig files without client-node', () => {
  it('reads the server, a bearer token and the CA data of the current context', async () => {
    const path = writeKubeconfig(
      'token.yaml',
      { token: 'abc123' },
      { 'certificate-authority-data': serverCert.toString('base64') },
    );
    const config = kubeconfigFileConfig(path);
    expect(config.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    const opts = await applied(config);
    expect(opts.headers.Authorization).toBe('Bearer abc123');
    expect(opts.ca?.equals(serverCert)).toBe(true);
    expect(opts.rejectUnauthorized).toBeUndefined();
  });

  it('reads files relative to the kubeconfig, and the TLS options of the cluster', async () => {
    mkdirSync(join(dir, 'certs'), { recursive: true });
    writeFileSync(join(dir, 'certs', 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'certs', 'client.key'), 'KEY');
    const path = writeKubeconfig(
      'files.yaml',
      { 'client-certificate': 'certs/client.crt', 'client-key': join(dir, 'certs', 'client.key') },
      {
        'certificate-authority': 'server.crt',
        'insecure-skip-tls-verify': true,
        'tls-server-name': 'kubernetes.test',
      },
    );
    const opts = await applied(kubeconfigFileConfig(path));
    expect(opts.cert?.toString()).toBe('CERT');
    expect(opts.key?.toString()).toBe('KEY');
    expect(opts.ca?.equals(serverCert)).toBe(true);
    expect(opts.rejectUnauthorized).toBe(false);
    expect(opts.servername).toBe('kubernetes.test');
    expect(opts.headers.Authorization).toBeUndefined();
  });

  it('re-reads a token file on every call, so a rotated token is used', async () => {
    writeFileSync(join(dir, 'token'), 'first\n');
    const config = kubeconfigFileConfig(writeKubeconfig('tokenfile.yaml', { tokenFile: 'token' }));
    expect((await applied(config)).headers.Authorization).toBe('Bearer first');
    writeFileSync(join(dir, 'token'), 'second\n');
    expect((await applied(config)).headers.Authorization).toBe('Bearer second');
  });

  it('passes basic auth as the request auth', async () => {
    const opts = await applied(
      kubeconfigFileConfig(writeKubeconfig('basic.yaml', { username: 'admin', password: 's3cret' })),
    );
    expect(opts.auth).toBe('admin:s3cret');
  });

  it('names what is missing when the current context does not exist', () => {
    const path = join(dir, 'nocontext.yaml');
    writeFileSync(path, yaml.dump({ clusters: [], users: [], contexts: [], 'current-context': 'gone' }));
    expect(() => kubeconfigFileConfig(path)).toThrow(/no current context named "gone"/);
  });

  it('hands an exec plugin to client-node, which runs it', async () => {
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(
      plugin,
      '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}\'\n',
    );
    chmodSync(plugin, 0o755);
    const path = writeKubeconfig('exec.yaml', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
    });
    const config = kubeconfigFileConfig(path);
    expect(config.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect((await applied(config)).headers.Authorization).toBe('Bearer from-exec');
  });
});

describe('in-cluster credentials', () => {
  it('use the service host and port, and re-read the projected token and CA', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'pod-token-1');
    writeFileSync(join(sa, 'ca.crt'), serverCert);
    const config = inClusterConfig(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      sa,
    );
    expect(config.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
    expect((await applied(config)).headers.Authorization).toBe('Bearer pod-token-1');
    writeFileSync(join(sa, 'token'), 'pod-token-2');
    const opts = await applied(config);
    expect(opts.headers.Authorization).toBe('Bearer pod-token-2');
    expect(opts.ca?.equals(serverCert)).toBe(true);
  });

  it('say so when the process is not in a cluster', () => {
    expect(() => defaultConnectionConfig({ HOME: join(dir, 'no-home') })).toThrow(/not in a cluster/);
  });
});

describe('the REST client with a kubeconfig read here', () => {
  it('authenticates to an HTTPS server it verifies with the kubeconfig CA', async () => {
    const seen: string[] = [];
    const server = https.createServer({ cert: serverCert, key: serverKey }, (req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const path = writeKubeconfig(
      'live.yaml',
      { token: 'live-token' },
      { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': serverCert.toString('base64') },
    );
    const client = new KubeClient(defaultConnectionConfig({ KUBECONFIG: path }));
    try {
      await expect(client.get('/api')).resolves.toEqual({ kind: 'APIVersions', versions: ['v1'] });
      expect(seen).toEqual(['Bearer live-token']);
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
