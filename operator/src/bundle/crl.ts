// X.509 certificate revocation lists (RFC 5280 §5). node:crypto cannot parse a CRL, so a small
// DER reader takes apart the CertificateList; the signature is checked with crypto.verify over
// the TBSCertList bytes, using the key of the bundle CA whose subject is the CRL's issuer.
//
// Why the engine is strict about CRLs: nginx with `ssl_crl` checks revocation for every
// certificate of a client's chain, so a CA of the bundle without a current CRL, or a CRL that has
// passed its nextUpdate or that OpenSSL cannot use, makes nginx refuse every client of that CA.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { sha256Fingerprint } from './certificate.ts';
import {
  children,
  DerError,
  hex,
  integerHex,
  nameText,
  node,
  oidText,
  TAG,
  time,
  value,
  want,
  whole,
} from './asn1.ts';
import { signatureAlgorithm, signatureAlgorithmOid } from './der.ts';
import { signedBy } from './signature.ts';
import { retainable } from './retain.ts';
import type { CertificateInfo, CrlInfo, CrlStatus, Policy, Problem, ProblemCode, Severity } from './types.ts';

// The DER primitives are shared with the certificate reader (./asn1.ts).

/** Names compared as OpenSSL does in essence: attribute by attribute, case and spacing aside. */
const nameKey = (text: string): string => text.toLowerCase().replace(/\s+/g, ' ');

/** The subject Name of a DER certificate (TBSCertificate's sixth field, after the optional version). */
function certificateSubject(der: Uint8Array): string {
  const cert = want(node(der, 0, der.length), TAG.sequence, 'Certificate');
  const fields = children(der, want(children(der, cert)[0], TAG.sequence, 'TBSCertificate'));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  return nameText(der, want(fields[offset + 4], TAG.sequence, 'subject'));
}

// ---- the CRL ----

const EXTENSION = {
  crlNumber: '2.5.29.20',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  authorityKeyIdentifier: '2.5.29.35',
};
/** CRL extensions OpenSSL handles; any other critical one makes it refuse the CRL. */
const HANDLED_CRITICAL = new Set([EXTENSION.issuingDistributionPoint, EXTENSION.authorityKeyIdentifier]);

export interface ParsedCrl {
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** cRLNumber in decimal. */
  crlNumber?: string;
  /** Serials of the revoked certificates: upper-case hex, as CertificateInfo.serialNumber. */
  revokedSerials: string[];
  signatureAlgorithm: string;
  /** Why OpenSSL (hence nginx) could not use this CRL, when it could not. */
  unsupported?: string;
  fingerprintSHA256: string;
  der: Buffer;
  tbs: Uint8Array;
  signature: Uint8Array;
  /** The AlgorithmIdentifier's parameters (RSASSA-PSS carries its hash and salt length there). */
  signatureParameters?: Uint8Array;
}

