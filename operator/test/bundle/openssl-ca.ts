// A small certificate authority run by the real `openssl ca`: a root, TPP client certificates
// it issues, revocations, and CRLs from `openssl ca -gencrl`, each CA in its own directory with
// the minimal configuration `openssl ca` needs. Used by the CRL unit tests and the nginx and Java
// e2e proofs, so that every CRL the engine judges was made the way a real CA makes one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CAKey = 'ec' | 'rsa' | 'rsa-pss' | 'ed25519';

export interface ClientCert {
  name: string;
  certFile: string;
  keyFile: string;
  pem: string;
  /** Upper-case hex, as openssl and the engine print it. */
  serial: string;
}

export interface CrlOptions {
  /** nextUpdate − thisUpdate: `-crldays` (default 7), or `-crlhours` / `-crlsec` when given. */
  days?: number;
  hours?: number;
  seconds?: number;
  /** The digest `openssl ca -md` signs with (default: the key's default). */
  digest?: 'sha1' | 'sha256' | 'sha384';
  /** Extra `openssl ca` arguments, e.g. `-sigopt rsa_padding_mode:pss` or `-crlexts crl_ext_critical`. */
  args?: string[];
}

export interface Crl {
  pem: string;
  der: Buffer;
}

const KEY_ARGS: Record<CAKey, string[]> = {
  ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'rsa-pss': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ed25519: ['-algorithm', 'ED25519'],
};

const CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
database = index.txt
crlnumber = crlnumber
default_md = default
default_crl_days = 7
unique_subject = no
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ crl_ext_critical ]
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.55555.1 = critical,ASN1:NULL
`;

export interface CAOptions {
  key?: CAKey;
  /** Lifetime of the CA certificate (default 365 days). */
  days?: number;
  /** The CA's keyUsage (default `keyCertSign,cRLSign`). */
  keyUsage?: string;
}

export class OpenSslCA {
  readonly dir: string;
  readonly subject: string;
  readonly pem: string;
  readonly der: Buffer;
  private serial = 0x1000;

  /** Creates the CA in `<parent>/<slug>`: key, self-signed certificate, empty database. */
  constructor(parent: string, subject: string, options: CAOptions = {}) {
    const key = options.key ?? 'ec';
    this.subject = subject;
    this.dir = join(parent, subject.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, ''));
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'ca.cnf'), CONFIG);
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'crlnumber'), '1000\n');
    this.openssl(['genpkey', ...KEY_ARGS[key], '-out', 'ca.key']);
    this.openssl([
      'req', '-x509', '-new', '-key', 'ca.key', '-subj', subject, '-days', String(options.days ?? 365), '-out', 'ca.crt',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', `keyUsage=critical,${options.keyUsage ?? 'keyCertSign,cRLSign'}`,
      ...(key === 'rsa-pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : []),
    ]); // prettier-ignore
    this.pem = readFileSync(join(this.dir, 'ca.crt'), 'utf8');
    this.der = this.openssl(['x509', '-in', 'ca.crt', '-outform', 'DER']);
  }

  openssl(args: string[], input?: string): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** A TPP client certificate (EC P-256, clientAuth) with a serial of its own. */
  issueClient(name: string): ClientCert {
    const serial = (++this.serial).toString(16).toUpperCase().padStart(4, '0');
    const base = join(this.dir, name);
    writeFileSync(
      `${base}.ext`,
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    );
    this.openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/O=TPP/CN=${name}`,
    ]); // prettier-ignore
    this.openssl([
      'x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`,
      '-days', '30', '-extfile', `${base}.ext`, '-out', `${base}.crt`,
    ]); // prettier-ignore
    return {
      name,
      certFile: `${base}.crt`,
      keyFile: `${base}.key`,
      pem: readFileSync(`${base}.crt`, 'utf8'),
      serial,
    };
  }

  /** `openssl ca -revoke`: the next CRL lists the certificate. */
  revoke(client: ClientCert): void {
    this.openssl([
      'ca',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.crt',
      '-keyfile',
      'ca.key',
      '-revoke',
      client.certFile,
    ]);
  }

  /** `openssl ca -gencrl`: a v2 CRL with cRLNumber and AKI, thisUpdate now. */
  crl(options: CrlOptions = {}): Crl {
    const validity =
      options.seconds !== undefined
        ? ['-crlsec', String(options.seconds)]
        : options.hours !== undefined
          ? ['-crlhours', String(options.hours)]
          : ['-crldays', String(options.days ?? 7)];
    const pem = this.openssl([
      'ca', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-gencrl', ...validity,
      ...(options.digest ? ['-md', options.digest] : []), ...(options.args ?? []),
    ]).toString(); // prettier-ignore
    return { pem, der: this.openssl(['crl', '-outform', 'DER'], pem) };
  }
}
