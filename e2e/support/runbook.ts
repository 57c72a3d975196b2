// The runbook's acceptance test as data and one runner, shared by the e2e suite
// (e2e/enforcement.e2e.test.ts) and `make demo` (hack/demo.ts), so the two cannot diverge.
//
// The PKI comes from `trustbundle pki`: CA1 and CA2 (the TPPs' issuing CAs), TPP1 and TPP3 under
// CA1, TPP2 under CA2 (Open Finance Brasil subject profile), an impostor (a self-signed CA given
// CA1's subject name that issued itself a certificate with TPP1's subject), and each CA's CRL: CA1
// revoked TPP3, CA2 revoked nothing. CA1 and CA2 reach the TrustBundle as Secrets
// (`<caNamespace>/ca1`, `ca2`), the certificate under key ca.crt and the CRL under ca.crl.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import {
  API_VERSION,
  KIND,
  type TrustBundle,
  type TrustBundlePolicy,
  type TrustBundleSource,
  type TrustBundleSpec,
} from '../../operator/src/api/v1alpha1.ts';
import type { ProblemCode } from '../../operator/src/bundle/types.ts';
import { cnpjWithCheckDigits } from '../../operator/src/pki/cnpj.ts';
import { clients, kubectlApply } from '../harness/kube.ts';
import { REPO_ROOT } from '../harness/tools.ts';
import { describeState } from '../harness/wait.ts';
import {
  requestWithBoth,
  type ClientIdentity,
  type HttpAnswer,
  type IngressState,
  type ObjectRef,
} from './enforcement.ts';
import {
  applyBundle,
  condition,
  getBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
  type CrlSummary,
} from './trustbundles.ts';

const run = promisify(execFile);

// ---- the PKI ----

export interface PkiFile {
  certFile: string;
  keyFile: string;
  certPem: string;
  /** `openssl x509 -subject` style, as subjectsOf() gives it. */
  subject: string;
  fingerprint: string;
}

export interface RunbookPki {
  dir: string;
  ca1: PkiFile;
  ca2: PkiFile;
  tpp1: PkiFile;
  tpp2: PkiFile;
  /** A second TPP of CA1, which CA1's CRL revokes. */
  tpp3: PkiFile;
  impostorCa: PkiFile;
  impostor: PkiFile;
  /** CA1's CRL (TPP3 revoked) and CA2's (nothing revoked), PEM. */
  ca1Crl: string;
  ca2Crl: string;
}

export const CA1_SUBJECT = '/C=BR/O=Open Finance Test/CN=TPP Issuing CA 1';
export const CA2_SUBJECT = '/C=BR/O=Open Finance Test/CN=TPP Issuing CA 2';
// Fixed identifiers, so the impostor's certificate carries exactly TPP1's subject.
const TPP1 = {
  fqdn: 'tpp1.example.com',
  org: 'TPP One Pagamentos',
  cnpj: cnpjWithCheckDigits('112223330001'),
  orgId: 'OFBBR-5a1e7b0c-1111-4c5e-9a61-0000000000a1',
  ssId: '7e0c1f6a-1111-4b8e-8d1e-0000000000a1',
};
const TPP2 = {
  fqdn: 'tpp2.example.com',
  org: 'TPP Two Investimentos',
  cnpj: cnpjWithCheckDigits('445556660001'),
  orgId: 'OFBBR-5a1e7b0c-2222-4c5e-9a61-0000000000b2',
  ssId: '7e0c1f6a-2222-4b8e-8d1e-0000000000b2',
};

const TPP3 = {
  fqdn: 'tpp3.example.com',
  org: 'TPP Tres Pagamentos',
  cnpj: cnpjWithCheckDigits('778889990001'),
  orgId: 'OFBBR-5a1e7b0c-3333-4c5e-9a61-0000000000c3',
  ssId: '7e0c1f6a-3333-4b8e-8d1e-0000000000c3',
};

