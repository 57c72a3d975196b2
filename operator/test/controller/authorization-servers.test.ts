// The AuthorizationServer gate against a fake API server and an in-memory authorization server:
// a bundle the server's spec.allowedBundles does not list reaches nothing (no client, no read, no
// write), among the listed ones the oldest publishes, and withdrawing a bundle stops its writes.
import type { Logger } from 'pino';
import { AS_PATH, type AuthorizationServer } from '../../src/api/authorization-server.ts';
import type {
  AuthorizationServerTargetStatus,
  TrustBundle,
  TrustBundleSpec,
} from '../../src/api/v1alpha1.ts';
import type { AuthorizationServerPool } from '../../src/authserver/index.ts';
import { buildBundle } from '../../src/bundle/index.ts';
import type { Bundle } from '../../src/bundle/types.ts';
import { AuthorizationServerTargets } from '../../src/controller/authorization-servers.ts';
import { TrustBoundary } from '../../src/controller/boundary.ts';
import type { KubeClient, WatchEvent } from '../../src/kube/client.ts';
import { MemoryServer } from '../support/memory-server.ts';
import { OpenSSL, type TestCert } from '../support/openssl.ts';

const ssl = new OpenSSL();
let ca1: TestCert, ca2: TestCert;
let bundle1: Bundle, bundle2: Bundle;
beforeAll(() => {
  [ca1, ca2] = [1, 2].map((i) => ssl.cert({ subject: `/CN=AS Gate CA${i}` })) as [TestCert, TestCert];
  bundle1 = buildBundle([{ name: 'ca1', content: ca1.pem }]).bundle!;
  bundle2 = buildBundle([{ name: 'ca2', content: ca2.pem }]).bundle!;
});
afterAll(() => ssl.cleanup());

const now = new Date('2025-01-01T00:00:00Z');

function server(name: string, allowedBundles: string[], generation = 1): AuthorizationServer {
  return {
    apiVersion: 'mtls.openbanking.dev/v1alpha1',
    kind: 'AuthorizationServer',
    metadata: { name, generation, resourceVersion: String(generation) },
    spec: {
      allowedBundles,
      cloudentity: {
        url: 'https://acp.example.com',
        tenant: 't',
        server: 's',
        credentialsSecret: { name: 'acp-admin' },
      },
    },
  };
}

function trustBundle(name: string, created: string, servers: string[]): TrustBundle {
  const spec: TrustBundleSpec = {
    sources: [{ inline: 'unused' }],
    targets: { authorizationServers: servers.map((s) => ({ name: s })) },
  };
  return {
    apiVersion: 'mtls.openbanking.dev/v1alpha1',
    kind: 'TrustBundle',
    metadata: { name, uid: `uid-${name}`, creationTimestamp: created as unknown as Date },
    spec,
  };
}

