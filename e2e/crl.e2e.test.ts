// Revocation on a real nginx: the CRLs the bundle engine publishes (`bundle.crl`, the Secret's
// `ca.crl`) go into `ssl_crl` beside the bundle's `ca.crt`, as ingress-nginx configures an Ingress
// whose auth-tls-secret carries a ca.crl. A revoked TPP gets 400, another TPP of the same CA 200.
// Then the trap the engine's `crl` policy exists for: nginx with `ssl_crl` demands a current CRL
// for every CA, so a CRL file covering only one CA, or a CRL past its nextUpdate, locks out every
// TPP of the CA concerned; the engine never publishes such a ca.crl.
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../operator/src/bundle/build.ts';
import type { BuildReport, Policy, Source } from '../operator/src/bundle/types.ts';
import { OpenSslCA, type ClientCert } from '../operator/test/bundle/openssl-ca.ts';
import { requestWithBoth, type HttpAnswer, type IngressEndpoint } from './support/enforcement.ts';
import { Nginx } from './support/nginx.ts';
import { waitFor } from './harness/wait.ts';

jest.setTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), 'tb-crl-'));

// Banco Um revoked TPP1's certificate; TPP2 (also Banco Um) and TPP3 (Banco Dois) are in good standing.
const ca1 = new OpenSslCA(work, '/C=BR/O=Banco Um/CN=Banco Um Root CA');
const ca2 = new OpenSslCA(work, '/C=BR/O=Banco Dois/CN=Banco Dois Root CA', { key: 'rsa' });
const tpp1 = ca1.issueClient('tpp1.banco-um.example');
const tpp2 = ca1.issueClient('tpp2.banco-um.example');
const tpp3 = ca2.issueClient('tpp3.banco-dois.example');
ca1.revoke(tpp1);
const crl1 = ca1.crl();
const crl2 = ca2.crl();

const cas: Source = { name: 'inline[0]', content: ca1.pem + ca2.pem };
const crlSource = (name: string, ...crls: { pem: string }[]): Source => ({
  name,
  content: crls.map((c) => c.pem).join(''),
});
const build = (sources: Source[], policy: Partial<Policy> = {}): BuildReport => buildBundle(sources, policy);

let nginx: Nginx;
let endpoint: IngressEndpoint;
let generation = 0;

/** Puts a CA file and, when given, a CRL file (`ssl_crl`, as ingress-nginx adds for a ca.crl) in force. */
async function enforce(caPem: string, crlPem: string | undefined): Promise<void> {
  await nginx.apply(caPem, `crl-${++generation}`, crlPem);
  const conf = readFileSync(join(nginx.dir, 'nginx.conf'), 'utf8');
  expect(conf.includes(`ssl_crl ${nginx.clientCrlFile};`)).toBe(crlPem !== undefined);
}

/**
 * The status curl and openssl s_client both got (they must agree), and nginx's verdict on the
 * client certificate from the access log lines of these two requests.
 */
async function request(tpp: ClientCert): Promise<{ status: number; verify: string }> {
  const before = nginx.clientVerdicts().length;
  const answers: HttpAnswer[] = await requestWithBoth(endpoint, tpp);
  expect(answers[0]!.status).toBe(answers[1]!.status);
  const verdicts = await waitFor(
    'nginx to log both requests',
    (seen) => {
      const now = nginx.clientVerdicts();
      seen({ before, after: now.slice(before) });
      return now.length >= before + 2 && now.slice(before);
    },
    { timeoutMs: 5_000, intervalMs: 20 },
  );
  expect(verdicts).toHaveLength(2);
  expect(verdicts[0]).toBe(verdicts[1]);
  return { status: answers[0]!.status, verify: verdicts[0]! };
}

beforeAll(async () => {
  nginx = await Nginx.create({ dir: join(work, 'nginx') });
  endpoint = { host: '127.0.0.1', port: nginx.httpsPort, serverCaFile: nginx.serverCaFile };
});

