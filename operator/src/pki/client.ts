// TPP client certificates with the Open Finance Brasil subject profile, and the extensions every
// mTLS client certificate we issue carries (also used when signing a CSR).
import { randomUUID, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import {
  issued,
  keyPairOf,
  resolveValidity,
  type Authority,
  type IssueOptions,
  type IssuedCertificate,
  type Validity,
} from './authority.ts';
import { normalizeCnpj } from './cnpj.ts';
import type { HashName } from './keys.ts';
import { nameToAsn1, type NameAttribute } from './names.ts';
import {
  OIDS,
  authorityKeyIdentifier,
  basicConstraints,
  dnsSubjectAltName,
  extKeyUsage,
  issuerFacts,
  keyIdentifier,
  keyUsage,
  signCertificate,
  subjectKeyIdentifier,
  type Certificate,
} from './x509.ts';

export interface ClientCertificateOptions extends IssueOptions {
  /** serialNumber: the organisation's CNPJ (punctuation allowed, check digits verified). */
  cnpj: string;
  /** CN and the SAN dNSName: the TPP's fully qualified domain name. */
  fqdn: string;
  /** O. */
  organization: string;
  /** organizationIdentifier, e.g. `OFBBR-<participant id>`; a random one when omitted. */
  organizationIdentifier?: string;
  /** UID: the software statement id; a random UUID when omitted. */
  softwareStatementId?: string;
  businessCategory?: string;
  locality?: string;
  state?: string;
  /** Extra SAN dNSNames after the FQDN. */
  dnsNames?: string[];
}

const HOSTNAME =
  /^(?=.{1,253}$)(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function checkHostname(name: string): string {
  if (!HOSTNAME.test(name)) throw new Error(`"${name}" is not a valid DNS name`);
  return name;
}

/** The OFB subject, in the order of the profile's examples: C, ST, L, O, …, UID last. */
export function openFinanceSubject(o: ClientCertificateOptions): NameAttribute[] {
  return [
    { type: 'C', value: 'BR' },
    { type: 'ST', value: o.state ?? 'SP' },
    { type: 'L', value: o.locality ?? 'Sao Paulo' },
    { type: 'O', value: o.organization },
    { type: 'organizationIdentifier', value: o.organizationIdentifier ?? `OFBBR-${randomUUID()}` },
    { type: 'CN', value: checkHostname(o.fqdn) },
    { type: 'serialNumber', value: normalizeCnpj(o.cnpj) },
    { type: 'businessCategory', value: o.businessCategory ?? 'Private Organization' },
    { type: 'jurisdictionC', value: 'BR' },
    { type: 'UID', value: o.softwareStatementId ?? randomUUID() },
  ];
}

export interface ClientSigningOptions extends Validity {
  hash?: HashName;
  serialNumber?: Buffer;
}

/**
 * Signs a client certificate for `publicKey` under `subject`: keyUsage digitalSignature
 * (+ keyEncipherment for RSA) critical, extendedKeyUsage clientAuth, SKI, AKI, SAN dNSNames.
 */
export function signClientCertificate(
  authority: Authority,
  subject: forge.asn1.Asn1,
  publicKey: KeyObject,
  dnsNames: string[],
  options: ClientSigningOptions,
): Certificate {
  const issuer = issuerFacts(authority.certificate);
  const rsa = publicKey.asymmetricKeyType === 'rsa';
  return signCertificate(
    {
      ...(options.serialNumber ? { serialNumber: options.serialNumber } : {}),
      subject,
      issuer: issuer.subject,
      ...resolveValidity(options, 365),
      publicKey,
      extensions: [
        basicConstraints(false),
        keyUsage(rsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature']),
        extKeyUsage([OIDS.clientAuth]),
        subjectKeyIdentifier(keyIdentifier(publicKey)),
        authorityKeyIdentifier(issuer.keyIdentifier),
        ...(dnsNames.length > 0 ? [dnsSubjectAltName(dnsNames)] : []),
      ],
    },
    authority.privateKey,
    options.hash,
  );
}

export function issueClientCertificate(
  authority: Authority,
  options: ClientCertificateOptions,
): IssuedCertificate {
  const keys = keyPairOf(options.key);
  const dnsNames = [options.fqdn, ...(options.dnsNames ?? []).map(checkHostname)];
  const subject = nameToAsn1(openFinanceSubject(options));
  return issued(signClientCertificate(authority, subject, keys.publicKey, dnsNames, options), keys);
}
