// The control plane the e2e suites run on is a real one: watches deliver, CRDs are served and
// validated, Deployments get Ready Pods and `kubectl rollout restart` rolls them.
import type {
  KubernetesObject,
  V1Deployment,
  V1Namespace,
  V1Pod,
  V1ReplicaSet,
  V1Secret,
} from '@kubernetes/client-node';
import {
  applyCrd,
  cleanupTestNamespaces,
  clients,
  conditionStatus,
  createTestNamespace,
  deleteCrd,
  kubectl,
  mergePatch,
  readyNodes,
  statusCode,
  uniqueSuffix,
  waitFor,
  watchResource,
} from './harness/kube.ts';

const TEST_TIMEOUT_MS = 120_000;

afterAll(cleanupTestNamespaces);

describe('local control plane', () => {
  it(
    'delivers a namespace and a Secret, its update and its deletion through a watch, in order',
    async () => {
      const { core } = clients();
      const run = uniqueSuffix();
      const nsWatch = await watchResource<V1Namespace>({
        apiVersion: 'v1',
        kind: 'Namespace',
        labelSelector: `e2e.trustbundle.dev/run=${run}`,
      });
      const ns = await createTestNamespace('plane-watch', { labels: { 'e2e.trustbundle.dev/run': run } });
      try {
        const added = await nsWatch.waitForEvent(`namespace ${ns.name} ADDED`, (e) => e.type === 'ADDED');
        expect(added.object.metadata?.name).toBe(ns.name);
      } finally {
        await nsWatch.stop();
      }

      const secrets = await watchResource<V1Secret>({ apiVersion: 'v1', kind: 'Secret', namespace: ns.name });
      try {
        await core.createNamespacedSecret({
          namespace: ns.name,
          body: { metadata: { name: 'roots' }, stringData: { 'ca.crt': 'first' } },
        });
        await core.patchNamespacedSecret(
          { namespace: ns.name, name: 'roots', body: { stringData: { 'ca.crt': 'second' } } },
          mergePatch(),
        );
        await core.deleteNamespacedSecret({ namespace: ns.name, name: 'roots' });

        await secrets.waitForEvent(
          'DELETED of Secret roots',
          (e) => e.type === 'DELETED' && isNamed(e.object, 'roots'),
        );
        const seen = secrets.eventsOf('roots');
        expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
        expect(seen.map((e) => decode(e.object, 'ca.crt'))).toEqual(['first', 'second', 'second']);
        const versions = seen.map((e) => BigInt(e.object.metadata?.resourceVersion ?? '0'));
        expect(versions[0]! > BigInt(secrets.startResourceVersion)).toBe(true);
        expect(versions[1]! > versions[0]!).toBe(true);
        expect(seen[1]!.at).toBeGreaterThanOrEqual(seen[0]!.at);
      } finally {
        await secrets.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  describe('a custom resource definition', () => {
    const group = `w${uniqueSuffix()}.e2e.trustbundle.dev`;
    const crdName = `widgets.${group}`;
    afterAll(() => deleteCrd(crdName));

    it(
      'is established, served to clients and kubectl, and validates instances against its schema',
      async () => {
        const { custom } = clients();
        const crd = await applyCrd({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: crdName },
          spec: {
            group,
            scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: {
                  openAPIV3Schema: {
                    type: 'object',
                    properties: {
                      spec: {
                        type: 'object',
                        required: ['size'],
                        properties: { size: { type: 'integer', minimum: 1 }, colour: { type: 'string' } },
                      },
                    },
                  },
                },
              },
            ],
          },
        });
        expect(conditionStatus(crd.status?.conditions, 'Established')).toBe('True');

        const ns = await createTestNamespace('plane-crd');
        const where = { group, version: 'v1', namespace: ns.name, plural: 'widgets' };
        await custom.createNamespacedCustomObject({
          ...where,
          body: {
            apiVersion: `${group}/v1`,
            kind: 'Widget',
            metadata: { name: 'w1' },
            spec: { size: 3, colour: 'teal' },
          },
        });
        const read = (await custom.getNamespacedCustomObject({ ...where, name: 'w1' })) as {
          spec?: { size?: number; colour?: string };
          metadata?: { uid?: string };
        };
        expect(read.spec).toEqual({ size: 3, colour: 'teal' });
        expect(read.metadata?.uid).toBeTruthy();

        const rejected = await custom
          .createNamespacedCustomObject({
            ...where,
            body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w2' }, spec: { size: 0 } },
          })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(statusCode(rejected)).toBe(422);
        expect(String((rejected as Error).message)).toContain('spec.size');

        const names = await kubectl(['get', `widgets.${group}`, '-n', ns.name, '-o', 'name']);
        expect(names.trim().split('\n')).toEqual([`widget.${group}/w1`]);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('workloads on the KWOK node', () => {
    let namespace = '';
    const labels = { app: 'web' };
    const selector = 'app=web';

    beforeAll(async () => {
      namespace = (await createTestNamespace('plane-workloads')).name;
    });

    it(
      'runs a 2-replica Deployment whose Pods become Ready on a fake node',
      async () => {
        const { apps, core } = clients();
        const nodes = (await readyNodes()).map((n) => n.metadata?.name);
        expect(nodes.length).toBeGreaterThan(0);

        await apps.createNamespacedDeployment({ namespace, body: deployment('web', labels, 2) });
        await waitFor(
          'Deployment web: 2 updated, ready and available replicas',
          async (seen) => {
            const d = await apps.readNamespacedDeployment({ namespace, name: 'web' });
            seen(d.status);
            const s = d.status;
            return s?.readyReplicas === 2 && s.updatedReplicas === 2 && s.availableReplicas === 2;
          },
          { timeoutMs: 60_000 },
        );
        const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
        expect(pods).toHaveLength(2);
        for (const pod of pods) {
          expect(conditionStatus(pod.status?.conditions, 'Ready')).toBe('True');
          expect(pod.status?.phase).toBe('Running');
          expect(nodes).toContain(pod.spec?.nodeName);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      '`kubectl rollout restart` creates a new ReplicaSet whose Pods become Ready and retires the old one',
      async () => {
        const { apps, core } = clients();
        const before = await activeReplicaSets(namespace, selector);
        expect(before).toHaveLength(1);
        const oldRs = before[0]!;
        const rsWatch = await watchResource<V1ReplicaSet>({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          namespace,
          labelSelector: selector,
        });
        try {
          await kubectl(['rollout', 'restart', 'deployment/web', '-n', namespace]);
          await kubectl(['rollout', 'status', 'deployment/web', '-n', namespace, '--timeout=90s']);

          const created = await rsWatch.waitForEvent('a new ReplicaSet of web', (e) => e.type === 'ADDED');
          const newName = created.object.metadata?.name;
          expect(newName).not.toBe(oldRs.metadata?.name);
          expect(created.object.spec?.template?.metadata?.annotations).toHaveProperty([
            'kubectl.kubernetes.io/restartedAt',
          ]);

          const newRs = await apps.readNamespacedReplicaSet({ namespace, name: newName! });
          expect(newRs.status?.readyReplicas).toBe(2);
          const retired = await apps.readNamespacedReplicaSet({ namespace, name: oldRs.metadata!.name! });
          expect(retired.spec?.replicas).toBe(0);

          const hash = newRs.metadata?.labels?.['pod-template-hash'];
          expect(hash).toBeTruthy();
          const pods = await waitFor(
            `only the 2 Ready Pods of ReplicaSet ${newName} remain`,
            async (seen) => {
              const items = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
              seen(items.map(podSummary));
              const ready = items.filter(
                (p) =>
                  p.metadata?.labels?.['pod-template-hash'] === hash &&
                  !p.metadata?.deletionTimestamp &&
                  conditionStatus(p.status?.conditions, 'Ready') === 'True',
              );
              return items.length === 2 && ready.length === 2 && items;
            },
            { timeoutMs: 60_000 },
          );
          expect(pods.every((p) => p.metadata?.ownerReferences?.[0]?.name === newName)).toBe(true);
        } finally {
          await rsWatch.stop();
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
});

function deployment(name: string, labels: Record<string, string>, replicas: number): V1Deployment {
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/none:1' }] },
      },
    },
  };
}

async function activeReplicaSets(namespace: string, labelSelector: string): Promise<V1ReplicaSet[]> {
  const list = await clients().apps.listNamespacedReplicaSet({ namespace, labelSelector });
  return list.items.filter((rs) => (rs.spec?.replicas ?? 0) > 0);
}

function podSummary(p: V1Pod): string {
  const ready = conditionStatus(p.status?.conditions, 'Ready');
  const deleting = p.metadata?.deletionTimestamp ? ' deleting' : '';
  return `${p.metadata?.name} ${p.status?.phase} ready=${ready}${deleting}`;
}

function isNamed(o: KubernetesObject, name: string): boolean {
  return o.metadata?.name === name;
}

function decode(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}
