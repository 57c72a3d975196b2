// Gathers the bytes of a bundle's sources from the caches. A missing non-optional source is an
// error problem, so the build is refused and the last good bundle stays in force.
import { keyOf, type LabelSelector, type SourceReference, type TrustBundleSource } from '../api/v1alpha1.ts';
import type { Problem, Source } from '../bundle/types.ts';
import { isPrivateKeyName, type SourceKind, type SourceObject } from '../kube/objects.ts';
import { selectorString } from '../kube/selector.ts';

export type ReadObject = (
  kind: SourceKind,
  namespace: string,
  name: string,
) => Promise<SourceObject | undefined>;

export interface GatherOptions {
  /** Why a source in this namespace may not be read, or undefined when it may. Checked before any read. */
  refused?: (namespace: string) => string | undefined;
  /** The names of the objects a label selector matches in a namespace (selected sources). */
  select?: (kind: SourceKind, namespace: string, selector: LabelSelector) => Promise<string[]>;
  /** The most bytes the distinct objects named may hold together, checked before anything is parsed. */
  maxBytes?: number;
}

/** The total a bundle's sources may bring: four times the largest object etcd stores. */
export const MAX_GATHERED_BYTES = 6 * 1024 * 1024;

export interface GatheredSources {
  sources: Source[];
  problems: Problem[];
}

/** Secret types whose purpose is a private key or a credential: never a trust source. */
const CREDENTIAL_SECRET_TYPES = new Set(['kubernetes.io/ssh-auth', 'kubernetes.io/basic-auth']);
/** A label that says the Secret holds a private key (for example a CA's signing key). */
const PRIVATE_KEY_LABEL = 'mtls.openbanking.dev/private-key';

/** A source as the report names it: each object a selector matches is named on its own. */
export function sourceName(s: TrustBundleSource, index: number): string {
  const ref = s.secret ?? s.configMap;
  if (!ref) return `inline[${index}]`;
  const what = ref.name ?? `{${selectorString(ref.selector ?? {})}}`;
  return `${s.secret ? 'secret' : 'configMap'} ${ref.namespace}/${what} key ${keyOf(ref)}`;
}

const error = (source: string, code: Problem['code'], message: string): Problem => ({
  severity: 'error',
  code,
  source,
  message: `source ${source}: ${message}`,
});

export async function gatherSources(
  specs: TrustBundleSource[],
  read: ReadObject,
  options: GatherOptions = {},
): Promise<GatheredSources> {
  /** Per spec, the sources it brings (a selector may bring many), in the order of the spec. */
  const slots: Source[][] = [];
  const problems: Problem[] = [];
  /** Each object and key is read and counted once, however often it is named. */
  const named = new Set<string>();

  /** One object's key, vetted as every source is: never a private key, never a credential. */
  const vet = async (
    kind: SourceKind,
    ref: SourceReference,
    objectName: string,
    name: string,
  ): Promise<Source | undefined> => {
    const key = keyOf(ref);
    const id = `${kind}/${ref.namespace}/${objectName}/${key}`;
    if (named.has(id)) return undefined;
    named.add(id);
    if (isPrivateKeyName(key)) {
      problems.push(
        error(name, 'PrivateKey', `key "${key}" by its name holds a private key; it is never read`),
      );
      return undefined;
    }
    let obj: SourceObject | undefined;
    try {
      obj = await read(kind, ref.namespace, objectName);
    } catch (err) {
      problems.push(error(name, 'SourceUnavailable', `cannot be read: ${(err as Error).message}`));
      return undefined;
    }
    if (obj && kind === 'Secret') {
      if (obj.type && CREDENTIAL_SECRET_TYPES.has(obj.type)) {
        problems.push(error(name, 'PrivateKey', `a Secret of type ${obj.type} holds credentials, not CAs`));
        return undefined;
      }
      if (obj.labels[PRIVATE_KEY_LABEL] === 'true') {
        problems.push(error(name, 'PrivateKey', `the Secret is labelled ${PRIVATE_KEY_LABEL}=true`));
        return undefined;
      }
    }
    const content = obj?.data?.get(key);
    if (content === undefined) {
      if (ref.optional) return undefined;
      const what = obj ? `has no key "${key}"` : `${kind} ${ref.namespace}/${objectName} does not exist`;
      problems.push(error(name, 'SourceMissing', `${what} (mark the source optional if that is expected)`));
      return undefined;
    }
    return { name, content };
  };

  await Promise.all(
    specs.map(async (s, i) => {
      const name = sourceName(s, i);
      if (s.inline !== undefined) {
        slots[i] = [{ name, content: s.inline }];
        return;
      }
      const kind: SourceKind = s.secret ? 'Secret' : 'ConfigMap';
      const ref = s.secret ?? s.configMap;
      if (!ref || (ref.name === undefined) === (ref.selector === undefined)) {
        problems.push(
          error(name, 'NotPEM', 'names none of inline, secret, configMap, or both a name and a selector'),
        );
        return;
      }
      const refused = options.refused?.(ref.namespace);
      if (refused) {
        // Said the same whether or not the object exists: the status is no oracle.
        problems.push(error(name, 'SourceNotAllowed', refused));
        return;
      }
      if (ref.name !== undefined) {
        const one = await vet(kind, ref, ref.name, name);
        slots[i] = one ? [one] : [];
        return;
      }
      let names: string[];
      try {
        if (!options.select) throw new Error('label selectors are not supported here');
        names = await options.select(kind, ref.namespace, ref.selector!);
      } catch (err) {
        problems.push(error(name, 'SourceUnavailable', `cannot be listed: ${(err as Error).message}`));
        return;
      }
      if (names.length === 0 && !ref.optional) {
        problems.push(
          error(name, 'SourceMissing', `no ${kind} matches (mark the source optional if that is expected)`),
        );
      }
      const found = await Promise.all(
        names.map((n) =>
          vet(kind, ref, n, sourceName({ [s.secret ? 'secret' : 'configMap']: { ...ref, name: n } }, i)),
        ),
      );
      slots[i] = found.filter((x) => x !== undefined);
    }),
  );
  const sources = slots.flat();
  const gathered = sources.filter((s) => s !== undefined);
  const bytes = gathered.reduce((n, s) => n + Buffer.byteLength(s.content), 0);
  const max = options.maxBytes ?? MAX_GATHERED_BYTES;
  if (bytes > max) {
    problems.push({
      severity: 'error',
      code: 'InputTooLarge',
      message: `the sources hold ${bytes} bytes together, more than the ${max} a bundle may gather; nothing was parsed`,
    });
    return { sources: [], problems };
  }
  return { sources: gathered, problems };
}
