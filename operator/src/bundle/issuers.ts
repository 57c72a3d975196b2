// Certificates of the bundle that are not self-signed roots: intermediates, and self-issued key
// rollover certificates (RFC 4210 §4.4: the new key certified by the old one, or the reverse).
// Each is checked against the bundle's certificates of its issuer's name, by signature; and each
// consumer's view of it differs: nginx (no partial chain) needs its issuer in the file, Go and
// Java take it as a full trust anchor on its own.
import { publicKeyOf, type ParsedCertificate } from './certificate.ts';
import { authorityKeyMatches, type Finding } from './consumers.ts';
import { signedBy } from './signature.ts';
import type { Consumer, Policy, ProblemCode } from './types.ts';

export interface IssuerView {
  findings: Finding[];
  /** The certificate of the bundle whose key signed it, when it is not self-signed. */
  issuer?: ParsedCertificate;
}

const label = (c: ParsedCertificate): string =>
  `"${c.subject}" (SHA-256 ${c.fingerprintSHA256.slice(0, 23)}…)`;

/** Where a certificate that is not a valid self-signed root comes from, within the bundle. */
export function issuerView(c: ParsedCertificate, all: ParsedCertificate[], policy: Policy): IssuerView {
  // A certificate that is no CA at all is NotCA's business.
  if (!c.isCA) return { findings: [] };
  // OpenSSL takes a self-issued certificate for self-signed when its AKI, if any, names itself.
  const akiNamesItself = authorityKeyMatches(c, c);
  // A root whose self-signature cannot be checked here (MD5, unknown algorithms) is left to the
  // signature-algorithm rules.
  if (c.selfSigned || (c.facts.selfIssued && c.selfSignatureValid === undefined)) {
    if (akiNamesItself) return { findings: [] };
    return {
      findings: [
        {
          code: 'AuthorityKeyIdMismatch',
          breaks: ['nginx'],
          what:
            'it is self-signed, but its authorityKeyIdentifier names another key, issuer or serial: OpenSSL does ' +
            'not take it for a root and nginx answers "unable to get issuer certificate"',
        },
      ],
    };
  }
  const named = all.filter((x) => x !== c && x.facts.subjectKey === c.facts.issuerKey);
  const issuer = named.find((x) => {
    const key = publicKeyOf(x);
    return key !== undefined && signedBy(c.facts, key) === true;
  });
  const findings: Finding[] = [];
  const rollover = c.facts.selfIssued;
  const kind = rollover ? 'a self-issued key-rollover certificate' : 'an intermediate CA';
  if (policy.anchors === 'RootsOnly') {
    findings.push({
      code: 'IntermediateCA',
      breaks: [],
      what: `${kind}, not a self-signed root, and the policy admits roots only (anchors: RootsOnly)`,
    });
  }
  if (issuer) {
    if (rollover)
      findings.push({
        code: 'RolloverCertificate',
        breaks: [],
        advisory: true,
        what: `a key-rollover certificate: this key certified by the key of ${label(issuer)}, which is in the bundle`,
      });
    return { findings, issuer };
  }
  if (named.length > 0 || (rollover && !claimsOtherKey(c))) {
    findings.push({
      code: 'BadSignature',
      breaks: named.length > 0 || !akiNamesItself ? ['nginx'] : [],
      what:
        named.length > 0
          ? `its signature does not verify with the key of ${named.map(label).join(' or ')}, its issuer by name: the certificate is corrupted or forged`
          : 'self-signed, but its signature does not verify: the certificate is corrupted or forged',
    });
    return { findings };
  }
  findings.push({
    code: 'IssuerNotInBundle',
    breaks: ['nginx'],
    advisory: true,
    what:
      (rollover
        ? `a self-issued key-rollover certificate whose signing key, another key of "${c.issuer}", is not in the bundle: `
        : `an intermediate CA whose issuer "${c.issuer}" is not in the bundle: `) +
      'nginx (no partial chain) will not accept it ' +
      'as an anchor, clients under it get "unable to get issuer certificate"; Go and Java trust it as a full anchor on its own',
  });
  return { findings };
}

/** A self-issued certificate whose authorityKeyIdentifier names a key other than its own. */
function claimsOtherKey(c: ParsedCertificate): boolean {
  const keyId = c.facts.authorityKey?.keyId;
  return keyId !== undefined && c.facts.subjectKeyId !== undefined && keyId !== c.facts.subjectKeyId;
}

/**
 * Per consumer, the problem codes that keep it from using each certificate: its own findings,
 * and for nginx, which builds the chain up to a root of the file, those of its issuers too.
 */
export function consumerVerdicts(
  certs: ParsedCertificate[],
  own: Map<ParsedCertificate, Finding[]>,
  issuers: Map<ParsedCertificate, ParsedCertificate | undefined>,
): Map<ParsedCertificate, Record<Consumer, ProblemCode[]>> {
  const out = new Map<ParsedCertificate, Record<Consumer, ProblemCode[]>>();
  const codes = (c: ParsedCertificate, consumer: Consumer): ProblemCode[] => [
    ...new Set((own.get(c) ?? []).filter((f) => f.breaks.includes(consumer)).map((f) => f.code)),
  ];
  const nginx = (c: ParsedCertificate, seen: Set<ParsedCertificate>): ProblemCode[] => {
    const mine = codes(c, 'nginx');
    const issuer = issuers.get(c);
    if (!issuer) return mine;
    // A ring of certificates signing each other never reaches a root.
    if (seen.has(issuer)) return [...new Set([...mine, 'IssuerNotInBundle' as const])];
    seen.add(c);
    const above = nginx(issuer, seen);
    // OpenSSL finds the issuer by name and AKI, and verifies the signature of every certificate
    // below the root, which X509_verify refuses when the two algorithm identifiers differ.
    const mismatch: ProblemCode[] = [
      ...(authorityKeyMatches(c, issuer) ? [] : (['AuthorityKeyIdMismatch'] as const)),
      ...(c.facts.algorithms === 'same' ? [] : (['SignatureAlgorithmMismatch'] as const)),
    ];
    return [...new Set([...mine, ...mismatch, ...above])];
  };
  for (const c of certs)
    out.set(c, { nginx: nginx(c, new Set()), go: codes(c, 'go'), java: codes(c, 'java') });
  return out;
}
