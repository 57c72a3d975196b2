// `trustbundle acp check` as users run it (the real bin, a child process) against the ACP contract
// server over TLS: the difference, a write only with --apply, the guard, and no credential printed.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes, X509Certificate } from 'node:crypto';
import { AcpContractServer } from '../../../e2e/support/acp-contract-server.ts';
import { OpenSSL, type TestCert } from '../support/openssl.ts';
import { TempDir, type Run } from '../pki/tools.ts';
import { trustbundleAsync, write } from './cli.ts';

const WID = 'openbanking_brasil';
const tmp = new TempDir();
const ssl = new OpenSSL();
const acp = new AcpContractServer({ tls: true, servers: [WID] });
let ca1: TestCert;
let ca2: TestCert;
let ca3: TestCert;
const runs: Run[] = [];
const WRONG_SECRET = randomBytes(18).toString('base64url');

beforeAll(async () => {
  await acp.start();
  [ca1, ca2, ca3] = [1, 2, 3].map((i) => ssl.cert({ subject: `/CN=CLI CA ${i}/O=Bank/C=BR` })) as [
    TestCert,
    TestCert,
    TestCert,
  ];
  write(tmp.path, 'acp-ca.crt', acp.caPem!);
  write(tmp.path, 'bundle.pem', ca1.pem + ca2.pem);
  write(tmp.path, 'creds.json', JSON.stringify({ client_id: acp.clientId, client_secret: acp.clientSecret }));
  write(tmp.path, 'creds.env', `client_id=${acp.clientId}\nclient_secret="${acp.clientSecret}"\n`);
});

afterAll(async () => {
  await acp.stop();
  ssl.cleanup();
  tmp.remove();
});

const ENV = (): Record<string, string> => ({
  ACP_CLIENT_ID: acp.clientId,
  ACP_CLIENT_SECRET: acp.clientSecret,
});
const endpoint = (): string[] => [
  'acp',
  'check',
  '--url',
  acp.url,
  '--tenant',
  acp.tenant,
  '--server',
  WID,
  '--ca-file',
  'acp-ca.crt',
];

async function check(args: string[], env: Record<string, string> = ENV()): Promise<Run> {
  const r = await trustbundleAsync([...endpoint(), ...args], { cwd: tmp.path, env });
  runs.push(r);
  return r;
}

const fp = (c: TestCert): string => new X509Certificate(c.der).fingerprint256;
const held = (): string[] =>
  [
    ...String(acp.serverObject(WID).root_cas).matchAll(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
    ),
  ]
    .map((m) => new X509Certificate(m[0]).fingerprint256)
    .sort();