function pkiFile(dir: string, base: string): PkiFile {
  const certFile = join(dir, `${base}.crt`);
  const certPem = readFileSync(certFile, 'utf8');
  const x509 = new X509Certificate(certPem);
  return {
    certFile,
    keyFile: join(dir, `${base}.key`),
    certPem,
    subject: x509.subject.split('\n').join(', '),
    fingerprint: x509.fingerprint256,
  };
}

/** Runs `trustbundle pki …` (bin/trustbundle.js) with the Node running this process. */
async function trustbundlePki(dir: string, args: string[]): Promise<void> {
  try {
    await run(process.execPath, [join(REPO_ROOT, 'bin', 'trustbundle.js'), 'pki', ...args], { cwd: dir });
  } catch (err) {
    const { stderr, message } = err as { stderr?: string; message: string };
    throw new Error(`trustbundle pki ${args[0]} failed: ${stderr?.trim() || message}`, { cause: err });
  }
}

/** Creates the runbook's certificates in `dir` with the `trustbundle pki` command. */
export async function createRunbookPki(dir: string): Promise<RunbookPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = (base: string, subject: string) =>
    trustbundlePki(dir, [
      'ca',
      '--subject',
      subject,
      '--out-cert',
      `${base}.crt`,
      '--out-key',
      `${base}.key`,
    ]);
  const client = (base: string, issuer: string, t: typeof TPP1) =>
    trustbundlePki(dir, [
      'client', '--ca-cert', `${issuer}.crt`, '--ca-key', `${issuer}.key`,
      '--cnpj', t.cnpj, '--fqdn', t.fqdn, '--org', t.org, '--org-id', t.orgId, '--software-statement-id', t.ssId,
      '--out-cert', `${base}.crt`, '--out-key', `${base}.key`,
    ]); // prettier-ignore
  await Promise.all([ca('ca1', CA1_SUBJECT), ca('ca2', CA2_SUBJECT), ca('impostor-ca', CA1_SUBJECT)]);
  await Promise.all([
    client('tpp1', 'ca1', TPP1),
    client('tpp2', 'ca2', TPP2),
    client('impostor', 'impostor-ca', TPP1),
    client('tpp3', 'ca1', TPP3),
  ]);
  const crl = (base: string, revoke: string[]) =>
    trustbundlePki(dir, [
      'crl', '--ca-cert', `${base}.crt`, '--ca-key', `${base}.key`,
      ...revoke.flatMap((r) => ['--revoke', `${r}.crt`]), '--out', `${base}.crl`,
    ]); // prettier-ignore
  await Promise.all([crl('ca1', ['tpp3']), crl('ca2', [])]);
  return {
    dir,
    ca1: pkiFile(dir, 'ca1'),
    ca2: pkiFile(dir, 'ca2'),
    tpp1: pkiFile(dir, 'tpp1'),
    tpp2: pkiFile(dir, 'tpp2'),
    tpp3: pkiFile(dir, 'tpp3'),
    impostorCa: pkiFile(dir, 'impostor-ca'),
    impostor: pkiFile(dir, 'impostor'),
    ca1Crl: readFileSync(join(dir, 'ca1.crl'), 'utf8'),
    ca2Crl: readFileSync(join(dir, 'ca2.crl'), 'utf8'),
  };
}

// ---- the TrustBundle ----

export interface RunbookNames {
  bundle: string;
  /** Where the Secrets `ca1` and `ca2` (keys ca.crt and ca.crl) live. */
  caNamespace: string;
  /** The Secret the ingress reads (`open-banking-apim/apitraffic-mtls-rootca`). */
  target: ObjectRef;
  /** The ingress controller's Deployment (`ingress-nginx/ingress-nginx-controller`). */
  ingress: ObjectRef;
  /** The AuthorizationServer that gets the same CAs (ACP's `root_cas`), if any. */
  acp?: string;
}

export type CaName = 'CA1' | 'CA2';

export const caSource = (names: RunbookNames, ca: CaName): TrustBundleSource => ({
  secret: { namespace: names.caNamespace, name: ca.toLowerCase(), key: 'ca.crt' },
});

