// Reading and writing TrustBundles and their target Secrets from e2e tests.
import yaml from 'js-yaml';
import { X509Certificate } from 'node:crypto';
import type { TrustBundle, TrustBundleSpec } from '../../operator/src/api/v1alpha1.ts';
import { parseCrl } from '../../operator/src/bundle/crl.ts';
import { readPem } from '../../operator/src/bundle/pem.ts';
import { clients, isNotFound, kubectl, kubectlApply, waitFor, type WaitOptions } from '../harness/kube.ts';

const G = { group: 'mtls.openbanking.dev', version: 'v1alpha1', plural: 'trustbundles' };

export async function applyBundle(name: string, spec: TrustBundleSpec): Promise<void> {
  await kubectlApply(
    yaml.dump({ apiVersion: 'mtls.openbanking.dev/v1alpha1', kind: 'TrustBundle', metadata: { name }, spec }),
  );
}

export async function getBundle(name: string): Promise<TrustBundle | undefined> {
  try {
    return (await clients().custom.getClusterCustomObject({ ...G, name })) as TrustBundle;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Events about a TrustBundle (cluster-scoped objects' events live in `default`). */
export async function bundleEvents(
  name: string,
): Promise<{ kind: string; reason: string; message: string }[]> {
  const list = await clients().core.listNamespacedEvent({
    namespace: 'default',
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items.map((e) => ({
    kind: e.involvedObject.kind ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
  }));
}

export async function deleteBundle(name: string): Promise<void> {
  await kubectl(['delete', 'trustbundle', name, '--ignore-not-found', '--wait=false']);
}

export function condition(tb: TrustBundle | undefined, type: string) {
  return tb?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the bundle's status describes its current generation and `check` holds. */
export function waitForBundle(
  name: string,
  description: string,
  check: (tb: TrustBundle) => boolean,
  options: WaitOptions = { timeoutMs: 20_000 },
): Promise<TrustBundle> {
  return waitFor(
    `TrustBundle ${name}: ${description}`,
    async (seen) => {
      const tb = await getBundle(name);
      seen(tb?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`) ?? tb);
      return !!tb && tb.status?.observedGeneration === tb.metadata.generation && check(tb) && tb;
    },
    options,
  );
}

export interface SecretView {
  resourceVersion: string;
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export async function readSecret(namespace: string, name: string): Promise<SecretView | undefined> {
  try {
    const s = await clients().core.readNamespacedSecret({ namespace, name });
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    return {
      resourceVersion: s.metadata!.resourceVersion!,
      data,
      labels: s.metadata?.labels ?? {},
      annotations: s.metadata?.annotations ?? {},
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface CrlSummary {
  /** As subjectsOf() names a subject. */
  issuer: string;
  /** Upper-case hex, as X509Certificate.serialNumber. */
  revokedSerials: string[];
}

/** The CRLs in PEM text (a Secret's `ca.crl`), in order. */
export function crlsOf(pem: string | undefined): CrlSummary[] {
  if (!pem) return [];
  return readPem({ name: 'ca.crl', content: pem }).crls.map((block) => {
    const { issuer, revokedSerials } = parseCrl(block.der);
    return { issuer, revokedSerials };
  });
}

/** Subjects of the certificates in PEM text, in order, as `openssl x509 -subject` would name them. */
export function subjectsOf(pem: string | undefined): string[] {
  if (!pem) return [];
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) =>
    new X509Certificate(m[0]).subject.split('\n').join(', '),
  );
}
