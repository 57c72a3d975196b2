import { createHash, X509Certificate } from 'node:crypto';
import { buildBundle, DEFAULT_POLICY, type Source } from '../../src/bundle/index.ts';
import { OpenSSL, type TestCert } from '../support/openssl.ts';

const ssl = new OpenSSL();
afterAll(() => ssl.cleanup());

const src = (name: string, ...parts: (TestCert | string)[]): Source => ({
  name,
  content: parts.map((p) => (typeof p === 'string' ? p : p.pem)).join(''),
});
const codes = (r: ReturnType<typeof buildBundle>) => r.problems.map((p) => `${p.severity}:${p.code}`);
const DAY = 86_400_000;

describe('parsing', () => {
  test.each([
    ['rsa:2048', 'RSA', 2048, undefined],
    ['rsa:3072', 'RSA', 3072, undefined],
    ['ec:P-256', 'EC', 256, 'P-256'],
    ['ec:P-384', 'EC', 384, 'P-384'],
    ['ec:P-521', 'EC', 521, 'P-521'],
    ['ed25519', 'Ed25519', 256, undefined],
  ] as const)('%s certificates parse and are accepted', (key, alg, bits, curve) => {
    const ca = ssl.cert({ key, subject: `/CN=${key} Root/O=Bank/C=BR` });
    const r = buildBundle([src('inline[0]', ca)]);
    expect(r.problems).toEqual([]);
    expect(r.bundle?.certificates).toHaveLength(1);
    const c = r.bundle!.certificates[0]!;
    expect(c).toMatchObject({
      keyAlgorithm: alg,
      keySize: bits,
      isCA: true,
      selfSigned: true,
      status: 'Accepted',
    });
    expect(c.curve).toBe(curve);
    expect(c.subject).toBe(`CN=${key} Root, O=Bank, C=BR`);
    expect(c.fingerprintSHA256).toBe(new X509Certificate(ca.der).fingerprint256);
    expect(c.signatureAlgorithm).toMatch(key === 'ed25519' ? /Ed25519/ : /SHA256/i);
  });
});

