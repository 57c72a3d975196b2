// Change → enforced at the handshake, for the two ways a frontend takes the bundle: Traefik, which
// watches the Secret through the API server itself (no rollout target), and nginx behind the
// operator's rollout restart (the sync step plays kubelet + ingress-nginx, as in e2e). Each change
// flips CA2 in or out of an inline source; a change is enforced when TPP2's handshake (real curl)
// first gives the new answer. Changes are one at a time, and each waits for the bundle to settle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark } from './benchmark.ts';
import { BenchPlane } from './plane.ts';
import { Findings, percentile, quick } from './results.ts';
import { curlRequest, IngressSync, type IngressEndpoint } from '../support/enforcement.ts';
import { Nginx } from '../support/nginx.ts';
import { installCrds, OperatorProcess } from '../support/operator.ts';
import { applyObjects, clientIdentity, createRunbookPki, type RunbookPki } from '../support/runbook.ts';
import {
  EchoBackend,
  Traefik,
  backendObjects,
  ensureTraefik,
  exampleObjects,
  installTraefikCrds,
} from '../support/traefik.ts';
import { describeTraefikAnswers } from '../support/traefik-lane.ts';
import { applyBundle, condition, deleteBundle, waitForBundle } from '../support/trustbundles.ts';
import { applyWorkload } from '../support/workloads.ts';
import type { TrustBundleSpec } from '../../operator/src/api/v1alpha1.ts';

const TIMEOUT_MS = 60_000;

interface Frontend {
  name: string;
  bundle: string;
  spec: (pem: string) => TrustBundleSpec;
  /** TPP2 admitted (true) or refused (false); undefined for any other answer. */
  admitsTpp2: () => Promise<boolean | undefined>;
  samples: number[];
}

