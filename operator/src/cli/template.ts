// `trustbundle build --template FILE`: any text format rendered from the bundle with Handlebars,
// e.g. an Axway values fragment or a Java properties file. The template sees plain data only
// (no prototype access, no helpers beyond Handlebars' own), and its output is not HTML-escaped.
import Handlebars from 'handlebars';
import { toHelmValue } from '../bundle/formats.ts';
import type { Bundle } from '../bundle/types.ts';

/** What a template can use: the bundle and each certificate's facts, as strings and numbers. */
export function templateContext(bundle: Bundle): Record<string, unknown> {
  return {
    pem: bundle.pem,
    base64: toHelmValue(bundle),
    hash: bundle.hash,
    crl: bundle.crl ?? '',
    certificates: bundle.certificates.map((c) => ({
      subject: c.subject,
      issuer: c.issuer,
      serialNumber: c.serialNumber,
      fingerprintSHA256: c.fingerprintSHA256,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      keyAlgorithm: c.keyAlgorithm,
      keySize: c.keySize,
      pem: `-----BEGIN CERTIFICATE-----\n${c.der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`,
    })),
  };
}

/** Renders `source` with the bundle; a template that does not compile or render throws with its reason. */
export function renderTemplate(source: string, bundle: Bundle): string {
  const env = Handlebars.create();
  const template = env.compile(source, { noEscape: true, strict: true });
  return template(templateContext(bundle), {
    allowProtoPropertiesByDefault: false,
    allowProtoMethodsByDefault: false,
  });
}