/** The CA's CRL, from the same Secret as its certificate. */
export const crlSource = (names: RunbookNames, ca: CaName): TrustBundleSource => ({
  secret: { namespace: names.caNamespace, name: ca.toLowerCase(), key: 'ca.crl' },
});

export function runbookSpec(
  names: RunbookNames,
  sources: TrustBundleSource[],
  policy?: TrustBundlePolicy,
): TrustBundleSpec {
  return {
    sources,
    ...(policy ? { policy } : {}),
    targets: {
      secrets: [{ ...names.target, key: 'ca.crt' }],
      ...(names.acp ? { authorizationServers: [{ name: names.acp }] } : {}),
      rollouts: [{ kind: 'Deployment', ...names.ingress }],
    },
  };
}

/** The TrustBundle object (for `kubectl apply`, or a file). */
export function trustBundle(names: RunbookNames, sources: TrustBundleSource[]): object {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: names.bundle },
    spec: runbookSpec(names, sources),
  };
}

/** `kubectl apply` of several objects at once. */
export async function applyObjects(objects: object[]): Promise<void> {
  await kubectlApply(objects.map((o) => yaml.dump(o)).join('---\n'));
}

/** The Secrets `ca1` and `ca2` the sample TrustBundle reads (their CRLs only once a scenario adds them). */
export function caSecrets(names: RunbookNames, pki: RunbookPki): object[] {
  return (['CA1', 'CA2'] as const).map((ca) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: names.caNamespace, name: ca.toLowerCase() },
    type: 'Opaque',
    stringData:
      ca === 'CA1'
        ? { 'ca.crt': pki.ca1.certPem, 'ca.crl': pki.ca1Crl }
        : { 'ca.crt': pki.ca2.certPem, 'ca.crl': pki.ca2Crl },
  }));
}

// ---- the scenarios ----

export type ClientName = 'TPP1' | 'TPP2' | 'TPP3' | 'no certificate' | 'impostor';

/**
 * - `rollout`: a new bundle; the operator publishes it and rolls the ingress, nginx enforces it.
 * - `refused`: a bad edit; the operator refuses it and nothing changes anywhere.
 * - `unchanged`: an edit that yields the bundle already in force; nothing restarts.
 * - `none`: no edit, only requests.
 */
export type ScenarioKind = 'rollout' | 'refused' | 'unchanged' | 'none';

interface ScenarioBase {
  title: string;
  /** The TrustBundle's sources after the edit (not used for `none`). */
  sources?: (names: RunbookNames, pki: RunbookPki) => TrustBundleSource[];
  /** The TrustBundle's policy after the edit (the defaults when absent). */
  policy?: TrustBundlePolicy;
  /** The CAs nginx (and ACP) must trust afterwards. */
  trusted: CaName[];
  /** The CRLs nginx must enforce afterwards, as crlLabel() names them ([] = no ssl_crl); unchecked when absent. */
  crls?: string[];
  requests: [ClientName, number][];
}

export type Scenario = ScenarioBase &
  (
    | { kind: Exclude<ScenarioKind, 'refused'> }
    | {
        kind: 'refused';
        /** The SourcesValid reason the operator must give. */
        refusal: ProblemCode;
      }
  );

const both = (n: RunbookNames): TrustBundleSource[] => [caSource(n, 'CA1'), caSource(n, 'CA2')];
const BOTH_TPPS_ADMITTED: [ClientName, number][] = [
  ['TPP1', 200],
  ['TPP2', 200],
];
const bothWithCrls = (n: RunbookNames): TrustBundleSource[] => [
  ...both(n),
  crlSource(n, 'CA1'),
  crlSource(n, 'CA2'),
];
const BOTH_CRLS = ['CA1 revokes TPP3', 'CA2 revokes nothing'];

