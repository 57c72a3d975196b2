// Security checks on the real operator:
// - a source Secret whose type (ssh-auth, basic-auth) or label (mtls.openbanking.dev/private-key)
//   says it holds a private key or a credential is refused, even when it also carries a valid CA;
// - ACP's TLS certificate is verified: a CA that did not sign it, no CA (system roots), or a host
//   it was not issued for each fail with a TLS error in the status and no request reaching ACP,
//   while the same server with the right CA works;
// - afterwards the operator's log, every Event and every TrustBundle status are searched for each
//   secret the operator handled: private keys, the ssh key, the basic-auth password, the ACP client
//   secret and tokens, ACP's own secrets and signing key, and the operator's API token.
import { jest } from '@jest/globals';
import {
  cleanupTestNamespaces,
  createTestNamespace,
  kubeConfig,
  kubectl,
  uniqueSuffix,
  waitFor,
} from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { AcpContractServer } from '../support/acp-contract-server.ts';
import { generateTlsMaterial } from '../support/acp-tls.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { condition, getBundle, readSecret } from '../support/trustbundles.ts';
import type { TrustBundle } from '../../operator/src/api/v1alpha1.ts';
import {
  BUNDLE_HASH,
  contractServerTarget,
  declareBundle,
  declareSecret,
  expectedHash,
  removeBundles,
} from '../support/faults.ts';
import { recordRow } from './results.ts';

jest.setTimeout(180_000);

const ssl = new OpenSSL();
const suffix = uniqueSuffix();
const good = ssl.cert({ subject: '/CN=Security Good Root' }).pem;
const smuggled = ssl.cert({ subject: '/CN=Smuggled Root' }).pem;
const sshKey = ssl.key('ed25519');
const password = `pw-${uniqueSuffix(12)}`;
const inlineKey = ssl.key('rsa:2048');
let ns: string;
let op: OperatorProcess | undefined;
const servers: AcpContractServer[] = [];
const bundles: string[] = [];

afterAll(async () => {
  await op?.kill('SIGKILL');
  await removeBundles(bundles);
  await Promise.all(servers.map((s) => s.stop()));
  await cleanupTestNamespaces();
  ssl.cleanup();
});

const bundleName = (what: string) => {
  const name = `sec-${what}-${suffix}`;
  bundles.push(name);
  return name;
};

/**
 * Pieces of a key's own bytes, never its constant PEM and ASN.1 header: every aligned run of 16
 * base64 characters of its lines past the first (of its only line, past 32 characters), so that
 * any leak of 31 characters or more from the middle of the key contains one; and the hex of 12
 * bytes from the middle of its DER.
 */
function keyPieces(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l.length > 0 && !l.startsWith('-----'));
  const body = lines.length > 1 ? lines.slice(1) : [lines[0]!.slice(32)];
  const pieces = body.flatMap((l) =>
    Array.from({ length: Math.floor(l.length / 16) }, (_, i) => l.slice(16 * i, 16 * i + 16)),
  );
  const der = Buffer.from(lines.join(''), 'base64');
  const mid = der.length >> 1;
  pieces.push(der.subarray(mid - 6, mid + 6).toString('hex'));
  if (pieces.length < 2) throw new Error('no key material to search for');
  return pieces;
}

