// The bad-input corpus: what people actually paste into a trust bundle by mistake (keys, CSRs,
// DER files, Helm values, truncated copies, look-alike characters, weak or expired CAs, huge
// inputs), each with the error the engine must give. Certificates and keys are made by the real
// openssl CLI for each run. Used by the unit test (corpus.test.ts) and by the e2e fault suite,
// which drives the same cases through the real operator.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Policy, ProblemCode } from '../../../src/bundle/types.ts';
import { createCrl, loadAuthority } from '../../../src/pki/index.ts';
import type { OpenSSL, TestCert } from '../../support/openssl.ts';
import { OpenSslCA } from '../openssl-ca.ts';

export type Category = 'pem' | 'key' | 'block' | 'binary' | 'unicode' | 'der' | 'policy' | 'size' | 'crl';

export interface CorpusCase {
  /** Short kebab-case name, unique; the e2e suite names its TrustBundles after it. */
  id: string;
  category: Category;
  what: string;
  /** One entry per source, in order: PEM text, or bytes as a Secret would hold them. */
  sources: (string | Uint8Array)[];
  policy?: Partial<Policy>;
  /** The error the build must report (other errors may come with it). */
  code: ProblemCode;
  /** Index of the source the error must name; absent for bundle-wide errors. */
  culprit?: number;
  /** Text that must never appear in any report, status, log or Event (key material). */
  secrets?: string[];
  /** False when the case cannot be expressed in Kubernetes objects (object size limits). */
  e2e?: boolean;
}

const DAY = 86_400_000;

const lines = (pem: string): string[] => pem.trimEnd().split('\n');
/** The base64 body lines of a single PEM block. */
const bodyOf = (pem: string): string[] => lines(pem).slice(1, -1);
const block = (label: string, b64: string): string =>
  `-----BEGIN ${label}-----\n${wrap(b64)}-----END ${label}-----\n`;
function wrap(b64: string): string {
  let out = '';
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out;
}
/** Lines of key material worth looking for in outputs (long enough never to occur by chance). */
const keyLines = (pem: string): string[] =>
  lines(pem)
    .filter((l) => !l.startsWith('-----') && !l.includes(':') && l.length >= 40)
    .map((l) => l.slice(0, 40));