afterAll(async () => {
  await nginx?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('nginx ssl_crl with the CRLs the engine publishes', () => {
  test('the revoked TPP gets 400; the other TPP of the same CA and the other CA’s TPP get 200', async () => {
    const r = build([
      cas,
      crlSource('secret pki/ca1 key ca.crl', crl1),
      crlSource('secret pki/ca2 key ca.crl', crl2),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.bundle!.crls.map((c) => c.revokedCount)).toEqual([0, 1]); // Banco Dois, Banco Um
    await enforce(r.bundle!.pem, r.bundle!.crl);

    expect(await request(tpp1)).toEqual({ status: 400, verify: 'FAILED:certificate revoked' });
    expect(await request(tpp2)).toEqual({ status: 200, verify: 'SUCCESS' });
    expect(await request(tpp3)).toEqual({ status: 200, verify: 'SUCCESS' });
  });

  test('without ssl_crl, the same bundle lets the revoked TPP in: the CRL is what refuses it', async () => {
    const r = build([cas]);
    await enforce(r.bundle!.pem, undefined);
    expect(await request(tpp1)).toEqual({ status: 200, verify: 'SUCCESS' });
  });
});

describe('the trap: nginx demands a current CRL for every CA', () => {
  test('a ca.crl with only Banco Um’s CRL locks out every TPP of Banco Dois', async () => {
    const r = build([cas]);
    await enforce(r.bundle!.pem, crl1.pem); // what a naive publisher would write
    expect(await request(tpp3)).toEqual({ status: 400, verify: 'FAILED:unable to get certificate CRL' });
    expect(await request(tpp2)).toEqual({ status: 200, verify: 'SUCCESS' });
    expect(await request(tpp1)).toEqual({ status: 400, verify: 'FAILED:certificate revoked' });
  });

  test('PublishIfComplete (the default): the engine publishes no ca.crl for those inputs, and Banco Dois’s TPPs keep working', async () => {
    const r = build([cas, crlSource('secret pki/ca1 key ca.crl', crl1)]);
    expect(r.bundle).toBeDefined();
    expect(r.bundle!.crl).toBeUndefined();
    expect(r.problems.map((p) => `${p.severity}:${p.code}:${p.certificate?.subject}`)).toEqual([
      'warning:MissingCRL:C=BR, O=Banco Dois, CN=Banco Dois Root CA',
    ]);
    await enforce(r.bundle!.pem, r.bundle!.crl);
    expect(await request(tpp3)).toEqual({ status: 200, verify: 'SUCCESS' });
    expect(await request(tpp2)).toEqual({ status: 200, verify: 'SUCCESS' });
  });

  test('RequireForAll: the engine refuses those inputs, so the last good state (both CRLs) stays in force', async () => {
    const good = build([cas, crlSource('crls', crl1, crl2)], { crl: 'RequireForAll' });
    await enforce(good.bundle!.pem, good.bundle!.crl);

    const r = build([cas, crlSource('secret pki/ca1 key ca.crl', crl1)], { crl: 'RequireForAll' });
    expect(r.bundle).toBeUndefined();
    expect(r.problems.map((p) => `${p.severity}:${p.code}`)).toEqual(['error:MissingCRL']);
    // Nothing new to enforce: nginx keeps the last good bundle and CRLs.
    expect(await request(tpp3)).toEqual({ status: 200, verify: 'SUCCESS' });
    expect(await request(tpp1)).toEqual({ status: 400, verify: 'FAILED:certificate revoked' });
  });

  test('a CRL past its nextUpdate locks out every TPP of its CA; the engine refuses it', async () => {
    const shortLived = ca2.crl({ seconds: 2 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await enforce(ca1.pem + ca2.pem, crl1.pem + shortLived.pem);
    expect(await request(tpp3)).toEqual({ status: 400, verify: 'FAILED:CRL has expired' });

    const r = build([cas, crlSource('crls', crl1, shortLived)]);
    expect(r.bundle).toBeUndefined();
    expect(r.problems.map((p) => `${p.severity}:${p.code}:${p.crl?.issuer}`)).toEqual([
      'error:StaleCRL:C=BR, O=Banco Dois, CN=Banco Dois Root CA',
    ]);
  });
});
