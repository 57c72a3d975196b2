// The Helm chart: lint, generated files in step, schema, least-privilege defaults, and a real
// `helm install` / `helm upgrade` / `helm uninstall` into the control plane. The operator's Pods
// run under KWOK (no container starts), so this checks what the chart creates and that the Pod
// Security admission admits it as `restricted`; e2e/rbac.e2e.test.ts proves the permissions.
import { jest } from '@jest/globals';
import yaml from 'js-yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clients,
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  statusCode,
  uniqueSuffix,
} from './harness/kube.ts';
import { REPO_ROOT } from './harness/tools.ts';
import {
  CHART_DIR,
  CommandError,
  ensureHelm,
  helm,
  installMonitoringCrds,
  parseManifests,
  rulesOf,
  run,
  template,
  valueArgs,
  type Manifest,
} from './support/helm.ts';

jest.setTimeout(240_000);

const CRD_FILE = 'mtls.openbanking.dev_trustbundles.yaml';
/** A registry that cannot resolve: KWOK never pulls, and nothing here should ever try. */
const IMAGE = { repository: 'registry.invalid/trustbundle-operator' };

// A fresh machine builds Helm first (about 2.5 minutes).
beforeAll(async () => {
  await ensureHelm();
}, 900_000);

afterAll(async () => {
  await cleanupTestNamespaces();
});

describe('the chart', () => {
  test('helm lint --strict is clean with the defaults and with every optional part switched on', async () => {
    for (const values of [
      {},
      {
        rbac: { clusterWide: true, clusterTrustBundles: { enabled: true, signerNames: ['example.com/tpp'] } },
        metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
      },
    ]) {
      const out = await helm(['lint', '--strict', CHART_DIR, ...valueArgs(values)]);
      expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  test('ships the CRD generated in crds/ and the plain manifest rendered from it (make manifests)', async () => {
    const inStep = (file: string, expected: string) => {
      if (readFileSync(file, 'utf8') !== expected) throw new Error(`${file} is stale: run make manifests`);
    };
    inStep(join(CHART_DIR, 'crds', CRD_FILE), readFileSync(join(REPO_ROOT, 'crds', CRD_FILE), 'utf8'));
    inStep(
      join(REPO_ROOT, 'deploy', 'trustbundle-operator.yaml'),
      await run(join(REPO_ROOT, 'deploy', 'render.sh'), ['--stdout']),
    );
  });

  test('the README documents every value, and no value that does not exist', () => {
    const leaves = (value: unknown, path: string[] = []): string[] =>
      value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]))
        : [path.join('.')];
    const values = leaves(yaml.load(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')));
    // First cells of the README's tables: `a.b.c`, `.d` (a sibling of the previous one), `e`.
    const documented = new Set<string>();
    for (const row of readFileSync(join(CHART_DIR, 'README.md'), 'utf8').split('\n')) {
      const cell = /^\| ([^|]+) \|/.exec(row)?.[1] ?? '';
      let parent = '';
      for (const [, name] of cell.matchAll(/`([\w.]+)`/g)) {
        const path = name!.startsWith('.') ? parent + name : name!;
        parent = path.slice(0, path.lastIndexOf('.'));
        documented.add(path);
      }
    }
    const isDocumented = (path: string) =>
      path.split('.').some((_, i, parts) => documented.has(parts.slice(0, i + 1).join('.')));
    expect(values.filter((v) => !isDocumented(v))).toEqual([]);
    const known = new Set(values.flatMap((v) => v.split('.').map((_, i, p) => p.slice(0, i + 1).join('.'))));
    expect(
      [...documented].filter((d) => d.includes('.') || /^[a-z]/.test(d)).filter((d) => !known.has(d)),
    ).toEqual([]);
  });

  test('the Deployment sets only environment variables the operator reads', async () => {
    const src = join(REPO_ROOT, 'operator', 'src');
    const code = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(src, f), 'utf8'))
      .join('\n');
    const [deployment] = parseManifests(
      await template({ release: 'tbo', namespace: 'tbo-system', only: ['templates/deployment.yaml'] }),
    );
    const spec = deployment!.spec as { template: { spec: { containers: { env: { name: string }[] }[] } } };
    const names = spec.template.spec.containers[0]!.env.map((e) => e.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !code.includes(`env.${n}`))).toEqual([]);
  });

  test.each([
    ['a namespace that is not a DNS label', { rbac: { sourceNamespaces: ['PKI'] } }, /sourceNamespaces\/0/],
    ['a misspelt key', { rbac: { targetNamespace: ['apim'] } }, /additional properties 'targetNamespace'/],
    ['an unknown log level', { logLevel: 'verbose' }, /logLevel/],
    [
      'two replicas without leader election',
      { replicaCount: 2, leaderElection: { enabled: false } },
      /needs leaderElection.enabled/,
    ],
  ])('refuses %s', async (_what, values, message) => {
    const err = await template({ release: 'x', namespace: 'x', values }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderr).toMatch(message);
  });

  test('by default grants nothing on Secrets, ConfigMaps or workloads; clusterWide is explicit', async () => {
    const rulesByRole = async (values: Record<string, unknown>) => {
      const docs = parseManifests(await template({ release: 'tbo', namespace: 'tbo-system', values }));
      return docs
        .filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole')
        .map((d) => ({
          role: `${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`,
          resources: rulesOf(d).flatMap((r) => r.resources ?? []),
        }));
    };
    expect(await rulesByRole({})).toEqual([
      { role: 'ClusterRole /tbo-trustbundle-operator', resources: ['trustbundles', 'trustbundles/status'] },
      { role: 'Role tbo-system/tbo-trustbundle-operator-leader-election', resources: ['leases', 'leases'] },
      { role: 'Role default/tbo-trustbundle-operator-events', resources: ['events'] },
    ]);
    const wide = await rulesByRole({ rbac: { clusterWide: true, sourceNamespaces: ['ignored'] } });
    expect(
      wide.find((r) => r.role === 'ClusterRole /tbo-trustbundle-operator-cluster-wide')?.resources,
    ).toEqual(expect.arrayContaining(['secrets', 'configmaps', 'deployments']));
    expect(wide.some((r) => r.role.includes('ignored/'))).toBe(false);
  });
});