export const SCENARIOS: readonly Scenario[] = [
  {
    title: 'CA1 and CA2 trusted',
    kind: 'rollout',
    sources: both,
    trusted: ['CA1', 'CA2'],
    requests: [...BOTH_TPPS_ADMITTED, ['TPP3', 200], ['no certificate', 400]],
  },
  {
    title: "a self-signed impostor with CA1's name",
    kind: 'none',
    trusted: ['CA1', 'CA2'],
    requests: [
      ['impostor', 400],
      ['TPP1', 200],
    ],
  },
  {
    title: 'CA2 removed from the TrustBundle',
    kind: 'rollout',
    sources: (n) => [caSource(n, 'CA1')],
    trusted: ['CA1'],
    requests: [
      ['TPP2', 400],
      ['TPP1', 200],
    ],
  },
  {
    title: 'CA2 added back',
    kind: 'rollout',
    sources: both,
    trusted: ['CA1', 'CA2'],
    requests: BOTH_TPPS_ADMITTED,
  },
  {
    title: 'a private key pasted into a source',
    kind: 'refused',
    refusal: 'PrivateKey',
    // The whole of a PEM file that holds CA2's certificate and its key, pasted inline.
    sources: (n, pki) => [...both(n), { inline: pki.ca2.certPem + readFileSync(pki.ca2.keyFile, 'utf8') }],
    trusted: ['CA1', 'CA2'],
    requests: BOTH_TPPS_ADMITTED,
  },
  {
    title: 'the bad edit reverted',
    kind: 'unchanged',
    sources: both,
    trusted: ['CA1', 'CA2'],
    requests: BOTH_TPPS_ADMITTED,
  },
  {
    title: "CA1 revoked TPP3: both CAs' CRLs added",
    kind: 'rollout',
    sources: bothWithCrls,
    trusted: ['CA1', 'CA2'],
    crls: BOTH_CRLS,
    requests: [['TPP3', 400], ...BOTH_TPPS_ADMITTED],
  },
  {
    // nginx with ssl_crl refuses every client of a CA without a current CRL: publishing CA1's CRL
    // alone would lock TPP2 out. RequireForAll refuses the edit instead.
    title: "CA2's CRL left out, policy RequireForAll",
    kind: 'refused',
    refusal: 'MissingCRL',
    sources: (n) => [...both(n), crlSource(n, 'CA1')],
    policy: { crl: 'RequireForAll' },
    trusted: ['CA1', 'CA2'],
    crls: BOTH_CRLS,
    requests: [
      ['TPP2', 200],
      ['TPP3', 400],
    ],
  },
  {
    // The default policy publishes no ca.crl rather than an incomplete one: nobody is locked
    // out, and revocation waits (with a MissingCRL warning) until every CA has a CRL again.
    title: "CA2's CRL left out, policy PublishIfComplete (the default)",
    kind: 'rollout',
    sources: (n) => [...both(n), crlSource(n, 'CA1')],
    trusted: ['CA1', 'CA2'],
    crls: [],
    requests: [
      ['TPP2', 200],
      ['TPP3', 200],
    ],
  },
  {
    title: "CA2's CRL back",
    kind: 'rollout',
    sources: bothWithCrls,
    trusted: ['CA1', 'CA2'],
    crls: BOTH_CRLS,
    requests: [['TPP3', 400], ...BOTH_TPPS_ADMITTED],
  },
];

/** What the runner needs from the world around it. */
export interface RunbookWorld {
  names: RunbookNames;
  pki: RunbookPki;
  /** Where the ingress listens and what it enforces now. */
  ingress: () => Promise<IngressState>;
  /** ACP's `root_cas` now (when names.acp is set). */
  acpRootCas?: () => Promise<string>;
  log?: (line: string) => void;
  /** How long to wait for the operator and the ingress after an edit. */
  timeoutMs?: number;
  /** Other frontends that read the same Secret, checked in the same scenarios (the Traefik lane). */
  lanes?: RunbookLane[];
}

/**
 * Another frontend's checks of a scenario: `before` runs before the edit (to see what changes) and
 * returns what runs from the moment of the edit on, alongside nginx's checks.
 */
export interface RunbookLane {
  before(scenario: Scenario): Promise<(editedAt: number) => Promise<CheckResult[]>>;
}

