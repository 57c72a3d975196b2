import { KubeError, type KubeClient } from '../../src/kube/client.ts';
import {
  ClusterTrustBundleApi,
  ClusterTrustBundleTarget,
} from '../../src/controller/targets/cluster-trust-bundle.ts';
import { buildBundle } from '../../src/bundle/index.ts';
import { OpenSSL } from '../support/openssl.ts';

const ssl = new OpenSSL();
afterAll(() => ssl.cleanup());

/** An API server that serves the given certificates.k8s.io versions and records applies. */
function fakeServer(served: string[]) {
  const applied: { path: string; body: unknown }[] = [];
  const client = {
    get: async (path: string) => {
      const v = path.split('/').pop()!;
      if (!served.includes(v)) throw new KubeError(404, 'NotFound', `GET ${path}: 404`);
      return { resources: [{ name: 'clustertrustbundles' }, { name: 'certificatesigningrequests' }] };
    },
    apply: async (path: string, body: unknown) => {
      applied.push({ path, body });
      return body;
    },
    request: async (_method: string, collection: string, o: { body: { metadata: { name: string } } }) => {
      applied.push({ path: `${collection}/${o.body.metadata.name}`, body: o.body });
      return o.body;
    },
  } as unknown as KubeClient;
  return { client, applied };
}

const bundle = buildBundle([
  { name: 'inline[0]', content: ssl.cert({ subject: '/CN=CTB Root' }).pem },
]).bundle!;
const deps = (client: KubeClient) => ({ client, current: async () => undefined, bundleExists: () => false });

test.each([
  [['v1', 'v1beta1'], 'v1'],
  [['v1beta1'], 'v1beta1'],
])('uses the version the server serves (%j → %s)', async (served, version) => {
  const { client, applied } = fakeServer(served);
  const target = new ClusterTrustBundleTarget(
    { name: 'tpp-roots' },
    new ClusterTrustBundleApi(client),
    deps(client),
  );
  expect(await target.publish(bundle, { name: 'tb', uid: 'u1' })).toMatchObject({
    state: 'Synced',
    wrote: true,
  });
  expect(applied[0]!.path).toBe(`/apis/certificates.k8s.io/${version}/clustertrustbundles/tpp-roots`);
  expect(applied[0]!.body).toMatchObject({
    apiVersion: `certificates.k8s.io/${version}`,
    kind: 'ClusterTrustBundle',
    metadata: { name: 'tpp-roots', labels: { 'mtls.openbanking.dev/bundle': 'tb' } },
    spec: { trustBundle: bundle.pem },
  });
});

test('a server without the API gets a plain reason, and nothing is written', async () => {
  const { client, applied } = fakeServer([]);
  const target = new ClusterTrustBundleTarget(
    { name: 'tpp-roots' },
    new ClusterTrustBundleApi(client),
    deps(client),
  );
  await expect(target.publish(bundle, { name: 'tb', uid: 'u1' })).rejects.toThrow(
    /serves no ClusterTrustBundle API/,
  );
  expect(applied).toEqual([]);
});