describe('helm install, upgrade and uninstall on the control plane', () => {
  const release = `tbo-${uniqueSuffix()}`;
  const fullname = `${release}-trustbundle-operator`;
  const selector = `app.kubernetes.io/instance=${release}`;
  let system: string, pki: string, apim: string;

  beforeAll(async () => {
    // The Pod Security admission enforces `restricted` on the release namespace.
    system = (
      await createTestNamespace('helm-system', {
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      })
    ).name;
    pki = (await createTestNamespace('helm-pki')).name;
    apim = (await createTestNamespace('helm-apim')).name;
    await installMonitoringCrds();
  });

  afterAll(async () => {
    await helm(['uninstall', release, '--namespace', system, '--ignore-not-found', '--wait']).catch(() => {});
    await kubectl([
      'delete',
      'crd',
      'servicemonitors.monitoring.coreos.com',
      'prometheusrules.monitoring.coreos.com',
    ]);
  });

  const install = (verb: 'install' | 'upgrade', values: Record<string, unknown>) =>
    helm([
      verb,
      release,
      CHART_DIR,
      '--namespace',
      system,
      '--wait',
      '--timeout',
      '120s',
      ...valueArgs(values),
    ]);

  /** kind namespace/name of every object the release owns (by its instance label). */
  async function owned(): Promise<string[]> {
    const out = await kubectl([
      'get',
      'serviceaccount,deployment,service,poddisruptionbudget,role,rolebinding,clusterrole,clusterrolebinding,servicemonitor,prometheusrule',
      '--all-namespaces',
      '-l',
      selector,
      '-o',
      'json',
    ]);
    const items = (JSON.parse(out) as { items: Manifest[] }).items;
    return items.map((i) => `${i.kind} ${i.metadata.namespace ?? ''}/${i.metadata.name}`).sort();
  }

  test('the namespace really enforces restricted: a privileged Pod is refused', async () => {
    const err = await clients()
      .core.createNamespacedPod({
        namespace: system,
        body: {
          metadata: { name: 'privileged' },
          spec: {
            containers: [{ name: 'x', image: 'registry.invalid/x', securityContext: { privileged: true } }],
          },
        },
      })
      .catch((e: unknown) => e);
    expect(statusCode(err)).toBe(403);
  });

  test('helm install creates everything, and the Pods are admitted and become Ready', async () => {
    await install('install', {
      image: IMAGE,
      rbac: { sourceNamespaces: [pki], targetNamespaces: [apim], targetNames: ['apitraffic-mtls-rootca'] },
      metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
    });
    expect(await owned()).toEqual(
      [
        `ClusterRole /${fullname}`,
        `ClusterRoleBinding /${fullname}`,
        `Deployment ${system}/${fullname}`,
        `PodDisruptionBudget ${system}/${fullname}`,
        `PrometheusRule ${system}/${fullname}`,
        `Role ${system}/${fullname}-leader-election`,
        `Role default/${fullname}-events`,
        `Role ${pki}/${fullname}-source`,
        `Role ${apim}/${fullname}-target`,
        `RoleBinding ${system}/${fullname}-leader-election`,
        `RoleBinding default/${fullname}-events`,
        `RoleBinding ${pki}/${fullname}-source`,
        `RoleBinding ${apim}/${fullname}-target`,
        `Service ${system}/${fullname}-metrics`,
        `ServiceAccount ${system}/${fullname}`,
        `ServiceMonitor ${system}/${fullname}`,
      ].sort(),
    );
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/trustbundles.mtls.openbanking.dev',
    ]);

    const { apps, core } = clients();
    const deployment = await apps.readNamespacedDeployment({ namespace: system, name: fullname });
    expect(deployment.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace: system, labelSelector: selector });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec?.serviceAccountName).toBe(fullname);
      expect(pod.spec?.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const c = pod.spec!.containers[0]!;
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      const env = Object.fromEntries(
        (c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
      );
      expect(env).toMatchObject({
        LEADER_ELECT: 'true',
        LEASE_NAMESPACE: system,
        LEASE_NAME: fullname,
        EVENTS_NAMESPACE: 'default',
        POD_NAME: 'metadata.name',
      });
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    }
  });

  test('helm upgrade changes what the values say and removes what they no longer ask for', async () => {
    await install('upgrade', {
      image: IMAGE,
      replicaCount: 3,
      rbac: { sourceNamespaces: [pki], targetNamespaces: [apim], rolloutNamespaces: [apim] },
      metrics: { service: { enabled: false } },
    });
    const objects = await owned();
    expect(objects).toContain(`Role ${apim}/${fullname}-rollout`);
    expect(objects).not.toContain(`Service ${system}/${fullname}-metrics`);
    expect(objects).not.toContain(`ServiceMonitor ${system}/${fullname}`);
    const target = await clients().rbac.readNamespacedRole({ namespace: apim, name: `${fullname}-target` });
    expect(target.rules?.some((r) => r.resourceNames?.length)).toBe(false);
    const deployment = await clients().apps.readNamespacedDeployment({ namespace: system, name: fullname });
    expect(deployment.status?.readyReplicas).toBe(3);
    const history = JSON.parse(await helm(['history', release, '--namespace', system, '-o', 'json'])) as {
      revision: number;
      status: string;
    }[];
    expect(history.map((h) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });

  test('helm uninstall removes the release, cluster-scoped RBAC included, and keeps the CRD', async () => {
    await helm(['uninstall', release, '--namespace', system, '--wait']);
    expect(await owned()).toEqual([]);
    await kubectl(['get', 'crd/trustbundles.mtls.openbanking.dev']);
  });
});

describe('the plain manifest', () => {
  const manifest = join(REPO_ROOT, 'deploy', 'trustbundle-operator.yaml');

  afterAll(async () => {
    await kubectl(['delete', '-f', manifest, '--ignore-not-found', '--wait=false']);
  });

  test('kubectl apply creates the operator in a namespace that enforces restricted, and it becomes available', async () => {
    await kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
    await kubectl(['apply', '-f', manifest]);
    const ns = await clients().core.readNamespace({ name: 'trustbundle-system' });
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    await kubectl([
      '-n',
      'trustbundle-system',
      'rollout',
      'status',
      'deployment/trustbundle-operator',
      '--timeout=90s',
    ]);
    const roles = await kubectl([
      'get',
      'role',
      '--all-namespaces',
      '-l',
      'app.kubernetes.io/instance=trustbundle-operator',
      '-o',
      'name',
    ]);
    expect(roles.trim().split('\n').sort()).toEqual([
      'role.rbac.authorization.k8s.io/trustbundle-operator-events',
      'role.rbac.authorization.k8s.io/trustbundle-operator-leader-election',
    ]);
  });
});