export interface CheckResult {
  scenario: string;
  /** The ingress a request or enforcement check is about (nginx, Traefik); none for the operator's own. */
  frontend?: string;
  check: string;
  expected: string;
  got: string;
  ok: boolean;
  /** The answers behind a request check (one per tool). */
  answers?: HttpAnswer[];
}

function pkiFileOf(pki: RunbookPki, client: ClientName): PkiFile | undefined {
  const files: Record<ClientName, PkiFile | undefined> = {
    TPP1: pki.tpp1,
    TPP2: pki.tpp2,
    TPP3: pki.tpp3,
    impostor: pki.impostor,
    'no certificate': undefined,
  };
  return files[client];
}

export function clientIdentity(pki: RunbookPki, client: ClientName): ClientIdentity {
  const file = pkiFileOf(pki, client);
  return file ? { name: client, certFile: file.certFile, keyFile: file.keyFile } : { name: client };
}

/** 'CA1 + CA2' for the subjects of a PEM bundle; a subject we did not issue appears as itself. */
export function trustLabel(pki: RunbookPki, subjects: string[]): string {
  if (subjects.length === 0) return 'nothing';
  const known: Record<string, string> = { [pki.ca1.subject]: 'CA1', [pki.ca2.subject]: 'CA2' };
  return subjects.map((s) => known[s] ?? s).join(' + ');
}

/** 'CA1 revokes TPP3' for each CRL: its issuer and the runbook's certificates it revokes. */
export function crlLabel(pki: RunbookPki, crls: CrlSummary[]): string[] {
  const cas: Record<string, string> = { [pki.ca1.subject]: 'CA1', [pki.ca2.subject]: 'CA2' };
  const serials = new Map(
    (['TPP1', 'TPP2', 'TPP3'] as const).map((t) => [
      new X509Certificate(pkiFileOf(pki, t)!.certPem).serialNumber,
      t,
    ]),
  );
  return crls.map((c) => {
    const revoked = c.revokedSerials.map((s) => serials.get(s) ?? `serial ${s}`);
    return `${cas[c.issuer] ?? c.issuer} revokes ${revoked.length > 0 ? revoked.join(', ') : 'nothing'}`;
  });
}

const short = (hash: string | undefined): string =>
  hash ? hash.replace(/^sha256:/, '').slice(0, 12) : 'none';

/** Runs one scenario: the edit, the waits it implies, then the checks. Never throws for a failed check. */
export async function runScenario(world: RunbookWorld, scenario: Scenario): Promise<CheckResult[]> {
  const { names, pki } = world;
  const results: CheckResult[] = [];
  const record =
    (frontend?: string) =>
    (check: string, expected: string, got: string, answers?: HttpAnswer[]): void => {
      results.push({
        scenario: scenario.title,
        ...(frontend ? { frontend } : {}),
        check,
        expected,
        got,
        ok: got === expected,
        ...(answers ? { answers } : {}),
      });
    };
  const add = record();
  const addNginx = record('nginx');
  const expectedTrust = scenario.trusted.join(' + ');

  const lanes = await Promise.all((world.lanes ?? []).map((lane) => lane.before(scenario)));
  const laneResults: Promise<CheckResult[]>[] = [];
  const edited = (at: number): void => void lanes.forEach((after) => laneResults.push(after(at)));
  if (scenario.kind === 'rollout') await runRollout(world, scenario, add, edited);
  else if (scenario.kind === 'refused' || scenario.kind === 'unchanged')
    await runNoChange(world, scenario, add, edited);
  else edited(Date.now());

  const enforced = (await world.ingress()).enforced;
  addNginx('nginx trusts', expectedTrust, enforced ? trustLabel(pki, enforced.subjects) : 'nothing yet');
  if (scenario.crls) {
    const label = (crls: string[]) => (crls.length > 0 ? crls.join(' + ') : 'no ssl_crl');
    addNginx(
      'nginx CRLs',
      label(scenario.crls),
      enforced ? label(crlLabel(pki, enforced.crls)) : 'nothing yet',
    );
  }
  if (names.acp && world.acpRootCas) {
    add(
      'ACP root_cas',
      expectedTrust,
      await attempt(async () => trustLabel(pki, subjectsOf(await world.acpRootCas!()))),
    );
  }

  const endpoint = await world.ingress();
  for (const [client, status] of scenario.requests) {
    const id = clientIdentity(pki, client);
    const answers = await requestWithBoth(endpoint, id);
    addNginx(
      client === 'no certificate' ? 'no client certificate' : `${client} certificate`,
      String(status),
      describeAnswers(answers, pki, client),
      answers,
    );
  }
  for (const lane of await Promise.all(laneResults)) results.push(...lane);
  return results;
}

