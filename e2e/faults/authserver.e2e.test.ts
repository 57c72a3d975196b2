// Authorization-server faults end to end: a TrustBundle with a Cloudentity ACP target (the contract
// server, over TLS) while ACP answers 5xx, 429 with Retry-After, hangs, answers slowly, moves the
// etag under the operator's feet, expires its tokens, drops connections, or presents a certificate
// the configured CA did not sign. Each fault ends in sync; the retries are counted and bounded;
// while the fault lasts the status never claims what ACP does not hold.
import { jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from '../harness/kube.ts';
import { OpenSSL } from '../../operator/test/support/openssl.ts';
import { AcpContractServer, type Fault, type Route } from '../support/acp-contract-server.ts';
import { generateTlsMaterial } from '../support/acp-tls.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { condition, getBundle } from '../support/trustbundles.ts';
import type { AuthorizationServerReference, TrustBundleSpec } from '../../operator/src/api/v1alpha1.ts';
import {
  contractServerTarget,
  declareBundle,
  declareSecret,
  expectedHash,
  removeBundles,
  sleep,
} from '../support/faults.ts';
import { recordRow, scale } from './results.ts';

const ROUNDS = scale(1, 3);
jest.setTimeout(120_000 + ROUNDS * 150_000);

const SERVER = 'openbanking_brasil';
const MAX_ATTEMPTS = 5; // the adapter's DEFAULT_RETRY_POLICY.maxAttempts
const ssl = new OpenSSL();
const cas = Array.from({ length: 12 }, (_, i) => ssl.cert({ subject: `/CN=ACP Fault Root ${i}` }).pem);
const name = `acp-faults-${uniqueSuffix()}`;
let acp: AcpContractServer;
let op: OperatorProcess | undefined;
let system: string;
let apim: string;
let target: AuthorizationServerReference;

afterAll(async () => {
  await op?.kill('SIGKILL');
  await removeBundles([name]);
  await acp?.stop();
  await cleanupTestNamespaces();
  ssl.cleanup();
});

const fingerprints = (pem: unknown): string =>
  [...String(pem ?? '').matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)]
    .map((m) => new X509Certificate(m[0]).fingerprint256)
    .sort()
    .join(',');

function spec(pems: string[]): TrustBundleSpec {
  return {
    sources: pems.map((inline) => ({ inline })),
    targets: {
      secrets: [{ namespace: apim, name: 'apitraffic-mtls-rootca' }],
      authorizationServers: [target],
    },
  };
}

