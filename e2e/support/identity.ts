// Acting as a ServiceAccount: a token from the TokenRequest API, a kubeconfig that carries it
// (for the operator process) and clients made from it (for the tests' own requests).
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clients, kubeConfig } from '../harness/kube.ts';

export interface ServiceAccountIdentity {
  /** `system:serviceaccount:<namespace>:<name>` */
  username: string;
  /** A kubeconfig file with the token and nothing of the admin's credentials. */
  kubeconfigPath: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  kc: KubeConfig;
  /** Removes the kubeconfig file. */
  cleanup(): void;
}

/** Requests a token for the ServiceAccount (it must exist) and builds clients that use only it. */
export async function actAs(
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<ServiceAccountIdentity> {
  const request = await clients().core.createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccount,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);

  const cluster = kubeConfig().getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
  const caData =
    cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const username = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'e2e',
        cluster: {
          server: cluster.server,
          ...(caData ? { 'certificate-authority-data': caData } : {}),
          ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'e2e', user: serviceAccount, namespace } }],
    'current-context': 'sa',
  };
  const dir = mkdtempSync(join(tmpdir(), 'tb-sa-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, yaml.dump(config), { mode: 0o600 });

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    username,
    kubeconfigPath,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
