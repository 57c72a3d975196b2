// Signing a PKCS#10 request made elsewhere (`openssl req -new`): the subject and the requested
// DNS names are kept, proof of possession is checked, the extensions are the client profile's.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { Authority } from './authority.ts';
import { signClientCertificate, type ClientSigningOptions } from './client.ts';
import { digestForSignatureOid, type HashName } from './keys.ts';
import { OIDS, derOf, fromBinary, parseDer, type Certificate } from './x509.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const CN = '2.5.4.3';

export interface CertificationRequest {
  subject: Asn1;
  publicKey: KeyObject;
  /** Subject common name, if any. */
  commonName?: string;
  /** dNSNames of a requested subjectAltName extension. */
  dnsNames: string[];
}

function children(node: Asn1 | undefined): Asn1[] {
  return Array.isArray(node?.value) ? node.value : [];
}

function requestedDnsNames(attributes: Asn1 | undefined): string[] {
  const names: string[] = [];
  for (const attribute of children(attributes)) {
    const [type, values] = children(attribute);
    if (!type || asn1.derToOid(type.value as string) !== EXTENSION_REQUEST) continue;
    for (const ext of children(children(values)[0])) {
      const parts = children(ext);
      if (asn1.derToOid(parts[0]!.value as string) !== OIDS.subjectAltName) continue;
      const general = parseDer(fromBinary(parts[parts.length - 1]!.value as string));
      for (const name of children(general)) {
        if (name.tagClass === asn1.Class.CONTEXT_SPECIFIC && name.type === 2)
          names.push(name.value as string);
      }
    }
  }
  return names;
}

function commonName(subject: Asn1): string | undefined {
  for (const rdn of children(subject)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type && value && asn1.derToOid(type.value as string) === CN) {
        return forge.util.decodeUtf8(value.value as string);
      }
    }
  }
  return undefined;
}

/** Reads a PEM CSR and verifies its self-signature (the requester holds the key). */
export function parseCertificationRequest(pem: string): CertificationRequest {
  const block =
    /-----BEGIN (NEW )?CERTIFICATE REQUEST-----[\s\S]+?-----END (NEW )?CERTIFICATE REQUEST-----/.exec(pem);
  if (!block) throw new Error('no PEM CERTIFICATE REQUEST block found');
  let info: Asn1[];
  let algorithm: Asn1[];
  let signature: Buffer;
  let publicKey: KeyObject;
  try {
    const der = Buffer.from(block[0].replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const [criNode, algNode, sigNode] = children(parseDer(der));
    info = children(criNode);
    algorithm = children(algNode);
    signature = fromBinary(sigNode!.value as string).subarray(1);
    publicKey = createPublicKey({ key: derOf(info[2]!), format: 'der', type: 'spki' });
    const oid = asn1.derToOid(algorithm[0]!.value as string);
    const digest: HashName | null | undefined = digestForSignatureOid(oid);
    if (digest === undefined) throw new Error(`unsupported signature algorithm ${oid}`);
    if (!verify(digest, derOf(criNode!), publicKey, signature))
      throw new Error('its signature does not verify');
  } catch (err) {
    throw new Error(`invalid certificate request: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const subject = info[1]!;
  const cn = commonName(subject);
  return {
    subject,
    publicKey,
    ...(cn !== undefined ? { commonName: cn } : {}),
    dnsNames: requestedDnsNames(info[3]),
  };
}

export type CsrSigningOptions = ClientSigningOptions;

export interface SignedRequest {
  certificate: Certificate;
  /** The client certificate followed by the issuing CA: what a TPP configures as its chain. */
  chainPem: string;
}

export function signCertificationRequest(
  authority: Authority,
  csrPem: string,
  options: CsrSigningOptions = {},
): SignedRequest {
  const request = parseCertificationRequest(csrPem);
  const dnsNames =
    request.dnsNames.length > 0
      ? request.dnsNames
      : request.commonName && /^[A-Za-z0-9.*-]+$/.test(request.commonName)
        ? [request.commonName]
        : [];
  const certificate = signClientCertificate(authority, request.subject, request.publicKey, dnsNames, options);
  return { certificate, chainPem: certificate.pem + authority.certificate.toString() };
}
