// The runbook's Traefik lane: the same scenarios (e2e/support/runbook.ts), enforced by a real
// Traefik that reads the operator's Secret through the API server. Used beside nginx by
// `DEMO_TRAEFIK=1 make demo` (a RunbookLane), and on its own by e2e/traefik.e2e.test.ts with a
// TrustBundle that has no rollout target: Traefik watches the Secret, nothing has to restart.
//
// Traefik reads the Secret's ca.crt and nothing else (no ca.crl: its TLS client authentication has
// no revocation check), so its expectation is derived from the trusted CAs alone: a TPP is
// admitted when its issuing CA is trusted; the impostor and a client without a certificate are
// refused at the handshake (Traefik sends a TLS alert; there is no HTTP answer).
import type {
  TrustBundlePolicy,
  TrustBundleSource,
  TrustBundleSpec,
} from '../../operator/src/api/v1alpha1.ts';
import { describeState } from '../harness/wait.ts';
import { curlRequest, requestWithBoth, type HttpAnswer, type IngressEndpoint } from './enforcement.ts';
import {
  clientIdentity,
  describeAnswers,
  runbookSpec,
  trustLabel,
  type CaName,
  type CheckResult,
  type ClientName,
  type RunbookLane,
  type RunbookNames,
  type RunbookPki,
  type Scenario,
} from './runbook.ts';
import {
  applyBundle,
  condition,
  getBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
  type SecretView,
} from './trustbundles.ts';

export const TRAEFIK = 'Traefik';
export const REFUSED = 'refused at the handshake';

const ISSUER: Record<ClientName, CaName | undefined> = {
  TPP1: 'CA1',
  TPP2: 'CA2',
  TPP3: 'CA1',
  impostor: undefined,
  'no certificate': undefined,
};

/** What Traefik answers a client when `trusted` is in the Secret's ca.crt. */
export function traefikExpectation(client: ClientName, trusted: readonly CaName[]): string {
  const issuer = ISSUER[client];
  return issuer && trusted.includes(issuer) ? '200' : REFUSED;
}

/** The TLS alert a refused client reported ('bad certificate', 'certificate required', …), if any. */
export function tlsAlert(a: HttpAnswer): string | undefined {
  return a.status === 0 ? /alert ([a-z ]+)/i.exec(a.error ?? '')?.[1]?.trim() : undefined;
}

/** As describeAnswers, with a TLS alert (and nothing else) counted as the handshake refused. */
export function describeTraefikAnswers(answers: HttpAnswer[], pki: RunbookPki, client: ClientName): string {
  if (answers.every((a) => tlsAlert(a) !== undefined)) return REFUSED;
  return describeAnswers(answers, pki, client);
}

/** runbookSpec for a Traefik-only deployment: the Secret target, nothing to restart, no ACP. */
export function traefikSpec(
  names: RunbookNames,
  sources: TrustBundleSource[],
  policy?: TrustBundlePolicy,
): TrustBundleSpec {
  const spec = runbookSpec(names, sources, policy);
  return { ...spec, targets: { secrets: spec.targets!.secrets! } };
}

export interface TraefikLaneWorld {
  names: RunbookNames;
  pki: RunbookPki;
  endpoint: IngressEndpoint;
  /** How long to wait for the operator and for Traefik after an edit (60 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** Edit → Traefik enforces, per scenario that changed the bundle. */
export interface Enforcement {
  scenario: string;
  ms: number;
}

export class TraefikLane implements RunbookLane {
  readonly enforcements: Enforcement[] = [];
  private readonly world: TraefikLaneWorld;

  constructor(world: TraefikLaneWorld) {
    this.world = world;
  }

  async before(scenario: Scenario): Promise<(editedAt: number) => Promise<CheckResult[]>> {
    const { names } = this.world;
    const hashBefore = (await getBundle(names.bundle))?.status?.bundleHash;
    const secretBefore = await readSecret(names.target.namespace, names.target.name);
    return async (editedAt) => {
      const results: CheckResult[] = [];
      const add = (check: string, expected: string, got: string, answers?: HttpAnswer[]): void => {
        results.push({
          scenario: scenario.title,
          frontend: TRAEFIK,
          check,
          expected,
          got,
          ok: got === expected,
          ...(answers ? { answers } : {}),
        });
      };
      try {
        await this.follow(scenario, editedAt, hashBefore, secretBefore, add);
      } catch (err) {
        add('Traefik lane', 'ran', `failed: ${describeState(err)}`);
      }
      return results;
    };
  }

