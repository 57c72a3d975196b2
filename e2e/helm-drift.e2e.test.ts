// The runbook's drift, with the real Helm: the `open-banking-apim` chart renders the ingress CA
// Secret from the value `apitraffic.ingressMtlsRootCa`, and every `helm upgrade` of the release
// puts that (stale) value back. The operator, given the owner's consent in the chart, restores the
// bundle within seconds each time, from the watch event alone (the resync is off), with an Event
// each time.
import { jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenSSL } from '../operator/test/support/openssl.ts';
import { cleanupTestNamespaces, createTestNamespace, uniqueSuffix, waitFor } from './harness/kube.ts';
import { ensureHelm, helm } from './support/helm.ts';
import { installCrds, OperatorProcess } from './support/operator.ts';
import {
  applyBundle,
  bundleEvents,
  condition,
  deleteBundle,
  readSecret,
  subjectsOf,
  waitForBundle,
} from './support/trustbundles.ts';

jest.setTimeout(600_000);

/** How long a repair may take; with the resync off, only the watch event can bring it back. */
const REPAIR_BOUND_MS = 5_000;
const SECRET = 'apitraffic-mtls-rootca';

const ssl = new OpenSSL();
const [ca1, ca2, ca3] = [1, 2, 3].map((i) => ssl.cert({ subject: `/CN=Helm Drift CA${i}` }));
const tmp = mkdtempSync(join(tmpdir(), 'tb-helm-drift-'));
const chart = join(tmp, 'open-banking-apim');
const name = `helm-drift-${uniqueSuffix()}`;
let ns: string;
let op: OperatorProcess;

/** The part of the chart that matters here: the Secret rendered from the value, with consent. */
function writeChart(): void {
  mkdirSync(join(chart, 'templates'), { recursive: true });
  writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: open-banking-apim\nversion: 0.1.0\n');
  writeFileSync(
    join(chart, 'templates', 'secret.yaml'),
    [
      'apiVersion: v1',
      'kind: Secret',
      'metadata:',
      `  name: ${SECRET}`,
      '  annotations:',
      '    mtls.openbanking.dev/allow-bundles: {{ .Values.trustBundle | quote }}',
      'data:',
      '  ca.crt: {{ .Values.apitraffic.ingressMtlsRootCa | quote }}',
      '',
    ].join('\n'),
  );
}

const release = (verb: 'install' | 'upgrade', pem: string) =>
  helm([
    verb,
    'apim',
    chart,
    '-n',
    ns,
    '--set',
    `trustBundle=${name}`,
    '--set',
    `apitraffic.ingressMtlsRootCa=${Buffer.from(pem).toString('base64')}`,
    '--wait',
  ]);

const held = async () => subjectsOf((await readSecret(ns, SECRET))?.data['ca.crt']);
const repairs = async () => (await bundleEvents(name)).filter((e) => e.reason === 'DriftCorrected').length;

beforeAll(async () => {
  await ensureHelm();
  await installCrds();
  writeChart();
  ns = (await createTestNamespace('open-banking-apim')).name;
  op = await OperatorProcess.start({ env: { RESYNC_SECONDS: '3600' } });
});

afterAll(async () => {
  await op?.kill('SIGTERM');
  await deleteBundle(name);
  await cleanupTestNamespaces();
  ssl.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test('each helm upgrade puts the chart value back; the bundle is restored within seconds, with an Event', async () => {
  await release('install', ca2!.pem);
  expect(await held()).toEqual(['CN=Helm Drift CA2']);
  await applyBundle(name, {
    sources: [{ inline: ca1!.pem }],
    targets: { secrets: [{ namespace: ns, name: SECRET }] },
  });
  await waitForBundle(name, 'Ready', (tb) => condition(tb, 'Ready')?.status === 'True');
  expect(await held()).toEqual(['CN=Helm Drift CA1']);

  // The same release again, then one whose value changed: both put their value back.
  for (const [i, pem] of [ca2!.pem, ca3!.pem].entries()) {
    const before = await repairs();
    await release('upgrade', pem);
    const t0 = Date.now();
    await waitFor(
      `upgrade ${i + 1}: the bundle back in ${SECRET}, and a DriftCorrected Event`,
      async (seen) => {
        const [subjects, n] = await Promise.all([held(), repairs()]);
        seen({ subjects, repairs: n - before });
        return JSON.stringify(subjects) === JSON.stringify(['CN=Helm Drift CA1']) && n > before;
      },
      { timeoutMs: REPAIR_BOUND_MS, intervalMs: 50 },
    );
    console.log(`helm upgrade ${i + 1}: restored ${Date.now() - t0} ms after helm returned`);
  }
  const tb = await waitForBundle(name, 'synced', (b) => condition(b, 'SecretsSynced')?.status === 'True');
  expect(condition(tb, 'Ready')?.status).toBe('True');
});
