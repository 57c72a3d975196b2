// TLS material for the ACP contract server, made by the openssl CLI for each run: a private CA
// and a server certificate it signed for localhost, 127.0.0.1 and ::1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsMaterial {
  /** The CA to trust (what a `caSecret` holds). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function generateTlsMaterial(commonName = 'ACP contract server'): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'acp-tls-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(dir, [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      `/CN=${commonName} CA/O=Trust Test`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    openssl(dir, [
      'req',
      '-new',
      ...ec,
      '-keyout',
      'tls.key',
      '-out',
      'tls.csr',
      '-subj',
      `/CN=${commonName}`,
    ]);
    writeFileSync(
      join(dir, 'ext.cnf'),
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n',
    );
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      'tls.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '2',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      'ext.cnf',
      '-out',
      'tls.crt',
    ]);
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
    return { caPem: read('ca.crt'), certPem: read('tls.crt'), keyPem: read('tls.key') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The material in `dir` (`ca.crt`, `tls.crt`, `tls.key`) when it is there; otherwise new material,
 * written there so that a demo can put `ca.crt` into the operator's `caSecret`.
 */
export function tlsMaterialIn(dir: string): TlsMaterial {
  const files = ['ca.crt', 'tls.crt', 'tls.key'].map((f) => join(dir, f));
  if (files.every((f) => existsSync(f))) {
    const [caPem, certPem, keyPem] = files.map((f) => readFileSync(f, 'utf8')) as [string, string, string];
    return { caPem, certPem, keyPem };
  }
  const material = generateTlsMaterial();
  mkdirSync(dir, { recursive: true });
  writeFileSync(files[0]!, material.caPem);
  writeFileSync(files[1]!, material.certPem);
  writeFileSync(files[2]!, material.keyPem, { mode: 0o600 });
  return material;
}
