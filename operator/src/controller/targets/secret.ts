// The Secret target: the bundle under one key (`ca.crt` for ingress-nginx's auth-tls-secret),
// its CRLs as `ca.crl` when every CA has a current one, and optionally a PKCS#12 truststore for
// Java servers. Other keys of the Secret are left alone.
import { CRL_KEY } from '../../api/v1alpha1.ts';
import type { Bundle } from '../../bundle/types.ts';
import type { TargetObject } from '../../kube/objects.ts';
import { digestOf, ObjectTarget, type Desired, type TargetDeps } from './target.ts';

/** The digest of the truststore as written; PKCS#12 output is salted, so it is not recomputable. */
export const TRUSTSTORE_DIGEST_ANNOTATION = 'mtls.openbanking.dev/truststore-digest';
/** Which password the truststore was made with (a Secret's name and resourceVersion, never the password). */
export const TRUSTSTORE_PASSWORD_ANNOTATION = 'mtls.openbanking.dev/truststore-password-from';
/** Java's own default truststore password; documented, and only for stores of public certificates. */
export const DEFAULT_TRUSTSTORE_PASSWORD = 'changeit';

const base64 = (text: string): string => Buffer.from(text).toString('base64');

export interface TruststoreSpec {
  key: string;
  /** Resolves the password and where it came from (`default` or `Secret ns/name@rv`). */
  password: () => Promise<{ password: string; from: string }>;
}

export interface SecretRef {
  namespace: string;
  name: string;
  key: string;
  truststore?: TruststoreSpec;
}

export class SecretTarget extends ObjectTarget {
  readonly id: string;
  private readonly ref: SecretRef;

  constructor(ref: SecretRef, deps: TargetDeps) {
    super(deps);
    this.ref = ref;
    this.id = `Secret ${ref.namespace}/${ref.name}`;
  }

  protected async path(): Promise<string> {
    return `/api/v1/namespaces/${this.ref.namespace}/secrets/${this.ref.name}`;
  }

  protected async holds(current: TargetObject, bundle: Bundle): Promise<boolean> {
    if (current.digests.get(this.ref.key) !== digestOf(base64(bundle.pem))) return false;
    // ca.crl is the operator's too: a CRL file edited, removed or added by hand changes who nginx admits.
    if (current.digests.get(CRL_KEY) !== (bundle.crl ? digestOf(base64(bundle.crl)) : undefined))
      return false;
    const ts = this.ref.truststore;
    if (!ts) return true;
    const { from } = await ts.password();
    return (
      current.annotations[TRUSTSTORE_PASSWORD_ANNOTATION] === from &&
      current.digests.get(ts.key) === current.annotations[TRUSTSTORE_DIGEST_ANNOTATION]
    );
  }

  protected async desired(bundle: Bundle): Promise<Desired> {
    const data: Record<string, string> = { [this.ref.key]: base64(bundle.pem) };
    // Without current CRLs for every CA there must be no ca.crl at all (server-side apply removes
    // the one this operator wrote before; `absent` removes anyone else's): a stale or partial
    // ca.crl would lock TPPs out.
    if (bundle.crl) data[CRL_KEY] = base64(bundle.crl);
    const annotations: Record<string, string> = {};
    const ts = this.ref.truststore;
    if (ts) {
      const { password, from } = await ts.password();
      // node-forge (~4 MB of RSS) is loaded only by an operator that makes truststores.
      const { toPkcs12 } = await import('../../bundle/formats.ts');
      const p12 = toPkcs12(bundle, password).toString('base64');
      data[ts.key] = p12;
      annotations[TRUSTSTORE_DIGEST_ANNOTATION] = digestOf(p12);
      annotations[TRUSTSTORE_PASSWORD_ANNOTATION] = from;
    }
    return {
      annotations,
      ...(bundle.crl ? {} : { absent: [CRL_KEY] }),
      body: (metadata) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: this.ref.name, namespace: this.ref.namespace, ...metadata },
        data,
      }),
    };
  }
}