/** Parses a DER CertificateList; throws an Error saying what is wrong. */
export function parseCrl(der: Buffer): ParsedCrl {
  const outer = want(node(der, 0, der.length), TAG.sequence, 'CertificateList');
  if (outer.end !== der.length) throw new DerError(`${der.length - outer.end} bytes after the CRL`);
  const [tbsNode, algNode, sigNode, extra] = children(der, outer);
  want(tbsNode, TAG.sequence, 'tbsCertList');
  want(algNode, TAG.sequence, 'signatureAlgorithm');
  want(sigNode, TAG.bitString, 'signatureValue');
  if (extra) throw new DerError('CertificateList has more than three fields');
  const sigBits = value(der, sigNode!);
  if (sigBits.length < 2 || sigBits[0] !== 0)
    throw new DerError('signatureValue is not a whole number of bytes');

  const fields = children(der, tbsNode!);
  let i = 0;
  if (fields[0]?.tag === TAG.integer) {
    const version = value(der, fields[0]);
    if (version.length !== 1 || version[0] !== 1) throw new DerError('version is not v2');
    i++;
  }
  const innerAlg = want(fields[i++], TAG.sequence, 'tbsCertList signature');
  if (!Buffer.from(whole(der, innerAlg)).equals(whole(der, algNode!))) {
    throw new DerError('the signature algorithm inside tbsCertList differs from the outer one');
  }
  const issuer = nameText(der, want(fields[i++], TAG.sequence, 'issuer'));
  const thisUpdate = time(der, fields[i++], 'thisUpdate');
  let nextUpdate: Date | undefined;
  if (fields[i]?.tag === TAG.utcTime || fields[i]?.tag === TAG.generalizedTime) {
    nextUpdate = time(der, fields[i++], 'nextUpdate');
  }
  const revokedSerials: string[] = [];
  if (fields[i]?.tag === TAG.sequence) {
    for (const entry of children(der, fields[i++]!)) {
      const [serial, date] = children(der, want(entry, TAG.sequence, 'a revoked entry'));
      revokedSerials.push(integerHex(value(der, want(serial, TAG.integer, 'a revoked serial'))));
      // Only its form is checked: revocation dates are not reported, and a CRL may list 100,000 entries.
      if (date?.tag !== TAG.utcTime && date?.tag !== TAG.generalizedTime) {
        throw new DerError('a revocationDate is missing or malformed');
      }
    }
  }
  let crlNumber: string | undefined;
  let unsupported: string | undefined;
  if (fields[i]?.tag === TAG.explicit0) {
    const list = want(children(der, fields[i++]!)[0], TAG.sequence, 'crlExtensions');
    for (const ext of children(der, list)) {
      const parts = children(der, want(ext, TAG.sequence, 'an extension'));
      const oid = oidText(value(der, want(parts[0], TAG.oid, 'an extension id')));
      const critical = parts[1]?.tag === TAG.boolean && value(der, parts[1])[0] !== 0;
      const content = want(parts.at(-1), TAG.octetString, `extension ${oid}`);
      if (oid === EXTENSION.crlNumber) {
        const n = want(node(der, content.start, content.end), TAG.integer, 'cRLNumber');
        crlNumber = BigInt('0x' + (hex(value(der, n)) || '0')).toString();
      } else if (oid === EXTENSION.deltaCrlIndicator) {
        unsupported ??= 'it is a delta CRL; give the complete CRL';
      } else if (critical && !HANDLED_CRITICAL.has(oid)) {
        unsupported ??= `it carries the critical extension ${oid}, which OpenSSL (and nginx) cannot process`;
      }
    }
  }
  if (i !== fields.length) throw new DerError('unexpected fields at the end of tbsCertList');

  const algParts = children(der, algNode!);
  const parameters = algParts[1] && algParts[1].tag !== 0x05 ? whole(der, algParts[1]) : undefined;
  return {
    issuer,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(crlNumber !== undefined ? { crlNumber } : {}),
    revokedSerials,
    signatureAlgorithm: signatureAlgorithm(der).name,
    ...(unsupported ? { unsupported } : {}),
    fingerprintSHA256: sha256Fingerprint(der),
    der,
    tbs: whole(der, tbsNode!),
    signature: sigBits.subarray(1),
    ...(parameters ? { signatureParameters: parameters } : {}),
  };
}

// ---- signatures ----

/** Does the CRL's signature verify with `key`? False for a wrong key or an unusable signature. */
export function crlSignedBy(crl: ParsedCrl, key: KeyObject): boolean {
  return signedBy({ ...crl, signatureOid: signatureAlgorithmOid(crl.der) ?? '' }, key) === true;
}

// ---- parse cache ----

export type CrlParseOutcome = { ok: true; crl: ParsedCrl } | { ok: false; reason: string };

const parsed = new Map<string, CrlParseOutcome>();
const PARSE_CACHE_ENTRIES = 256;

