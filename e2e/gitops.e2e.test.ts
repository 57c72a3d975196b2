// The Argo CD health check of docs/gitops.md, taken from the page as users paste it and run with
// real Lua interpreters on TrustBundles the real operator reconciled on the control plane.
import { jest } from '@jest/globals';
import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustBundle, TrustBundleSpec } from '../operator/src/api/v1alpha1.ts';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix } from './harness/kube.ts';
import { REPO_ROOT } from './harness/tools.ts';
import { LUA_INTERPRETERS, runHealthCheck } from './support/lua.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import { applyBundle, condition, deleteBundle, waitForBundle } from './support/trustbundles.ts';
import { applyWorkload } from './support/workloads.ts';

jest.setTimeout(120_000);

const HEALTH_KEY = 'resource.customizations.health.mtls.openbanking.dev_TrustBundle';

/** The Lua script of the argocd-cm ConfigMap shown in docs/gitops.md. */
function healthScriptFromDocs(): string {
  const page = readFileSync(join(REPO_ROOT, 'docs', 'gitops.md'), 'utf8');
  for (const [, block] of page.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const doc of yaml.loadAll(block!)) {
      const cm = doc as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> };
      const script = cm?.kind === 'ConfigMap' && cm.metadata?.name === 'argocd-cm' && cm.data?.[HEALTH_KEY];
      if (script) return script;
    }
  }
  throw new Error(`docs/gitops.md shows no argocd-cm ConfigMap with ${HEALTH_KEY}`);
}

const script = healthScriptFromDocs();
const ssl = new OpenSSL();
let op: OperatorProcess;
let ns: string;
const bundles: string[] = [];

beforeAll(async () => {
  await installCrds();
  ns = (await createTestNamespace('gitops')).name;
  await applyWorkload('Deployment', ns, 'never-ready', { replicas: 1, unschedulable: true });
  await applyWorkload('Deployment', ns, 'paused', { replicas: 1, paused: true });
  op = await OperatorProcess.start({ env: { ROLLOUT_DEBOUNCE_SECONDS: '0' } });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await Promise.all(bundles.map(deleteBundle));
  await cleanupTestNamespaces();
  ssl.cleanup();
});

/** Applies a bundle and waits until its Ready condition (for the current generation) has `reason`. */
async function reconciled(prefix: string, spec: TrustBundleSpec, reason: string): Promise<TrustBundle> {
  const name = `${prefix}-${uniqueSuffix()}`;
  bundles.push(name);
  await applyBundle(name, spec);
  return waitForBundle(name, `Ready reason ${reason}`, (b) => condition(b, 'Ready')?.reason === reason);
}

/** The health each interpreter gives, keyed by interpreter, so a difference between them shows. */
function health(obj: unknown): Record<string, { status: string; message: string }> {
  return Object.fromEntries(LUA_INTERPRETERS.map((lua) => [lua, runHealthCheck(lua, script, obj)]));
}

const everywhere = (status: string, message: string | RegExp) =>
  Object.fromEntries(
    LUA_INTERPRETERS.map((lua) => [
      lua,
      { status, message: typeof message === 'string' ? message : expect.stringMatching(message) },
    ]),
  );

test('a valid bundle in force is Healthy', async () => {
  const tb = await reconciled(
    'gitops-valid',
    { sources: [{ inline: ssl.cert({ subject: '/CN=GitOps CA' }).pem }] },
    'Ready',
  );
  expect(health(tb)).toEqual(everywhere('Healthy', condition(tb, 'Ready')!.message));
});

test('a bundle whose sources are refused is Degraded, with the reason in the message', async () => {
  const tb = await reconciled(
    'gitops-rejected',
    { sources: [{ secret: { namespace: ns, name: 'no-such-secret', key: 'ca.crt' } }] },
    'SourcesInvalid',
  );
  expect(health(tb)).toEqual(everywhere('Degraded', /^SourcesValid: .*no-such-secret/));
});

test.each([
  ['rolling out onto a workload that is not ready yet', 'RolloutInProgress', 'Progressing', 'never-ready'],
  ['waiting on a paused Deployment', 'RolloutPaused', 'Suspended', 'paused'],
])('a bundle %s (Ready reason %s) is %s', async (_what, reason, status, workload) => {
  const tb = await reconciled(
    `gitops-${workload}`,
    {
      sources: [{ inline: ssl.cert({ subject: `/CN=GitOps CA ${workload}` }).pem }],
      targets: { rollouts: [{ kind: 'Deployment', namespace: ns, name: workload }] },
    },
    reason,
  );
  expect(health(tb)).toEqual(everywhere(status, new RegExp(`^RolloutsComplete: .*${workload}`)));
});

test('a bundle without a status, or with the status of an older generation, is Progressing', async () => {
  const tb = await reconciled('gitops-status', { sources: [{ inline: ssl.cert().pem }] }, 'Ready');
  const { status: _status, ...withoutStatus } = tb;
  expect(health(withoutStatus)).toEqual(
    everywhere('Progressing', 'Waiting for the operator to reconcile the TrustBundle'),
  );
  const edited = { ...tb, metadata: { ...tb.metadata, generation: tb.metadata.generation! + 1 } };
  expect(health(edited)).toEqual(
    everywhere(
      'Progressing',
      `Waiting for the operator to reconcile generation ${tb.metadata.generation! + 1}`,
    ),
  );
});