/** The pieces around AuthorizationServerTargets, each recording what it was asked. */
async function world(servers: AuthorizationServer[], bundles: TrustBundle[]) {
  let emit: ((e: WatchEvent<AuthorizationServer>) => void) | undefined;
  const statusWrites: { name: string; status: AuthorizationServer['status'] }[] = [];
  const client = {
    get: async () => ({ metadata: { resourceVersion: '1' }, items: servers }),
    watch: (
      _path: string,
      _query: unknown,
      onEvent: (e: WatchEvent<AuthorizationServer>) => void,
      signal: AbortSignal,
    ) =>
      new Promise<void>((resolve) => {
        emit = onEvent;
        signal.addEventListener('abort', () => resolve());
      }),
    apply: async (path: string, body: AuthorizationServer) => {
      expect(path).toBe(`${AS_PATH}/${body.metadata.name}/status`);
      statusWrites.push({ name: body.metadata.name!, status: body.status });
      // The status in the cache, as the watch would bring it.
      const current = targets.reflector.get(body.metadata.name!);
      if (current) emit?.({ type: 'MODIFIED', object: { ...current, status: body.status } });
      return body;
    },
  } as unknown as KubeClient;
  const store = new MemoryServer();
  const clientsCreated: string[] = [];
  const pool = {
    get: (t: { cloudentity: { url: string } }) => {
      clientsCreated.push(t.cloudentity.url);
      return store;
    },
    retain: () => undefined,
  } as unknown as AuthorizationServerPool;
  const events: string[] = [];
  const targets = new AuthorizationServerTargets({
    client,
    boundary: new TrustBoundary({ trustNamespace: 'trust' }),
    pool,
    events: { record: (b, type, reason, message) => events.push(`${b.name} ${type} ${reason}: ${message}`) },
    log: { warn: () => undefined } as unknown as Logger,
    bundles: () => bundles,
    onChange: () => undefined,
    checkMs: 60_000,
  });
  targets.start();
  await targets.reflector.synced;
  await new Promise((r) => setImmediate(r)); // the watch is open
  const update = (as: AuthorizationServer) => emit!({ type: 'MODIFIED', object: as });
  const lastStatus = (name: string) => statusWrites.filter((w) => w.name === name).at(-1)?.status;
  /** One reconcile's push, with the bundle's previous status as the controller keeps it. */
  const push = async (tb: TrustBundle, b: Bundle) => {
    const out = await targets.push(tb, b, now);
    tb.status = { targets: { authorizationServers: out.statuses } };
    return out.statuses[0]!;
  };
  return { targets, store, clientsCreated, events, statusWrites, update, lastStatus, push };
}

const ready = (status: AuthorizationServer['status']) => status?.conditions?.find((c) => c.type === 'Ready');