/** The number of milliseconds from the edit until TPP2's handshake gives the new answer. */
async function change(f: Frontend, pki: RunbookPki, withCa2: boolean): Promise<number> {
  const editedAt = performance.now();
  await applyBundle(f.bundle, f.spec(pki.ca1.certPem + (withCa2 ? pki.ca2.certPem : '')));
  for (;;) {
    if ((await f.admitsTpp2()) === withCa2) break;
    if (performance.now() - editedAt > TIMEOUT_MS)
      throw new Error(`${f.name}: change not enforced within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - editedAt;
  await waitForBundle(f.bundle, 'settled', (b) => condition(b, 'Ready')?.status === 'True', {
    timeoutMs: TIMEOUT_MS,
  });
  return ms;
}

export const frontendsBenchmark: Benchmark = {
  name: 'frontends',
  description:
    'change → enforced at the handshake: Traefik watching the Secret (no rollout) beside nginx after the rollout restart',
  async run({ log }) {
    const findings = new Findings(log);
    const changes = quick() ? 6 : 20;
    log('building Traefik unless cached (hack/build-tools.sh traefik)');
    await ensureTraefik();
    const plane = await BenchPlane.open({ workloads: true });
    const work = mkdtempSync(join(tmpdir(), 'tb-bench-frontends-'));
    const stops: (() => Promise<unknown>)[] = [
      () => plane.close(),
      async () => rmSync(work, { recursive: true }),
    ];
    try {
      await Promise.all([installCrds(), installTraefikCrds()]);
      const pki = await createRunbookPki(join(work, 'pki'));
      const [apim, sa, ingress] = ['bench-traefik', 'bench-traefik-sa', 'bench-nginx'];
      const echo = await EchoBackend.start();
      stops.unshift(() => echo.stop());
      const tls = await Traefik.serverCertificate(join(work, 'traefik'));
      await applyObjects([
        ...[apim, sa, ingress].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
      ]);
      await applyObjects([
        ...exampleObjects({
          namespace: apim,
          traefikNamespace: sa,
          host: 'localhost',
          backendPort: echo.port,
        }),
        ...backendObjects(apim, tls, echo.port),
      ]);
      await applyWorkload('Deployment', ingress, 'ingress', { replicas: 1, restartOn: 'bench-nginx' });
      const traefik = await Traefik.start({
        dir: join(work, 'traefik'),
        namespace: apim,
        serviceAccount: { namespace: sa, name: 'traefik' },
      });
      stops.unshift(() => traefik.stop());
      const nginx = await Nginx.create({ dir: join(work, 'nginx') });
      stops.unshift(() => nginx.stop());
      const target = { namespace: ingress, name: 'apitraffic-mtls-rootca' };
      const sync = await IngressSync.start({
        nginx,
        deployment: { namespace: ingress, name: 'ingress' },
        secret: target,
      });
      stops.unshift(() => sync.stop());
      // The operator as `make run` starts it: default rollout debounce (2 s).
      const op = await OperatorProcess.start({ env: { LOG_LEVEL: 'info' } });
      stops.unshift(() => op.kill('SIGTERM'));

      const tpp2 = clientIdentity(pki, 'TPP2');
      const nginxEndpoint = (): IngressEndpoint => sync.state();
      const frontends: Frontend[] = [
        {
          name: 'Traefik',
          bundle: 'bench-traefik',
          spec: (pem) => ({
            sources: [{ inline: pem }],
            targets: { secrets: [{ namespace: apim, name: 'apitraffic-mtls-rootca', key: 'ca.crt' }] },
          }),
          admitsTpp2: async () => {
            const got = describeTraefikAnswers([await curlRequest(traefik.endpoint, tpp2)], pki, 'TPP2');
            return got === '200' ? true : got === 'refused at the handshake' ? false : undefined;
          },
          samples: [],
        },
        {
          name: 'nginx + rollout',
          bundle: 'bench-nginx',
          spec: (pem) => ({
            sources: [{ inline: pem }],
            targets: {
              secrets: [{ ...target, key: 'ca.crt' }],
              rollouts: [{ kind: 'Deployment', namespace: ingress, name: 'ingress' }],
            },
          }),
          admitsTpp2: async () => {
            if (!sync.enforced) return undefined;
            const { status } = await curlRequest(nginxEndpoint(), tpp2);
            return status === 200 ? true : status === 400 ? false : undefined;
          },
          samples: [],
        },
      ];
      for (const f of frontends) stops.unshift(() => deleteBundle(f.bundle));
      log(`${changes} changes per frontend (CA2 in, out, in, …), one at a time, after one warm-up change`);
      for (const f of frontends) {
        await change(f, pki, false); // warm-up: the target exists, the frontend serves
        for (let i = 0; i < changes; i++) f.samples.push(await change(f, pki, i % 2 === 0));
      }
      const [t, n] = frontends.map((f) => f.samples);
      const how = `over ${changes} changes, edit (TrustBundle patch) → TPP2's handshake (curl) gives the new answer`;
      findings.figure('traefik-change-p50', percentile(t!, 50), 'ms', `Traefik, ${how}`);
      findings.figure(
        'traefik-change-p99',
        percentile(t!, 99),
        'ms',
        `Traefik, same, 99th percentile (nearest rank)`,
      );
      findings.figure(
        'nginx-rollout-change-p50',
        percentile(n!, 50),
        'ms',
        `nginx after the rollout restart, ${how}`,
      );
      findings.figure(
        'nginx-rollout-change-p99',
        percentile(n!, 99),
        'ms',
        'nginx after the rollout restart, 99th percentile',
      );
      findings.note(
        'Traefik: the kubernetescrd provider sees the Secret change and rebuilds its TLS configuration ' +
          '(providersThrottleDuration 2 s default). nginx: the operator debounces the rollout (2 s default), the sync ' +
          'step reads the Secret and reloads nginx when the pod template changes.',
      );
      findings.details.samples = Object.fromEntries(
        frontends.map((f) => [f.name, f.samples.map(Math.round)]),
      );
      return findings.result();
    } finally {
      for (const stop of stops) await stop().catch((err: unknown) => log(`cleanup: ${String(err)}`));
    }
  },
};
