// syncTrust's comparison: certificate sets by DER SHA-256, never text.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { AuthorizationServerError, diffTrust, syncTrust } from '../../src/authserver/index.ts';
import { MemoryServer } from '../support/memory-server.ts';
import { OpenSSL, type TestCert } from '../support/openssl.ts';

const ssl = new OpenSSL();
let a: TestCert;
let b: TestCert;
let c: TestCert;

const fingerprint = (der: Buffer): string =>
  createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');

beforeAll(() => {
  [a, b, c] = [1, 2, 3].map((i) => ssl.cert({ subject: `/CN=Sync CA ${i}` })) as [
    typeof a,
    typeof a,
    typeof a,
  ];
});
afterAll(() => ssl.cleanup());

describe('syncTrust', () => {
  it('pushes into an empty server and reports every certificate as added', async () => {
    const server = new MemoryServer('');
    const result = await syncTrust(server, a.pem + b.pem);
    expect(result).toEqual({
      changed: true,
      certificates: [fingerprint(a.der), fingerprint(b.der)],
      added: [fingerprint(a.der), fingerprint(b.der)],
      removed: [],
    });
    expect(server.writes).toEqual([a.pem + b.pem]);
  });

  it.each([
    ['reordered', (x: string, y: string) => y + x],
    ['CRLF line endings', (x: string, y: string) => (x + y).replace(/\n/g, '\r\n')],
    [
      'blank lines and comments',
      (x: string, y: string) => `# managed elsewhere\n\n${x}\n\n# second\n${y}\n\n`,
    ],
    ['a duplicate', (x: string, y: string) => x + y + x],
    ['indented lines', (x: string, y: string) => (x + y).replace(/^/gm, '  ')],
  ])('writes nothing when the server holds the same set, %s', async (_what, layout) => {
    const server = new MemoryServer(layout(a.pem, b.pem));
    const result = await syncTrust(server, a.pem + b.pem);
    expect(result).toMatchObject({ changed: false, added: [], removed: [] });
    expect(server.writes).toEqual([]);
  });

  it('replaces a different set and names what changed', async () => {
    const server = new MemoryServer(a.pem + c.pem);
    const result = await syncTrust(server, a.pem + b.pem);
    expect(result).toMatchObject({
      changed: true,
      added: [fingerprint(b.der)],
      removed: [fingerprint(c.der)],
    });
    expect(server.trust).toBe(a.pem + b.pem);
  });

  it('replaces a subset and a superset', async () => {
    const sub = new MemoryServer(a.pem);
    expect((await syncTrust(sub, a.pem + b.pem)).added).toEqual([fingerprint(b.der)]);
    const sup = new MemoryServer(a.pem + b.pem + c.pem);
    expect((await syncTrust(sup, a.pem + b.pem)).removed).toEqual([fingerprint(c.der)]);
  });

  it('replaces a value that is not clean PEM, without quoting it', async () => {
    const server = new MemoryServer(a.pem + b.pem.replace('-----END CERTIFICATE-----', ''));
    const result = await syncTrust(server, a.pem + b.pem);
    expect(result.changed).toBe(true);
    expect(result.previousUnreadable).toMatch(/root_cas/);
    expect(result.previousUnreadable).not.toContain(b.pem.split('\n')[1]);
    expect(server.trust).toBe(a.pem + b.pem);
  });

  it('reads the server back after a write, and does not report a write the server did not keep', async () => {
    const kept = new MemoryServer(c.pem);
    await syncTrust(kept, a.pem + b.pem);
    expect(kept.reads).toBe(2);

    // Answers the write with success but keeps what it had (or a concurrent writer put it back).
    const forgetful = new MemoryServer(c.pem);
    forgetful.writeTrust = async (pem: string) => {
      forgetful.writes.push(pem);
    };
    const err = await syncTrust(forgetful, a.pem + b.pem).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationServerError);
    expect(err).toMatchObject({ kind: 'protocol', retriable: true });
    expect((err as Error).message).toMatch(
      /root_cas were written, but reading them back does not show the bundle \(2 certificate\(s\) of the bundle missing, 1 not in it\)/,
    );
    expect(forgetful.writes).toEqual([a.pem + b.pem]);
  });

  it('refuses to push an empty bundle (ACP would fall back to the system roots)', async () => {
    const server = new MemoryServer(a.pem);
    const err = await syncTrust(server, '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationServerError);
    expect((err as AuthorizationServerError).kind).toBe('config');
    expect(server.reads).toBe(0);
    expect(server.writes).toEqual([]);
  });

  it('refuses a bundle with anything but certificates', async () => {
    const server = new MemoryServer('');
    const key = ssl.key('ec:P-256');
    await expect(syncTrust(server, a.pem + key)).rejects.toThrow(/private key/);
    expect(server.writes).toEqual([]);
  });
});

describe('diffTrust (dry run)', () => {
  const ref = (cert: TestCert, n: number) => ({ subject: `CN=Sync CA ${n}`, sha256: fingerprint(cert.der) });

  it('names what would be added and removed, by subject and SHA-256, and writes nothing', async () => {
    const server = new MemoryServer(b.pem + c.pem);
    const diff = await diffTrust(server, a.pem + b.pem);
    expect(diff).toEqual({
      inSync: false,
      added: [ref(a, 1)],
      removed: [ref(c, 3)],
      certificates: [ref(a, 1), ref(b, 2)],
    });
    expect(server.writes).toEqual([]);
    expect(server.reads).toBe(1);
  });

  it('is in sync when the server holds the same set in another order', async () => {
    const server = new MemoryServer(`${b.pem}\n${a.pem}`);
    expect(await diffTrust(server, a.pem + b.pem)).toMatchObject({ inSync: true, added: [], removed: [] });
  });

  it('says why the server value is unreadable, and that a write would replace it whole', async () => {
    const server = new MemoryServer(`notes\n${a.pem}`);
    const diff = await diffTrust(server, a.pem);
    expect(diff.inSync).toBe(false);
    expect(diff.previousUnreadable).toMatch(/text before the first PEM block/);
    expect(server.writes).toEqual([]);
  });

  it('carries the guard findings when the server has them, only when a write would be needed', async () => {
    const server = Object.assign(new MemoryServer(b.pem), {
      readServer: async () => ({ rootCAs: server.trust, redacted: ['secret: masked'] }),
    });
    expect((await diffTrust(server, a.pem)).redacted).toEqual(['secret: masked']);
    expect(await diffTrust(server, b.pem)).not.toHaveProperty('redacted');
  });

  it('refuses an empty bundle as syncTrust does', async () => {
    await expect(diffTrust(new MemoryServer(a.pem), '')).rejects.toThrow(
      /not pushing the bundle: source bundle: no PEM block/,
    );
  });
});