async function attempt(f: () => Promise<string>): Promise<string> {
  try {
    return await f();
  } catch (err) {
    return `error: ${describeState(err)}`;
  }
}

type Add = (check: string, expected: string, got: string) => void;

async function runRollout(
  world: RunbookWorld,
  scenario: Scenario,
  add: Add,
  edited: (at: number) => void,
): Promise<void> {
  const { names, pki } = world;
  const before = (await getBundle(names.bundle))?.status?.bundleHash;
  const editedAt = Date.now();
  await applyBundle(names.bundle, runbookSpec(names, scenario.sources!(names, pki), scenario.policy));
  edited(editedAt);
  let tb: TrustBundle | undefined;
  try {
    tb = await waitForBundle(
      names.bundle,
      'Ready with a new bundle and its rollout complete',
      (b) =>
        b.status?.bundleHash !== before &&
        condition(b, 'Ready')?.status === 'True' &&
        condition(b, 'RolloutsComplete')?.status === 'True',
      { timeoutMs: world.timeoutMs ?? 90_000 },
    );
    add('TrustBundle', 'Ready, rollout complete', 'Ready, rollout complete');
  } catch (err) {
    add('TrustBundle', 'Ready, rollout complete', `not reached: ${describeState(err)}`);
    return;
  }
  const hash = tb.status!.bundleHash!;
  try {
    const record = await waitForIngress(world, hash);
    world.log?.(
      `${scenario.title}: bundle ${short(hash)} enforced by nginx ${((Date.parse(record.at) - editedAt) / 1000).toFixed(1)} s after the edit`,
    );
  } catch (err) {
    add('ingress rolled', `nginx on ${short(hash)}`, `not reached: ${describeState(err)}`);
  }
}