/** A deterministic byte stream (xorshift32), so a failing case is the same on every run. */
function junk(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function buildCorpus(ssl: OpenSSL): CorpusCase[] {
  const file = (name: string, content: string): string => {
    const path = join(ssl.dir, name);
    writeFileSync(path, content);
    return path;
  };
  const pemOf = (args: string[], input?: string): string => ssl.run(args, input).toString();
  const certWith = (keyPem: string, subject: string, digest?: 'sha256'): TestCert =>
    ssl.cert({ keyPem, subject, ...(digest ? { digest } : {}) });
  const genKey = (...args: string[]): string => pemOf(['genpkey', ...args]);

  const good = ssl.cert({ subject: '/CN=Corpus Good Root/O=Bank/C=BR' });
  const good2 = ssl.cert({ subject: '/CN=Corpus Second Root/O=Bank/C=BR', key: 'rsa:2048' });
  const body = bodyOf(good.pem);
  const b64 = body.join('');

  // Private keys of every kind.
  const ecKey = ssl.key('ec:P-256');
  const rsaKey = ssl.key('rsa:2048');
  const edKey = ssl.key('ed25519');
  const x25519Key = genKey('-algorithm', 'X25519');
  const rsaTraditional = pemOf(['pkey', '-traditional'], rsaKey);
  const ecTraditional = pemOf(['ec'], ecKey);
  const encryptedPkcs8 = pemOf(['pkcs8', '-topk8', '-v2', 'aes256', '-passout', 'pass:corpus'], ecKey);
  const encryptedTraditional = pemOf(['rsa', '-traditional', '-aes256', '-passout', 'pass:corpus'], rsaKey);
  const dsaParams = file(
    'dsa-params.pem',
    pemOf(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:1024']),
  );
  const dsaKey = genKey('-paramfile', dsaParams);
  const dsaTraditional = pemOf(['pkey', '-traditional'], dsaKey);
  const openssh =
    '-----BEGIN OPENSSH PRIVATE KEY-----\n' +
    wrap(Buffer.concat([Buffer.from('openssh-key-v1\0'), junk(300, 7)]).toString('base64')) +
    '-----END OPENSSH PRIVATE KEY-----\n';
  const pgp =
    '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n' +
    wrap(junk(240, 11).toString('base64')) +
    '=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n';
  const derKey = ssl.run(['pkey', '-outform', 'DER'], ecKey);

  // Other PEM blocks people mistake for CAs.
  const csr = pemOf(['req', '-new', '-key', file('csr.key', ecKey), '-subj', '/CN=tpp.example.com']);
  const publicKey = pemOf(['pkey', '-pubout'], ecKey);
  const trusted = pemOf(['x509', '-trustout', '-addtrust', 'clientAuth'], good.pem);
  const pkcs7 = pemOf(['crl2pkcs7', '-nocrl', '-certfile', file('good.pem', good.pem)]);
  const ecParams = pemOf(['ecparam', '-name', 'prime256v1']);
  const p12 = ssl.run([
    'pkcs12',
    '-export',
    '-nokeys',
    '-in',
    file('p12.pem', good.pem),
    '-passout',
    'pass:',
  ]);

  // Certificates the policy refuses.
  const leaf = ssl.cert({ ca: false, subject: '/CN=tpp1.example.com/O=TPP/C=BR' });
  const now = Date.now();
  const expired = ssl.datedCert({
    subject: 'Corpus Expired Root',
    notBefore: new Date(now - 400 * DAY),
    notAfter: new Date(now - DAY),
  });
  const notYet = ssl.datedCert({
    subject: 'Corpus Future Root',
    notBefore: new Date(now + 10 * DAY),
    notAfter: new Date(now + 400 * DAY),
  });
  const sha1 = ssl.cert({ key: 'rsa:2048', digest: 'sha1', subject: '/CN=Corpus SHA1 Root' });
  const md5 = ssl.cert({ key: 'rsa:2048', digest: 'md5', subject: '/CN=Corpus MD5 Root' });
  const rsa1024 = ssl.cert({ key: 'rsa:1024', subject: '/CN=Corpus RSA1024 Root' });
  const k1 = ssl.cert({ key: 'ec:secp256k1', subject: '/CN=Corpus secp256k1 Root' });
  const brainpool = certWith(
    genKey('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'),
    '/CN=Corpus Brainpool Root',
  );
  const p192 = certWith(
    genKey('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime192v1'),
    '/CN=Corpus P-192 Root',
  );
  const dsaCA = certWith(dsaKey, '/CN=Corpus DSA Root');
  // A "root" whose issuer name is its own subject but which another key signed: a forgery. It has
  // no authorityKeyIdentifier naming the other key (with one it would read as a key-rollover
  // certificate whose old key is not in the bundle, which is reported, not refused).
  const forger = ssl.cert({ key: 'rsa:2048', subject: '/CN=Corpus Forged Root' });
  const forgedCsr = file(
    'forged.csr',
    pemOf(['req', '-new', '-key', file('forged.key', ecKey), '-subj', '/CN=Corpus Forged Root']),
  );
  file(
    'ext.cnf',
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nauthorityKeyIdentifier=none\n',
  );
  const forged = pemOf([
    'x509',
    '-req',
    '-in',
    forgedCsr,
    '-CA',
    file('forger.pem', forger.pem),
    '-CAkey',
    file('forger.key', forger.keyPem),
    '-set_serial',
    '77',
    '-days',
    '30',
    '-extfile',
    join(ssl.dir, 'ext.cnf'),
  ]);
  const extraCAs = [0, 1, 2, 3].map((i) => ssl.cert({ subject: `/CN=Corpus Extra Root ${i}` }).pem);

  // DER-level damage inside well-formed base64.
  const derWith = (der: Buffer): string => block('CERTIFICATE', der.toString('base64'));
  const flippedSignature = Buffer.from(good.der);
  flippedSignature[flippedSignature.length - 5]! ^= 0x01;
  const brokenTbs = Buffer.from(good.der);
  // The TBSCertificate's own SEQUENCE tag (after the outer tag and its length bytes).
  brokenTbs[brokenTbs[1]! & 0x80 ? 2 + (brokenTbs[1]! & 0x7f) : 2] = 0x31;

  const keySecrets = (...pems: string[]) => pems.flatMap(keyLines);
  const cases: CorpusCase[] = [
    // ---- malformed and truncated PEM ----
    {
      id: 'truncated-no-end',
      category: 'pem',
      what: 'a copy cut before the END line',
      sources: [lines(good.pem).slice(0, -1).join('\n') + '\n'],
      code: 'MalformedPEM',
      culprit: 0,
    },
    {
      id: 'truncated-half-body',
      category: 'pem',
      what: 'half of the base64 lines, then END',
      sources: [block('CERTIFICATE', body.slice(0, Math.floor(body.length / 2)).join(''))],
      code: 'UnparsableCertificate',
      culprit: 0,
    },
    {
      id: 'truncated-mid-line',
      category: 'pem',
      what: 'cut in the middle of a base64 line',
      sources: [block('CERTIFICATE', b64.slice(0, b64.length - 6 - ((b64.length - 6) % 4) + 1))],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'end-without-begin',
      category: 'pem',
      what: 'an END line with no BEGIN',
      sources: ['-----END CERTIFICATE-----\n'],
      code: 'MalformedPEM',
      culprit: 0,
    },
    {
      id: 'mismatched-end',
      category: 'pem',
      what: 'BEGIN CERTIFICATE closed by END PUBLIC KEY',
      sources: [`-----BEGIN CERTIFICATE-----\n${body.join('\n')}\n-----END PUBLIC KEY-----\n`],
      code: 'MalformedPEM',
      culprit: 0,
    },
    {
      id: 'nested-begin',
      category: 'pem',
      what: 'a second BEGIN inside an unterminated block',
      sources: [`-----BEGIN CERTIFICATE-----\n${body[0]}\n` + good2.pem],
      code: 'MalformedPEM',
      culprit: 0,
    },
    {
      id: 'concatenated-without-newline',
      category: 'pem',
      what: '`cat a.crt b.crt` where a.crt lacks its final newline',
      sources: [good.pem.trimEnd() + good2.pem],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'invalid-base64-character',
      category: 'pem',
      what: 'a character outside the base64 alphabet',
      sources: [
        `-----BEGIN CERTIFICATE-----\n${body.join('\n').replace(/[A-Z]/, '!')}\n-----END CERTIFICATE-----\n`,
      ],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'padding-in-the-middle',
      category: 'pem',
      what: 'base64 padding on a middle line',
      sources: [
        `-----BEGIN CERTIFICATE-----\n${body[0]}==\n${body.slice(1).join('\n')}\n-----END CERTIFICATE-----\n`,
      ],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'empty-block',
      category: 'pem',
      what: 'BEGIN and END with nothing between',
      sources: ['-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'pem-headers',
      category: 'pem',
      what: 'RFC 1421 headers inside a CERTIFICATE block',
      sources: [
        `-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n${body.join('\n')}\n-----END CERTIFICATE-----\n`,
      ],
      code: 'PEMHeaders',
      culprit: 0,
    },
    {
      id: 'openssl-text-output',
      category: 'pem',
      what: '`openssl x509 -text` output pasted whole',
      sources: [ssl.run(['x509', '-text'], good.pem).toString()],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'text-after-block',
      category: 'pem',
      what: 'a note after the certificate',
      sources: [good.pem + 'valid until 2030, ask the PKI team\n'],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'lowercase-markers',
      category: 'pem',
      what: 'lower-case BEGIN/END markers',
      sources: [good.pem.replace(/CERTIFICATE/g, 'certificate')],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'four-dashes',
      category: 'pem',
      what: 'markers with four dashes instead of five',
      sources: [good.pem.replace(/-----/g, '----')],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'empty-source',
      category: 'pem',
      what: 'an empty value',
      sources: [''],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'whitespace-only',
      category: 'pem',
      what: 'blank lines and tabs only',
      sources: ['\n  \n\t\n'],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'comments-only',
      category: 'pem',
      what: 'comment lines and no block',
      sources: ['# the CA goes here\n# TODO\n'],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'helm-value-base64-of-pem',
      category: 'pem',
      what: 'the Helm value (base64 of the PEM) instead of the PEM',
      sources: [Buffer.from(good.pem).toString('base64')],
      code: 'TrailingData',
      culprit: 0,
    },

    // ---- private keys, in every form ----
    ...(
      [
        ['pkcs8-ec-key', 'a PKCS#8 EC private key', ecKey],
        ['pkcs8-rsa-key', 'a PKCS#8 RSA private key', rsaKey],
        ['pkcs8-ed25519-key', 'an Ed25519 private key', edKey],
        ['pkcs8-x25519-key', 'an X25519 private key', x25519Key],
        ['traditional-rsa-key', 'a traditional (PKCS#1) RSA private key', rsaTraditional],
        ['traditional-ec-key', 'a traditional (SEC1) EC private key', ecTraditional],
        ['traditional-dsa-key', 'a traditional DSA private key', dsaTraditional],
        ['encrypted-pkcs8-key', 'an encrypted PKCS#8 private key', encryptedPkcs8],
        [
          'encrypted-traditional-key',
          'an encrypted traditional key (Proc-Type/DEK-Info headers)',
          encryptedTraditional,
        ],
        ['openssh-key', 'an OpenSSH private key', openssh],
        ['pgp-private-key', 'a PGP private key block', pgp],
      ] as const
    ).map(([id, what, key]): CorpusCase => ({
      id,
      category: 'key',
      what: `${what} after a good CA`,
      sources: [good.pem + key],
      code: 'PrivateKey',
      culprit: 0,
      secrets: keySecrets(key),
    })),
    {
      id: 'tls-secret-pair',
      category: 'key',
      what: "a kubernetes.io/tls pair's tls.crt + tls.key concatenated",
      sources: [good2.pem, leaf.pem + leaf.keyPem],
      code: 'PrivateKey',
      culprit: 1,
      secrets: keySecrets(leaf.keyPem),
    },
    {
      id: 'key-base64-without-markers',
      category: 'key',
      what: "a key's base64 body with its markers stripped",
      sources: [bodyOf(rsaKey).join('\n') + '\n'],
      code: 'TrailingData',
      culprit: 0,
      secrets: keySecrets(rsaKey),
    },
    {
      id: 'der-private-key',
      category: 'key',
      what: 'a DER-encoded private key file',
      sources: [new Uint8Array(derKey)],
      code: 'NotPEM',
      culprit: 0,
      secrets: [derKey.toString('base64').slice(0, 40)],
    },

    // ---- PEM blocks that are not certificates ----
    ...(
      [
        ['csr-block', 'a certificate signing request', csr],
        ['public-key-block', 'a bare public key', publicKey],
        ['trusted-certificate-block', "OpenSSL's TRUSTED CERTIFICATE form", trusted],
        ['pkcs7-block', 'a PKCS#7 certificate bag', pkcs7],
        ['ec-parameters-block', 'EC PARAMETERS (what `openssl ecparam` prints before a key)', ecParams],
        ['csr-after-good-ca', 'a CSR following a good CA in one source', good.pem + csr],
      ] as const
    ).map(([id, what, text]): CorpusCase => ({
      id,
      category: 'block',
      what,
      sources: [text],
      code: 'UnsupportedBlock',
      culprit: 0,
    })),

    // ---- binary input where PEM text is expected ----
    {
      id: 'der-certificate',
      category: 'binary',
      what: 'a DER .cer file',
      sources: [new Uint8Array(good.der)],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'pkcs12-file',
      category: 'binary',
      what: 'a PKCS#12 truststore',
      sources: [new Uint8Array(p12)],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'gzip-of-pem',
      category: 'binary',
      what: 'a gzipped PEM file',
      sources: [new Uint8Array(gzipSync(good.pem))],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'random-bytes',
      category: 'binary',
      what: '4 KiB of random bytes',
      sources: [new Uint8Array(junk(4096, 42))],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'nul-inside-pem',
      category: 'binary',
      what: 'PEM with a NUL byte near the start',
      sources: [new Uint8Array(Buffer.from(good.pem.slice(0, 100) + '\0' + good.pem.slice(100)))],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'invalid-utf8',
      category: 'binary',
      what: 'PEM followed by bytes that are not UTF-8',
      sources: [new Uint8Array(Buffer.concat([Buffer.from(good.pem), Buffer.from([0xff, 0xfe, 0xfd])]))],
      code: 'NotPEM',
      culprit: 0,
    },
    {
      id: 'utf16-pem',
      category: 'binary',
      what: 'PEM saved as UTF-16 by a Windows editor',
      sources: [new Uint8Array(Buffer.from('\ufeff' + good.pem, 'utf16le'))],
      code: 'NotPEM',
      culprit: 0,
    },

    // ---- look-alike and stray unicode ----
    {
      id: 'en-dash-markers',
      category: 'unicode',
      what: 'markers whose dashes a word processor turned into en dashes',
      sources: [good.pem.replace(/-----/g, '–––––')],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'fullwidth-markers',
      category: 'unicode',
      what: 'full-width hyphen-minus markers',
      sources: [good.pem.replace(/-----/g, '－－－－－')],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'cyrillic-letter-in-body',
      category: 'unicode',
      what: 'a Cyrillic А in place of a Latin A in the base64',
      sources: [
        `-----BEGIN CERTIFICATE-----\n${body.join('\n').replace('A', 'А')}\n-----END CERTIFICATE-----\n`,
      ],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'zero-width-space-in-body',
      category: 'unicode',
      what: 'a zero-width space inside a base64 line',
      sources: [
        `-----BEGIN CERTIFICATE-----\n${body[0]!.slice(0, 10)}\u200b${body[0]!.slice(10)}\n${body.slice(1).join('\n')}\n-----END CERTIFICATE-----\n`,
      ],
      code: 'InvalidBase64',
      culprit: 0,
    },
    {
      id: 'rtl-override-before-block',
      category: 'unicode',
      what: 'a right-to-left override character before the block',
      sources: ['\u202e' + good.pem],
      code: 'TrailingData',
      culprit: 0,
    },
    {
      id: 'emoji',
      category: 'unicode',
      what: 'an emoji and nothing else',
      sources: ['🔐\n'],
      code: 'TrailingData',
      culprit: 0,
    },

    // ---- base64 that decodes, DER that does not make a certificate ----
    {
      id: 'base64-of-text',
      category: 'der',
      what: 'a CERTIFICATE block whose base64 decodes to plain text',
      sources: [block('CERTIFICATE', Buffer.from('this is not a certificate at all').toString('base64'))],
      code: 'UnparsableCertificate',
      culprit: 0,
    },
    {
      id: 'trailing-bytes-after-der',
      category: 'der',
      what: 'a certificate followed by extra bytes in the same block',
      sources: [derWith(Buffer.concat([good.der, Buffer.from([0, 0, 0, 0])]))],
      code: 'UnparsableCertificate',
      culprit: 0,
    },
    {
      id: 'huge-der-length',
      category: 'der',
      what: 'a SEQUENCE claiming to be 2 GiB long',
      sources: [derWith(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00]))],
      code: 'UnparsableCertificate',
      culprit: 0,
    },
    {
      id: 'corrupted-tbs',
      category: 'der',
      what: 'a certificate whose inner structure is damaged',
      sources: [derWith(brokenTbs)],
      code: 'UnparsableCertificate',
      culprit: 0,
    },
    {
      id: 'flipped-signature-bit',
      category: 'der',
      what: 'a self-signed root with one bit of its signature flipped',
      sources: [derWith(flippedSignature)],
      code: 'BadSignature',
      culprit: 0,
    },
    {
      id: 'megabyte-of-a',
      category: 'der',
      what: 'a block of a million base64 "A"s (zero bytes)',
      sources: [block('CERTIFICATE', 'A'.repeat(1_000_000))],
      code: 'UnparsableCertificate',
      culprit: 0,
    },

    // ---- certificates the policy refuses ----
    {
      id: 'leaf-not-ca',
      category: 'policy',
      what: "a TPP's client certificate instead of its issuing CA",
      sources: [leaf.pem],
      code: 'NotCA',
      culprit: 0,
    },
    {
      id: 'good-ca-and-leaf',
      category: 'policy',
      what: 'a good CA and a leaf: one bad certificate holds the whole bundle back',
      sources: [good.pem, good2.pem + leaf.pem],
      code: 'NotCA',
      culprit: 1,
    },
    {
      id: 'expired-under-reject',
      category: 'policy',
      what: 'an expired CA under expired: Reject',
      sources: [good.pem, expired.pem],
      policy: { expired: 'Reject' },
      code: 'Expired',
      culprit: 1,
    },
    {
      id: 'only-expired',
      category: 'policy',
      what: 'only an expired CA (dropped): the result would be empty',
      sources: [expired.pem],
      code: 'Empty',
    },
    {
      id: 'not-yet-valid',
      category: 'policy',
      what: 'a CA valid from next week',
      sources: [notYet.pem],
      code: 'NotYetValid',
      culprit: 0,
    },
    {
      id: 'sha1-signature',
      category: 'policy',
      what: 'a CA signed with SHA-1',
      sources: [sha1.pem],
      code: 'WeakSignature',
      culprit: 0,
    },
    {
      id: 'md5-signature',
      category: 'policy',
      what: 'a CA signed with MD5',
      sources: [md5.pem],
      code: 'WeakSignature',
      culprit: 0,
    },
    {
      id: 'rsa-1024',
      category: 'policy',
      what: 'a 1024-bit RSA CA',
      sources: [rsa1024.pem],
      code: 'WeakKey',
      culprit: 0,
    },
    {
      id: 'rsa-2048-under-3072-minimum',
      category: 'policy',
      what: 'a 2048-bit RSA CA when minRSABits is 3072',
      sources: [good2.pem],
      policy: { minRSABits: 3072 },
      code: 'WeakKey',
      culprit: 0,
    },
    {
      id: 'secp256k1-curve',
      category: 'policy',
      what: 'a CA on secp256k1',
      sources: [k1.pem],
      code: 'UnsupportedKey',
      culprit: 0,
    },
    {
      id: 'brainpool-curve',
      category: 'policy',
      what: 'a CA on brainpoolP256r1',
      sources: [brainpool.pem],
      code: 'UnsupportedKey',
      culprit: 0,
    },
    {
      id: 'p192-curve',
      category: 'policy',
      what: 'a CA on P-192',
      sources: [p192.pem],
      code: 'UnsupportedKey',
      culprit: 0,
    },
    {
      id: 'dsa-ca',
      category: 'policy',
      what: 'a DSA CA',
      sources: [dsaCA.pem],
      code: 'UnsupportedKey',
      culprit: 0,
    },
    {
      id: 'forged-root',
      category: 'policy',
      what: 'a "root" naming itself as issuer but signed by another key',
      sources: [forged],
      code: 'BadSignature',
      culprit: 0,
    },

    // ---- duplicate and huge inputs ----
    {
      id: 'ten-megabytes',
      category: 'size',
      what: 'a 10 MB source',
      sources: [good.pem.repeat(Math.ceil(10_000_000 / good.pem.length))],
      code: 'InputTooLarge',
      e2e: false,
    },
    {
      id: 'hundred-sources-over-limit',
      category: 'size',
      what: '100 sources of 45 KB, 4.5 MB in all',
      sources: Array.from({ length: 100 }, () => good.pem.repeat(Math.ceil(45_000 / good.pem.length))),
      code: 'InputTooLarge',
      e2e: false,
    },
    {
      id: 'input-over-lowered-limit',
      category: 'size',
      what: 'two CAs when maxInputBytes is 1 KiB',
      sources: [good.pem, good2.pem],
      policy: { maxInputBytes: 1024 },
      code: 'InputTooLarge',
    },
    {
      id: 'too-many-certificates',
      category: 'size',
      what: 'five distinct CAs when maxCertificates is 4',
      sources: [good.pem + extraCAs.join('')],
      policy: { maxCertificates: 4 },
      code: 'TooManyCertificates',
    },
    {
      id: 'same-leaf-thousand-times',
      category: 'size',
      what: 'one leaf repeated 1,000 times (reported once)',
      sources: [leaf.pem.repeat(1000)],
      code: 'NotCA',
      culprit: 0,
    },
    {
      id: 'hundred-sources-one-key',
      category: 'size',
      what: '100 sources, the 74th with a private key',
      sources: Array.from({ length: 100 }, (_, i) => (i === 73 ? good2.pem + ecKey : good.pem)),
      code: 'PrivateKey',
      culprit: 73,
      secrets: keySecrets(ecKey),
    },
    {
      id: 'hundred-sources-one-leaf',
      category: 'size',
      what: '100 sources, the last a leaf',
      sources: Array.from({ length: 100 }, (_, i) => (i === 99 ? leaf.pem : extraCAs[i % 4]!)),
      code: 'NotCA',
      culprit: 99,
    },
    ...crlCases(ssl, good, good2),
    {
      id: 'no-sources',
      category: 'size',
      what: 'no source at all',
      sources: [],
      code: 'Empty',
      e2e: false,
    },
  ];
  return cases;
}

/**
 * Revocation lists nginx would choke on: each would make it refuse every client of a CA, so each
 * must be refused (and, through the operator, change no target).
 */
function crlCases(ssl: OpenSSL, good: TestCert, good2: TestCert): CorpusCase[] {
  const authority = (cert: TestCert) => loadAuthority(cert.pem, cert.keyPem);
  const crlOf = (cert: TestCert, dates: { thisUpdate?: Date; nextUpdate?: Date } = {}): string =>
    createCrl(authority(cert), dates).pem;
  // Keys of their own: ssl.cert() reuses one key per kind.
  const freshKey = (): string =>
    ssl.run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).toString();
  const sameName = ssl.cert({ subject: '/CN=Corpus Good Root/O=Bank/C=BR', keyPem: freshKey() });
  const stranger = ssl.cert({ subject: '/CN=Corpus Stranger Root/O=Elsewhere/C=BR', keyPem: freshKey() });
  const noCrlSign = new OpenSslCA(ssl.dir, '/C=BR/O=Bank/CN=Corpus No CRL Sign Root', {
    keyUsage: 'keyCertSign',
  });
  const now = Date.now();
  return [
    {
      id: 'crl-of-a-stranger',
      category: 'crl',
      what: 'a CRL whose issuer is no CA of the bundle',
      sources: [good.pem, crlOf(stranger)],
      code: 'UnverifiableCRL',
      culprit: 1,
    },
    {
      id: 'crl-forged-name',
      category: 'crl',
      what: "a CRL with a bundle CA's name, signed by another key",
      sources: [good.pem, crlOf(sameName)],
      code: 'UnverifiableCRL',
      culprit: 1,
    },
    {
      id: 'crl-ca-without-crlsign',
      category: 'crl',
      what: 'a CRL of a CA whose keyUsage leaves out cRLSign (OpenSSL refuses it)',
      sources: [noCrlSign.pem, noCrlSign.crl().pem],
      code: 'UnsupportedCRL',
      culprit: 1,
    },
    {
      id: 'crl-not-yet-valid',
      category: 'crl',
      what: 'a CRL whose thisUpdate is tomorrow',
      sources: [
        good.pem,
        crlOf(good, { thisUpdate: new Date(now + DAY), nextUpdate: new Date(now + 8 * DAY) }),
      ],
      code: 'CRLNotYetValid',
      culprit: 1,
    },
    {
      id: 'crl-stale-require-all',
      category: 'crl',
      what: 'a CRL past its nextUpdate, policy crl RequireForAll',
      sources: [
        good.pem,
        crlOf(good, { thisUpdate: new Date(now - 8 * DAY), nextUpdate: new Date(now - DAY) }),
      ],
      policy: { crl: 'RequireForAll' },
      code: 'StaleCRL',
      culprit: 1,
    },
    {
      id: 'crl-missing-require-all',
      category: 'crl',
      what: 'two CAs, a CRL for one, policy crl RequireForAll',
      sources: [good.pem, good2.pem, crlOf(good)],
      policy: { crl: 'RequireForAll' },
      code: 'MissingCRL',
    },
    {
      id: 'crl-block-holding-a-certificate',
      category: 'crl',
      what: 'an X509 CRL block whose content is a certificate',
      sources: [good.pem, block('X509 CRL', bodyOf(good.pem).join(''))],
      code: 'UnparsableCRL',
      culprit: 1,
    },
  ];
}
