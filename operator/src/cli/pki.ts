// `trustbundle pki ca|client|sign-csr|crl`: a test PKI for sandboxes and tests, no openssl needed.
import { X509Certificate } from 'node:crypto';
import {
  createCA,
  createCrl,
  issueClientCertificate,
  loadAuthority,
  parseKeySpec,
  revocationOf,
  signCertificationRequest,
  type Authority,
  type Crl,
  type HashName,
  type KeySpec,
  type Revocation,
  type Validity,
} from '../pki/index.ts';
import {
  oneOf,
  optionalDate,
  optionalInteger,
  optionalString,
  parse,
  requiredString,
  strings,
  UsageError,
  type OptionSpec,
  type Parsed,
} from './args.ts';
import { EXIT, writeErr, type Command } from './command.ts';
import { readInput, writeFileAtomic } from './files.ts';

const HASHES: readonly HashName[] = ['sha256', 'sha384', 'sha512', 'sha1', 'md5'];

const CA_OPTIONS: OptionSpec = { 'ca-cert': { type: 'string' }, 'ca-key': { type: 'string' } };
const CA_HELP = `  --ca-cert FILE             the issuing CA's certificate (PEM)
  --ca-key FILE              the issuing CA's private key (PEM)`;

const SIGNING_OPTIONS: OptionSpec = {
  days: { type: 'string' },
  'not-before': { type: 'string' },
  'not-after': { type: 'string' },
  hash: { type: 'string' },
};
const SIGNING_HELP = (
  days: number,
): string => `  --days N                   validity from notBefore (default ${days})
  --not-before TIME          start of validity, ISO 8601 (default: a minute ago)
  --not-after TIME           end of validity, ISO 8601 (expired or not-yet-valid test certificates)
  --hash H                   digest of the signature: ${HASHES.join(', ')} (default sha256)`;

const ISSUE_OPTIONS: OptionSpec = { key: { type: 'string' }, ...SIGNING_OPTIONS };
const ISSUE_HELP = (days: number): string =>
  `  --key SPEC                 rsa[:BITS] (default rsa:2048), ec[:P-256|P-384|P-521] or ed25519\n${SIGNING_HELP(days)}`;

function issueOptions(p: Parsed): Validity & { key?: KeySpec; hash?: HashName } {
  const keyText = optionalString(p, 'key');
  let key: KeySpec | undefined;
  try {
    key = keyText ? parseKeySpec(keyText) : undefined;
  } catch (err) {
    throw new UsageError(`--key: ${(err as Error).message}`);
  }
  const days = optionalInteger(p, 'days', 1);
  const notBefore = optionalDate(p, 'not-before');
  const notAfter = optionalDate(p, 'not-after');
  if (days !== undefined && notAfter) throw new UsageError('give --days or --not-after, not both');
  const hash = oneOf(p, 'hash', HASHES);
  return {
    ...(key ? { key } : {}),
    ...(days !== undefined ? { days } : {}),
    ...(notBefore ? { notBefore } : {}),
    ...(notAfter ? { notAfter } : {}),
    ...(hash ? { hash } : {}),
  };
}

