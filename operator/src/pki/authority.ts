// Certificate authorities: self-signed roots (an "impostor" is just a root given another CA's
// subject), intermediates, and loading an existing CA certificate + key from PEM.
import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  generateKeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  type HashName,
  type KeyPair,
  type KeySpec,
} from './keys.ts';
import { nameToAsn1, parseName, type NameAttribute } from './names.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  issuerFacts,
  keyIdentifier,
  keyUsage,
  signCertificate,
  subjectKeyIdentifier,
  type Certificate,
} from './x509.ts';

export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
  /** Lifetime from notBefore when notAfter is not given. */
  days?: number;
}

export interface IssueOptions extends Validity {
  /** A key to generate, or an existing pair to reuse (key generation dominates RSA issuance). */
  key?: KeySpec | KeyPair;
  /** Digest of the issuer's signature (default SHA-256; EC issuers match their curve). */
  hash?: HashName;
  serialNumber?: Buffer;
}

export interface IssuedCertificate extends Certificate {
  privateKey: KeyObject;
  keyPem: string;
}

export interface Authority {
  certificate: X509Certificate;
  privateKey: KeyObject;
}

const DAY_MS = 86_400_000;

export function resolveValidity(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  // A minute in the past, on a whole second: a peer whose clock lags a little still accepts it.
  const notBefore = v.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + (v.days ?? defaultDays) * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw new Error('invalid validity date');
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new Error(
      `notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`,
    );
  }
  return { notBefore, notAfter };
}

export function keyPairOf(key: KeySpec | KeyPair | undefined): KeyPair {
  return key && 'privateKey' in key ? key : generateKeyPair(key);
}

export function issued(cert: Certificate, keys: KeyPair): IssuedCertificate {
  return { ...cert, privateKey: keys.privateKey, keyPem: privateKeyToPem(keys.privateKey) };
}

export interface CAOptions extends IssueOptions {
  subject: string | NameAttribute[];
  /** Signs with this CA instead of self-signing (an intermediate). */
  issuer?: Authority;
  pathLength?: number;
}

/** A CA certificate: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign, SKI, AKI. */
export function createCA(options: CAOptions): IssuedCertificate {
  const keys = keyPairOf(options.key);
  const subject = nameToAsn1(
    typeof options.subject === 'string' ? parseName(options.subject) : options.subject,
  );
  const ski = keyIdentifier(keys.publicKey);
  const issuer = options.issuer ? issuerFacts(options.issuer.certificate) : { subject, keyIdentifier: ski };
  const cert = signCertificate(
    {
      ...(options.serialNumber ? { serialNumber: options.serialNumber } : {}),
      subject,
      issuer: issuer.subject,
      ...resolveValidity(options, 3650),
      publicKey: keys.publicKey,
      extensions: [
        basicConstraints(true, options.pathLength),
        keyUsage(['keyCertSign', 'cRLSign']),
        subjectKeyIdentifier(ski),
        authorityKeyIdentifier(issuer.keyIdentifier),
      ],
    },
    options.issuer?.privateKey ?? keys.privateKey,
    options.hash,
  );
  return issued(cert, keys);
}

export function authorityOf(ca: IssuedCertificate): Authority {
  return { certificate: new X509Certificate(ca.der), privateKey: ca.privateKey };
}

/** Loads a CA from PEM: it must be a CA certificate, and the key must be its key. */
export function loadAuthority(certPem: string | Buffer, keyPem: string | Buffer): Authority {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    throw new Error('the CA certificate is not a readable PEM certificate');
  }
  if (!certificate.ca)
    throw new Error(`"${certificate.subject.replace(/\n/g, ', ')}" is not a CA certificate`);
  const privateKey = privateKeyFromPem(keyPem, 'the CA key');
  if (!certificate.checkPrivateKey(privateKey))
    throw new Error('the CA key does not belong to the CA certificate');
  return { certificate, privateKey };
}
