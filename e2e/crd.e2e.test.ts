// The generated CRD on the real kube-apiserver: defaults, validation messages, status subresource,
// printer columns and `kubectl explain`.
import yaml from 'js-yaml';
import { AS_CRD_NAME } from '../operator/src/api/authorization-server.ts';
import { AS_CRD_PATH, CRD_PATH } from '../operator/src/api/generate-crds.ts';
import { trustBundleSchema } from '../operator/src/api/schema.ts';
import type { TrustBundle, TrustBundleSpec, TrustBundleStatus } from '../operator/src/api/v1alpha1.ts';
import {
  API_VERSION,
  CRD_NAME,
  DEFAULT_POLICY,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
} from '../operator/src/api/v1alpha1.ts';
import {
  KubectlError,
  clients,
  isNotFound,
  kubectl,
  kubectlApply,
  uniqueSuffix,
  waitFor,
} from './harness/kube.ts';

const suffix = uniqueSuffix();
const created = new Set<string>();
const createdServers: string[] = [];

function manifest(name: string, spec: unknown): string {
  return yaml.dump({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec });
}

async function create(name: string, spec: TrustBundleSpec): Promise<TrustBundle> {
  created.add(name);
  return (await clients().custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
  })) as TrustBundle;
}

async function get(name: string): Promise<TrustBundle> {
  return (await clients().custom.getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    name,
  })) as TrustBundle;
}

/** The stderr of a kubectl command that must fail: what the API server tells a user it refused. */
async function refusedWith(command: Promise<string>, what: string): Promise<string> {
  try {
    await command;
  } catch (err) {
    if (err instanceof KubectlError) return err.stderr;
    throw err;
  }
  throw new Error(`the API server accepted ${what}`);
}

function refusal(name: string, spec: unknown): Promise<string> {
  created.add(name);
  return refusedWith(kubectlApply(manifest(name, spec)), `TrustBundle ${name}: ${JSON.stringify(spec)}`);
}

/** Writes status as the controller does, through the status subresource. */
const patchStatus = (name: string, status: unknown) =>
  kubectl([
    'patch',
    'trustbundle',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);

const acp = (url: string) => ({
  cloudentity: {
    url,
    tenant: 'default',
    server: 'openbanking_brasil',
    credentialsSecret: { namespace: 'trustbundle-system', name: 'acp-admin' },
  },
});
const createServer = (name: string, spec: object) =>
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AuthorizationServer',
      metadata: { name },
      spec,
    }),
  });

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

beforeAll(async () => {
  // Installed as a user would: `kubectl apply -f crds/`.
  await kubectl(['apply', '-f', CRD_PATH, '-f', AS_CRD_PATH]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    `crd/${CRD_NAME}`,
    `crd/${AS_CRD_NAME}`,
  ]);
}, 90_000);

