// Would each consumer of the bundle accept a certificate as a client-authentication trust anchor?
// nginx/OpenSSL (ssl_verify_client, no partial chain, the sslclient purpose), Go's crypto/x509
// (Cloudentity ACP: Verify with ExtKeyUsageClientAuth, the bundle as roots) and Java PKIX (trusted
// entries of a PKCS#12 truststore) differ, and each rule below says which of them a fault breaks,
// as observed against the real three (operator/test/bundle/consumers.test.ts).
import type { ParsedCertificate } from './certificate.ts';
import { PARSED_EXTENSIONS, type DerFault } from './x509.ts';
import type { Consumer, ProblemCode } from './types.ts';

export interface Finding {
  code: ProblemCode;
  /** The consumers it keeps from using the certificate; empty for a breach none of them minds. */
  breaks: Consumer[];
  what: string;
  /** Reported as a warning whatever the policy (the certificate is what it says it is). */
  advisory?: boolean;
}

/** Critical extensions OpenSSL 3 processes (X509_supported_extension); any other one fails the chain. */
const OPENSSL_HANDLED = new Set([
  '2.16.840.1.113730.1.1', // nsCertType
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.31', // cRLDistributionPoints
  '2.5.29.37', // extKeyUsage
  '1.3.6.1.5.5.7.1.7', // sbgp-ipAddrBlock
  '1.3.6.1.5.5.7.1.8', // sbgp-autonomousSysNum
  '1.3.6.1.5.5.7.48.1.5', // OCSP noCheck
  '2.5.29.36', // policyConstraints
  '1.3.6.1.5.5.7.1.14', // proxyCertInfo
  '2.5.29.30', // nameConstraints
  '2.5.29.33', // policyMappings
  '2.5.29.54', // inhibitAnyPolicy
]);
/** Critical extensions Go's crypto/x509 processes; Verify refuses any other one, even on a root. */
const GO_HANDLED = new Set([
  '2.5.29.15',
  '2.5.29.17',
  '2.5.29.19',
  '2.5.29.30',
  '2.5.29.31',
  '2.5.29.32',
  '2.5.29.33',
  '2.5.29.36',
  '2.5.29.37',
  '2.5.29.54',
]);
const SUBJECT_KEY_ID = '2.5.29.14';
const KEY_IDENTIFIERS = new Set([SUBJECT_KEY_ID, '2.5.29.35']);
const NAME_CONSTRAINTS = '2.5.29.30';
/** Extension names for the messages. */
const EXTENSION_NAMES: Record<string, string> = {
  '2.5.29.14': 'subjectKeyIdentifier',
  '2.5.29.15': 'keyUsage',
  '2.5.29.17': 'subjectAltName',
  '2.5.29.19': 'basicConstraints',
  '2.5.29.30': 'nameConstraints',
  '2.5.29.31': 'cRLDistributionPoints',
  '2.5.29.32': 'certificatePolicies',
  '2.5.29.35': 'authorityKeyIdentifier',
  '2.5.29.37': 'extendedKeyUsage',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
};
const extensionName = (oid: string): string => EXTENSION_NAMES[oid] ?? oid;
const CONSUMER_WORDS: Record<Consumer, string> = { nginx: 'nginx/OpenSSL', go: 'Go', java: 'Java' };
const consumerWords = (list: Consumer[]): string => list.map((c) => CONSUMER_WORDS[c]).join(' and ');
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const PURPOSES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};
const ANY_PURPOSE = '2.5.29.37.0';

const union = (...lists: Consumer[][]): Consumer[] => {
  const all = new Set(lists.flat());
  return (['nginx', 'go', 'java'] as const).filter((c) => all.has(c));
};

function criticalExtensions(c: ParsedCertificate, out: Finding[]): void {
  for (const e of c.facts.extensions) {
    if (!e.critical) continue;
    if (KEY_IDENTIFIERS.has(e.oid)) {
      const name = e.oid === '2.5.29.14' ? 'subjectKeyIdentifier' : 'authorityKeyIdentifier';
      out.push({
        code: 'CriticalKeyIdentifier',
        breaks: ['nginx', 'go'],
        what: `its ${name} is marked critical, which RFC 5280 forbids: OpenSSL does not process it as critical and Go refuses to parse the certificate`,
      });
      continue;
    }
    const unprocessedNames = e.oid === NAME_CONSTRAINTS && c.facts.nameConstraintForms.length > 0;
    const breaks = union(
      OPENSSL_HANDLED.has(e.oid) ? [] : ['nginx'],
      GO_HANDLED.has(e.oid) && !unprocessedNames ? [] : ['go'],
    );
    if (breaks.length === 0) continue;
    out.push({
      code: 'UnknownCriticalExtension',
      breaks,
      what: unprocessedNames
        ? `its critical nameConstraints use name forms Go does not process (GeneralName tags ${c.facts.nameConstraintForms.join(', ')})`
        : `it has a critical extension ${extensionName(e.oid)} that ${consumerWords(breaks)} cannot process`,
    });
  }
}

