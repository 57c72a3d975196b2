import type forge from 'node-forge';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle } from '../../src/bundle/build.ts';
import { parseCrl } from '../../src/bundle/crl.ts';
import {
  authorityOf,
  createCA,
  createCrl,
  issueClientCertificate,
  loadAuthority,
  revocationOf,
  serialBytes,
  type KeySpec,
} from '../../src/pki/index.ts';
import { parseDer } from '../../src/pki/x509.ts';
import { OpenSslCA } from '../bundle/openssl-ca.ts';
import { TempDir, openssl, scratch } from './tools.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const CNPJ = '11.222.333/0001-81';
const client = (ca: ReturnType<typeof createCA>, fqdn: string) =>
  issueClientCertificate(authorityOf(ca), {
    cnpj: CNPJ,
    fqdn,
    organization: 'TPP',
    key: { type: 'ec', curve: 'P-256' },
  });

/** openssl's verdict on `leaf` against `ca` with CRL checking, the way nginx's ssl_crl checks. */
function verifyWithCrl(caPem: string, crlPem: string, leafPem: string) {
  return openssl([
    'verify',
    '-crl_check',
    '-CAfile',
    scratch(tmp.path, 'ca.pem', caPem),
    '-CRLfile',
    scratch(tmp.path, 'crl.pem', crlPem),
    scratch(tmp.path, 'leaf.pem', leafPem),
  ]);
}