afterAll(async () => {
  for (const name of createdServers)
    await kubectl(['delete', 'authorizationserver', name, '--ignore-not-found']);
  for (const name of created) {
    try {
      await clients().custom.deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
});

describe('the TrustBundle CRD on a real API server', () => {
  it('is served with the schema exactly as generated (nothing dropped or rewritten)', async () => {
    const served = JSON.parse(await kubectl(['get', 'crd', CRD_NAME, '-o', 'json'])) as {
      spec: { scope: string; versions: { name: string; schema: { openAPIV3Schema: unknown } }[] };
    };
    expect(served.spec.scope).toBe('Cluster');
    expect(served.spec.versions.map((v) => v.name)).toEqual([VERSION]);
    expect(served.spec.versions[0]?.schema.openAPIV3Schema).toEqual(
      JSON.parse(JSON.stringify(trustBundleSchema)),
    );
  });

  it('fills in every default of a minimal TrustBundle', async () => {
    const name = `defaults-${suffix}`;
    await create(name, {
      sources: [
        { secret: { namespace: 'pki', name: 'ca1' } },
        { configMap: { namespace: 'pki', name: 'cas' } },
      ],
      targets: {
        secrets: [{ namespace: 'open-banking-apim', name: 'apitraffic-mtls-rootca' }],
        authorizationServers: [{ name: 'acp-openbanking' }],
        rollouts: [{ kind: 'Deployment', namespace: 'ingress-nginx', name: 'ingress-nginx-controller' }],
      },
    });
    const { spec } = await get(name);
    expect(spec.policy).toEqual({ ...DEFAULT_POLICY });
    expect(spec.deletionPolicy).toBe('Retain');
    expect(spec.sources).toEqual([
      { secret: { namespace: 'pki', name: 'ca1', key: 'ca.crt', optional: false } },
      { configMap: { namespace: 'pki', name: 'cas', key: 'ca.crt', optional: false } },
    ]);
    expect(spec.targets?.secrets).toEqual([
      { namespace: 'open-banking-apim', name: 'apitraffic-mtls-rootca', key: 'ca.crt' },
    ]);
    expect(spec.targets?.authorizationServers).toEqual([{ name: 'acp-openbanking' }]);
  });

  it('fills in the defaults of an AuthorizationServer, and shows them in its printer columns', async () => {
    const name = `acp-defaults-${suffix}`;
    createdServers.push(name);
    await createServer(name, {
      allowedBundles: ['tpp-roots'],
      cloudentity: {
        url: 'https://acp.example.com',
        tenant: 'default',
        server: 'ob',
        credentialsSecret: { name: 'acp-admin' },
      },
    });
    const as = JSON.parse(await kubectl(['get', 'authorizationserver', name, '-o', 'json'])) as {
      spec: { mode: string; cloudentity: Record<string, unknown> };
    };
    expect(as.spec.mode).toBe('Enforce');
    expect(as.spec.cloudentity).toMatchObject({
      insecureSkipTLSVerify: false,
      credentialsSecret: { name: 'acp-admin', clientIDKey: 'client_id', clientSecretKey: 'client_secret' },
    });
    expect(await kubectl(['get', 'authz', name])).toMatch(/NAME\s+READY\s+MODE\s+SERVER\s+BUNDLE\s+AGE/);
  });

  it('refuses the removed inline authorization server, saying what to do instead', async () => {
    const message = await refusal(`inline-acp-${suffix}`, {
      sources: [{ inline: PEM }],
      targets: { authorizationServers: [acp('https://acp.example.com')] },
    });
    expect(message).toMatch(
      /inline cloudentity targets were removed: an administrator creates an AuthorizationServer/,
    );
  });

  it('keeps a policy field that is set and defaults the others', async () => {
    const name = `policy-${suffix}`;
    await create(name, { sources: [{ inline: PEM }], policy: { expired: 'Reject', requireCA: false } });
    expect((await get(name)).spec.policy).toEqual({ ...DEFAULT_POLICY, expired: 'Reject', requireCA: false });
  });

  it('accepts a bundle with no targets at all (validation only)', async () => {
    const name = `no-targets-${suffix}`;
    await create(name, { sources: [{ inline: PEM }] });
    expect((await get(name)).spec.targets).toBeUndefined();
  });

  it('refuses a source that sets two of inline, secret and configMap', async () => {
    const message = await refusal(`two-kinds-${suffix}`, {
      sources: [{ inline: PEM, secret: { namespace: 'pki', name: 'ca1' } }],
    });
    expect(message).toMatch(
      /spec\.sources\[0\]: Invalid value: .*each source must set exactly one of inline, secret or configMap/,
    );
  });

  it('refuses a source that sets none of them', async () => {
    const message = await refusal(`no-kind-${suffix}`, { sources: [{}] });
    expect(message).toMatch(/spec\.sources\[0\].*exactly one of inline, secret or configMap/);
  });

  it('refuses a bundle without sources', async () => {
    expect(await refusal(`no-sources-${suffix}`, { sources: [] })).toMatch(/spec\.sources.*at least 1 items/);
    expect(await refusal(`sources-missing-${suffix}`, { policy: {} })).toMatch(
      /spec\.sources: Required value/,
    );
  });

  it('refuses an unknown expired action, listing the supported ones', async () => {
    const message = await refusal(`bad-expired-${suffix}`, {
      sources: [{ inline: PEM }],
      policy: { expired: 'Ignore' },
    });
    expect(message).toMatch(
      /spec\.policy\.expired: Unsupported value: "Ignore": supported values: "Drop", "Reject", "Allow"/,
    );
  });

  it('refuses a rollout that names both a workload and a selector, or neither', async () => {
    const both = await refusal(`rollout-both-${suffix}`, {
      sources: [{ inline: PEM }],
      targets: {
        rollouts: [
          {
            kind: 'Deployment',
            namespace: 'ingress-nginx',
            name: 'controller',
            selector: { matchLabels: { app: 'x' } },
          },
        ],
      },
    });
    expect(both).toMatch(/spec\.targets\.rollouts\[0\]: Invalid value: .*exactly one of name or selector/);
    const neither = await refusal(`rollout-neither-${suffix}`, {
      sources: [{ inline: PEM }],
      targets: { rollouts: [{ kind: 'Deployment', namespace: 'ingress-nginx' }] },
    });
    expect(neither).toMatch(/exactly one of name or selector/);
  });

  it('refuses a weak RSA minimum', async () => {
    const message = await refusal(`weak-rsa-${suffix}`, {
      sources: [{ inline: PEM }],
      policy: { minRSABits: 512 },
    });
    expect(message).toMatch(/spec\.policy\.minRSABits.*greater than or equal to 1024/);
  });

  it('refuses a plain-http authorization server URL', async () => {
    const err = await createServer(`http-acp-${suffix}`, {
      allowedBundles: ['tpp-roots'],
      cloudentity: {
        url: 'http://acp.example.com',
        tenant: 't',
        server: 's',
        credentialsSecret: { name: 'a' },
      },
    }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err).toMatch(
      /cloudentity\.url: Invalid value: "http:\/\/acp\.example\.com": must be an https:\/\/ URL/,
    );
  });

  it('refuses the same target Secret key twice', async () => {
    const message = await refusal(`dup-target-${suffix}`, {
      sources: [{ inline: PEM }],
      targets: {
        secrets: [
          { namespace: 'a', name: 'b' },
          { namespace: 'a', name: 'b', key: 'ca.crt' },
        ],
      },
    });
    expect(message).toMatch(
      /spec\.targets\.secrets: Invalid value.*the same namespace, name and key appear twice/,
    );
  });

  it.each([
    [
      { key: 'ca.crl' },
      /spec\.targets\.secrets\[0\].*key must not be ca\.crl: the operator writes the CRLs there/,
    ],
    [
      { truststore: { key: 'ca.crl' } },
      /spec\.targets\.secrets\[0\].*truststore\.key must not be ca\.crl: the operator writes the CRLs there/,
    ],
    [{ truststore: { key: 'ca.crt' } }, /spec\.targets\.secrets\[0\].*truststore\.key must differ from key/],
    [{ key: 'bundle.pem', truststore: { key: 'bundle.pem' } }, /truststore\.key must differ from key/],
  ])('refuses a Secret target whose keys collide with ca.crl or each other: %j', async (fields, why) => {
    const message = await refusal(`keys-${uniqueSuffix()}`, {
      sources: [{ inline: PEM }],
      targets: { secrets: [{ namespace: 'a', name: 'b', ...fields }] },
    });
    expect(message).toMatch(why);
  });

  it('accepts a Secret target with a truststore under its default key', async () => {
    const spec = {
      sources: [{ inline: PEM }],
      targets: { secrets: [{ namespace: 'a', name: 'b', truststore: {} }] },
    };
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: manifest(`keys-ok-${uniqueSuffix()}`, spec),
    });
    expect(out).toMatch(/created \(server dry run\)/);
  });

  it('keeps status behind its subresource and prints READY, CERTS, HASH, NEXT-EXPIRY, AGE', async () => {
    const name = `printed-${suffix}`;
    const bundleHash = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const status: TrustBundleStatus = {
      observedGeneration: 1,
      bundleHash,
      shortHash: '0123456789ab',
      certificateCount: 2,
      nextExpiry: '2031-05-01T00:00:00Z',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Synced',
          message: 'bundle in force on every target',
          observedGeneration: 1,
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    };
    // A status sent with the object itself is dropped: only the controller, through /status, sets it.
    created.add(name);
    await clients().custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name },
        spec: { sources: [{ inline: PEM }] },
        status,
      },
    });
    expect((await get(name)).status).toBeUndefined();

    await patchStatus(name, status);
    expect((await get(name)).status).toMatchObject(status);

    const table = await kubectl(['get', 'tb', name]);
    const [header, row] = table
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    expect(header).toEqual(['NAME', 'READY', 'CERTS', 'HASH', 'NEXT-EXPIRY', 'AGE']);
    expect(row?.slice(0, 5)).toEqual([name, 'True', '2', '0123456789ab', '2031-05-01T00:00:00Z']);
  });

  it('refuses a malformed status from the controller', async () => {
    const name = `bad-status-${suffix}`;
    await create(name, { sources: [{ inline: PEM }] });
    const status = { bundleHash: 'md5:abc', conditions: [{ type: 'Ready', status: 'Maybe' }] };
    const message = await refusedWith(patchStatus(name, status), `status ${JSON.stringify(status)}`);
    expect(message).toMatch(/status\.bundleHash/);
    expect(message).toMatch(/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
    expect(message).toMatch(/status\.conditions\[0\]\.reason: Required value/);
  });

  it('documents its fields for kubectl explain', async () => {
    // kubectl wraps descriptions; compare with whitespace collapsed.
    const explain = async (path: string) => (await kubectl(['explain', path])).replace(/\s+/g, ' ');
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    const sources = await waitFor(
      'kubectl explain trustbundle.spec.sources to describe the sources',
      async (seen) => {
        const out = await explain('trustbundle.spec.sources');
        seen(out);
        return out.includes('exactly one of inline, secret or configMap') && out;
      },
    );
    expect(sources).toContain('FIELD: sources <[]Object>');
    expect(sources).toContain('inline <string> PEM text with one or more CERTIFICATE blocks.');
    expect(sources).toContain(
      'secret <Object> A Secret holding one or more PEM CERTIFICATE blocks under one key, named, or every Secret of the namespace a label selector matches.',
    );

    const secret = await explain('tb.spec.sources.secret');
    expect(secret).toContain('key <string> Key within the Secret\'s data. Defaults to "ca.crt".');
    expect(secret).toContain('namespace <string> -required- Namespace of the Secret.');

    expect(await explain('tb.spec.policy.expired')).toContain(
      'Drop it with a warning, Reject the whole bundle, or Allow it. Defaults to Drop.',
    );
  });
});
