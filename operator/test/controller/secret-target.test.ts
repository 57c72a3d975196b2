// The Secret target against a recording fake API server: what it applies, when it patches a
// stray ca.crl away, and when an apply counts as a write.
import { createHash } from 'node:crypto';
import { BUNDLE_HASH_ANNOTATION, BUNDLE_LABEL } from '../../src/api/v1alpha1.ts';
import { buildBundle } from '../../src/bundle/index.ts';
import { SecretTarget } from '../../src/controller/targets/secret.ts';
import { KubeError, type KubeClient } from '../../src/kube/client.ts';
import { OWNER_UID_ANNOTATION } from '../../src/controller/boundary.ts';
import type { TargetObject } from '../../src/kube/objects.ts';
import { OpenSslCA } from '../bundle/openssl-ca.ts';
import { TempDir } from '../pki/tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const ca = new OpenSslCA(tmp.path, '/CN=Secret Target Root');
const withoutCrl = buildBundle([{ name: 'ca', content: ca.pem }]).bundle!;
const withCrl = buildBundle([{ name: 'ca', content: ca.pem + ca.crl().pem }]).bundle!;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const owner = { name: 'tb', uid: 'u1' };
const digest = (text: string) => createHash('sha256').update(text).digest('hex');

type Data = Record<string, string>;

/** A Secret on a fake API server: applies merge the operator's keys into it, merge patches with null remove keys. */
function fakeServer(initial: Data, resourceVersion = 10) {
  let data: Data = { ...initial };
  let rv = resourceVersion;
  const calls: string[] = [];
  const object = () => ({ metadata: { resourceVersion: String(rv) }, data: { ...data } });
  const client = {
    request: async (method: string, _path: string, o: { body: { data: Data } }) => {
      if (Object.keys(data).length > 0) throw new KubeError(409, 'AlreadyExists', 'exists');
      calls.push(`${method} ${Object.keys(o.body.data).sort().join(',')}`);
      data = { ...o.body.data };
      rv++;
      return object();
    },
    apply: async (_path: string, body: { data: Data }) => {
      calls.push(`apply ${Object.keys(body.data).sort().join(',')}`);
      const next = { ...data, ...body.data };
      if (JSON.stringify(next) !== JSON.stringify(data)) rv++;
      data = next;
      return object();
    },
    mergePatch: async (_path: string, patch: { data: Record<string, null> }) => {
      calls.push(`patch ${JSON.stringify(patch)}`);
      for (const k of Object.keys(patch.data)) delete data[k];
      rv++;
      return object();
    },
  } as unknown as KubeClient;
  const cached = (ownerName = 'tb'): TargetObject => ({
    namespace: 'ns',
    name: 's',
    resourceVersion: String(rv),
    owner: ownerName,
    annotations: { [BUNDLE_HASH_ANNOTATION]: 'sha256:old', [OWNER_UID_ANNOTATION]: owner.uid },
    digests: new Map(Object.entries(data).map(([k, v]) => [k, digest(v)])),
  });
  return { client, calls, data: () => data, cached };
}

const target = (server: ReturnType<typeof fakeServer>, current: TargetObject | undefined) =>
  new SecretTarget(
    { namespace: 'ns', name: 's', key: 'ca.crt' },
    { client: server.client, current: async () => current, bundleExists: () => true },
  );

test('a ca.crl someone else put there is removed when the bundle publishes none; ca.crt and other keys stay', async () => {
  const server = fakeServer({ 'ca.crl': b64('hand-made'), 'tls.crt': b64('unrelated') });
  const result = await target(server, server.cached()).publish(withoutCrl, owner);
  expect(server.calls).toEqual(['apply ca.crt', 'patch {"data":{"ca.crl":null}}']);
  expect(Object.keys(server.data()).sort()).toEqual(['ca.crt', 'tls.crt']);
  // Both writes are the operator's own: neither watch event is news.
  expect(result.state).toBe('Synced');
  expect(result.wrote).toBe(true);
  expect(result.written?.map((o) => o.metadata?.resourceVersion)).toEqual(['11', '12']);
});

test('a bundle with CRLs writes ca.crl and patches nothing', async () => {
  const server = fakeServer({});
  const result = await target(server, undefined).publish(withCrl, owner);
  expect(server.calls).toEqual(['POST ca.crl,ca.crt']);
  expect(Buffer.from(server.data()['ca.crl']!, 'base64').toString()).toBe(withCrl.crl);
  expect(result.wrote).toBe(true);
});

test('a ca.crl differing from the bundle’s is not "in sync": the target is written again', async () => {
  const server = fakeServer({});
  await target(server, undefined).publish(withCrl, owner);
  const inSync: TargetObject = {
    ...server.cached(),
    annotations: { [BUNDLE_HASH_ANNOTATION]: withCrl.hash, [OWNER_UID_ANNOTATION]: owner.uid },
    owner: 'tb',
  };
  const again = fakeServer(server.data());
  const held = { ...inSync };
  expect(await target(again, held).publish(withCrl, owner)).toEqual({
    state: 'Synced',
    wrote: false,
    held,
  });
  expect(again.calls).toEqual([]);

  inSync.digests.set('ca.crl', digest(b64('edited by hand')));
  await target(again, inSync).publish(withCrl, owner);
  expect(again.calls).toEqual(['apply ca.crl,ca.crt']);
});

