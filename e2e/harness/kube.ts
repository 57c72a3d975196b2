// The e2e suites' view of the cluster: kubeconfig, typed clients, throwaway namespaces, and the
// wait/watch/kubectl helpers.
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type {
  KubernetesObject,
  V1Condition,
  V1CustomResourceDefinition,
  V1Node,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { ResourceWatch } from './watch.ts';
import type { WatchTarget } from './watch.ts';
import { waitFor } from './wait.ts';
import type { WaitOptions } from './wait.ts';

export { waitFor, WaitTimeoutError, describeState } from './wait.ts';
export type { Seen, WaitOptions } from './wait.ts';
export { ResourceWatch } from './watch.ts';
export type { WatchEvent, WatchEventType, WatchTarget } from './watch.ts';
export { kubectl, kubectlApply, KubectlError } from './kubectl.ts';

/** Label on every namespace the suites create (`kubectl delete ns -l` cleans up by hand). */
export const TEST_LABEL = 'e2e.trustbundle.dev/test';

let config: KubeConfig | undefined;

/** The kubeconfig of KUBECONFIG (set by the global setup when it starts the local plane). */
export function kubeConfig(): KubeConfig {
  if (!config) {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    if (!kc.getCurrentCluster()) throw new Error('no current cluster in the kubeconfig (is KUBECONFIG set?)');
    config = kc;
  }
  return config;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  apiext: ApiextensionsV1Api;
  custom: CustomObjectsApi;
  rbac: RbacAuthorizationV1Api;
  objects: KubernetesObjectApi;
}

let cachedClients: Clients | undefined;

export function clients(): Clients {
  if (!cachedClients) {
    const kc = kubeConfig();
    cachedClients = {
      kc,
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      apiext: kc.makeApiClient(ApiextensionsV1Api),
      custom: kc.makeApiClient(CustomObjectsApi),
      rbac: kc.makeApiClient(RbacAuthorizationV1Api),
      objects: KubernetesObjectApi.makeApiClient(kc),
    };
  }
  return cachedClients;
}

/** Options for a client-node patch call: a JSON merge patch (client-node sends a JSON patch by default). */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a client-node ApiException (or undefined). */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;

/** A lowercase random suffix: names that do not collide between runs against one cluster. */
export function uniqueSuffix(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

export interface TestNamespace {
  name: string;
  /** Deletes the namespace (does not wait for it to be gone); idempotent. */
  cleanup(): Promise<void>;
}

const openNamespaces = new Set<string>();

/** Creates `<prefix>-<random>`, labelled TEST_LABEL=<prefix> plus `labels`. */
export async function createTestNamespace(
  prefix: string,
  { labels = {} }: { labels?: Record<string, string> } = {},
): Promise<TestNamespace> {
  const base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 50)
    .replace(/-+$/, '');
  const name = `${base}-${uniqueSuffix()}`;
  await clients().core.createNamespace({
    body: { metadata: { name, labels: { [TEST_LABEL]: base, ...labels } } },
  });
  openNamespaces.add(name);
  return { name, cleanup: () => deleteNamespace(name) };
}

async function deleteNamespace(name: string): Promise<void> {
  openNamespaces.delete(name);
  try {
    await clients().core.deleteNamespace({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Deletes every namespace this module created and has not deleted yet (for afterAll). */
export async function cleanupTestNamespaces(): Promise<void> {
  if (process.env.E2E_KEEP_NAMESPACES === '1') return;
  await Promise.all([...openNamespaces].map(deleteNamespace));
}

/** Starts collecting watch events; see ResourceWatch. Stop it when done. */
export function watchResource<T extends KubernetesObject>(target: WatchTarget): Promise<ResourceWatch<T>> {
  return ResourceWatch.start<T>(kubeConfig(), target);
}

export function conditionStatus(
  conditions: readonly Pick<V1Condition, 'type' | 'status'>[] | undefined,
  type: string,
): string | undefined {
  return conditions?.find((c) => c.type === type)?.status;
}

/** Creates (or replaces) a CRD and waits until it is Established and served. */
export async function applyCrd(
  crd: V1CustomResourceDefinition,
  options: WaitOptions = {},
): Promise<V1CustomResourceDefinition> {
  const { apiext } = clients();
  const name = crd.metadata?.name;
  if (!name) throw new Error('CRD without metadata.name');
  try {
    await apiext.createCustomResourceDefinition({ body: crd });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    const current = await apiext.readCustomResourceDefinition({ name });
    await apiext.replaceCustomResourceDefinition({
      name,
      body: { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } },
    });
  }
  return waitFor(
    `CRD ${name} Established`,
    async (seen) => {
      const current = await apiext.readCustomResourceDefinition({ name });
      seen(current.status?.conditions);
      return conditionStatus(current.status?.conditions, 'Established') === 'True' && current;
    },
    options,
  );
}

export async function deleteCrd(name: string): Promise<void> {
  try {
    await clients().apiext.deleteCustomResourceDefinition({ name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Nodes whose Ready condition is True. */
export async function readyNodes(): Promise<V1Node[]> {
  const list = await clients().core.listNode();
  return list.items.filter((n) => conditionStatus(n.status?.conditions, 'Ready') === 'True');
}