async function waitForIngress(world: RunbookWorld, hash: string) {
  const deadline = Date.now() + (world.timeoutMs ?? 90_000);
  for (;;) {
    const state = await world.ingress();
    if (state.enforced?.templateHash === hash) return state.enforced;
    if (Date.now() > deadline) {
      throw new Error(
        `nginx still on ${short(state.enforced?.templateHash)}${state.lastError ? `; last error: ${state.lastError.error}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runNoChange(
  world: RunbookWorld,
  scenario: Scenario,
  add: Add,
  edited: (at: number) => void,
): Promise<void> {
  const { names, pki } = world;
  const tbBefore = await getBundle(names.bundle);
  const secretBefore = await readSecret(names.target.namespace, names.target.name);
  const templateBefore = await templateHashOf(names.ingress);
  const enforcedBefore = (await world.ingress()).enforced;

  const editedAt = Date.now();
  await applyBundle(names.bundle, runbookSpec(names, scenario.sources!(names, pki), scenario.policy));
  edited(editedAt);
  const refused = scenario.kind === 'refused';
  const expected =
    scenario.kind === 'refused' ? `refused: SourcesValid=False (${scenario.refusal})` : 'Ready, same bundle';
  try {
    const tb = await waitForBundle(
      names.bundle,
      refused ? 'SourcesValid=False' : 'Ready',
      (b) =>
        refused ? condition(b, 'SourcesValid')?.status === 'False' : condition(b, 'Ready')?.status === 'True',
      { timeoutMs: world.timeoutMs ?? 90_000 },
    );
    const valid = condition(tb, 'SourcesValid');
    const sameHash = tb.status?.bundleHash === tbBefore?.status?.bundleHash;
    add(
      'TrustBundle',
      expected,
      refused
        ? `refused: SourcesValid=${valid?.status} (${valid?.reason})${sameHash ? '' : `, hash now ${short(tb.status?.bundleHash)}`}`
        : `${condition(tb, 'Ready')?.status === 'True' ? 'Ready' : 'not Ready'}, ${sameHash ? 'same bundle' : `new bundle ${short(tb.status?.bundleHash)}`}`,
    );
  } catch (err) {
    add('TrustBundle', expected, `not reached: ${describeState(err)}`);
  }

  const secretAfter = await readSecret(names.target.namespace, names.target.name);
  add(
    'target Secret',
    'not rewritten',
    secretAfter?.resourceVersion === secretBefore?.resourceVersion
      ? 'not rewritten'
      : `rewritten (rv ${secretBefore?.resourceVersion} → ${secretAfter?.resourceVersion})`,
  );
  const templateAfter = await templateHashOf(names.ingress);
  const enforcedAfter = (await world.ingress()).enforced;
  const restarted =
    templateAfter !== templateBefore || enforcedAfter?.generation !== enforcedBefore?.generation;
  add(
    'ingress rollout',
    'none',
    restarted
      ? `restarted: template ${short(templateBefore)} → ${short(templateAfter)}, nginx ${enforcedBefore?.generation} → ${enforcedAfter?.generation}`
      : 'none',
  );
}

async function templateHashOf(ref: ObjectRef): Promise<string | undefined> {
  const d = await clients().apps.readNamespacedDeployment(ref);
  return d.spec?.template.metadata?.annotations?.['mtls.openbanking.dev/bundle-hash'];
}

/**
 * The status both tools got ("200"), or each ("curl 200, openssl 400"). A 200 counts only if the
 * backend saw the client's own certificate, verified.
 */
export function describeAnswers(answers: HttpAnswer[], pki: RunbookPki, client: ClientName): string {
  const one = (a: HttpAnswer): string => {
    if (a.status === 0) return `no answer (${a.error ?? 'unknown error'})`;
    if (a.status !== 200) return String(a.status);
    const expectedCert = pkiFileOf(pki, client);
    const seen = a.upstream?.certPem ? new X509Certificate(a.upstream.certPem).fingerprint256 : undefined;
    const verified = a.upstream?.verify === 'SUCCESS' || a.upstream?.forwardedBy === 'traefik';
    if (!verified || !expectedCert || seen !== expectedCert.fingerprint) {
      return `200, but the backend saw verify=${a.upstream?.verify ?? '-'} and ${seen ? 'another certificate' : 'no certificate'}`;
    }
    return '200';
  };
  const texts = answers.map(one);
  return texts.every((t) => t === texts[0])
    ? texts[0]!
    : answers.map((a, i) => `${a.tool} ${texts[i]}`).join(', ');
}

/** Runs every scenario in order. */
export async function runRunbook(
  world: RunbookWorld,
  scenarios: readonly Scenario[] = SCENARIOS,
): Promise<CheckResult[]> {
  const all: CheckResult[] = [];
  for (const s of scenarios) {
    world.log?.(`scenario: ${s.title}`);
    all.push(...(await runScenario(world, s)));
  }
  return all;
}

/** A plain-text table: scenario, (frontend,) check, expected, got, ✓/✗. */
export function formatResults(results: CheckResult[]): string {
  const frontends = new Set(results.map((r) => r.frontend).filter(Boolean)).size > 1;
  const rows = results.map((r, i) => [
    i > 0 && results[i - 1]!.scenario === r.scenario ? '' : r.scenario,
    ...(frontends ? [r.frontend ?? ''] : []),
    r.check,
    r.expected,
    r.got,
    r.ok ? '✓' : '✗',
  ]);
  const header = ['scenario', ...(frontends ? ['frontend'] : []), 'check', 'expected', 'got', ''];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