describe('spec.allowedBundles', () => {
  let w: Awaited<ReturnType<typeof world>>;
  afterEach(() => w.targets.stop());

  test('a bundle not listed is refused before any client is made: nothing read, nothing written', async () => {
    const intruder = trustBundle('intruder', '2024-01-01T00:00:00Z', ['acp']);
    w = await world([server('acp', ['tpp-roots'])], [intruder]);
    const status: AuthorizationServerTargetStatus = await w.push(intruder, bundle1);
    expect(status).toMatchObject({ name: 'acp', state: 'Failed' });
    expect(status.message).toBe(
      'AuthorizationServer acp does not allow TrustBundle intruder (rule AllowedBundles: its administrator ' +
        'lists the bundles that may publish to it in spec.allowedBundles); nothing was sent to it',
    );
    expect(w.clientsCreated).toEqual([]);
    expect(w.store.reads).toBe(0);
    expect(w.store.writes).toEqual([]);
    expect(w.events).toEqual([`intruder Warning NotAllowed: ${status.message}`]);
    // The server says that no bundle it allows names it, and that nobody publishes.
    const as = w.lastStatus('acp');
    expect(as?.publishedBy).toBeUndefined();
    expect(ready(as)).toMatchObject({ status: 'False', reason: 'NoAllowedBundle' });
    expect(ready(as)?.message).toMatch(
      /^no TrustBundle in spec.allowedBundles names this server; refused: intruder\./,
    );
    // The next check refuses again without a second Event or another status write.
    const writes = w.statusWrites.length;
    await w.push(intruder, bundle1);
    expect(w.events).toHaveLength(1);
    expect(w.statusWrites).toHaveLength(writes);
    expect(w.store.reads).toBe(0);
  });

  test('a listed bundle publishes, and the server names it', async () => {
    const tppRoots = trustBundle('tpp-roots', '2024-01-01T00:00:00Z', ['acp']);
    w = await world([server('acp', ['tpp-roots'])], [tppRoots]);
    expect(await w.push(tppRoots, bundle1)).toMatchObject({ state: 'Synced', bundleHash: bundle1.hash });
    expect(w.store.writes).toEqual([bundle1.pem]);
    expect(w.lastStatus('acp')).toMatchObject({ publishedBy: 'tpp-roots', bundleHash: bundle1.hash });
    expect(ready(w.lastStatus('acp'))).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  test('an older bundle the server does not list cannot hold it: the listed one publishes', async () => {
    const squatter = trustBundle('squatter', '2020-01-01T00:00:00Z', ['acp']);
    const tppRoots = trustBundle('tpp-roots', '2024-01-01T00:00:00Z', ['acp']);
    w = await world([server('acp', ['tpp-roots'])], [squatter, tppRoots]);
    expect(await w.push(squatter, bundle2)).toMatchObject({ state: 'Failed' });
    expect(await w.push(tppRoots, bundle1)).toMatchObject({ state: 'Synced' });
    expect(w.store.writes).toEqual([bundle1.pem]);
    expect(w.lastStatus('acp')?.publishedBy).toBe('tpp-roots');
    // With an allowed publisher, a refused bundle leaves the server's status to it.
    const writes = w.statusWrites.length;
    await w.push(squatter, bundle2);
    expect(w.statusWrites).toHaveLength(writes);
  });

  test('among listed bundles the oldest still publishes; the other is refused', async () => {
    const first = trustBundle('first', '2024-01-01T00:00:00Z', ['acp']);
    const second = trustBundle('second', '2024-06-01T00:00:00Z', ['acp']);
    w = await world([server('acp', ['first', 'second'])], [first, second]);
    expect(await w.push(second, bundle2)).toMatchObject({
      state: 'Failed',
      message:
        'AuthorizationServer acp is published to by TrustBundle first; two bundles cannot own one server',
    });
    expect(await w.push(first, bundle1)).toMatchObject({ state: 'Synced' });
    expect(w.store.writes).toEqual([bundle1.pem]);
  });

  test('withdrawn from the list, the publisher stops writing; what it wrote stays, and both statuses say so', async () => {
    const tppRoots = trustBundle('tpp-roots', '2024-01-01T00:00:00Z', ['acp']);
    w = await world([server('acp', ['tpp-roots'])], [tppRoots]);
    const synced = await w.push(tppRoots, bundle1);
    expect(synced).toMatchObject({ state: 'Synced', bundleHash: bundle1.hash });
    const reads = w.store.reads;

    w.update({ ...server('acp', ['tpp-roots-v2'], 2), status: w.lastStatus('acp') });
    const refused = await w.push(tppRoots, bundle2);
    expect(refused).toMatchObject({
      state: 'Failed',
      message: expect.stringContaining(
        'does not allow TrustBundle tpp-roots (rule AllowedBundles',
      ) as unknown,
      // The last good state is still in force, and the bundle's status keeps saying which.
      bundleHash: bundle1.hash,
      lastSyncTime: synced.lastSyncTime,
    });
    expect(w.store.reads).toBe(reads);
    expect(w.store.writes).toEqual([bundle1.pem]);
    expect(w.store.trust).toBe(bundle1.pem);
    const as = w.lastStatus('acp');
    expect(as?.publishedBy).toBeUndefined();
    expect(as?.bundleHash).toBe(bundle1.hash);
    expect(ready(as)).toMatchObject({ status: 'False', reason: 'NoAllowedBundle' });
    expect(ready(as)?.message).toContain(`stay as they are (last written: bundle ${bundle1.hash})`);
  });

  test('a stored server without the field (written before it was required) allows no bundle', async () => {
    const tppRoots = trustBundle('tpp-roots', '2024-01-01T00:00:00Z', ['acp']);
    const old = server('acp', []);
    delete (old.spec as Partial<AuthorizationServer['spec']>).allowedBundles;
    w = await world([old], [tppRoots]);
    expect(await w.push(tppRoots, bundle1)).toMatchObject({ state: 'Failed' });
    expect(w.clientsCreated).toEqual([]);
  });
});