describe('createCrl', () => {
  test.each<[string, KeySpec]>([
    ['RSA 2048', { type: 'rsa', bits: 2048 }],
    ['EC P-384', { type: 'ec', curve: 'P-384' }],
    ['Ed25519', { type: 'ed25519' }],
  ])('%s CA: openssl verifies the CRL; the revoked client is refused, the other accepted', (_, key) => {
    const ca = createCA({ subject: '/C=BR/O=Banco Um/CN=Banco Um Root', key });
    const revoked = client(ca, 'revoked.tpp.example');
    const good = client(ca, 'good.tpp.example');
    const crl = createCrl(authorityOf(ca), {
      revoked: [revocationOf(authorityOf(ca), new X509Certificate(revoked.der))],
    });

    const check = openssl(['crl', '-noout', '-CAfile', scratch(tmp.path, 'ca.pem', ca.pem)], {
      input: crl.pem,
    });
    expect(check.stderr.trim()).toBe('verify OK');
    const listed = openssl(['crl', '-noout', '-text'], { input: crl.pem }).stdout;
    expect(listed).toMatch(/Version 2/);
    expect(listed).toMatch(/X509v3 Authority Key Identifier/);
    expect(listed).toMatch(/X509v3 CRL Number/);
    expect(listed).toContain(`Serial Number: ${new X509Certificate(revoked.der).serialNumber}`);

    expect(verifyWithCrl(ca.pem, crl.pem, revoked.pem).stderr).toMatch(/certificate revoked/);
    expect(verifyWithCrl(ca.pem, crl.pem, good.pem)).toMatchObject({ code: 0 });
  });

  test('the engine accepts it as the CA’s current CRL and reports the revoked serial', () => {
    const ca = createCA({
      subject: '/C=BR/O=Banco Um/CN=Banco Um Root',
      key: { type: 'ec', curve: 'P-256' },
    });
    const revoked = new X509Certificate(client(ca, 'revoked.tpp.example').der);
    const crl = createCrl(authorityOf(ca), { revoked: [revocationOf(authorityOf(ca), revoked)] });
    expect(parseCrl(crl.der).revokedSerials).toEqual([revoked.serialNumber]);

    const report = buildBundle([{ name: 'ca', content: ca.pem + crl.pem }], { crl: 'RequireForAll' });
    expect(report.problems).toEqual([]);
    expect(report.bundle!.crl).toBe(crl.pem);
    expect(report.bundle!.crls).toMatchObject([{ revokedCount: 1 }]);
  });

  test('an empty CRL omits revokedCertificates, and the engine takes it as current', () => {
    const ca = createCA({ subject: 'CN=Quiet CA', key: { type: 'ec', curve: 'P-256' } });
    const crl = createCrl(authorityOf(ca), { hours: 2 });
    expect(openssl(['crl', '-noout', '-text'], { input: crl.pem }).stdout).toMatch(/No Revoked Certificates/);
    // RFC 5280 §5.1.2.6: the field is absent, not an empty SEQUENCE (which openssl prints the same).
    type Asn1 = forge.asn1.Asn1;
    const tbs = (parseDer(crl.der).value as Asn1[])[0]!;
    expect((tbs.value as Asn1[]).map((n) => `${n.tagClass === 0 ? 'u' : 'c'}${n.type}`)).toEqual([
      'u2', // version
      'u16', // signature
      'u16', // issuer
      'u23', // thisUpdate (UTCTime)
      'u23', // nextUpdate
      'c0', // crlExtensions [0]
    ]);
    expect(crl.nextUpdate.getTime() - crl.thisUpdate.getTime()).toBe(2 * 3_600_000);
    const report = buildBundle([{ name: 'ca', content: ca.pem + crl.pem }], { crl: 'RequireForAll' });
    expect(report.bundle!.crls).toMatchObject([{ revokedCount: 0 }]);
  });

  test('a CRL whose nextUpdate has passed is made as asked, and the engine refuses it as stale', () => {
    const ca = createCA({ subject: 'CN=Late CA', key: { type: 'ec', curve: 'P-256' } });
    const crl = createCrl(authorityOf(ca), {
      thisUpdate: new Date(Date.now() - 48 * 3_600_000),
      nextUpdate: new Date(Date.now() - 24 * 3_600_000),
    });
    const report = buildBundle([{ name: 'ca', content: ca.pem + crl.pem }]);
    expect(report.bundle).toBeUndefined();
    expect(report.problems.map((p) => p.code)).toEqual(['StaleCRL']);
  });

  test('a later CRL has a larger cRLNumber unless one is given', () => {
    const ca = authorityOf(createCA({ subject: 'CN=Numbered CA', key: { type: 'ec', curve: 'P-256' } }));
    const first = createCrl(ca, { thisUpdate: new Date('2026-01-01T00:00:00Z') });
    const second = createCrl(ca, { thisUpdate: new Date('2026-01-02T00:00:00Z') });
    expect(BigInt(parseCrl(second.der).crlNumber!)).toBeGreaterThan(BigInt(parseCrl(first.der).crlNumber!));
    expect(parseCrl(createCrl(ca, { crlNumber: 42n }).der).crlNumber).toBe('42');
  });

  test('cRLNumber 0 is allowed; the same certificate revoked twice is listed once', () => {
    const ca = authorityOf(createCA({ subject: 'CN=CA', key: { type: 'ec', curve: 'P-256' } }));
    expect(parseCrl(createCrl(ca, { crlNumber: 0n }).der).crlNumber).toBe('0');
    const crl = createCrl(ca, { revoked: [{ serialNumber: '0ABC' }, { serialNumber: 'ab:c' }] });
    expect(parseCrl(crl.der).revokedSerials).toEqual(['0ABC']);
    expect(crl.revokedCount).toBe(1);
  });

  test('a CA whose keyUsage leaves out cRLSign is refused: OpenSSL would refuse its CRLs', () => {
    const ca = new OpenSslCA(tmp.path, '/CN=No CRL Sign CA', { keyUsage: 'keyCertSign' });
    const authority = loadAuthority(ca.pem, readFileSync(join(ca.dir, 'ca.key')));
    expect(() => createCrl(authority)).toThrow(
      'the keyUsage of "CN=No CRL Sign CA" does not include cRLSign: OpenSSL (hence nginx) would refuse its CRLs',
    );
  });

  test('nextUpdate must be later than thisUpdate', () => {
    const ca = authorityOf(createCA({ subject: 'CN=CA', key: { type: 'ec', curve: 'P-256' } }));
    const at = new Date('2026-06-01T00:00:00Z');
    expect(() => createCrl(ca, { thisUpdate: at, nextUpdate: at })).toThrow(
      'nextUpdate (2026-06-01T00:00:00.000Z) must be later than thisUpdate (2026-06-01T00:00:00.000Z)',
    );
  });
});

describe('revocationOf', () => {
  test('refuses a certificate another CA issued, even under the same name', () => {
    const ca = createCA({ subject: 'CN=Banco Um Root', key: { type: 'ec', curve: 'P-256' } });
    const impostor = createCA({ subject: 'CN=Banco Um Root', key: { type: 'ec', curve: 'P-256' } });
    const foreign = new X509Certificate(client(impostor, 'tpp.example').der);
    expect(() => revocationOf(authorityOf(ca), foreign)).toThrow(
      /"C=BR.*CN=tpp\.example.*" was not issued by "CN=Banco Um Root"/s,
    );
  });
});

describe('serialBytes', () => {
  test.each([
    ['01', '01'],
    ['7F', '7f'],
    ['80', '0080'],
    ['0080', '0080'],
    ['000001', '01'],
    ['ab:cd', '00abcd'],
    ['123', '0123'],
  ])('%s → %s', (hex, bytes) => {
    expect(serialBytes(hex).toString('hex')).toBe(bytes);
  });

  test.each(['', '00', 'xyz', '-1'])('"%s" is refused', (hex) => {
    expect(() => serialBytes(hex)).toThrow();
  });
});