function extendedKeyUsage(c: ParsedCertificate, out: Finding[]): void {
  const eku = c.facts.extendedKeyUsage;
  if (!eku || eku.includes(CLIENT_AUTH)) return;
  const any = eku.includes(ANY_PURPOSE);
  out.push({
    code: 'ClientAuthNotAllowed',
    breaks: any ? ['nginx'] : ['nginx', 'go'],
    what: any
      ? 'its extendedKeyUsage has anyExtendedKeyUsage but not clientAuth, which OpenSSL requires of every CA in a client chain'
      : `its extendedKeyUsage (${eku.map((p) => PURPOSES[p] ?? p).join(', ')}) does not allow clientAuth`,
  });
}

/** OpenSSL's X509_check_akid of a certificate against the one taken for its issuer. */
export function authorityKeyMatches(c: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const aki = c.facts.authorityKey;
  if (!aki) return true;
  if (
    aki.keyId !== undefined &&
    issuer.facts.subjectKeyId !== undefined &&
    aki.keyId !== issuer.facts.subjectKeyId
  )
    return false;
  if (aki.serial !== undefined && aki.serial !== issuer.facts.serialNumber) return false;
  return aki.issuerKey === undefined || aki.issuerKey === issuer.facts.issuerKey;
}

function nameConstraints(c: ParsedCertificate, out: Finding[]): void {
  const faults = c.facts.nameConstraintFaults;
  if (faults.length === 0) return;
  // Java cannot parse an iPAddress of the wrong length, and refuses the certificate when the
  // extension is critical (as RFC 5280 wants it); a non-critical one it skips.
  const critical = c.facts.extensions.some((e) => e.oid === NAME_CONSTRAINTS && e.critical);
  const breaks = union(
    ...faults.map((f): Consumer[] => {
      if (f.kind === 'wildcard-dns') return f.permitted ? ['nginx', 'go'] : [];
      return f.kind === 'ip-length' && critical ? ['go', 'java'] : ['go'];
    }),
  );
  out.push({
    code: 'MalformedNameConstraints',
    breaks,
    what: `its nameConstraints are malformed (${faults.map((f) => f.what).join('; ')})`,
  });
}

function serialNumber(c: ParsedCertificate, out: Finding[]): void {
  const s = c.facts.serial;
  // serialNumber is the magnitude in hex without leading zero bytes.
  const octets = c.facts.serialNumber.length / 2;
  if (s.negative)
    out.push({
      code: 'BadSerialNumber',
      breaks: ['go'],
      what: 'its serial number is negative (Go refuses to parse it since 1.23)',
    });
  else if (s.zero)
    out.push({
      code: 'BadSerialNumber',
      breaks: [],
      what: 'its serial number is zero; RFC 5280 requires a positive one',
    });
  else if (octets > 20)
    out.push({
      code: 'BadSerialNumber',
      breaks: [],
      what: `its serial number is ${octets} octets long; RFC 5280 allows at most 20`,
    });
}

function derBreaks(f: DerFault): Consumer[] {
  const parsed = f.extension !== undefined && PARSED_EXTENSIONS.has(f.extension);
  // Java skips a non-critical extension it cannot parse, except the subjectKeyIdentifier, which
  // it matches against the client certificate's authorityKeyIdentifier to find the anchor.
  const java: Consumer[] = parsed && (f.critical || f.extension === SUBJECT_KEY_ID) ? ['java'] : [];
  switch (f.kind) {
    case 'ber-boolean':
      return parsed || f.where.startsWith('the critical flag') ? ['go'] : [];
    case 'explicit-default':
      return [];
    case 'trailing-bytes':
      return union(java, f.extension === NAME_CONSTRAINTS ? ['go'] : []);
    default:
      return parsed ? union(['go'], java) : [];
  }
}