async function authority(p: Parsed): Promise<Authority> {
  const cert = await readInput(requiredString(p, 'ca-cert'));
  const key = await readInput(requiredString(p, 'ca-key'));
  try {
    return loadAuthority(cert, key);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function noPositionals(p: Parsed): void {
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
}

async function writeKeyAndCert(p: Parsed, keyPem: string, certPem: string): Promise<void> {
  const certPath = requiredString(p, 'out-cert');
  const keyPath = requiredString(p, 'out-key');
  if (keyPath === '-')
    throw new UsageError('--out-key cannot be stdout: private keys are only written to files');
  await writeFileAtomic(keyPath, keyPem, { mode: 0o600, forceMode: true });
  await writeFileAtomic(certPath, certPem);
  writeErr(`wrote ${certPath === '-' ? 'the certificate to stdout' : certPath} and ${keyPath} (mode 0600)`);
}

const ca: Command = {
  name: 'ca',
  summary: 'create a root CA (or an intermediate with --ca-cert/--ca-key)',
  help: `Usage: trustbundle pki ca --subject NAME --out-cert FILE --out-key FILE [options]

Creates a CA certificate: basicConstraints cA=TRUE (critical), keyUsage keyCertSign + cRLSign
(critical), subject and authority key identifiers. Self-signed unless --ca-cert/--ca-key name
an issuer. An impostor root is a root given another CA's subject.

Options:
  --subject NAME             "/C=BR/O=Example/CN=Example Root" or "C=BR, O=Example, CN=Example Root"
  --out-cert FILE            certificate (PEM; - for stdout)
  --out-key FILE             private key (PKCS#8 PEM, written with mode 0600)
  --path-length N            basicConstraints pathLenConstraint
${CA_HELP} (optional: issue an intermediate)
${ISSUE_HELP(3650)}
  -h, --help                 show this help`,
  async run(args) {
    const p = parse(
      args,
      {
        subject: { type: 'string' },
        'out-cert': { type: 'string' },
        'out-key': { type: 'string' },
        'path-length': { type: 'string' },
        ...CA_OPTIONS,
        ...ISSUE_OPTIONS,
      },
      false,
    );
    noPositionals(p);
    const subject = requiredString(p, 'subject');
    requiredString(p, 'out-cert');
    requiredString(p, 'out-key');
    const options = issueOptions(p);
    const pathLength = optionalInteger(p, 'path-length');
    const issuer =
      optionalString(p, 'ca-cert') !== undefined || optionalString(p, 'ca-key') !== undefined
        ? await authority(p)
        : undefined;
    let issued;
    try {
      issued = createCA({
        subject,
        ...options,
        ...(pathLength !== undefined ? { pathLength } : {}),
        ...(issuer ? { issuer } : {}),
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    await writeKeyAndCert(p, issued.keyPem, issued.pem);
    return EXIT.ok;
  },
};

const client: Command = {
  name: 'client',
  summary: 'issue a TPP client certificate with the Open Finance Brasil subject profile',
  help: `Usage: trustbundle pki client --ca-cert FILE --ca-key FILE --cnpj CNPJ --fqdn NAME --org NAME
                              --out-cert FILE --out-key FILE [options]

Issues a TPP client certificate with the Open Finance Brasil subject: C=BR, ST, L, O,
organizationIdentifier, CN=FQDN, serialNumber=CNPJ, businessCategory, jurisdictionCountryName=BR,
UID=software statement id; keyUsage digitalSignature (+ keyEncipherment for RSA) critical,
extendedKeyUsage clientAuth, SAN dNSName=FQDN, key identifiers.

Options:
${CA_HELP}
  --cnpj CNPJ                organisation CNPJ, e.g. 11.222.333/0001-81 (check digits verified)
  --fqdn NAME                CN and SAN dNSName
  --org NAME                 organisation name (O)
  --org-id ID                organizationIdentifier (default OFBBR-<random UUID>)
  --software-statement-id ID UID (default a random UUID)
  --business-category TEXT   default "Private Organization"
  --locality L               default "Sao Paulo"
  --state ST                 default "SP"
  --dns NAME                 an extra SAN dNSName (repeatable)
  --out-cert FILE            certificate (PEM; - for stdout)
  --out-key FILE             private key (PKCS#8 PEM, written with mode 0600)
${ISSUE_HELP(365)}
  -h, --help                 show this help`,
  async run(args) {
    const p = parse(
      args,
      {
        ...CA_OPTIONS,
        cnpj: { type: 'string' },
        fqdn: { type: 'string' },
        org: { type: 'string' },
        'org-id': { type: 'string' },
        'software-statement-id': { type: 'string' },
        'business-category': { type: 'string' },
        locality: { type: 'string' },
        state: { type: 'string' },
        dns: { type: 'string', multiple: true },
        'out-cert': { type: 'string' },
        'out-key': { type: 'string' },
        ...ISSUE_OPTIONS,
      },
      false,
    );
    noPositionals(p);
    const cnpj = requiredString(p, 'cnpj');
    const fqdn = requiredString(p, 'fqdn');
    const organization = requiredString(p, 'org');
    requiredString(p, 'out-cert');
    requiredString(p, 'out-key');
    const options = issueOptions(p);
    const issuer = await authority(p);
    const optional: [string, string][] = [
      ['org-id', 'organizationIdentifier'],
      ['software-statement-id', 'softwareStatementId'],
      ['business-category', 'businessCategory'],
      ['locality', 'locality'],
      ['state', 'state'],
    ];
    const profile: Record<string, string> = {};
    for (const [option, field] of optional) {
      const v = optionalString(p, option);
      if (v !== undefined) profile[field] = v;
    }
    let issued;
    try {
      issued = issueClientCertificate(issuer, {
        cnpj,
        fqdn,
        organization,
        ...profile,
        dnsNames: strings(p, 'dns'),
        ...options,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    await writeKeyAndCert(p, issued.keyPem, issued.pem);
    return EXIT.ok;
  },
};

const signCsr: Command = {
  name: 'sign-csr',
  summary: 'sign a CSR (e.g. from openssl req) and output the client certificate plus the CA',
  help: `Usage: trustbundle pki sign-csr --ca-cert FILE --ca-key FILE --csr FILE --out FILE [options]

Signs a PKCS#10 request the way an interoperability sandbox does: the request's signature is
checked, its subject and requested DNS names are kept, and the certificate gets the client
profile (keyUsage digitalSignature (+ keyEncipherment for RSA), extendedKeyUsage clientAuth).
The output holds the client certificate followed by the CA certificate.

Options:
${CA_HELP}
  --csr FILE                 the request (PEM; - for stdin)
  --out FILE                 client certificate + CA (PEM; - for stdout)
${SIGNING_HELP(365)}
  -h, --help                 show this help`,
  async run(args) {
    const p = parse(
      args,
      { ...CA_OPTIONS, csr: { type: 'string' }, out: { type: 'string' }, ...SIGNING_OPTIONS },
      false,
    );
    noPositionals(p);
    const out = requiredString(p, 'out');
    const csrPath = requiredString(p, 'csr');
    const { key: _key, ...options } = issueOptions(p);
    const issuer = await authority(p);
    const csr = (await readInput(csrPath, 1024 * 1024)).toString('utf8');
    let chainPem: string;
    try {
      chainPem = signCertificationRequest(issuer, csr, options).chainPem;
    } catch (err) {
      writeErr(`error: ${csrPath}: ${(err as Error).message}`);
      return EXIT.rejected;
    }
    await writeFileAtomic(out, chainPem);
    if (out !== '-') writeErr(`wrote ${out} (client certificate + CA)`);
    return EXIT.ok;
  },
};

const crl: Command = {
  name: 'crl',
  summary: "write the CA's certificate revocation list, listing the certificates it revoked",
  help: `Usage: trustbundle pki crl --ca-cert FILE --ca-key FILE --out FILE [--revoke CERT]... [options]

Writes a v2 CRL signed by the CA, as \`openssl ca -gencrl\` does: issuer, thisUpdate, nextUpdate,
the revoked serial numbers, authority key identifier and cRLNumber. Without --revoke or
--revoke-serial the CRL is empty, which is what a CA publishes when it revoked nothing (nginx with
ssl_crl needs a current CRL for every CA it trusts, empty or not).

Options:
${CA_HELP}
  --revoke FILE              a certificate (PEM) the CA issued and revokes (repeatable)
  --revoke-serial HEX        a serial number the CA revokes (repeatable)
  --hours N                  nextUpdate − thisUpdate in hours (default 168: a week)
  --this-update TIME         thisUpdate, ISO 8601 (default: a minute ago)
  --next-update TIME         nextUpdate, ISO 8601 (a past date makes a stale CRL for tests)
  --hash H                   digest of the signature: ${HASHES.join(', ')} (default sha256)
  --out FILE                 the CRL (PEM "X509 CRL"; - for stdout)
  -h, --help                 show this help`,
  async run(args) {
    const p = parse(
      args,
      {
        ...CA_OPTIONS,
        revoke: { type: 'string', multiple: true },
        'revoke-serial': { type: 'string', multiple: true },
        hours: { type: 'string' },
        'this-update': { type: 'string' },
        'next-update': { type: 'string' },
        hash: { type: 'string' },
        out: { type: 'string' },
      },
      false,
    );
    noPositionals(p);
    const out = requiredString(p, 'out');
    const hours = optionalInteger(p, 'hours', 1);
    const thisUpdate = optionalDate(p, 'this-update');
    const nextUpdate = optionalDate(p, 'next-update');
    if (hours !== undefined && nextUpdate) throw new UsageError('give --hours or --next-update, not both');
    const hash = oneOf(p, 'hash', HASHES);
    const issuer = await authority(p);
    const revoked: Revocation[] = [];
    for (const file of strings(p, 'revoke')) {
      const text = await readInput(file, 1024 * 1024);
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(text);
      } catch {
        throw new UsageError(`--revoke ${file}: not a readable PEM certificate`);
      }
      try {
        revoked.push(revocationOf(issuer, certificate));
      } catch (err) {
        throw new UsageError(`--revoke ${file}: ${(err as Error).message}`);
      }
    }
    for (const serialNumber of strings(p, 'revoke-serial')) revoked.push({ serialNumber });
    let made: Crl;
    try {
      made = createCrl(issuer, {
        revoked,
        ...(hours !== undefined ? { hours } : {}),
        ...(thisUpdate ? { thisUpdate } : {}),
        ...(nextUpdate ? { nextUpdate } : {}),
        ...(hash ? { hash } : {}),
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    await writeFileAtomic(out, made.pem);
    if (out !== '-') {
      writeErr(`wrote ${out}: ${made.revokedCount} revoked, next update ${made.nextUpdate.toISOString()}`);
    }
    return EXIT.ok;
  },
};

export const PKI_COMMANDS: Command[] = [ca, client, signCsr, crl];
