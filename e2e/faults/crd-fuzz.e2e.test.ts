// Property-based test of the TrustBundle CRD on the real API server: fast-check makes specs that
// the schema allows, and specs broken in one known way; all are sent with
// `kubectl apply --dry-run=server` (one List per batch). Valid ones must be accepted; broken ones
// refused with a message naming the field; and the API server must never answer 500.
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { uniqueSuffix } from '../harness/kube.ts';
import { installCrds } from '../support/operator.ts';
import type { TrustBundleSpec } from '../../operator/src/api/v1alpha1.ts';
import { faultSeed, kubectlAll } from '../support/faults.ts';
import { recordRow, scale } from './results.ts';

const SPECS = scale(300, 3000);
const BATCH = 150;
jest.setTimeout(120_000 + (SPECS / BATCH) * 60_000);

type Spec = Record<string, unknown>;

// ---- what the schema allows ----
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const subdomain = fc
  .array(label, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'))
  .filter((s) => s.length <= 253);
const dataKey = fc.stringMatching(/^[-._a-zA-Z0-9]{1,24}$/);
const ref = fc.record(
  { namespace: label, name: subdomain, key: dataKey, optional: fc.boolean() },
  { requiredKeys: ['namespace', 'name'] },
);
const source = fc.oneof(
  fc.record({ inline: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }) }),
  fc.record({ secret: ref }),
  fc.record({ configMap: ref }),
);
const action = fc.constantFrom('Drop', 'Reject', 'Allow');
const policy = fc.record(
  {
    requireCA: fc.boolean(),
    expired: action,
    notYetValid: action,
    expiryWarningDays: fc.integer({ min: 0, max: 3650 }),
    minRSABits: fc.integer({ min: 1024, max: 16384 }),
    minECBits: fc.integer({ min: 256, max: 521 }),
    allowSHA1Signatures: fc.boolean(),
    maxCertificates: fc.integer({ min: 1, max: 10000 }),
    maxInputBytes: fc.integer({ min: 1024, max: 64 * 1024 * 1024 }),
  },
  { requiredKeys: [] },
);
const secretTargets = fc.uniqueArray(fc.record({ namespace: label, name: subdomain, key: dataKey }), {
  maxLength: 3,
  selector: (t) => `${t.namespace}/${t.name}/${t.key}`,
});
const rollout = fc.oneof(
  fc.record({
    kind: fc.constantFrom('Deployment', 'DaemonSet', 'StatefulSet'),
    namespace: label,
    name: subdomain,
  }),
  fc.record({
    kind: fc.constantFrom('Deployment', 'DaemonSet', 'StatefulSet'),
    namespace: label,
    selector: fc.record({
      matchLabels: fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.stringMatching(/^[a-z0-9]{0,10}$/), {
        minKeys: 1,
        maxKeys: 3,
      }),
    }),
  }),
);
const validSpec: fc.Arbitrary<Spec> = fc.record(
  {
    sources: fc.array(source, { minLength: 1, maxLength: 5 }),
    policy,
    targets: fc.record(
      {
        secrets: secretTargets,
        authorizationServers: fc.uniqueArray(fc.record({ name: subdomain }), {
          maxLength: 2,
          selector: (r) => r.name,
        }),
        rollouts: fc.array(rollout, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    deletionPolicy: fc.constantFrom('Retain', 'Delete'),
  },
  { requiredKeys: ['sources'] },
);

// ---- one way to break it, and what the refusal must name ----
interface Breakage {
  what: string;
  expect: RegExp;
  apply: (spec: Spec) => Spec;
}
const withTargets = (spec: Spec, targets: Record<string, unknown>): Spec => ({
  ...spec,
  targets: { ...(spec.targets as object), ...targets },
});
const breakages: Breakage[] = [
  { what: 'no sources', expect: /spec\.sources/, apply: (s) => ({ ...s, sources: [] }) },
  { what: 'sources left out', expect: /spec\.sources: Required/, apply: ({ sources: _, ...s }) => s },
  {
    what: '101 sources',
    expect: /spec\.sources: Too many/,
    apply: (s) => ({ ...s, sources: Array.from({ length: 101 }, () => ({ inline: 'x' })) }),
  },
  {
    what: 'a source with two kinds',
    expect: /exactly one of inline, secret or configMap/,
    apply: (s) => ({ ...s, sources: [{ inline: 'x', configMap: { namespace: 'a', name: 'b' } }] }),
  },
  {
    what: 'an empty source',
    expect: /exactly one of inline, secret or configMap/,
    apply: (s) => ({ ...s, sources: [{}] }),
  },
  {
    what: 'an empty inline',
    expect: /spec\.sources\[0\]\.inline/,
    apply: (s) => ({ ...s, sources: [{ inline: '' }] }),
  },
  {
    what: 'an upper-case namespace',
    expect: /spec\.sources\[0\]\.secret\.namespace/,
    apply: (s) => ({ ...s, sources: [{ secret: { namespace: 'PKI_Roots', name: 'ca' } }] }),
  },
  {
    what: 'a 254-character name',
    expect: /spec\.sources\[0\]\.configMap\.name/,
    apply: (s) => ({ ...s, sources: [{ configMap: { namespace: 'pki', name: 'a'.repeat(254) } }] }),
  },
  {
    what: 'a data key with a slash',
    expect: /spec\.sources\[0\]\.secret\.key/,
    apply: (s) => ({ ...s, sources: [{ secret: { namespace: 'pki', name: 'ca', key: 'ca/crt' } }] }),
  },
  {
    what: 'an unknown expired action',
    expect: /spec\.policy\.expired: Unsupported value/,
    apply: (s) => ({ ...s, policy: { ...(s.policy as object), expired: 'Maybe' } }),
  },
  {
    what: 'minRSABits 512',
    expect: /spec\.policy\.minRSABits/,
    apply: (s) => ({ ...s, policy: { ...(s.policy as object), minRSABits: 512 } }),
  },
  {
    what: 'a negative expiryWarningDays',
    expect: /spec\.policy\.expiryWarningDays/,
    apply: (s) => ({ ...s, policy: { ...(s.policy as object), expiryWarningDays: -1 } }),
  },
  {
    what: 'maxInputBytes 100',
    expect: /spec\.policy\.maxInputBytes/,
    apply: (s) => ({ ...s, policy: { ...(s.policy as object), maxInputBytes: 100 } }),
  },
  {
    what: 'a string where a boolean belongs',
    expect: /spec\.policy\.requireCA/,
    apply: (s) => ({ ...s, policy: { ...(s.policy as object), requireCA: 'yes' } }),
  },
  {
    what: 'an inline ACP target (the removed shape)',
    expect: /inline cloudentity targets were removed/,
    apply: (s) =>
      withTargets(s, {
        authorizationServers: [
          {
            cloudentity: {
              url: 'https://acp.example.com',
              tenant: 'default',
              server: 'openbanking_brasil',
              credentialsSecret: { namespace: 'tb', name: 'acp' },
            },
          },
        ],
      }),
  },
  {
    what: 'an authorization server without a name',
    expect: /spec\.targets\.authorizationServers\[0\]/,
    apply: (s) => withTargets(s, { authorizationServers: [{}] }),
  },
  {
    what: 'a rollout with name and selector',
    expect: /exactly one of name or selector/,
    apply: (s) =>
      withTargets(s, {
        rollouts: [
          { kind: 'Deployment', namespace: 'ingress', name: 'x', selector: { matchLabels: { a: 'b' } } },
        ],
      }),
  },
  {
    what: 'a rollout of a Pod',
    expect: /spec\.targets\.rollouts\[0\]\.kind: Unsupported value/,
    apply: (s) => withTargets(s, { rollouts: [{ kind: 'Pod', namespace: 'ingress', name: 'x' }] }),
  },
  {
    what: 'an empty matchLabels',
    expect: /matchLabels/,
    apply: (s) =>
      withTargets(s, {
        rollouts: [{ kind: 'Deployment', namespace: 'ingress', selector: { matchLabels: {} } }],
      }),
  },
  {
    what: 'the same target Secret twice',
    expect: /spec\.targets\.secrets: Invalid value.*the same namespace, name and key appear twice/,
    apply: (s) =>
      withTargets(s, {
        secrets: [
          { namespace: 'apim', name: 'rootca', key: 'ca.crt' },
          { namespace: 'apim', name: 'rootca', key: 'ca.crt' },
        ],
      }),
  },
  {
    what: 'an unknown deletionPolicy',
    expect: /spec\.deletionPolicy: Unsupported value/,
    apply: (s) => ({ ...s, deletionPolicy: 'Destroy' }),
  },
  {
    what: 'an inline source over 1 MiB',
    expect: /spec\.sources\[0\]\.inline: Too long/,
    apply: (s) => ({ ...s, sources: [{ inline: 'A'.repeat(1024 * 1024 + 1) }] }),
  },
];

interface Sample {
  name: string;
  spec: Spec;
  breakage?: Breakage;
}

/** Sends one batch; returns each object's refusal text (undefined when accepted). */
async function dryRun(
  batch: Sample[],
): Promise<{ verdicts: Map<string, string | undefined>; serverErrors: string[] }> {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: batch.map((s) => ({
      apiVersion: 'mtls.openbanking.dev/v1alpha1',
      kind: 'TrustBundle',
      metadata: { name: s.name },
      spec: s.spec as unknown as TrustBundleSpec,
    })),
  };
  // --validate=false: the API server judges every object (kubectl's own schema check would refuse the
  // whole List at its first error); unknown fields are checked apart, below.
  const { stdout, stderr } = await kubectlAll(
    ['apply', '--dry-run=server', '--validate=false', '-o', 'name', '-f', '-'],
    JSON.stringify(list),
  );
  const refusals = new Map<string, string>();
  for (const part of stderr.split(/(?=Error from server)/)) {
    const m = /TrustBundle(?:\.mtls\.openbanking\.dev)? "([^"]+)"/.exec(part) ?? /"(fuzz-[^"]+)"/.exec(part);
    if (m) refusals.set(m[1]!, part.trim());
  }
  const verdicts = new Map<string, string | undefined>();
  for (const s of batch) verdicts.set(s.name, refusals.get(s.name));
  // kubectl names a 500 `Error from server (InternalError)`.
  const serverErrors = stderr
    .split('\n')
    .filter((l) =>
      /\((InternalError|ServiceUnavailable)\)|Internal error occurred|an error on the server/.test(l),
    );
  // A refusal we could not attribute to an object is itself a finding.
  const accepted = new Set(stdout.split('\n').map((l) => /\/(\S+)/.exec(l)?.[1]));
  for (const s of batch)
    if (!refusals.has(s.name) && !accepted.has(s.name)) verdicts.set(s.name, 'no answer for this object');
  return { verdicts, serverErrors };
}

test(`${SPECS} generated TrustBundle specs against the real API server's validation (dry run)`, async () => {
  await installCrds();
  const seed = faultSeed();
  const suffix = uniqueSuffix();
  const specs = fc.sample(validSpec, { numRuns: SPECS, seed });
  const picks = fc.sample(fc.nat(breakages.length - 1), { numRuns: SPECS, seed: seed + 1 });
  // Every breakage at least once; after that, three in five samples broken.
  const samples: Sample[] = specs.map((spec, i) => {
    const breakage = i < breakages.length ? breakages[i] : i % 5 < 2 ? undefined : breakages[picks[i]!];
    return {
      name: `fuzz-${i}-${suffix}`,
      spec: breakage ? breakage.apply(spec) : spec,
      ...(breakage ? { breakage } : {}),
    };
  });

  const wrong: string[] = [];
  const serverErrors: string[] = [];
  for (let i = 0; i < samples.length; i += BATCH) {
    const batch = samples.slice(i, i + BATCH);
    const result = await dryRun(batch);
    serverErrors.push(...result.serverErrors);
    for (const s of batch) {
      const refusal = result.verdicts.get(s.name);
      if (!s.breakage && refusal !== undefined)
        wrong.push(`a valid spec was refused: ${refusal}\n  spec: ${JSON.stringify(s.spec).slice(0, 600)}`);
      if (s.breakage && refusal === undefined) wrong.push(`${s.breakage.what} was accepted`);
      if (s.breakage && refusal !== undefined && !s.breakage.expect.test(refusal))
        wrong.push(`${s.breakage.what}: refused without naming the field: ${refusal}`);
    }
  }
  // An unknown field, as a user sends it (kubectl's default validation): refused, naming it.
  const unknown = await kubectlAll(
    ['apply', '--dry-run=server', '-f', '-'],
    JSON.stringify({
      apiVersion: 'mtls.openbanking.dev/v1alpha1',
      kind: 'TrustBundle',
      metadata: { name: `fuzz-unknown-${suffix}` },
      spec: { ...specs[0], sourcez: [] },
    }),
  );
  if (unknown.code === 0 || !/unknown field "(spec\.)?sourcez"/.test(unknown.stderr))
    wrong.push(`an unknown field: ${unknown.code === 0 ? 'accepted' : unknown.stderr.trim()}`);
  const broken = samples.filter((s) => s.breakage).length + 1;
  recordRow({
    suite: 'crd-fuzz',
    order: 52,
    title: 'CRD validation, property-based (kubectl apply --dry-run=server)',
    tried: `${samples.length + 1} generated specs (seed ${seed}): ${samples.length + 1 - broken} valid, ${broken} broken in one of ${breakages.length + 1} ways`,
    faults: null,
    badInputs: broken,
    lost: null,
    extraRollouts: null,
    changedByBadInput: null,
    saw:
      `${wrong.length === 0 ? 'valid specs accepted, broken ones refused naming the field' : `${wrong.length} wrong verdicts`}; ` +
      `${serverErrors.length} server errors (500)`,
  });
  expect(serverErrors).toEqual([]);
  expect(wrong).toEqual([]);
});