async function metric(series: string): Promise<number> {
  const text = await op!.metrics();
  const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

interface Scenario {
  fault: string;
  /** Sets the fault up; returns how to undo it (TLS), if anything. */
  inject: () => Promise<(() => Promise<void>) | void> | void;
  /** Checks the requests ACP saw during the scenario; returns what is wrong. */
  requests: (
    seen: { route: Route | undefined; fault?: string; at: number; status: number }[],
    errors: number,
  ) => string[];
}

/** The status says ACP holds the bundle, and it does. */
async function synced(hash: string, want: string): Promise<boolean> {
  const tb = await getBundle(name);
  const as = tb?.status?.targets?.authorizationServers?.[0];
  return (
    tb?.status?.bundleHash === hash &&
    condition(tb, 'AuthorizationServersSynced')?.status === 'True' &&
    as?.bundleHash === hash &&
    fingerprints(acp.serverObject(SERVER).root_cas) === want
  );
}

const count = (seen: { route: Route | undefined }[], route: Route) =>
  seen.filter((r) => r.route === route).length;
const inject = (route: Route, fault: Fault, times: number) => () => acp.inject(route, fault, times);

const scenarios: Scenario[] = [
  {
    fault: '503 on 10 PUTs (more than one reconcile retries in-line)',
    inject: inject('put', { status: 503 }, 10),
    requests: (seen, errors) => [
      ...(count(seen, 'put') === 11 ? [] : [`expected 11 PUTs (10 refused + 1), saw ${count(seen, 'put')}`]),
      // At most MAX_ATTEMPTS tries per reconcile: the one that succeeds absorbs at most
      // MAX_ATTEMPTS - 1 refusals, each failed one MAX_ATTEMPTS, so at least this many failed.
      ...(errors >= Math.ceil((10 - (MAX_ATTEMPTS - 1)) / MAX_ATTEMPTS)
        ? []
        : [`${errors} failed reconciles for 10 refusals: more than ${MAX_ATTEMPTS} attempts in one`]),
    ],
  },
  {
    fault: '429 with Retry-After: 1 on 2 PUTs',
    inject: inject('put', { status: 429, retryAfter: '1' }, 2),
    requests: (seen) => {
      const puts = seen.filter((r) => r.route === 'put');
      const wrong = puts.length === 3 ? [] : [`expected 3 PUTs, saw ${puts.length}`];
      for (let i = 1; i < puts.length; i++)
        if (puts[i - 1]!.status === 429 && puts[i]!.at - puts[i - 1]!.at < 950)
          wrong.push(`retried ${puts[i]!.at - puts[i - 1]!.at} ms after a Retry-After of 1 s`);
      return wrong;
    },
  },
  {
    fault: 'a PUT that never answers (timeout)',
    inject: inject('put', { hang: true }, 1),
    requests: (seen) => (count(seen, 'put') === 2 ? [] : [`expected 2 PUTs, saw ${count(seen, 'put')}`]),
  },
  {
    fault: 'slow GETs (1.5 s each)',
    inject: inject('get', { delayMs: 1_500 }, 2),
    requests: (seen) => (count(seen, 'put') === 1 ? [] : [`expected 1 PUT, saw ${count(seen, 'put')}`]),
  },
  {
    fault: 'a stale etag twice (console edits between read and write)',
    inject: inject(
      'put',
      { before: () => acp.edit((s) => void (s.description = `edited ${Date.now()}`), SERVER) },
      2,
    ),
    requests: (seen) =>
      count(seen, 'put') === 3 ? [] : [`expected 3 PUTs (2 refused with 412), saw ${count(seen, 'put')}`],
  },
  {
    fault: 'expired tokens',
    inject: () => acp.expireTokens(),
    requests: (seen) =>
      count(seen, 'token') === 1 ? [] : [`expected 1 new token, saw ${count(seen, 'token')} token requests`],
  },
  {
    fault: 'connections dropped on 3 GETs',
    inject: inject('get', { reset: true }, 3),
    requests: (seen) => (count(seen, 'get') >= 4 ? [] : [`expected ≥ 4 GETs, saw ${count(seen, 'get')}`]),
  },
  {
    fault: 'a server certificate the configured CA did not sign (TLS)',
    inject: async () => {
      await declareSecret(system, 'acp-ca', { 'ca.crt': generateTlsMaterial('Impostor').caPem });
      return () => declareSecret(system, 'acp-ca', { 'ca.crt': acp.caPem! });
    },
    // The handshake fails before any HTTP request: ACP sees nothing until the CA is fixed.
    requests: () => [],
  },
];

test(`each ACP fault (${scenarios.length} kinds × ${ROUNDS}) ends in sync, with bounded retries and a truthful status`, async () => {
  acp = new AcpContractServer({ tls: true, servers: [SERVER], tokenTTLSeconds: 3600 });
  await acp.start();
  await installCrds();
  system = (await createTestNamespace('faults-acp-system')).name;
  apim = (await createTestNamespace('faults-acp-apim')).name;
  target = await contractServerTarget(acp, system, [name]);
  // The periodic read-back at its default (5 min): recovery must not wait for it.
  op = await OperatorProcess.start({ env: { AUTHSERVER_CHECK_SECONDS: '300', TRUST_NAMESPACE: system } });

  let version = 0;
  const lines: string[] = [];
  const problems: string[] = [];
  const lost: string[] = [];
  let faults = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of [undefined, ...scenarios]) {
      const pems = [cas[version % cas.length]!, cas[(version + 1) % cas.length]!];
      version++;
      const want = fingerprints(pems.join(''));
      const hash = expectedHash(pems);
      const heldBefore = fingerprints(acp.serverObject(SERVER).root_cas);
      const from = acp.requests.length;
      const errorsBefore = await metric('trustbundle_reconciles_total{result="error"}');
      const undo = s ? await s.inject() : undefined;
      const t0 = Date.now();
      await declareBundle(name, spec(pems));

      // While the fault lasts, sample the status: it may lag, never lie.
      const untruths: string[] = [];
      let sawFailed = false;
      const sampler = (async () => {
        while (!(await synced(hash, want))) {
          const tb = await getBundle(name);
          const as = tb?.status?.targets?.authorizationServers?.[0];
          const held = fingerprints(acp.serverObject(SERVER).root_cas);
          if (as?.state === 'Failed') sawFailed = true;
          if (as?.state === 'Synced' && as.bundleHash === hash && held !== want)
            untruths.push(`status says ACP holds ${hash.slice(0, 19)} while it does not`);
          if (
            condition(tb, 'AuthorizationServersSynced')?.status === 'True' &&
            as?.bundleHash !== tb?.status?.bundleHash
          )
            untruths.push('AuthorizationServersSynced True for a bundle ACP was not given');
          if (Date.now() - t0 > 60_000) break;
          await sleep(100);
        }
      })();
      if (undo) {
        await waitFor('the TLS failure in the status', async () => {
          const as = (await getBundle(name))?.status?.targets?.authorizationServers?.[0];
          return as?.state === 'Failed' && /TLS|certificate/i.test(as.message ?? '') && as.message;
        });
        if (acp.requests.length !== from)
          problems.push('requests reached ACP through an unverified TLS connection');
        faults++;
        await undo();
      }
      try {
        await waitFor(`sync after: ${s?.fault ?? 'no fault'}`, () => synced(hash, want), {
          timeoutMs: 60_000,
          intervalMs: 100,
        });
      } catch (err) {
        lost.push((err as Error).message);
      }
      await sampler;
      const took = Date.now() - t0;
      const seen = acp.requests.slice(from);
      const errors = (await metric('trustbundle_reconciles_total{result="error"}')) - errorsBefore;
      faults += seen.filter((r) => r.fault).length + (s?.fault === 'expired tokens' ? 1 : 0);
      const wrong = [...(s ? s.requests(seen, errors) : []), ...untruths];
      if (
        s?.fault.includes('stale etag') &&
        acp.serverObject(SERVER).description === 'Open Finance Brasil workspace'
      )
        wrong.push("the console's edit was overwritten");
      if (s && heldBefore === want) wrong.push('the scenario did not change the bundle');
      problems.push(...wrong.map((w) => `${s?.fault}: ${w}`));
      if (s)
        lines.push(
          `${s.fault}: in sync ${(took / 1000).toFixed(1)} s after the change; ${seen.length} requests ` +
            `(${count(seen, 'token')} token, ${count(seen, 'get')} GET, ${count(seen, 'put')} PUT), ` +
            `${errors} failed reconciles; status ${sawFailed ? 'showed the failure' : 'never showed a failure'}`,
        );
    }
  }
  const secrets = JSON.stringify(op.lines);
  if (secrets.includes(acp.clientSecret) || (acp.lastIssuedToken && secrets.includes(acp.lastIssuedToken)))
    problems.push('a credential reached the operator log');
  console.log(`authorization-server faults\n${lines.join('\n')}`);
  recordRow({
    suite: 'authserver',
    order: 30,
    title: 'Authorization server (Cloudentity ACP contract server)',
    tried: `${scenarios.length} kinds of fault × ${ROUNDS}: 5xx, 429 + Retry-After, timeout, slow, stale etag, expired token, dropped connection, TLS`,
    faults,
    badInputs: null,
    lost: lost.length,
    extraRollouts: null,
    changedByBadInput: null,
    saw:
      `${scenarios.length * ROUNDS - lost.length}/${scenarios.length * ROUNDS} faults ended in sync; ` +
      `${problems.length === 0 ? 'retries within bounds, Retry-After honoured, status never ahead of ACP' : problems.slice(0, 3).join('; ')}`,
  });
  expect(lost).toEqual([]);
  expect(problems).toEqual([]);
});