describe('deterministic output', () => {
  const a = ssl.cert({ subject: '/CN=Alpha Root' });
  const b = ssl.cert({ subject: '/CN=Beta Root', key: 'rsa:2048' });
  const c = ssl.cert({ subject: '/CN=Gamma Root', key: 'ed25519' });

  test('a CA listed in two sources appears once and the report names both sources', () => {
    const r = buildBundle([src('secret pki/ca1', a), src('configmap pki/all', a, b)]);
    expect(r.bundle!.certificates.map((x) => x.subject)).toEqual(['CN=Alpha Root', 'CN=Beta Root']);
    expect(r.bundle!.certificates[0]!.sources).toEqual(['secret pki/ca1', 'configmap pki/all']);
    expect(r.bundle!.pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  test('any order and any formatting of the inputs gives the same bytes and hash', () => {
    const one = buildBundle([src('x', a, b, c)]).bundle!;
    const two = buildBundle([src('y', c), src('z', '\n\n' + b.pem.replace(/\n/g, '\r\n'), a, a)]).bundle!;
    expect(two.pem).toBe(one.pem);
    expect(two.hash).toBe(one.hash);
    expect(one.hash).toBe('sha256:' + createHash('sha256').update(one.pem).digest('hex'));
  });

  test('the output is canonical PEM that openssl reads, certificate by certificate', () => {
    const pem = buildBundle([src('x', a, b, c)]).bundle!.pem;
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----\n[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(blocks.join('')).toBe(pem);
    expect(blocks.map((blk) => ssl.subjectOf(blk))).toEqual([
      'subject=CN = Alpha Root',
      'subject=CN = Beta Root',
      'subject=CN = Gamma Root',
    ]);
    for (const blk of blocks) expect(blk.split('\n').every((l) => l.length <= 64)).toBe(true);
  });

  test('comment lines between blocks are accepted, as in system CA files', () => {
    const r = buildBundle([src('ca-certificates', '# Alpha\n', a, '\n# Beta\n', b)]);
    expect(r.problems).toEqual([]);
    expect(r.bundle!.certificates).toHaveLength(2);
  });
});

describe('strict input', () => {
  const good = ssl.cert({ subject: '/CN=Good Root' });
  const keyKinds: [string, () => string][] = [
    ['PKCS#8', () => ssl.key('ec:P-256')],
    ['traditional RSA', () => ssl.run(['pkey', '-traditional'], ssl.key('rsa:2048')).toString()],
    ['traditional EC', () => ssl.run(['ec'], ssl.key('ec:P-256')).toString()],
    [
      'encrypted PKCS#8',
      () =>
        ssl
          .run(['pkcs8', '-topk8', '-v2', 'aes256', '-passout', 'pass:secret'], ssl.key('ec:P-256'))
          .toString(),
    ],
    [
      'OpenSSH',
      () =>
        '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
    ],
  ];

  test.each(keyKinds)('a %s private key rejects the source and is never echoed', (_kind, makeKey) => {
    const key = makeKey();
    const r = buildBundle([src('secret pki/leaky', good, key), src('inline[1]', ssl.cert())]);
    expect(r.bundle).toBeUndefined();
    const p = r.problems.find((x) => x.code === 'PrivateKey')!;
    expect(p).toMatchObject({ severity: 'error', source: 'secret pki/leaky' });
    const body = key.split('\n').filter((l) => l && !l.startsWith('-----') && !l.includes(':'));
    const report = JSON.stringify(r.problems) + JSON.stringify(r.certificates.map((c) => c.subject));
    for (const line of body) expect(report).not.toContain(line.slice(0, 16));
    // The leaky source contributes nothing, not even its good certificate.
    expect(r.certificates.some((c) => c.sources.includes('secret pki/leaky'))).toBe(false);
  });

  const b64Lines = good.pem.split('\n').slice(1, -2);
  const cases: [string, string, string][] = [
    [
      'PEM headers',
      `-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n${b64Lines.join('\n')}\n-----END CERTIFICATE-----\n`,
      'PEMHeaders',
    ],
    [
      'truncated base64',
      `-----BEGIN CERTIFICATE-----\n${b64Lines.join('\n').slice(0, -7)}\n-----END CERTIFICATE-----\n`,
      'InvalidBase64',
    ],
    ['missing END line', `-----BEGIN CERTIFICATE-----\n${b64Lines.join('\n')}\n`, 'MalformedPEM'],
    [
      'mismatched END',
      `-----BEGIN CERTIFICATE-----\n${b64Lines.join('\n')}\n-----END X509 CRL-----\n`,
      'MalformedPEM',
    ],
    [
      'invalid characters',
      `-----BEGIN CERTIFICATE-----\n${b64Lines.join('\n').replace('A', '*')}\n-----END CERTIFICATE-----\n`,
      'InvalidBase64',
    ],
    ['trailing garbage', good.pem + 'and then some text\n', 'TrailingData'],
    ['leading text', 'Certificate:\n  Data: ...\n' + good.pem, 'TrailingData'],
    ['no PEM at all', 'hello\n', 'TrailingData'],
    ['empty source', '', 'NotPEM'],
    ['a broken CRL block', '-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n', 'UnparsableCRL'],
    [
      'a CSR block',
      '-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n',
      'UnsupportedBlock',
    ],
  ];

  test.each(cases)('%s is a distinct error naming source and position', (_name, content, code) => {
    const r = buildBundle([src('inline[0]', good), src('inline[1]', content)]);
    expect(r.bundle).toBeUndefined();
    const p = r.problems.find((x) => x.severity === 'error')!;
    expect(p.code).toBe(code);
    expect(p.source).toBe('inline[1]');
    expect(p.message).toContain('inline[1]');
    if (p.block) expect(p.message).toMatch(/block 1 \(line \d+\)/);
  });

  test('corrupted DER inside valid base64 names the block', () => {
    const der = Buffer.from(good.der);
    der.writeUInt8(der.readUInt8(der.length - 300) ^ 0xff, der.length - 300);
    der.writeUInt8(der.readUInt8(40) ^ 0xff, 40);
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    const r = buildBundle([src('inline[0]', good.pem + pem)]);
    expect(r.bundle).toBeUndefined();
    expect(r.problems[0]).toMatchObject({ code: 'UnparsableCertificate', source: 'inline[0]', block: 2 });
  });

  test('DER bytes where PEM is expected say how to convert them', () => {
    const r = buildBundle([{ name: 'secret pki/der', content: good.der }]);
    expect(r.problems[0]).toMatchObject({ code: 'NotPEM', source: 'secret pki/der' });
    expect(r.problems[0]!.message).toContain('-inform der');
  });

  test('PEM given as bytes is read like text', () => {
    const r = buildBundle([{ name: 'secret pki/bytes', content: Buffer.from(good.pem) }]);
    expect(r.bundle?.certificates).toHaveLength(1);
  });

  test('no sources at all is an error, never an empty bundle', () => {
    const r = buildBundle([]);
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['error:Empty']);
  });
});

describe('policy', () => {
  const now = new Date();
  const later = (days: number) => new Date(now.getTime() + days * DAY);
  const ok = ssl.cert({ subject: '/CN=Long Lived Root', days: 3650 });
  const shortLived = ssl.cert({ subject: '/CN=Short Lived Root', days: 10 });

  test('a non-CA leaf is refused by default and accepted when requireCA is false', () => {
    const leaf = ssl.cert({ ca: false, subject: '/CN=tpp.example.com' });
    const r = buildBundle([src('inline[0]', ok, leaf)]);
    expect(r.bundle).toBeUndefined();
    const p = r.problems.find((x) => x.code === 'NotCA')!;
    expect(p.certificate?.subject).toBe('CN=tpp.example.com');
    expect(p.message).toContain(p.certificate!.fingerprintSHA256);
    expect(buildBundle([src('inline[0]', ok, leaf)], { requireCA: false }).bundle?.certificates).toHaveLength(
      2,
    );
  });

  test('expired: Drop leaves it out with a warning, Reject refuses, Allow keeps it', () => {
    const sources = [src('inline[0]', ok, shortLived)];
    const drop = buildBundle(sources, {}, { now: later(30) });
    expect(drop.bundle!.certificates.map((c) => c.subject)).toEqual(['CN=Long Lived Root']);
    expect(codes(drop)).toEqual(['warning:Expired']);
    expect(drop.certificates.find((c) => c.subject === 'CN=Short Lived Root')!.status).toBe('Dropped');
    const reject = buildBundle(sources, { expired: 'Reject' }, { now: later(30) });
    expect(reject.bundle).toBeUndefined();
    expect(codes(reject)).toEqual(['error:Expired']);
    const allow = buildBundle(sources, { expired: 'Allow' }, { now: later(30) });
    expect(allow.bundle!.certificates).toHaveLength(2);
  });

  test('dropping the only certificate is an empty result, an error', () => {
    const r = buildBundle([src('inline[0]', shortLived)], {}, { now: later(30) });
    expect(r.bundle).toBeUndefined();
    expect(codes(r)).toEqual(['warning:Expired', 'error:Empty']);
  });

  test('not yet valid is refused by default', () => {
    const r = buildBundle([src('inline[0]', ok)], {}, { now: new Date(now.getTime() - 2 * DAY) });
    expect(codes(r)).toEqual(['error:NotYetValid']);
    expect(
      buildBundle([src('inline[0]', ok)], { notYetValid: 'Allow' }, { now: later(-2) }).bundle,
    ).toBeDefined();
  });

  test('a certificate inside the expiry window gets a warning and stays', () => {
    const r = buildBundle([src('inline[0]', shortLived)], { expiryWarningDays: 30 });
    expect(r.bundle?.certificates).toHaveLength(1);
    expect(codes(r)).toEqual(['warning:ExpiresSoon']);
    expect(codes(buildBundle([src('inline[0]', shortLived)], { expiryWarningDays: 5 }))).toEqual([]);
  });

  test('weak and unsupported keys', () => {
    const rsa1024 = ssl.cert({ key: 'rsa:1024' });
    expect(codes(buildBundle([src('i', rsa1024)]))).toEqual(['error:WeakKey']);
    expect(buildBundle([src('i', rsa1024)], { minRSABits: 1024 }).bundle).toBeDefined();
    const k1 = ssl.cert({ key: 'ec:secp256k1' });
    expect(codes(buildBundle([src('i', k1)]))).toEqual(['error:UnsupportedKey']);
    const p256 = ssl.cert({ key: 'ec:P-256' });
    expect(codes(buildBundle([src('i', p256)], { minECBits: 384 }))).toEqual(['error:WeakKey']);
  });

  test('SHA-1 signatures are refused unless allowed; MD5 always', () => {
    const sha1 = ssl.cert({ digest: 'sha1', key: 'rsa:2048' });
    const r = buildBundle([src('i', sha1)]);
    expect(codes(r)).toEqual(['error:WeakSignature']);
    expect(r.problems[0]!.message).toContain('sha1WithRSAEncryption');
    expect(buildBundle([src('i', sha1)], { allowSHA1Signatures: true }).bundle).toBeDefined();
    const md5 = ssl.cert({ digest: 'md5', key: 'rsa:2048' });
    expect(codes(buildBundle([src('i', md5)], { allowSHA1Signatures: true }))).toEqual([
      'error:WeakSignature',
    ]);
  });

  test('maximum number of certificates and of input bytes', () => {
    const three = [ssl.cert(), ssl.cert(), ssl.cert()];
    expect(codes(buildBundle([src('i', ...three)], { maxCertificates: 2 }))).toEqual([
      'error:TooManyCertificates',
    ]);
    expect(buildBundle([src('i', ...three)], { maxCertificates: 3 }).bundle).toBeDefined();
    const r = buildBundle([src('i', ...three)], { maxInputBytes: 100 });
    expect(codes(r)).toEqual(['error:InputTooLarge']);
  });

  test('the defaults are the safe ones of the design', () => {
    expect(DEFAULT_POLICY).toMatchObject({
      requireCA: true,
      expired: 'Drop',
      expiryWarningDays: 30,
      minRSABits: 2048,
      allowSHA1Signatures: false,
    });
  });
});

test('a self-signed root whose signature does not verify is refused as corrupted', () => {
  const root = ssl.cert({ key: 'rsa:2048', subject: '/CN=Tampered Root' });
  const der = Buffer.from(root.der);
  der.writeUInt8(der.readUInt8(der.length - 10) ^ 0x01, der.length - 10); // inside the signature value
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
  const r = buildBundle([src('inline[0]', pem)]);
  expect(r.bundle).toBeUndefined();
  expect(codes(r)).toEqual(['error:BadSignature']);
});
