import { X509Certificate } from 'node:crypto';
import { buildBundle } from '../../src/bundle/build.ts';
import { toHelmValue, toPkcs12, truststoreAlias } from '../../src/bundle/formats.ts';
import type { Bundle } from '../../src/bundle/types.ts';
import { createCA } from '../../src/pki/index.ts';
import { TempDir, openssl, run, scratch } from '../pki/tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const roots = [
  createCA({ subject: '/C=BR/O=Banco Um/CN=Banco Um Root CA' }),
  createCA({ subject: '/C=BR/O=Banco Dois/CN=Banco Dois Root CA', key: { type: 'ec', curve: 'P-384' } }),
  // Same subject as the first: aliases must still be distinct.
  createCA({ subject: '/C=BR/O=Banco Um/CN=Banco Um Root CA', key: { type: 'ec', curve: 'P-256' } }),
];

function bundleOf(pems: string[]): Bundle {
  const report = buildBundle(pems.map((content, i) => ({ name: `ca${i}`, content })));
  expect(report.problems).toEqual([]);
  return report.bundle!;
}

const bundle = bundleOf(roots.map((r) => r.pem));
const fingerprints = bundle.certificates.map((c) => c.fingerprintSHA256).sort();

describe('Helm value for apitraffic.ingressMtlsRootCa', () => {
  test('equals `base64 -w0` of the PEM bundle, on one line', () => {
    const value = toHelmValue(bundle);
    const reference = run('base64', ['-w0'], { input: bundle.pem });
    expect(reference.code).toBe(0);
    expect(value).toBe(reference.stdout);
    expect(value).not.toMatch(/\s/);
    expect(Buffer.from(value, 'base64').toString('utf8')).toBe(bundle.pem);
  });
});

describe('PKCS#12 truststore', () => {
  const password = 'correct horse battery staple';
  const p12 = scratch(tmp.path, 'truststore.p12', toPkcs12(bundle, password));

  test('keytool lists one trusted certificate entry per CA, with the same fingerprints', () => {
    const r = run('keytool', [
      '-list',
      '-v',
      '-storetype',
      'PKCS12',
      '-keystore',
      p12,
      '-storepass',
      password,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Your keystore contains ${roots.length} entries`);
    expect(r.stdout.match(/Entry type: trustedCertEntry/g)).toHaveLength(roots.length);
    const listed = [...r.stdout.matchAll(/SHA256: ([0-9A-F:]+)/g)].map((m) => m[1]).sort();
    expect(listed).toEqual(fingerprints);
    const aliases = [...r.stdout.matchAll(/Alias name: (\S+)/g)].map((m) => m[1]).sort();
    expect(aliases).toEqual(bundle.certificates.map(truststoreAlias).sort());
    expect(new Set(aliases).size).toBe(roots.length);
  });

  test('openssl pkcs12 -nokeys reads back exactly the bundle certificates, MAC verified', () => {
    const r = openssl(['pkcs12', '-in', p12, '-nokeys', '-passin', `pass:${password}`]);
    expect(r.code).toBe(0);
    const pems = r.stdout.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
    expect(pems.map((p) => new X509Certificate(p).fingerprint256).sort()).toEqual(fingerprints);
    const info = openssl(['pkcs12', '-in', p12, '-info', '-nokeys', '-noout', '-passin', `pass:${password}`]);
    expect(info.stderr).toMatch(/MAC: sha256, Iteration 10000/);
  });

  test('a wrong password fails the integrity check in both tools', () => {
    const o = openssl(['pkcs12', '-in', p12, '-nokeys', '-passin', 'pass:wrong']);
    expect(o.code).not.toBe(0);
    expect(o.stderr).toMatch(/Mac verify error/);
    const k = run('keytool', ['-list', '-storetype', 'PKCS12', '-keystore', p12, '-storepass', 'wrong']);
    expect(k.code).not.toBe(0);
    expect(k.stdout + k.stderr).toMatch(/Integrity check failed/);
  });

  test('a password Java could not use is refused: empty, or not printable ASCII', () => {
    expect(() => toPkcs12(bundle, '')).toThrow(/non-empty password/);
    expect(() => toPkcs12(bundle, 'senha-ção')).toThrow(/printable ASCII/);
    expect(() => toPkcs12(bundle, 'tab\there')).toThrow(/printable ASCII/);
  });

  test('printable ASCII punctuation in a password is fine for keytool', () => {
    const pass = `p@ss w0rd!"#$%&'()*+,-./:;<=>?[\\]^_\`{|}~`;
    const file = scratch(tmp.path, 'punct.p12', toPkcs12(bundle, pass));
    const k = run('keytool', ['-list', '-storetype', 'PKCS12', '-keystore', file, '-storepass', pass]);
    expect(k.code).toBe(0);
    expect(k.stdout).toContain(`Your keystore contains ${roots.length} entries`);
  });
});
