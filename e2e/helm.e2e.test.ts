// The Helm chart: lint, generated files in step, schema, least-privilege defaults, and a real
// `helm install` / `helm upgrade` / `helm uninstall` into the control plane. The operator's Pods
// run under KWOK (no container starts), so this checks what the chart creates and that the Pod
// Security admission admits it as `restricted`; e2e/rbac.e2e.test.ts proves the permissions. The
// admission policy of the trust boundary is tried with `kubectl apply` on the real API server.
import { jest } from '@jest/globals';
import yaml from 'js-yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clients,
  cleanupTestNamespaces,
  createTestNamespace,
  kubectl,
  KubectlError,
  statusCode,
  uniqueSuffix,
  waitFor,
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

const CRD_FILES = [
  'mtls.openbanking.dev_trustbundles.yaml',
  'mtls.openbanking.dev_authorizationservers.yaml',
];
/** A registry that cannot resolve: KWOK never pulls, and nothing here should ever try. */
const IMAGE = { repository: 'registry.invalid/trustbundle-operator' };
/** Documentation addresses (RFC 5737) and the usual Service address of the API server. */
const NETWORK_POLICY = {
  enabled: true,
  apiServer: { cidrs: ['10.96.0.1/32', '192.0.2.10/32'] },
  authorizationServers: { cidrs: ['203.0.113.0/24'] },
};

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
        networkPolicy: NETWORK_POLICY,
        authorizationServers: { allowInsecure: true },
      },
    ]) {
      const out = await helm(['lint', '--strict', CHART_DIR, ...valueArgs(values)]);
      expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  test('ships the CRDs generated in crds/ and the plain manifest rendered from it (make manifests)', async () => {
    const inStep = (file: string, expected: string) => {
      if (readFileSync(file, 'utf8') !== expected) throw new Error(`${file} is stale: run make manifests`);
    };
    expect(readdirSync(join(CHART_DIR, 'crds')).sort()).toEqual([...CRD_FILES].sort());
    for (const crd of CRD_FILES) {
      inStep(join(CHART_DIR, 'crds', crd), readFileSync(join(REPO_ROOT, 'crds', crd), 'utf8'));
    }
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

  test('the Deployment gives the operator the trust boundary of the values', async () => {
    const envOf = async (values: Record<string, unknown>) => {
      const [deployment] = parseManifests(
        await template({
          release: 'tbo',
          namespace: 'tbo-system',
          values,
          only: ['templates/deployment.yaml'],
        }),
      );
      const spec = deployment!.spec as {
        template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
      };
      return Object.fromEntries(spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    };
    expect(
      await envOf({
        trustNamespace: 'acp-credentials',
        rbac: {
          sourceNamespaces: ['pki', 'tpp-cas'],
          targetNamespaces: ['apim'],
          rolloutNamespaces: ['ingress', 'apim'],
          clusterTrustBundles: { enabled: true, signerNames: ['example.com/a', 'example.com/b'] },
        },
        authorizationServers: { allowInsecure: true },
        metrics: { bindAddress: '::' },
      }),
    ).toMatchObject({
      TRUST_NAMESPACE: 'acp-credentials',
      SOURCE_NAMESPACES: 'pki,tpp-cas',
      TARGET_NAMESPACES: 'apim,ingress',
      CLUSTER_TRUST_BUNDLE_SIGNERS: 'example.com/a,example.com/b',
      ALLOW_INSECURE_AUTHORIZATION_SERVERS: 'true',
      METRICS_BIND_ADDRESS: '::',
    });
    const defaults = await envOf({});
    expect(defaults).toMatchObject({
      TRUST_NAMESPACE: 'tbo-system',
      SOURCE_NAMESPACES: '',
      ALLOW_INSECURE_AUTHORIZATION_SERVERS: 'false',
      METRICS_BIND_ADDRESS: '0.0.0.0',
    });
    expect(defaults.TARGET_NAMESPACES).toBeUndefined();
    expect((await envOf({ rbac: { clusterWide: true } })).TARGET_NAMESPACES).toBe('*');
    expect((await envOf({ rbac: { clusterWide: true, targetNamespaces: ['apim'] } })).TARGET_NAMESPACES).toBe(
      'apim',
    );
  });

  test('the NetworkPolicy allows the API server, DNS, the authorization servers and the metrics port, and the API server accepts it', async () => {
    const rendered = await template({
      release: 'tbo',
      namespace: 'default',
      values: { networkPolicy: NETWORK_POLICY },
      only: ['templates/networkpolicy.yaml'],
    });
    const [policy] = parseManifests(rendered);
    const spec = policy!.spec as {
      ingress: { ports: { port: unknown }[] }[];
      egress: { to: { ipBlock?: { cidr: string }; podSelector?: unknown }[]; ports: { port: number }[] }[];
    };
    expect(spec.ingress).toEqual([{ ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
    expect(
      spec.egress.map((e) => [e.to.map((t) => t.ipBlock?.cidr ?? 'dns'), e.ports.map((p) => p.port)]),
    ).toEqual([
      [
        ['10.96.0.1/32', '192.0.2.10/32'],
        [443, 6443],
      ],
      [['dns'], [53, 53]],
      [['203.0.113.0/24'], [443]],
    ]);
    expect(await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: rendered })).toMatch(
      /networkpolicy.networking.k8s.io\/tbo-trustbundle-operator created \(server dry run\)/,
    );
    expect(
      (await template({ release: 'tbo', namespace: 'default', values: {} })).includes('kind: NetworkPolicy'),
    ).toBe(false);
  });

  test.each([
    [
      'a NetworkPolicy without the API server addresses',
      { networkPolicy: { enabled: true } },
      /needs networkPolicy.apiServer.cidrs/,
    ],
    [
      'a values file of the previous release (rbac.credentialNamespaces)',
      { rbac: { credentialNamespaces: ['acp'] } },
      /additional properties 'credentialNamespaces'/,
    ],
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
      {
        role: 'ClusterRole /tbo-trustbundle-operator',
        resources: [
          'trustbundles',
          'trustbundles/status',
          // namespaceSelector targets follow namespaces as they come and go.
          'namespaces',
          'authorizationservers',
          'authorizationservers/status',
        ],
      },
      { role: 'Role tbo-system/tbo-trustbundle-operator-leader-election', resources: ['leases', 'leases'] },
      { role: 'Role default/tbo-trustbundle-operator-events', resources: ['events'] },
      // The trust namespace (the release's by default): credentials, CA Secrets, passwords, sources.
      { role: 'Role tbo-system/tbo-trustbundle-operator-trust', resources: ['secrets', 'configmaps'] },
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
      'serviceaccount,deployment,service,poddisruptionbudget,role,rolebinding,clusterrole,clusterrolebinding,servicemonitor,prometheusrule,networkpolicy,validatingadmissionpolicy,validatingadmissionpolicybinding',
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
      networkPolicy: NETWORK_POLICY,
    });
    expect(await owned()).toEqual(
      [
        `ClusterRole /${fullname}`,
        `ClusterRoleBinding /${fullname}`,
        `ValidatingAdmissionPolicy /${fullname}-trustbundles`,
        `ValidatingAdmissionPolicy /${fullname}-authorizationservers`,
        `ValidatingAdmissionPolicyBinding /${fullname}-trustbundles`,
        `ValidatingAdmissionPolicyBinding /${fullname}-authorizationservers`,
        `NetworkPolicy ${system}/${fullname}`,
        `Deployment ${system}/${fullname}`,
        `PodDisruptionBudget ${system}/${fullname}`,
        `PrometheusRule ${system}/${fullname}`,
        `Role ${system}/${fullname}-leader-election`,
        `Role ${system}/${fullname}-trust`,
        `Role default/${fullname}-events`,
        `Role ${pki}/${fullname}-source`,
        `Role ${apim}/${fullname}-target`,
        `RoleBinding ${system}/${fullname}-leader-election`,
        `RoleBinding ${system}/${fullname}-trust`,
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
      'crd/authorizationservers.mtls.openbanking.dev',
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

  describe('the admission policy refuses, at kubectl apply, what the trust boundary forbids', () => {
    const created: string[] = [];
    afterAll(async () => {
      if (created.length) await kubectl(['delete', '--ignore-not-found', ...created]);
    });

    const manifest = (kind: string, name: string, spec: Record<string, unknown>) =>
      yaml.dump({ apiVersion: 'mtls.openbanking.dev/v1alpha1', kind, metadata: { name }, spec });
    const bundle = (name: string, spec: Record<string, unknown>) =>
      manifest('TrustBundle', name, { sources: [{ secret: { namespace: pki, name: 'tpp-ca' } }], ...spec });
    /** stderr of a refused `kubectl apply`, or undefined when it was accepted. */
    const refusal = async (text: string, name: string): Promise<string | undefined> => {
      try {
        await kubectl(['apply', '-f', '-'], { input: text });
        created.push(name);
        return undefined;
      } catch (err) {
        if (err instanceof KubectlError) return err.stderr;
        throw err;
      }
    };
    const secretTarget = (namespace: string) => ({
      secrets: [{ namespace, name: 'apitraffic-mtls-rootca' }],
    });

    test('the policies type-check against the CRDs and are in force', async () => {
      for (const policy of [`${fullname}-trustbundles`, `${fullname}-authorizationservers`]) {
        const status = await waitFor(`${policy} to be type-checked`, async () => {
          const vap = JSON.parse(
            await kubectl(['get', 'validatingadmissionpolicy', policy, '-o', 'json']),
          ) as {
            metadata: { generation: number };
            status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } };
          };
          return vap.status?.observedGeneration === vap.metadata.generation && vap.status;
        });
        expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
      }
      // The API server loads new policies asynchronously: wait until a refusal shows they are in force.
      // A new name each time: a bundle created before the policy was in force is, unchanged, no
      // longer checked (updates are checked only when the spec changes).
      await waitFor('the TrustBundle policy to refuse', async () => {
        const name = `tb-${uniqueSuffix()}`;
        return refusal(
          bundle(name, { sources: [{ secret: { namespace: 'payments', name: 'db' } }] }),
          `trustbundle/${name}`,
        );
      });
    });

    test.each([
      [
        'a source outside the trust namespace and rbac.sourceNamespaces',
        (): Record<string, unknown> => ({ sources: [{ configMap: { namespace: 'payments', name: 'ca' } }] }),
        (): string =>
          `rule SourceNamespaces: spec.sources names namespace payments; sources may come only from ${system}, ${pki}`,
      ],
      [
        'a target Secret outside rbac.targetNamespaces',
        (): Record<string, unknown> => ({ targets: secretTarget('payments') }),
        (): string =>
          `rule TargetNamespaces: spec.targets names namespace payments; target Secrets and ConfigMaps may be only in ${apim}`,
      ],
      [
        'a rollout while rbac.rolloutNamespaces is empty',
        (): Record<string, unknown> => ({
          targets: { rollouts: [{ kind: 'Deployment', namespace: apim, name: 'ingress' }] },
        }),
        (): string =>
          `rule RolloutNamespaces: spec.targets.rollouts names namespace ${apim}; workloads may be restarted only in no namespace`,
      ],
      [
        'a truststore password outside the trust namespace',
        (): Record<string, unknown> => ({
          targets: {
            secrets: [
              {
                namespace: apim,
                name: 'apitraffic-mtls-rootca',
                truststore: { passwordSecret: { namespace: pki, name: 'db-credentials', key: 'password' } },
              },
            ],
          },
        }),
        (): string =>
          `rule TrustNamespace: a truststore passwordSecret is in namespace ${pki}; it must be in the trust namespace ${system}`,
      ],
      [
        'a ClusterTrustBundle target while rbac.clusterTrustBundles is off',
        (): Record<string, unknown> => ({ targets: { clusterTrustBundles: [{ name: 'tpp-roots' }] } }),
        (): string => 'rule ClusterTrustBundles: ClusterTrustBundle targets are not allowed',
      ],
    ])('a TrustBundle with %s', async (_what, spec, message) => {
      const name = `tb-${uniqueSuffix()}`;
      const stderr = await refusal(bundle(name, spec()), `trustbundle/${name}`);
      expect(stderr).toContain(`ValidatingAdmissionPolicy '${fullname}-trustbundles'`);
      expect(stderr).toContain(message());
      expect(await kubectl(['get', 'trustbundle', name, '--ignore-not-found', '-o', 'name'])).toBe('');
    });

    test('an AuthorizationServer asking to skip TLS verification, while allowInsecure is false', async () => {
      const cloudentity = {
        url: 'https://acp.example.com',
        tenant: 'bank',
        server: 'openbanking_brasil',
        credentialsSecret: { name: 'acp-admin' },
      };
      const name = `acp-${uniqueSuffix()}`;
      const stderr = await refusal(
        manifest('AuthorizationServer', name, {
          allowedBundles: ['tpp-roots'],
          cloudentity: { ...cloudentity, insecureSkipTLSVerify: true },
        }),
        `authorizationserver/${name}`,
      );
      expect(stderr).toContain(`ValidatingAdmissionPolicy '${fullname}-authorizationservers'`);
      expect(stderr).toContain(
        'rule InsecureAuthorizationServers: spec.cloudentity.insecureSkipTLSVerify is not allowed',
      );
      // The same server verifying TLS with a CA is accepted.
      const verified = {
        allowedBundles: ['tpp-roots'],
        cloudentity: { ...cloudentity, caSecret: { name: 'acp-ca' } },
      };
      expect(
        await refusal(manifest('AuthorizationServer', name, verified), `authorizationserver/${name}`),
      ).toBeUndefined();
    });

    test('an in-bounds TrustBundle is accepted, and changing it to name another namespace is refused', async () => {
      const name = `tb-${uniqueSuffix()}`;
      const inBounds = {
        sources: [
          { secret: { namespace: pki, name: 'tpp-ca' } },
          { configMap: { namespace: system, name: 'tpp-roots' } },
        ],
        targets: {
          secrets: [
            {
              namespace: apim,
              name: 'apitraffic-mtls-rootca',
              truststore: { passwordSecret: { namespace: system, name: 'truststore-password' } },
            },
          ],
          authorizationServers: [{ name: 'acp-openbanking' }],
        },
      };
      expect(await refusal(bundle(name, inBounds), `trustbundle/${name}`)).toBeUndefined();
      const moved = {
        ...inBounds,
        targets: { ...inBounds.targets, configMaps: [{ namespace: 'payments', name: 'x' }] },
      };
      expect(await refusal(bundle(name, moved), `trustbundle/${name}`)).toContain('rule TargetNamespaces');
      // A change of metadata alone (the operator's finalizer, a label) is not checked again.
      expect(await kubectl(['label', 'trustbundle', name, 'team=platform'])).toContain('labeled');
    });
  });

  test('helm upgrade changes what the values say and removes what they no longer ask for', async () => {
    await install('upgrade', {
      image: IMAGE,
      replicaCount: 3,
      rbac: {
        sourceNamespaces: [pki],
        targetNamespaces: [apim],
        rolloutNamespaces: [apim],
        clusterTrustBundles: { enabled: true, signerNames: ['example.com/tpp'] },
      },
      metrics: { service: { enabled: false } },
    });
    const objects = await owned();
    expect(objects).toContain(`Role ${apim}/${fullname}-rollout`);
    expect(objects).not.toContain(`Service ${system}/${fullname}-metrics`);
    expect(objects).not.toContain(`ServiceMonitor ${system}/${fullname}`);
    expect(objects).not.toContain(`NetworkPolicy ${system}/${fullname}`);
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
    // The admission policy follows the new values: rollouts in apim and the listed signer pass,
    // another signer is refused.
    const name = `tb-${uniqueSuffix()}`;
    const spec = (signerName: string) => ({
      sources: [{ secret: { namespace: pki, name: 'tpp-ca' } }],
      targets: {
        rollouts: [{ kind: 'Deployment', namespace: apim, name: 'ingress' }],
        clusterTrustBundles: [{ name: `${signerName.replace('/', ':')}:roots`, signerName }],
      },
    });
    const apply = (signerName: string) =>
      kubectl(['apply', '-f', '-'], {
        input: yaml.dump({
          apiVersion: 'mtls.openbanking.dev/v1alpha1',
          kind: 'TrustBundle',
          metadata: { name },
          spec: spec(signerName),
        }),
      });
    const refused = await waitFor('the upgraded policy to refuse another signer', () =>
      apply('example.com/other').then(
        // Accepted by the policy of the previous revision: remove it, so the next try is a create.
        () => kubectl(['delete', 'trustbundle', name]).then(() => false),
        (err: unknown) =>
          err instanceof KubectlError && /ClusterTrustBundleSigners/.test(err.stderr) && err.stderr,
      ),
    );
    expect(refused).toContain(
      'rule ClusterTrustBundleSigners: spec.targets.clusterTrustBundles names signer example.com/other; allowed signers: example.com/tpp',
    );
    try {
      expect(await apply('example.com/tpp')).toContain('created');
    } finally {
      await kubectl(['delete', 'trustbundle', name, '--ignore-not-found']);
    }
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
      'role.rbac.authorization.k8s.io/trustbundle-operator-trust',
    ]);
  });
});