test('credential-holding source Secrets are refused; ACP TLS is verified; no secret reaches logs, Events or status', async () => {
  await installCrds();
  ns = (await createTestNamespace('faults-security')).name;
  op = await OperatorProcess.start({
    env: {
      AUTHSERVER_CHECK_SECONDS: '300',
      TRUST_NAMESPACE: ns,
      ALLOW_INSECURE_AUTHORIZATION_SERVERS: 'true',
    },
  });

  // ---- 1. Secrets that say they hold keys or credentials ----
  const refusedSources: { what: string; secret: string; expect: RegExp }[] = [
    { what: 'ssh-auth', secret: 'src-ssh', expect: /type kubernetes\.io\/ssh-auth holds credentials/ },
    { what: 'basic-auth', secret: 'src-basic', expect: /type kubernetes\.io\/basic-auth holds credentials/ },
    { what: 'labelled', secret: 'src-labelled', expect: /labelled mtls\.openbanking\.dev\/private-key=true/ },
  ];
  await declareSecret(
    ns,
    'src-ssh',
    { 'ssh-privatekey': sshKey, 'ca.crt': smuggled },
    { type: 'kubernetes.io/ssh-auth' },
  );
  await declareSecret(
    ns,
    'src-basic',
    { username: 'admin', password, 'ca.crt': smuggled },
    { type: 'kubernetes.io/basic-auth' },
  );
  await declareSecret(
    ns,
    'src-labelled',
    { 'ca.crt': smuggled },
    { labels: { 'mtls.openbanking.dev/private-key': 'true' } },
  );
  const goodHash = expectedHash([good]);
  const refusals: string[] = [];
  await Promise.all(
    refusedSources.map(async (r) => {
      const name = bundleName(r.what);
      const target = { secrets: [{ namespace: ns, name: `t-${r.what}` }] };
      await declareBundle(name, { sources: [{ inline: good }], targets: target });
      await waitFor(
        `${name} Ready`,
        async () => condition(await getBundle(name), 'Ready')?.status === 'True',
      );
      const before = await readSecret(ns, `t-${r.what}`);
      await declareBundle(name, {
        sources: [{ inline: good }, { secret: { namespace: ns, name: r.secret } }],
        targets: target,
      });
      const tb = await waitFor(`${name} refused`, async () => {
        const b = await getBundle(name);
        return (
          b?.status?.observedGeneration === b?.metadata.generation &&
          condition(b, 'SourcesValid')?.status === 'False' &&
          b
        );
      });
      const problem = tb.status?.problems?.find((p) => p.code === 'PrivateKey');
      if (!problem || !r.expect.test(problem.message))
        refusals.push(`${r.what}: ${condition(tb, 'SourcesValid')?.message}`);
      const after = await readSecret(ns, `t-${r.what}`);
      if (JSON.stringify(after) !== JSON.stringify(before) || after?.annotations[BUNDLE_HASH] !== goodHash)
        refusals.push(`${r.what}: the target changed`);
    }),
  );
  // A private key inline, as a user pastes it.
  const pasted = bundleName('pasted-key');
  await declareBundle(pasted, {
    sources: [{ inline: good + inlineKey }],
    targets: { secrets: [{ namespace: ns, name: 't-pasted' }] },
  });
  const pastedTb = await waitFor('the pasted key refused', async () => {
    const b = await getBundle(pasted);
    return condition(b, 'SourcesValid')?.reason === 'PrivateKey' && b;
  });
  if (await readSecret(ns, 't-pasted')) refusals.push('a bundle with a pasted key created its target');

  // ---- 2. ACP TLS ----
  const acp = async (host = '127.0.0.1') => {
    const s = new AcpContractServer({
      tls: true,
      host,
      servers: ['openbanking_brasil'],
      tokenTTLSeconds: 3600,
    });
    await s.start();
    servers.push(s);
    return s;
  };
  const [wrongCA, systemRoots, wrongHost, verified, insecure] = [
    await acp(),
    await acp(),
    await acp('127.0.0.2'),
    await acp(),
    await acp(),
  ];
  const impostor = generateTlsMaterial('Impostor').caPem;
  // The 127.0.0.2 server presents a certificate for localhost, 127.0.0.1 and ::1 only.
  const tlsCases: {
    what: string;
    server: AcpContractServer;
    ca?: string | null;
    insecure?: boolean;
    ok: boolean;
  }[] = [
    { what: 'wrong-ca', server: wrongCA, ca: impostor, ok: false },
    { what: 'system-roots', server: systemRoots, ca: null, ok: false },
    { what: 'wrong-host', server: wrongHost, ok: false },
    { what: 'verified', server: verified, ok: true },
    { what: 'insecure', server: insecure, ca: null, insecure: true, ok: true },
  ];
  const tlsWrong: string[] = [];
  const tlsSeen: string[] = [];
  await Promise.all(
    tlsCases.map(async (c) => {
      const name = bundleName(`tls-${c.what}`);
      const acpTarget = await contractServerTarget(c.server, ns, [name], {
        prefix: `acp-${c.what}`,
        ...(c.ca !== undefined ? { ca: c.ca } : {}),
        ...(c.insecure ? { insecure: true } : {}),
      });
      await declareBundle(name, {
        sources: [{ inline: good }],
        targets: { secrets: [{ namespace: ns, name: `t-tls-${c.what}` }], authorizationServers: [acpTarget] },
      });
      const tb: TrustBundle = await waitFor(
        `${name}: the authorization server ${c.ok ? 'synced' : 'failed'}`,
        async () => {
          const b = await getBundle(name);
          const state = b?.status?.targets?.authorizationServers?.[0]?.state;
          return (state === 'Synced' || state === 'Failed') && b;
        },
        { timeoutMs: 30_000 },
      );
      const as = tb.status!.targets!.authorizationServers![0]!;
      const requests = c.server.requests.length;
      tlsSeen.push(
        `${c.what}: ${as.state}${as.message ? ` (${(/TLS: .*/.exec(as.message)?.[0] ?? as.message).slice(0, 110)})` : ''}, ${requests} requests reached ACP`,
      );
      if (c.ok) {
        if (as.state !== 'Synced') tlsWrong.push(`${c.what}: ${as.message}`);
      } else {
        if (as.state !== 'Failed' || !/TLS/.test(as.message ?? ''))
          tlsWrong.push(`${c.what}: not a TLS failure: ${as.message}`);
        if (requests !== 0)
          tlsWrong.push(`${c.what}: ${requests} requests reached ACP over an unverified connection`);
        if (condition(tb, 'AuthorizationServersSynced')?.status !== 'False')
          tlsWrong.push(`${c.what}: AuthorizationServersSynced is not False`);
        if (condition(tb, 'SecretsSynced')?.status !== 'True')
          tlsWrong.push(`${c.what}: the Secret target was held back`);
      }
    }),
  );
  if (!op.lines.some((l) => l.includes('TLS VERIFICATION IS OFF')))
    tlsWrong.push('insecureSkipTLSVerify was used without a warning in the log');

  // ---- 3. No secret anywhere it could be read ----
  const token = kubeConfig().getCurrentUser()?.token ?? '';
  const acpSecrets = servers.flatMap((s) => {
    const o = s.serverObject('openbanking_brasil');
    const jwk = (o.jwks as { keys: { d?: string }[] }).keys[0]!;
    return [
      ['ACP client secret', s.clientSecret],
      ['ACP access token', s.lastIssuedToken ?? ''],
      ["ACP server's secret", String(o.secret)],
      ["ACP server's salt", String(o.subject_identifier_algorithm_salt)],
      ["ACP server's private signing key", jwk.d ?? ''],
    ] as [string, string][];
  });
  const named: [string, string][] = [
    ...keyPieces(sshKey).map((l): [string, string] => ['ssh private key', l]),
    ...keyPieces(inlineKey).map((l): [string, string] => ['pasted private key', l]),
    ['basic-auth password', password],
    ["the operator's API token", token],
    ...acpSecrets,
  ];
  const secrets = named.filter(([, v]) => v.length >= 8);
  const events = await kubectl(['get', 'events', '-A', '-o', 'json']);
  const statuses = JSON.stringify(await Promise.all(bundles.map(async (b) => (await getBundle(b))?.status)));
  const logs = op.lines.join('\n');
  const places: [string, string][] = [
    ['operator log', logs],
    ['Events', events],
    ['TrustBundle statuses', statuses],
  ];
  const leaks = secrets.flatMap(([what, value]) =>
    places.filter(([, text]) => text.includes(value)).map(([where]) => `${what} in the ${where}`),
  );
  for (const [where, text] of places)
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) leaks.push(`a private key block in the ${where}`);
  const eventCount = (JSON.parse(events) as { items: unknown[] }).items.length;

  console.log(`security checks\n${tlsSeen.join('\n')}`);
  recordRow({
    suite: 'security',
    order: 60,
    title: 'Security (credential sources, ACP TLS, secrets in logs/Events/status)',
    tried:
      `${refusedSources.length} credential-holding source Secrets and 1 pasted key; ACP with a wrong CA, system roots, ` +
      `a wrong host (and 2 controls); ${secrets.length} secrets searched in ${op.lines.length} log lines, ${eventCount} Events, ${bundles.length} statuses`,
    faults: 3,
    badInputs: refusedSources.length + 1,
    lost: null,
    extraRollouts: null,
    changedByBadInput: refusals.filter((r) => r.includes('target')).length,
    saw:
      `${refusedSources.length + 1 - refusals.length}/${refusedSources.length + 1} refused with PrivateKey, targets unchanged; ` +
      `${tlsWrong.length === 0 ? 'every TLS failure reported as such with no request sent' : tlsWrong.join('; ')}; ${leaks.length} leaks`,
  });
  expect(condition(pastedTb, 'SourcesValid')!.message).toMatch(/inline\[0\]: contains a private key/);
  expect(refusals).toEqual([]);
  expect(tlsWrong).toEqual([]);
  expect(leaks).toEqual([]);
});