describe('trustbundle acp check', () => {
  test('shows the difference by subject and SHA-256, writes nothing without --apply; exit 1', async () => {
    acp.edit((o) => (o.root_cas = ca1.pem + ca3.pem), WID);
    const puts = acp.requestsTo('put').length;

    const r = await check(['bundle.pem', '--verbose']);

    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`server: cloudentity ${acp.url} tenant ${acp.tenant} server ${WID}`);
    expect(r.stdout).toContain('root_cas: 2 certificates; bundle: 2');
    expect(r.stdout).toContain(`  + CN=CLI CA 2, O=Bank, C=BR  SHA-256 ${fp(ca2)}`);
    expect(r.stdout).toContain(`  - CN=CLI CA 3, O=Bank, C=BR  SHA-256 ${fp(ca3)}`);
    expect(r.stdout).toMatch(
      /^different: 1 to add, 1 to remove; nothing written \(run with --apply to write\)$/m,
    );
    expect(r.stderr).toMatch(/^POST \/default\/admin\/oauth2\/token → 200 \(\d+ ms\)$/m);
    expect(r.stderr).toMatch(/^GET \/api\/admin\/default\/servers\/openbanking_brasil → 200 \(\d+ ms\)$/m);
    expect(acp.requestsTo('put').length).toBe(puts);
    expect(held()).toEqual([fp(ca1), fp(ca3)].sort());
  });

  test('--apply writes, reads back to verify; the next check is in sync; exit 0', async () => {
    const puts = acp.requestsTo('put').length;

    const applied = await check(['bundle.pem', '--apply']);

    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(
      /^applied: 1 to add, 1 to remove; read back: root_cas hold exactly the bundle$/m,
    );
    expect(acp.requestsTo('put').length).toBe(puts + 1);
    expect(held()).toEqual([fp(ca1), fp(ca2)].sort());
    const again = await check(['bundle.pem']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^in sync: root_cas hold exactly the bundle; nothing to write$/m);
    expect(acp.requestsTo('put').length).toBe(puts + 1);
  });

  test.each(['creds.json', 'creds.env'])('reads the credentials from --credentials-file %s', async (file) => {
    const r = await check(['bundle.pem', '--credentials-file', file], {});
    expect(r.code).toBe(0);
  });

  test('refuses to write a read with redacted secrets, even with --apply; exit 1', async () => {
    acp.edit((o) => (o.root_cas = ca3.pem), WID);
    const puts = acp.requestsTo('put').length;
    acp.redactSecrets = 'mask';
    try {
      const r = await check(['bundle.pem', '--apply']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        'refused: the admin API returned redacted fields; writing the server back would reset them:',
      );
      expect(r.stdout).toMatch(/^ {2}secret: masked$/m);
      expect(r.stdout).toMatch(/^nothing written$/m);
    } finally {
      acp.redactSecrets = false;
    }
    expect(acp.requestsTo('put').length).toBe(puts);
    expect(held()).toEqual([fp(ca3)]);
  });

  test('wrong credentials: exit 1 with the reason, naming where they came from', async () => {
    const r = await check(['bundle.pem'], { ACP_CLIENT_ID: acp.clientId, ACP_CLIENT_SECRET: WRONG_SECRET });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /refused the client credentials from the environment \(ACP_CLIENT_ID, ACP_CLIENT_SECRET\)/,
    );
  });

  test.each<[string, string[], Record<string, string>, RegExp]>([
    [
      'no credentials',
      ['bundle.pem'],
      {},
      /no credentials: give --credentials-file FILE, or set ACP_CLIENT_ID/,
    ],
    [
      'a secret on the command line',
      ['bundle.pem', '--client-secret', WRONG_SECRET],
      {},
      /Unknown option '--client-secret'/,
    ],
    ['no bundle file', [], { ACP_CLIENT_ID: 'x', ACP_CLIENT_SECRET: 'y' }, /a bundle file is required/],
    [
      'a credentials file without the secret',
      ['bundle.pem', '--credentials-file', 'acp-ca.crt'],
      {},
      /must give client_id and client_secret/,
    ],
  ])('usage errors exit 2: %s', async (_what, args, env, message) => {
    const r = await check(args, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('plain http to another host is refused as a usage error', async () => {
    const r = await trustbundleAsync(
      ['acp', 'check', '--url', 'http://acp.example.com', '--tenant', 't', '--server', WID, 'bundle.pem'],
      { cwd: tmp.path, env: ENV() },
    );
    runs.push(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be an https:\/\/ URL/);
  });

  test('no credential in any output or log of the runs above', () => {
    expect(runs.length).toBeGreaterThanOrEqual(11);
    const secrets = [acp.clientSecret, WRONG_SECRET, ...acp.issuedTokens];
    expect(acp.issuedTokens.length).toBeGreaterThanOrEqual(6);
    const everything = runs.map((r) => r.stdout + r.stderr).join('\n') + JSON.stringify(acp.requests);
    // Not even a part: every 6-character piece of each secret is looked for.
    for (const secret of secrets) {
      for (let i = 0; i + 6 <= secret.length; i++)
        expect([secret, everything.includes(secret.slice(i, i + 6))]).toEqual([secret, false]);
    }
  });
});