  private async follow(
    scenario: Scenario,
    editedAt: number,
    hashBefore: string | undefined,
    secretBefore: SecretView | undefined,
    add: (check: string, expected: string, got: string, answers?: HttpAnswer[]) => void,
  ): Promise<void> {
    const { names, pki, endpoint } = this.world;
    const timeoutMs = this.world.timeoutMs ?? 60_000;
    const caBefore = secretBefore?.data['ca.crt'];
    const rvBefore = secretBefore?.resourceVersion;
    const expected = scenario.requests.map(
      ([client]) => [client, traefikExpectation(client, scenario.trusted)] as const,
    );
    if (scenario.kind === 'rollout') {
      // Enforced: the first moment every request of the scenario gets Traefik's expected answer,
      // probing from the moment of the edit (the scenarios' requests tell the old trust from the new).
      const deadline = editedAt + timeoutMs;
      let enforcedAt: number | undefined;
      let last = '';
      while (enforcedAt === undefined && Date.now() < deadline) {
        const got = await Promise.all(
          expected.map(async ([client]) =>
            describeTraefikAnswers([await curlRequest(endpoint, clientIdentity(pki, client))], pki, client),
          ),
        );
        if (got.every((g, i) => g === expected[i]![1])) enforcedAt = Date.now();
        else await new Promise((r) => setTimeout(r, 50));
        last = expected.map(([client], i) => `${client}: ${got[i]}`).join(', ');
      }
      await waitForBundle(
        names.bundle,
        'Ready with a new bundle',
        (b) => b.status?.bundleHash !== hashBefore && condition(b, 'Ready')?.status === 'True',
        { timeoutMs },
      );
      const secret = await readSecret(names.target.namespace, names.target.name);
      if (secret?.data['ca.crt'] === caBefore) {
        this.world.log?.(`${scenario.title}: ca.crt unchanged, nothing for Traefik to load`);
      } else {
        add(
          'Traefik enforces the edit',
          'yes',
          enforcedAt ? 'yes' : `not within ${timeoutMs / 1000} s: ${last}`,
        );
        if (enforcedAt) {
          const ms = enforcedAt - editedAt;
          this.enforcements.push({ scenario: scenario.title, ms });
          this.world.log?.(
            `${scenario.title}: enforced by Traefik ${(ms / 1000).toFixed(2)} s after the edit`,
          );
        }
      }
    } else if (scenario.kind !== 'none') {
      const refused = scenario.kind === 'refused';
      await waitForBundle(
        names.bundle,
        refused ? 'SourcesValid=False' : 'Ready',
        (b) =>
          refused
            ? condition(b, 'SourcesValid')?.status === 'False'
            : condition(b, 'Ready')?.status === 'True',
        { timeoutMs },
      );
      const rv = (await readSecret(names.target.namespace, names.target.name))?.resourceVersion;
      add(
        'Secret Traefik reads',
        'not rewritten',
        rv === rvBefore ? 'not rewritten' : `rewritten (${rvBefore} → ${rv})`,
      );
    }
    const secret = await readSecret(names.target.namespace, names.target.name);
    add('Secret holds', scenario.trusted.join(' + '), trustLabel(pki, subjectsOf(secret?.data['ca.crt'])));
    for (const [client, status] of expected) {
      const answers = await requestWithBoth(endpoint, clientIdentity(pki, client));
      add(
        client === 'no certificate' ? 'no client certificate' : `${client} certificate`,
        status,
        describeTraefikAnswers(answers, pki, client),
        answers,
      );
    }
  }
}

/** One scenario with Traefik alone: the edit (a TrustBundle without rollouts), then the lane's checks. */
export async function runTraefikScenario(lane: TraefikLane, world: TraefikLaneWorld, scenario: Scenario) {
  const after = await lane.before(scenario);
  const at = Date.now();
  if (scenario.kind !== 'none') {
    const { names, pki } = world;
    await applyBundle(names.bundle, traefikSpec(names, scenario.sources!(names, pki), scenario.policy));
  }
  return after(at);
}