test('an apply that changes nothing (the cache lagged behind) is not counted as a write', async () => {
  const server = fakeServer({});
  await target(server, undefined).publish(withoutCrl, owner);
  // The cache still shows the old hash, but the server already holds exactly this bundle.
  const result = await target(server, server.cached()).publish(withoutCrl, owner);
  expect(result.wrote).toBe(false);
  expect(result.written?.map((o) => o.metadata?.resourceVersion)).toEqual(['11']);
});

test('a missing target is created (never applied over) with the owner label, bundle hash and owner UID', async () => {
  const bodies: { metadata: { labels: object; annotations: object } }[] = [];
  const client = {
    request: async (method: string, path: string, o: { body: (typeof bodies)[number] }) => {
      expect([method, path]).toEqual(['POST', '/api/v1/namespaces/ns/secrets']);
      bodies.push(o.body);
      return { metadata: { resourceVersion: '1' } };
    },
  } as unknown as KubeClient;
  await new SecretTarget(
    { namespace: 'ns', name: 's', key: 'ca.crt' },
    { client, current: async () => undefined, bundleExists: () => true },
  ).publish(withoutCrl, owner);
  expect(bodies[0]!.metadata.labels).toEqual({ [BUNDLE_LABEL]: 'tb' });
  expect(bodies[0]!.metadata.annotations).toEqual({
    [BUNDLE_HASH_ANNOTATION]: withoutCrl.hash,
    [OWNER_UID_ANNOTATION]: owner.uid,
  });
});

/** An object someone else made: not in the label-selected cache, found by the create's 409. */
function foreignObject(annotations: Record<string, string>) {
  const calls: string[] = [];
  const client = {
    request: async (method: string) => {
      calls.push(method);
      throw new KubeError(409, 'AlreadyExists', 'secrets "s" already exists');
    },
    get: async () => {
      calls.push('GET');
      return {
        metadata: { name: 's', annotations, resourceVersion: '7' },
        data: { 'ca.crt': b64('theirs') },
      };
    },
    apply: async (_p: string, body: { metadata: { annotations: Record<string, string> } }) => {
      calls.push(`apply ${Object.keys(body.metadata.annotations).sort().join(',')}`);
      return { metadata: { resourceVersion: '8' } };
    },
    mergePatch: async () => {
      calls.push('patch');
      return { metadata: { resourceVersion: '9' } };
    },
  } as unknown as KubeClient;
  const t = new SecretTarget(
    { namespace: 'ns', name: 's', key: 'ca.crt' },
    { client, current: async () => undefined, bundleExists: () => true },
  );
  return { t, calls };
}

test('an existing Secret the operator did not create is left untouched without its owner’s consent', async () => {
  const { t, calls } = foreignObject({ team: 'payments' });
  const result = await t.publish(withoutCrl, owner);
  expect(result.state).toBe('NotAdopted');
  expect(result.message).toMatch(/mtls\.openbanking\.dev\/allow-bundles=tb/);
  expect(calls).toEqual(['POST', 'GET']);
});

test('consent for another bundle is no consent for this one', async () => {
  const { t, calls } = foreignObject({ 'mtls.openbanking.dev/allow-bundles': 'other, tb2' });
  expect((await t.publish(withoutCrl, owner)).state).toBe('NotAdopted');
  expect(calls).toEqual(['POST', 'GET']);
});

test('with the allow-bundles annotation the Secret is adopted, marked as adopted, not as created', async () => {
  const { t, calls } = foreignObject({ 'mtls.openbanking.dev/allow-bundles': 'other,tb' });
  const result = await t.publish(withoutCrl, owner);
  expect(result).toMatchObject({ state: 'Synced', wrote: true });
  expect(calls).toEqual([
    'POST',
    'GET',
    `apply ${['mtls.openbanking.dev/adopted-by', BUNDLE_HASH_ANNOTATION].sort().join(',')}`,
  ]);
});

test('an adopted Secret whose owner withdrew consent is no longer written', async () => {
  const server = fakeServer({ 'ca.crt': b64('old') });
  const adopted: TargetObject = {
    ...server.cached(),
    annotations: { [BUNDLE_HASH_ANNOTATION]: 'sha256:old', 'mtls.openbanking.dev/adopted-by': owner.uid },
  };
  expect((await target(server, adopted).publish(withoutCrl, owner)).state).toBe('NotAdopted');
  expect(server.calls).toEqual([]);
});

test('a Secret the operator created for this bundle, whose owner label was removed, is written again', async () => {
  // Out of the label-selected cache, found by the create's 409: its owner-uid is this bundle's.
  const { t, calls } = foreignObject({ [OWNER_UID_ANNOTATION]: owner.uid });
  const result = await t.publish(withoutCrl, owner);
  expect(result).toMatchObject({ state: 'Synced', wrote: true });
  expect(calls).toEqual([
    'POST',
    'GET',
    `apply ${[BUNDLE_HASH_ANNOTATION, OWNER_UID_ANNOTATION].sort().join(',')}`,
  ]);
});

test('an unlabelled Secret created for another bundle (another owner-uid) is not this bundle’s to take', async () => {
  const { t, calls } = foreignObject({ [OWNER_UID_ANNOTATION]: 'someone-else' });
  expect((await t.publish(withoutCrl, owner)).state).toBe('NotAdopted');
  expect(calls).toEqual(['POST', 'GET']);
});
