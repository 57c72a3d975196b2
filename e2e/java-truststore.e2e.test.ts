// A Java consumer of the bundle: the PKCS#12 truststore the engine writes (toPkcs12) is the trust
// of a real JDK HTTPS server with needClientAuth (e2e/support/java/MtlsServer.java, compiled with
// javac here). TPPs of the bundle's CAs get 200; a TPP of another CA and a client without a
// certificate are refused in the handshake; keytool reads the store.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../operator/src/bundle/build.ts';
import { toPkcs12 } from '../operator/src/bundle/formats.ts';
import { OpenSslCA, type ClientCert } from '../operator/test/bundle/openssl-ca.ts';
import { compileMtlsServer, curlGet, JavaMtlsServer, serverKeystore } from './support/java/server.ts';

jest.setTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), 'tb-java-'));
const TRUST_PASSWORD = 'changeit-trustbundle';
const KEY_PASSWORD = 'server-keystore-password';

const ca1 = new OpenSslCA(work, '/C=BR/O=Banco Um/CN=Banco Um Root CA');
const ca2 = new OpenSslCA(work, '/C=BR/O=Banco Dois/CN=Banco Dois Root CA', { key: 'rsa' });
const stranger = new OpenSslCA(work, '/O=Elsewhere/CN=Untrusted Root CA');
const tpp1 = ca1.issueClient('tpp1.banco-um.example');
const tpp2 = ca2.issueClient('tpp2.banco-dois.example');
const intruder = stranger.issueClient('intruder.example');

/** The engine's bundle of `cas` as a PKCS#12 file. */
function truststore(name: string, cas: OpenSslCA[]): { file: string; fingerprints: string[] } {
  const report = buildBundle(cas.map((ca, i) => ({ name: `inline[${i}]`, content: ca.pem })));
  expect(report.problems).toEqual([]);
  const file = join(work, name);
  writeFileSync(file, toPkcs12(report.bundle!, TRUST_PASSWORD));
  return { file, fingerprints: report.bundle!.certificates.map((c) => c.fingerprintSHA256).sort() };
}

let classes: string;
let server: { keystore: string; certFile: string };
const running: JavaMtlsServer[] = [];

async function startServer(truststoreFile: string): Promise<JavaMtlsServer> {
  const s = await JavaMtlsServer.start({
    classes,
    keystore: server.keystore,
    keystorePassword: KEY_PASSWORD,
    truststore: truststoreFile,
    truststorePassword: TRUST_PASSWORD,
  });
  running.push(s);
  return s;
}

const subjectOf = (client: ClientCert) =>
  new X509Certificate(client.pem).subject.split('\n').reverse().join(',');

beforeAll(async () => {
  mkdirSync(join(work, 'classes'));
  mkdirSync(join(work, 'server'));
  [classes, server] = await Promise.all([
    compileMtlsServer(join(work, 'classes')),
    serverKeystore(join(work, 'server'), KEY_PASSWORD),
  ]);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

describe('the JDK HTTPS server with needClientAuth and the engine-made PKCS#12 truststore', () => {
  const both = truststore('both.p12', [ca1, ca2]);

  test('keytool -list reads the store: one trustedCertEntry per CA, the same fingerprints', () => {
    const out = execFileSync('keytool', [
      '-list', '-v', '-storetype', 'PKCS12', '-keystore', both.file, '-storepass', TRUST_PASSWORD,
    ]).toString(); // prettier-ignore
    expect(out).toContain('Your keystore contains 2 entries');
    expect(out.match(/Entry type: trustedCertEntry/g)).toHaveLength(2);
    expect([...out.matchAll(/SHA256: ([0-9A-F:]+)/g)].map((m) => m[1]).sort()).toEqual(both.fingerprints);
  });

  test('TPPs of both CAs are accepted (200) and the server sees who they are', async () => {
    const java = await startServer(both.file);
    expect(java.log).toContain('truststore entries: 2');
    for (const tpp of [tpp1, tpp2]) {
      const answer = await curlGet(java.port, server.certFile, tpp);
      expect(answer).toMatchObject({ status: 200, exitCode: 0 });
      expect(answer.body).toBe(`client: ${subjectOf(tpp)}\n`);
    }
  });

  test('a TPP of a CA outside the bundle is refused by the JDK trust manager; so is a client without a certificate', async () => {
    const java = await startServer(both.file);
    const refused = await curlGet(java.port, server.certFile, intruder);
    // The JDK's HttpsServer closes the connection without the TLS alert: no HTTP answer at all.
    expect(refused).toMatchObject({ status: 0, body: '' });
    expect(refused.exitCode).not.toBe(0);
    expect(java.log).toContain(`refused client ${subjectOf(intruder)}: PKIX path building failed`);

    const anonymous = await curlGet(java.port, server.certFile);
    expect(anonymous).toMatchObject({ status: 0, body: '' });
    expect(anonymous.exitCode).not.toBe(0);
    expect(java.log).not.toContain('trusted client');
    // The server itself is fine: a trusted TPP gets through on the same server.
    expect((await curlGet(java.port, server.certFile, tpp1)).status).toBe(200);
    expect(java.log).toContain(`trusted client ${subjectOf(tpp1)}`);
  });

  test("trust comes from the store's content: with only Banco Um's CA, Banco Dois's TPP is refused", async () => {
    const onlyOne = truststore('only-banco-um.p12', [ca1]);
    const java = await startServer(onlyOne.file);
    expect(java.log).toContain('truststore entries: 1');
    expect((await curlGet(java.port, server.certFile, tpp1)).status).toBe(200);
    const refused = await curlGet(java.port, server.certFile, tpp2);
    expect(refused.status).toBe(0);
    expect(java.log).toContain(`refused client ${subjectOf(tpp2)}: PKIX path building failed`);
  });
});