const DER_WORDS: Record<DerFault['kind'], string> = {
  'ber-boolean': 'a BOOLEAN that is neither 00 nor FF',
  'explicit-default': 'a DEFAULT value written out',
  'trailing-bytes': 'bytes after the value',
  'non-minimal-length': 'a length in more bytes than needed',
  'indefinite-length': 'an indefinite length',
  malformed: 'a malformed element',
};

function der(c: ParsedCertificate, out: Finding[]): void {
  const faults = c.facts.derFaults;
  if (faults.length === 0) return;
  out.push({
    code: 'NotDER',
    breaks: union(...faults.map(derBreaks)),
    what: `it is not DER: ${faults
      .map((f) => `${DER_WORDS[f.kind]} in ${f.where.replace(/\d+(\.\d+)+/, extensionName)}`)
      .join('; ')}`,
  });
}

/** The key type a signature algorithm belongs to, by its OID. */
function keyFamily(oid: string): string {
  if (oid.startsWith('1.2.840.113549.1.1.')) return 'RSA';
  if (oid.startsWith('1.2.840.10045.4.')) return 'EC';
  if (oid === '1.2.840.10040.4.3' || oid.startsWith('2.16.840.1.101.3.4.3.')) return 'DSA';
  if (oid === '1.3.101.112') return 'Ed25519';
  if (oid === '1.3.101.113') return 'Ed448';
  return oid;
}

/** Does the TBS's signature algorithm fit the certificate's own key (OpenSSL's test of self-signed)? */
function fitsKey(c: ParsedCertificate): boolean {
  const key = c.keyAlgorithm.startsWith('RSA') ? 'RSA' : c.keyAlgorithm;
  return keyFamily(c.facts.innerSignatureOid) === key;
}

function algorithms(c: ParsedCertificate, out: Finding[]): void {
  if (c.facts.algorithms === 'same') return;
  const oid = c.facts.algorithms === 'algorithms-differ';
  // OpenSSL takes a certificate for self-signed only when the TBS's algorithm fits its key.
  const misfit = c.facts.selfIssued && !fitsKey(c);
  out.push({
    code: 'SignatureAlgorithmMismatch',
    breaks: union(oid ? ['go', 'java'] : ['go'], misfit ? ['nginx'] : []),
    what:
      (oid
        ? 'the signature algorithm inside the signed part differs from the one outside it'
        : 'the signature algorithm inside the signed part has other parameters than the one outside it') +
      (misfit ? ', and does not fit its key, so OpenSSL does not take it for self-signed' : ''),
  });
}

/**
 * Which consumers refuse a certificate that is no CA by OpenSSL's measure (X509_check_ca) as an
 * anchor: OpenSSL takes, as a root, a self-signed v1 certificate or a v3 one without
 * basicConstraints whose keyUsage allows keyCertSign, and below a root nothing but a CA; Go wants
 * basicConstraints cA on v3, and keyCertSign when keyUsage is present; Java does not look at an
 * anchor's constraints.
 */
function notCA(c: ParsedCertificate, out: Finding[]): void {
  if (c.isCA) return;
  const f = c.facts;
  const ku = f.keyUsage;
  const noCertSign = ku !== undefined && (ku & 0x04) === 0;
  const bc = f.basicConstraintsCA;
  // In a chain below the root, OpenSSL wants cA itself; a root it takes as described above.
  const root = f.selfIssued && authorityKeyMatches(c, c) && fitsKey(c);
  const nginx =
    !root || noCertSign || bc === false || (bc === undefined && f.version !== 1 && ku === undefined);
  const go = noCertSign || bc === false || (bc === undefined && f.version === 3);
  const breaks = union(nginx ? ['nginx'] : [], go ? ['go'] : []);
  out.push({
    code: 'NotCA',
    breaks,
    // Only reported under requireCA: false, which admits such certificates on purpose.
    advisory: true,
    what:
      'not a CA certificate (basicConstraints cA is not TRUE, or keyUsage leaves out keyCertSign); kept ' +
      '(policy requireCA: false)' +
      (breaks.length ? `, though ${consumerWords(breaks)} will not use it as an anchor` : ''),
  });
}

/** The findings that depend on the certificate alone. */
export function certificateFindings(c: ParsedCertificate): Finding[] {
  const out: Finding[] = [];
  notCA(c, out);
  criticalExtensions(c, out);
  extendedKeyUsage(c, out);
  nameConstraints(c, out);
  serialNumber(c, out);
  der(c, out);
  algorithms(c, out);
  return out;
}
