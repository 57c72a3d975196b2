// Test certificates made by the real openssl CLI, so the engine is checked against what
// operators actually paste, not against what our own code generates.
import forge from 'node-forge';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeySpec =
  'rsa:1024' | 'rsa:2048' | 'rsa:3072' | 'ec:P-256' | 'ec:P-384' | 'ec:P-521' | 'ec:secp256k1' | 'ed25519';

export interface TestCert {
  pem: string;
  der: Buffer;
  keyPem: string;
}

export interface CertOptions {
  key?: KeySpec;
  subject?: string;
  ca?: boolean;
  days?: number;
  digest?: 'sha256' | 'sha1' | 'md5' | 'sha384';
  /** Reuse this private key (PEM) instead of generating one. */
  keyPem?: string;
}

export interface DatedCertOptions {
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export class OpenSSL {
  readonly dir = mkdtempSync(join(tmpdir(), 'tb-openssl-'));
  private readonly keys = new Map<string, string>();
  private n = 0;

  run(args: string[], input?: string): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** A private key of the given kind, generated once per instance and reused. */
  key(spec: KeySpec): string {
    const cached = this.keys.get(spec);
    if (cached) return cached;
    const [alg, param] = spec.split(':');
    const args =
      alg === 'rsa'
        ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${param}`]
        : alg === 'ec'
          ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${param}`]
          : ['genpkey', '-algorithm', 'ED25519'];
    const pem = this.run(args).toString();
    this.keys.set(spec, pem);
    return pem;
  }

  cert(options: CertOptions = {}): TestCert {
    const id = ++this.n;
    const spec = options.key ?? 'ec:P-256';
    const keyPem = options.keyPem ?? this.key(spec);
    const keyFile = join(this.dir, `k${id}.pem`);
    writeFileSync(keyFile, keyPem);
    const ca = options.ca ?? true;
    const args = [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-subj',
      options.subject ?? `/CN=Test CA ${id}/O=Trust Test/C=BR`,
      '-days',
      String(options.days ?? 365),
      '-addext',
      ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=critical,CA:FALSE',
      '-addext',
      ca ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=critical,digitalSignature',
      '-set_serial',
      String(1000 + id),
    ];
    if (spec !== 'ed25519') args.push(`-${options.digest ?? 'sha256'}`);
    const pem = this.run(args).toString();
    const der = this.run(['x509', '-outform', 'DER'], pem);
    return { pem, der, keyPem };
  }

  /**
   * An RSA CA with any validity window (openssl 3.0's `req` cannot make an expired one): the key
   * from openssl, the certificate from node-forge, read back by openssl to be sure it is sound.
   */
  datedCert(options: DatedCertOptions): TestCert {
    const keyPem = this.key('rsa:2048');
    const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
    cert.serialNumber = (0x2000 + ++this.n).toString(16);
    cert.validity.notBefore = options.notBefore;
    cert.validity.notAfter = options.notAfter;
    const attrs = [{ name: 'commonName', value: options.subject }];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ]);
    cert.sign(key, forge.md.sha256.create());
    const pem = forge.pki.certificateToPem(cert);
    const der = this.run(['x509', '-outform', 'DER'], pem);
    return { pem: this.run(['x509'], pem).toString(), der, keyPem };
  }

  /** Runs `openssl x509` on PEM text and returns its subject line; throws when openssl refuses it. */
  subjectOf(pem: string): string {
    return this.run(['x509', '-noout', '-subject'], pem).toString().trim();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