/** parseCrl, remembered by the DER's SHA-256: a resync with the same CRLs parses nothing again. */
export function parseCrlCached(der: Buffer): CrlParseOutcome {
  const key = createHash('sha256').update(der).digest('hex');
  let outcome = parsed.get(key);
  if (outcome) return outcome;
  try {
    outcome = { ok: true, crl: parseCrl(retainable(der)) };
  } catch (err) {
    outcome = { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  if (parsed.size >= PARSE_CACHE_ENTRIES) parsed.clear();
  parsed.set(key, outcome);
  return outcome;
}

// ---- judgement against the bundle and the policy ----

export interface CrlJudgement {
  /** Every distinct CRL examined, in canonical order (by issuing CA, newest first). */
  crls: CrlInfo[];
  /** The CRLs to publish as `ca.crl`, one per CA of the bundle, in the bundle's order; empty when none. */
  published: CrlInfo[];
  problems: Problem[];
}

const dates = (crl: ParsedCrl): string =>
  `thisUpdate ${crl.thisUpdate.toISOString()}, nextUpdate ${crl.nextUpdate?.toISOString() ?? 'none'}`;

interface Issuer {
  cert: CertificateInfo;
  nameKey: string;
  key?: KeyObject;
}

/** Newest first: thisUpdate, then cRLNumber, then fingerprint for a stable order. */
function newestFirst(a: ParsedCrl, b: ParsedCrl): number {
  const t = b.thisUpdate.getTime() - a.thisUpdate.getTime();
  if (t !== 0) return t;
  const na = BigInt(a.crlNumber ?? -1);
  const nb = BigInt(b.crlNumber ?? -1);
  if (na !== nb) return nb > na ? 1 : -1;
  return a.fingerprintSHA256 < b.fingerprintSHA256 ? -1 : 1;
}

/**
 * Judges the distinct CRLs of the sources against the examined certificates (canonical order,
 * with their statuses): each must be signed by a CA of the bundle, be current and usable by
 * OpenSSL; the newest valid CRL of each CA is published, and only when the policy's coverage
 * rule holds: `RequireForAll` makes a CA without a CRL an error, `PublishIfComplete` then
 * publishes none (a warning), since nginx with `ssl_crl` would refuse every client of that CA.
 */
export function judgeCrls(
  inputs: { crl: ParsedCrl; sources: string[] }[],
  certificates: CertificateInfo[],
  policy: Policy,
  now: Date,
  options: { dropLapsed?: boolean } = {},
): CrlJudgement {
  const problems: Problem[] = [];
  const issuers: Issuer[] = [];
  for (const cert of inputs.length > 0 ? certificates : []) {
    try {
      issuers.push({ cert, nameKey: nameKey(certificateSubject(cert.der)) });
    } catch {
      // A certificate whose subject cannot be read issues no CRL we can match.
    }
  }
  const keyOf = (issuer: Issuer): KeyObject =>
    (issuer.key ??= new X509Certificate(issuer.cert.der).publicKey);

  const judged: { crl: ParsedCrl; info: CrlInfo; issuer?: Issuer }[] = [];
  for (const { crl, sources } of inputs) {
    const candidates = issuers.filter((x) => x.nameKey === nameKey(crl.issuer));
    // Prefer a CA of the bundle when two certificates share the subject (a rotated key).
    candidates.sort((a, b) => Number(b.cert.status === 'Accepted') - Number(a.cert.status === 'Accepted'));
    const issuer = candidates.find((x) => crlSignedBy(crl, keyOf(x)));
    const issuerName = issuer?.cert.subject ?? candidates[0]?.cert.subject ?? crl.issuer;
    const ref = { issuer: issuerName, fingerprintSHA256: crl.fingerprintSHA256 };
    const who = `CRL of "${issuerName}" (${dates(crl)}; SHA-256 ${crl.fingerprintSHA256}) from ${sources.join(', ')}`;
    let status: CrlStatus = 'Accepted';
    const add = (severity: Severity, code: ProblemCode, what: string): void => {
      problems.push({ severity, code, source: sources[0]!, crl: ref, message: `${who}: ${what}` });
      if (severity === 'error') status = 'Rejected';
    };

    if (candidates.length === 0) {
      add(
        'error',
        'UnverifiableCRL',
        'its issuer is not a CA of the bundle, so its signature cannot be checked',
      );
    } else if (!issuer) {
      const keys = candidates
        .map((x) => `"${x.cert.subject}" (SHA-256 ${x.cert.fingerprintSHA256})`)
        .join(', ');
      add(
        'error',
        'UnverifiableCRL',
        `its signature does not verify with the key of ${keys}: it is corrupted or signed by another key`,
      );
    }
    if (issuer && !issuer.cert.mayIssueCRLs) {
      add(
        'error',
        'UnsupportedCRL',
        "its CA's keyUsage does not include cRLSign, so OpenSSL (hence nginx) refuses the CRLs it signs",
      );
    }
    const alg = signatureAlgorithm(crl.der);
    if (alg.digest === 'broken' || alg.digest === 'unknown') {
      add('error', 'WeakSignature', `signed with ${alg.name}, which is refused`);
    } else if (alg.digest === 'sha1' && !policy.allowSHA1Signatures) {
      add('error', 'WeakSignature', `signed with ${alg.name} (SHA-1 is refused unless allowSHA1Signatures)`);
    }
    if (crl.unsupported) add('error', 'UnsupportedCRL', crl.unsupported);
    if (crl.thisUpdate.getTime() > now.getTime()) {
      add('error', 'CRLNotYetValid', 'its thisUpdate is in the future (is a clock wrong?)');
    }
    if (!crl.nextUpdate) {
      add('error', 'StaleCRL', 'it has no nextUpdate, so it cannot be known to be current');
    } else if (crl.nextUpdate.getTime() <= now.getTime()) {
      if (options.dropLapsed) {
        add(
          'warning',
          'StaleCRL',
          'its nextUpdate has passed, and the CRL in force has lapsed too: it is left out rather than ' +
            'kept, since nginx would refuse every client of this CA (policy crl: PublishIfComplete)',
        );
        if (status === 'Accepted') status = 'Dropped';
      } else {
        add('error', 'StaleCRL', 'its nextUpdate has passed: nginx would refuse every client of this CA');
      }
    }
    if (status === 'Accepted' && issuer && issuer.cert.status !== 'Accepted') {
      add(
        'warning',
        'OrphanedCRL',
        `its CA is ${issuer.cert.status.toLowerCase()}, so the CRL is left out too`,
      );
      status = 'Dropped';
    }
    judged.push({
      crl,
      ...(issuer ? { issuer } : {}),
      info: {
        issuer: issuerName,
        ...(issuer ? { issuerFingerprintSHA256: issuer.cert.fingerprintSHA256 } : {}),
        fingerprintSHA256: crl.fingerprintSHA256,
        thisUpdate: crl.thisUpdate,
        ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
        ...(crl.crlNumber !== undefined ? { crlNumber: crl.crlNumber } : {}),
        revokedCount: crl.revokedSerials.length,
        revokedSerials: crl.revokedSerials,
        signatureAlgorithm: crl.signatureAlgorithm,
        sources,
        status,
        der: crl.der,
      },
    });
  }

  // Canonical order: by the issuing CA's place in the bundle, newest CRL first; unmatched last.
  const rank = new Map(certificates.map((c, n) => [c.fingerprintSHA256, n]));
  const rankOf = (x: (typeof judged)[number]): number =>
    x.issuer ? rank.get(x.issuer.cert.fingerprintSHA256)! : certificates.length;
  judged.sort((a, b) => rankOf(a) - rankOf(b) || newestFirst(a.crl, b.crl));

  const current = new Map<string, CrlInfo>();
  for (const { info } of judged) {
    if (info.status !== 'Accepted' || !info.issuerFingerprintSHA256) continue;
    const newer = current.get(info.issuerFingerprintSHA256);
    if (!newer) {
      current.set(info.issuerFingerprintSHA256, info);
      continue;
    }
    info.status = 'Superseded';
    problems.push({
      severity: 'warning',
      code: 'SupersededCRL',
      source: info.sources[0]!,
      crl: { issuer: info.issuer, fingerprintSHA256: info.fingerprintSHA256 },
      message:
        `CRL of "${info.issuer}" (thisUpdate ${info.thisUpdate.toISOString()}) from ${info.sources.join(', ')}: ` +
        `superseded by the newer CRL of thisUpdate ${newer.thisUpdate.toISOString()}, which alone is published`,
    });
  }

  const crls = judged.map((x) => x.info);
  const bundleCAs = certificates.filter((c) => c.status === 'Accepted');
  const uncovered = bundleCAs.filter((c) => !current.has(c.fingerprintSHA256));
  // A refused CRL already stops the bundle; coverage is judged once the CRLs themselves are sound.
  if (problems.some((p) => p.severity === 'error')) return { crls, published: [], problems };
  if (uncovered.length > 0 && (inputs.length > 0 || policy.crl === 'RequireForAll')) {
    const require = policy.crl === 'RequireForAll';
    for (const c of uncovered) {
      problems.push({
        severity: require ? 'error' : 'warning',
        code: 'MissingCRL',
        source: c.sources[0]!,
        certificate: { subject: c.subject, fingerprintSHA256: c.fingerprintSHA256 },
        message:
          `CA "${c.subject}" (SHA-256 ${c.fingerprintSHA256}) has no current CRL; nginx with ssl_crl would ` +
          `refuse every client it issued, so ` +
          (require
            ? 'the bundle is refused (policy crl: RequireForAll)'
            : 'no ca.crl is published (policy crl: PublishIfComplete)'),
      });
    }
    return { crls, published: [], problems };
  }
  const published = bundleCAs.map((c) => current.get(c.fingerprintSHA256)).filter((x) => x !== undefined);
  return { crls, published, problems };
}
