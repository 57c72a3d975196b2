// Certificate revocation lists (RFC 5280 §5) for the test PKI: a v2 CRL signed by a CA, listing
// the certificates it revoked, with the extensions `openssl ca -gencrl` writes (authority key
// identifier, cRLNumber).
import type { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { toPem } from '../bundle/build.ts';
import { readCertificate } from '../bundle/x509.ts';
import type { Authority } from './authority.ts';
import type { HashName } from './keys.ts';
import {
  authorityKeyIdentifier,
  extensionsAsn1,
  issuerFacts,
  prim,
  seq,
  signStructure,
  time,
  toBinary,
  type Extension,
} from './x509.ts';

const { asn1 } = forge;

const CRL_NUMBER_OID = '2.5.29.20';
const HOUR_MS = 3_600_000;

export interface Revocation {
  /** The certificate's serial number: hex, as `openssl x509 -serial` and X509Certificate print it. */
  serialNumber: string;
  /** When it was revoked (default: thisUpdate). */
  revocationDate?: Date;
}

export interface CrlOptions {
  revoked?: Revocation[];
  /** Default: a minute ago, on a whole second (as certificates' notBefore). */
  thisUpdate?: Date;
  /** Default: thisUpdate + `hours`. */
  nextUpdate?: Date;
  /** Lifetime when nextUpdate is not given (default 7 days). */
  hours?: number;
  /** cRLNumber; default: thisUpdate in seconds, so a later CRL has a larger number. */
  crlNumber?: bigint;
  hash?: HashName;
}

export interface Crl {
  der: Buffer;
  pem: string;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Entries in the CRL (a serial given twice is listed once). */
  revokedCount: number;
}

/** A positive DER INTEGER's content octets from a hex serial. */
export function serialBytes(hex: string): Buffer {
  const digits = hex.replace(/:/g, '');
  if (!/^[0-9a-fA-F]+$/.test(digits)) throw new Error(`"${hex}" is not a hexadecimal serial number`);
  let bytes = Buffer.from(digits.padStart(digits.length + (digits.length % 2), '0'), 'hex');
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1]! < 0x80) bytes = bytes.subarray(1);
  if (bytes.length === 1 && bytes[0] === 0) throw new Error('a serial number must be positive');
  return bytes[0]! >= 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
}

/** cRLNumber: a non-negative INTEGER (RFC 5280 §5.2.3). */
function crlNumber(value: bigint): forge.asn1.Asn1 {
  if (value < 0n) throw new Error('a cRLNumber cannot be negative');
  return prim(asn1.Type.INTEGER, toBinary(value === 0n ? Buffer.of(0) : serialBytes(value.toString(16))));
}

/** CRL times are encoded to the second: judge and report them as encoded. */
const wholeSecond = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

/** The certificates `ca` revoked, as a CRL signed with its key. */
export function createCrl(ca: Authority, options: CrlOptions = {}): Crl {
  if (!readCertificate(ca.certificate.raw).mayIssueCRLs) {
    throw new Error(
      `the keyUsage of "${ca.certificate.subject.replace(/\n/g, ', ')}" does not include cRLSign: OpenSSL (hence nginx) would refuse its CRLs`,
    );
  }
  const thisUpdate = wholeSecond(options.thisUpdate ?? new Date(Date.now() - 60_000));
  const nextUpdate = wholeSecond(
    options.nextUpdate ?? new Date(thisUpdate.getTime() + (options.hours ?? 168) * HOUR_MS),
  );
  if (Number.isNaN(thisUpdate.getTime()) || Number.isNaN(nextUpdate.getTime()))
    throw new Error('invalid CRL date');
  if (nextUpdate.getTime() <= thisUpdate.getTime()) {
    throw new Error(
      `nextUpdate (${nextUpdate.toISOString()}) must be later than thisUpdate (${thisUpdate.toISOString()})`,
    );
  }
  const issuer = issuerFacts(ca.certificate);
  // One entry per serial: the same certificate revoked twice is listed once.
  const unique = [
    ...new Map((options.revoked ?? []).map((r) => [serialBytes(r.serialNumber).toString('hex'), r])).values(),
  ];
  const revoked = unique.map((r) =>
    seq([
      prim(asn1.Type.INTEGER, toBinary(serialBytes(r.serialNumber))),
      time(wholeSecond(r.revocationDate ?? thisUpdate)),
    ]),
  );
  const extensions: Extension[] = [
    authorityKeyIdentifier(issuer.keyIdentifier),
    {
      oid: CRL_NUMBER_OID,
      critical: false,
      value: crlNumber(options.crlNumber ?? BigInt(Math.floor(thisUpdate.getTime() / 1000))),
    },
  ];
  const der = signStructure(
    (algorithm) => [
      prim(asn1.Type.INTEGER, '\x01'), // v2
      algorithm,
      issuer.subject,
      time(thisUpdate),
      time(nextUpdate),
      // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
      ...(revoked.length > 0 ? [seq(revoked)] : []),
      extensionsAsn1(extensions, 0),
    ],
    ca.privateKey,
    options.hash,
  );
  return { der, pem: toPem(der, 'X509 CRL'), thisUpdate, nextUpdate, revokedCount: revoked.length };
}

/**
 * The revocation of a certificate `ca` issued. A certificate of another CA is refused: its serial
 * in this CA's CRL would revoke nothing, or someone else's certificate.
 */
export function revocationOf(ca: Authority, certificate: X509Certificate, revocationDate?: Date): Revocation {
  if (!certificate.checkIssued(ca.certificate) || !certificate.verify(ca.certificate.publicKey)) {
    throw new Error(
      `"${certificate.subject.replace(/\n/g, ', ')}" was not issued by "${ca.certificate.subject.replace(/\n/g, ', ')}"`,
    );
  }
  return { serialNumber: certificate.serialNumber, ...(revocationDate ? { revocationDate } : {}) };
}
