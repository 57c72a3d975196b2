// Revocation lists in the bundle engine, against CRLs made by the real `openssl ca -gencrl`:
// parsing cross-checked with `openssl crl -text`, signatures, currency, the coverage policy that
// guards against the nginx `ssl_crl` trap, and what is published as `ca.crl`.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildBundle,
  parseCrl,
  toPem,
  type BuildReport,
  type Policy,
  type Source,
} from '../../src/bundle/index.ts';
import { TempDir } from '../pki/tools.ts';
import { OpenSslCA, type Crl } from './openssl-ca.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const src = (name: string, ...parts: (string | { pem: string })[]): Source => ({
  name,
  content: parts.map((p) => (typeof p === 'string' ? p : p.pem)).join(''),
});
const codes = (r: BuildReport) => r.problems.map((p) => `${p.severity}:${p.code}`);
const pemOf = (der: Buffer): string => toPem(der, 'X509 CRL');
const build = (sources: Source[], policy: Partial<Policy> = {}, now?: Date) =>
  buildBundle(sources, policy, now ? { now } : {});

// Two banks' roots; TPP1 of bank one is revoked, TPP2 is not.
const ca1 = new OpenSslCA(tmp.path, '/C=BR/O=Banco Um/CN=Banco Um Root CA');
const ca2 = new OpenSslCA(tmp.path, '/C=BR/O=Banco Dois/CN=Banco Dois Root CA', { key: 'rsa' });
const tpp1 = ca1.issueClient('tpp1');
const tpp2 = ca1.issueClient('tpp2');
ca1.revoke(tpp1);
const crl1 = ca1.crl();
const crl2 = ca2.crl();
const cas = src('inline[0]', ca1, ca2);

function opensslCrlText(pem: string): string {
  return ca1.openssl(['crl', '-noout', '-text'], pem).toString();
}

describe('a valid CRL', () => {
  const r = build([cas, src('secret pki/ca1 key ca.crl', crl1), src('secret pki/ca2 key ca.crl', crl2)]);

  test('is accepted and published as ca.crl, one CRL per CA in the order of the certificates', () => {
    expect(r.problems).toEqual([]);
    const bundle = r.bundle!;
    expect(bundle.crls.map((c) => c.issuer)).toEqual(bundle.certificates.map((c) => c.subject));
    expect(bundle.crl).toBe(bundle.crls.map((c) => pemOf(c.der)).join(''));
    expect(bundle.crlHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The certificates' PEM is untouched by CRLs; the hash covers what is enforced, CRLs included.
    const plain = build([cas]).bundle!;
    expect(bundle.pem).toBe(plain.pem);
    expect(bundle.hash).not.toBe(plain.hash);
    expect(bundle.hash).toBe(
      'sha256:' +
        createHash('sha256')
          .update(bundle.pem + bundle.crl)
          .digest('hex'),
    );
  });

  test('its report entry agrees with `openssl crl -text`', () => {
    const entry = r.crls.find((c) => c.issuer === 'C=BR, O=Banco Um, CN=Banco Um Root CA')!;
    const text = opensslCrlText(crl1.pem);
    const date = (label: string) => new Date(new RegExp(`${label}: (.+ GMT)`).exec(text)![1]!);
    expect(entry).toMatchObject({
      status: 'Accepted',
      issuerFingerprintSHA256: new X509Certificate(ca1.der).fingerprint256,
      thisUpdate: date('Last Update'),
      nextUpdate: date('Next Update'),
      crlNumber: /X509v3 CRL Number:\s+(\d+)/.exec(text)![1],
      revokedCount: 1,
      revokedSerials: [tpp1.serial],
      signatureAlgorithm: 'ecdsa-with-SHA256',
      sources: ['secret pki/ca1 key ca.crl'],
    });
    expect(text).toContain(`Serial Number: ${tpp1.serial}`);
    // The serial is written the way the engine writes certificate serials.
    expect(entry.revokedSerials[0]).toBe(new X509Certificate(tpp1.pem).serialNumber.toUpperCase());
    expect(entry.nextUpdate!.getTime() - entry.thisUpdate.getTime()).toBe(7 * DAY);
  });

  test('openssl verifies the published CRLs and, with them, refuses TPP1 and accepts TPP2', () => {
    const caFile = join(tmp.path, 'bundle-ca.crt');
    const crlFile = join(tmp.path, 'bundle-ca.crl');
    writeFileSync(caFile, r.bundle!.pem);
    writeFileSync(crlFile, r.bundle!.crl!);
    const verify = (cert: string) => {
      try {
        return ca1
          .openssl(['verify', '-crl_check_all', '-CAfile', caFile, '-CRLfile', crlFile, cert])
          .toString();
      } catch (err) {
        return String((err as { stdout: Buffer }).stdout) + String((err as { stderr: Buffer }).stderr);
      }
    };
    expect(verify(tpp1.certFile)).toMatch(/certificate revoked/);
    expect(verify(tpp2.certFile)).toMatch(/: OK/);
  });

  test('a CRL in two sources appears once and names both; CRLs may share a source with certificates', () => {
    const two = build([src('inline[0]', ca1, crl1, ca2, crl2), src('configmap pki/crls', crl2, crl1)]);
    expect(two.problems).toEqual([]);
    expect(two.crls.map((c) => c.sources)).toEqual([
      ['inline[0]', 'configmap pki/crls'],
      ['inline[0]', 'configmap pki/crls'],
    ]);
    expect(two.bundle!.crl).toBe(r.bundle!.crl);
  });

  test('any order of the inputs gives the same ca.crl bytes', () => {
    const again = build([src('b', crl2), src('a', crl1), src('c', ca2, ca1)]);
    expect(again.bundle!.crl).toBe(r.bundle!.crl);
    expect(again.bundle!.crlHash).toBe(r.bundle!.crlHash);
  });

  test.each(['ec', 'rsa', 'rsa-pss', 'ed25519'] as const)('a CRL signed with a %s key verifies', (key) => {
    const ca = new OpenSslCA(tmp.path, `/O=Key Kinds/CN=${key} Root`, { key });
    ca.revoke(ca.issueClient('tpp'));
    const crl = ca.crl(key === 'rsa-pss' ? { args: ['-sigopt', 'rsa_padding_mode:pss'] } : {});
    const out = build([src('ca', ca), src('crl', crl)]);
    expect(out.problems).toEqual([]);
    expect(out.crls[0]).toMatchObject({ status: 'Accepted', revokedCount: 1 });
    expect(out.bundle!.crl).toBe(pemOf(crl.der));
  });

  test('a CRL with no revoked certificate is valid and counts zero', () => {
    expect(r.crls.find((c) => c.issuer.includes('Dois'))).toMatchObject({
      revokedCount: 0,
      revokedSerials: [],
    });
  });
});

describe('currency', () => {
  test('a CRL past its nextUpdate is an error naming its issuer and dates; nothing is published', () => {
    const shortLived = ca1.crl({ hours: 1 });
    const later = new Date(Date.now() + 2 * HOUR);
    const r = build([cas, src('crl1', shortLived), src('crl2', crl2)], {}, later);
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['error:StaleCRL']);
    const p = r.problems[0]!;
    const entry = parseCrl(shortLived.der);
    expect(p).toMatchObject({ source: 'crl1', crl: { issuer: 'C=BR, O=Banco Um, CN=Banco Um Root CA' } });
    expect(p.message).toContain('"C=BR, O=Banco Um, CN=Banco Um Root CA"');
    expect(p.message).toContain(`thisUpdate ${entry.thisUpdate.toISOString()}`);
    expect(p.message).toContain(`nextUpdate ${entry.nextUpdate!.toISOString()}`);
    expect(r.crls.find((c) => c.fingerprintSHA256 === entry.fingerprintSHA256)?.status).toBe('Rejected');
    // The same CRL an hour earlier is fine.
    expect(build([cas, src('crl1', shortLived), src('crl2', crl2)]).bundle?.crl).toBeDefined();
  });

  test('dropLapsedCrls (the CRL in force has lapsed): under PublishIfComplete the bundle goes out without ca.crl; under RequireForAll it is still refused', () => {
    const shortLived = ca1.crl({ hours: 1 });
    const later = new Date(Date.now() + 2 * HOUR);
    const sources = [cas, src('crl1', shortLived), src('crl2', crl2)];
    const lenient = buildBundle(sources, { crl: 'PublishIfComplete' }, { now: later, dropLapsedCrls: true });
    expect(lenient.bundle).toBeDefined();
    expect(lenient.bundle!.crl).toBeUndefined();
    expect(codes(lenient)).toEqual(['warning:StaleCRL', 'warning:MissingCRL']);
    expect(lenient.problems[1]!.message).toContain('Banco Um Root CA');
    expect(lenient.crls.map((c) => c.status).sort()).toEqual(['Accepted', 'Dropped']);
    // The certificates are the same as without any CRL: only ca.crl is withdrawn.
    expect(lenient.bundle!.pem).toBe(build([cas]).bundle!.pem);

    const strict = buildBundle(sources, { crl: 'RequireForAll' }, { now: later, dropLapsedCrls: true });
    expect(strict.bundle).toBeUndefined();
    expect(codes(strict)).toEqual(['error:StaleCRL']);
  });

  test('a CRL whose thisUpdate is in the future is an error', () => {
    const early = craftCrl(ca1, {
      thisUpdate: new Date(Date.now() + HOUR),
      nextUpdate: new Date(Date.now() + DAY),
    });
    ca1.openssl(['crl', '-noout', '-CAfile', join(ca1.dir, 'ca.crt')], early.pem); // openssl verifies it
    const r = build([cas, src('crl1', early), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:CRLNotYetValid']);
    expect(r.bundle).toBeUndefined();
  });

  test('a CRL without nextUpdate is an error: it cannot be known to be current', () => {
    const crl = craftCrl(ca1, { thisUpdate: new Date(Date.now() - 60_000) });
    expect(ca1.openssl(['crl', '-noout', '-text'], crl.pem).toString()).toContain('Next Update: NONE');
    ca1.openssl(['crl', '-noout', '-CAfile', join(ca1.dir, 'ca.crt')], crl.pem); // openssl verifies it
    const r = build([cas, src('crl1', crl), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:StaleCRL']);
    expect(r.problems[0]!.message).toContain('nextUpdate none');
  });
});

describe('signature', () => {
  test('a CRL signed by a CA outside the bundle is unverifiable', () => {
    const stranger = new OpenSslCA(tmp.path, '/O=Elsewhere/CN=Stranger Root');
    const r = build([cas, src('crl1', crl1), src('crl2', crl2), src('crl3', stranger.crl())]);
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['error:UnverifiableCRL']);
    expect(r.problems[0]).toMatchObject({ source: 'crl3', crl: { issuer: 'O=Elsewhere, CN=Stranger Root' } });
    expect(r.problems[0]!.message).toMatch(/not a CA of the bundle/);
  });

  test("a CRL in a bundle CA's name but signed by another key is unverifiable", () => {
    const impostor = new OpenSslCA(join(tmp.path, 'impostor'), '/C=BR/O=Banco Um/CN=Banco Um Root CA');
    const r = build([cas, src('forged', impostor.crl()), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:UnverifiableCRL']);
    expect(r.problems[0]!.message).toContain(
      'does not verify with the key of "C=BR, O=Banco Um, CN=Banco Um Root CA"',
    );
    expect(r.problems[0]!.message).toContain(new X509Certificate(ca1.der).fingerprint256);
  });

  test('with two CAs of one name (a rotated key), the CRL belongs to the one whose key signed it', () => {
    const rotated = new OpenSslCA(join(tmp.path, 'rotated'), '/C=BR/O=Banco Um/CN=Banco Um Root CA');
    const r = build([src('cas', ca1, rotated), src('old', crl1), src('new', rotated.crl())]);
    expect(r.problems).toEqual([]);
    expect(r.bundle!.crls.map((c) => c.issuerFingerprintSHA256)).toEqual(
      r.bundle!.certificates.map((c) => c.fingerprintSHA256),
    );
  });

  test('`openssl crl -badsig` (last signature byte corrupted) is unverifiable', () => {
    const bad = ca1.openssl(['crl', '-badsig'], crl1.pem).toString();
    const r = build([cas, src('crl1', bad), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:UnverifiableCRL']);
  });

  test('a revoked serial edited out of the signed bytes is unverifiable', () => {
    const der = Buffer.from(crl1.der);
    const at = der.indexOf(Buffer.from(tpp1.serial, 'hex'));
    der[at + 1] = der[at + 1]! ^ 0x01;
    const r = build([cas, src('crl1', pemOf(der)), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:UnverifiableCRL']);
    expect(r.crls[0]!.revokedSerials).not.toEqual([tpp1.serial]);
  });

  test('a SHA-1 signed CRL is refused unless allowSHA1Signatures', () => {
    const sha1 = ca2.crl({ digest: 'sha1' });
    const sources = [cas, src('crl1', crl1), src('crl2', sha1)];
    expect(codes(build(sources))).toEqual(['error:WeakSignature']);
    expect(build(sources, { allowSHA1Signatures: true }).bundle?.crl).toBeDefined();
  });
});

describe('malformed and unusable CRLs', () => {
  test('bytes that are not a CRL are an error naming the source and block', () => {
    const r = build([cas, src('crl', crl1, pemOf(crl2.der.subarray(0, 200)))]);
    expect(r.bundle).toBeUndefined();
    expect(r.problems[0]).toMatchObject({ code: 'UnparsableCRL', source: 'crl', block: 2 });
    expect(r.problems[0]!.message).toMatch(/block 2 \(line \d+\).*runs past/);
  });

  test('a certificate in an X509 CRL block is not a CRL', () => {
    const r = build([cas, src('crl', pemOf(ca1.der))]);
    expect(r.problems[0]).toMatchObject({ code: 'UnparsableCRL', source: 'crl', block: 1 });
  });

  test('corrupted base64 in a CRL block is InvalidBase64', () => {
    const r = build([cas, src('crl', crl1.pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n'))]);
    expect(r.problems[0]).toMatchObject({ code: 'InvalidBase64', source: 'crl' });
  });

  test('a delta CRL (`openssl crl -gendelta`) is refused: nginx needs complete CRLs', () => {
    const base = ca2.crl();
    ca2.revoke(ca2.issueClient('delta-tpp'));
    const next = ca2.crl();
    const delta = ca2.openssl([
      'crl', '-in', writeTmp('base.crl', base.pem), '-gendelta', writeTmp('next.crl', next.pem), '-key', 'ca.key', '-sha256',
    ]).toString(); // prettier-ignore
    const r = build([cas, src('crl1', crl1), src('delta', delta)]);
    expect(codes(r)).toEqual(['error:UnsupportedCRL']);
    expect(r.problems[0]!.message).toMatch(/delta CRL/);
  });

  test('an unknown critical CRL extension is refused, as OpenSSL refuses it', () => {
    const crl = ca1.crl({ args: ['-crlexts', 'crl_ext_critical'] });
    const r = build([cas, src('crl1', crl), src('crl2', crl2)]);
    expect(codes(r)).toEqual(['error:UnsupportedCRL']);
    expect(r.problems[0]!.message).toContain('1.3.6.1.4.1.55555.1');
    const caFile = writeTmp('ca1.crt', ca1.pem);
    const crlFile = writeTmp('critical.crl', crl.pem);
    expect(() =>
      ca1.openssl(['verify', '-crl_check', '-CAfile', caFile, '-CRLfile', crlFile, tpp2.certFile]),
    ).toThrow(/unhandled critical CRL extension/);
  });

  test('a CRL signed by a CA whose keyUsage leaves out cRLSign is refused, as OpenSSL refuses it', () => {
    const noCrlSign = new OpenSslCA(tmp.path, '/C=BR/O=Banco Tres/CN=Banco Tres Root CA', {
      keyUsage: 'keyCertSign',
    });
    const tpp = noCrlSign.issueClient('tpp-tres');
    const crl = noCrlSign.crl();
    const r = build([src('cas', ca1, noCrlSign), src('crl1', crl1), src('crl3', crl)]);
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['error:UnsupportedCRL']);
    expect(r.problems[0]!.message).toMatch(/Banco Tres Root CA.*keyUsage does not include cRLSign/);
    expect(() =>
      ca1.openssl([
        'verify', '-crl_check', '-CAfile', writeTmp('ca3.crt', noCrlSign.pem), '-CRLfile', writeTmp('ca3.crl', crl.pem),
        tpp.certFile,
      ]),
    ).toThrow(/key usage does not include CRL signing/); // prettier-ignore
  });

  test('random bytes in a CRL block never throw and never publish', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), (bytes) => {
        const r = build([cas, src('fuzz', pemOf(Buffer.from(bytes)))]);
        expect(r.bundle).toBeUndefined();
        expect(r.problems.some((p) => p.severity === 'error')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('no single corrupted byte of a CRL gets it published', () => {
    fc.assert(
      fc.property(fc.nat(crl1.der.length - 1), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const der = Buffer.from(crl1.der);
        der[at] = der[at]! ^ mask;
        const r = build([cas, src('crl1', pemOf(der)), src('crl2', crl2)]);
        expect(r.bundle).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });
});

describe('coverage policy (the nginx ssl_crl trap)', () => {
  test('PublishIfComplete (the default): a CA without a CRL means no ca.crl, with a warning naming it', () => {
    const r = build([cas, src('crl1', crl1)]);
    expect(r.bundle).toBeDefined();
    expect(r.bundle!.crl).toBeUndefined();
    expect(r.bundle!.crlHash).toBeUndefined();
    expect(r.bundle!.crls).toEqual([]);
    expect(codes(r)).toEqual(['warning:MissingCRL']);
    expect(r.problems[0]).toMatchObject({
      certificate: { subject: 'C=BR, O=Banco Dois, CN=Banco Dois Root CA' },
      source: 'inline[0]',
    });
    expect(r.problems[0]!.message).toMatch(
      /no current CRL.*no ca.crl is published \(policy crl: PublishIfComplete\)/,
    );
    // The CRL itself was fine.
    expect(r.crls[0]!.status).toBe('Accepted');
  });

  test('RequireForAll: a CA without a CRL refuses the bundle', () => {
    const r = build([cas, src('crl1', crl1)], { crl: 'RequireForAll' });
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['error:MissingCRL']);
    expect(r.problems[0]!.message).toMatch(
      /"C=BR, O=Banco Dois, CN=Banco Dois Root CA".*policy crl: RequireForAll/,
    );
    expect(
      build([cas, src('crl1', crl1), src('crl2', crl2)], { crl: 'RequireForAll' }).bundle?.crl,
    ).toBeDefined();
  });

  test('without any CRL: nothing to say by default; RequireForAll names every CA', () => {
    const plain = build([cas]);
    expect(plain.problems).toEqual([]);
    expect(plain.bundle!.crl).toBeUndefined();
    const strict = build([cas], { crl: 'RequireForAll' });
    expect(codes(strict)).toEqual(['error:MissingCRL', 'error:MissingCRL']);
  });

  test('a stale CRL is an error under either policy (the last good bundle stays)', () => {
    for (const crl of ['PublishIfComplete', 'RequireForAll'] as const) {
      const r = build([cas, src('crl1', crl1), src('crl2', crl2)], { crl }, new Date(Date.now() + 8 * DAY));
      expect(r.bundle).toBeUndefined();
      expect(codes(r).filter((c) => c.startsWith('error'))).toEqual(['error:StaleCRL', 'error:StaleCRL']);
    }
  });

  test('the CRL of a CA left out of the bundle is left out too', () => {
    const shortCA = new OpenSslCA(tmp.path, '/O=Short/CN=Short Lived Root', { days: 2 });
    const longCA = new OpenSslCA(tmp.path, '/O=Long/CN=Long Lived Root', { days: 400 });
    const sources = [
      src('cas', shortCA, longCA),
      src('short', shortCA.crl({ days: 10 })),
      src('long', longCA.crl({ days: 10 })),
    ];
    const r = build(sources, {}, new Date(Date.now() + 3 * DAY));
    expect(codes(r)).toEqual(['warning:Expired', 'warning:OrphanedCRL']);
    expect(r.bundle!.crls.map((c) => c.issuer)).toEqual(['O=Long, CN=Long Lived Root']);
    expect(r.crls.map((c) => c.status)).toEqual(['Accepted', 'Dropped']);
  });

  test('of two CRLs of one CA only the newest is published; the older is reported superseded', () => {
    const ca = new OpenSslCA(tmp.path, '/O=Rolling/CN=Rolling Root');
    const a = ca.issueClient('a');
    ca.revoke(a);
    const older = ca.crl();
    ca.revoke(ca.issueClient('b'));
    const newer = ca.crl();
    const r = build([src('ca', ca), src('crls', older, newer)]);
    expect(codes(r)).toEqual(['warning:SupersededCRL']);
    expect(r.bundle!.crls).toHaveLength(1);
    expect(r.bundle!.crls[0]!.revokedCount).toBe(2);
    expect(r.bundle!.crl).toBe(pemOf(newer.der));
    expect(r.crls.map((c) => c.status)).toEqual(['Accepted', 'Superseded']);
  });
});

function writeTmp(name: string, content: string): string {
  const path = join(tmp.path, name);
  writeFileSync(path, content);
  return path;
}

/**
 * A v2 CRL of the EC CA `ca1` with dates `openssl ca` cannot give (a thisUpdate in the future,
 * no nextUpdate): the TBSCertList and the CertificateList are generated by
 * `openssl asn1parse -genconf` and signed by `openssl dgst`.
 */
function craftCrl(ca: OpenSslCA, dates: { thisUpdate: Date; nextUpdate?: Date }): Crl {
  const utc = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:T]|\.\d+/g, '')
      .slice(2);
  const tbs = `[tbs]
version = INTEGER:1
signature = SEQUENCE:alg
issuer = SEQUENCE:issuer
thisUpdate = UTCTIME:${utc(dates.thisUpdate)}
${dates.nextUpdate ? `nextUpdate = UTCTIME:${utc(dates.nextUpdate)}` : ''}
[alg]
oid = OID:ecdsa-with-SHA256
[issuer]
c = SET:c
o = SET:o
cn = SET:cn
[c]
atv = SEQUENCE:c_atv
[c_atv]
type = OID:countryName
value = PRINTABLESTRING:BR
[o]
atv = SEQUENCE:o_atv
[o_atv]
type = OID:organizationName
value = UTF8:Banco Um
[cn]
atv = SEQUENCE:cn_atv
[cn_atv]
type = OID:commonName
value = UTF8:Banco Um Root CA
`;
  writeFileSync(join(ca.dir, 'tbs.cnf'), `asn1 = SEQUENCE:tbs\n${tbs}`);
  ca.openssl(['asn1parse', '-genconf', 'tbs.cnf', '-noout', '-out', 'tbs.der']);
  const signature = ca.openssl(['dgst', '-sha256', '-sign', 'ca.key', 'tbs.der']).toString('hex');
  writeFileSync(
    join(ca.dir, 'crl.cnf'),
    `asn1 = SEQUENCE:crl\n[crl]\ntbs = SEQUENCE:tbs\nalg = SEQUENCE:alg\nsig = FORMAT:HEX,BITSTRING:${signature}\n${tbs}`,
  );
  ca.openssl(['asn1parse', '-genconf', 'crl.cnf', '-noout', '-out', 'crl.der']);
  const der = readFileSync(join(ca.dir, 'crl.der'));
  return { der, pem: pemOf(der) };
}
