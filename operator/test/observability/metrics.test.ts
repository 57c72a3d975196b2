import { createMetrics } from '../../src/observability/metrics.ts';

/** `name{labels} value` lines of the exposition, comments left out. */
async function samples(expose: () => Promise<string>): Promise<Map<string, number>> {
  const text = await expose();
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

describe('operator metrics', () => {
  it('counts reconciles by result and times them in a histogram', async () => {
    const m = createMetrics({ processMetrics: false });
    m.reconciled('tpp-roots', 'success', 0.004);
    m.reconciled('tpp-roots', 'success', 0.2);
    m.reconciled('other', 'error', 3);
    const s = await samples(m.expose);
    expect(s.get('trustbundle_reconciles_total{result="success"}')).toBe(2);
    expect(s.get('trustbundle_reconciles_total{result="error"}')).toBe(1);
    expect(s.get('trustbundle_reconciles_total{result="rejected"}')).toBe(0);
    expect(s.get('trustbundle_reconcile_duration_seconds_count{result="success"}')).toBe(2);
    expect(s.get('trustbundle_reconcile_duration_seconds_sum{result="success"}')).toBeCloseTo(0.204);
    expect(s.get('trustbundle_reconcile_duration_seconds_bucket{le="0.005",result="success"}')).toBe(1);
    expect(s.get('trustbundle_reconcile_duration_seconds_bucket{le="0.25",result="success"}')).toBe(2);
    expect(s.get('trustbundle_reconcile_duration_seconds_bucket{le="+Inf",result="error"}')).toBe(1);
  });

  it('sets the rejected gauge on a rejected build and clears it on success, not on an error', async () => {
    const m = createMetrics({ processMetrics: false });
    m.reconciled('b', 'rejected', 0.01);
    expect((await samples(m.expose)).get('trustbundle_bundle_rejected{bundle="b"}')).toBe(1);
    m.reconciled('b', 'error', 0.01);
    expect((await samples(m.expose)).get('trustbundle_bundle_rejected{bundle="b"}')).toBe(1);
    m.reconciled('b', 'success', 0.01);
    expect((await samples(m.expose)).get('trustbundle_bundle_rejected{bundle="b"}')).toBe(0);
  });

  it('reports per-bundle certificates and earliest expiry, and forgets a deleted bundle', async () => {
    const m = createMetrics({ processMetrics: false });
    m.bundleBuilt('tpp-roots', { certificates: 7, earliestNotAfter: new Date('2031-02-03T04:05:06.789Z') });
    m.bundleBuilt('empty', { certificates: 0 });
    let s = await samples(m.expose);
    expect(s.get('trustbundle_bundle_certificates{bundle="tpp-roots"}')).toBe(7);
    expect(s.get('trustbundle_bundle_earliest_expiry_timestamp_seconds{bundle="tpp-roots"}')).toBe(
      Date.UTC(2031, 1, 3, 4, 5, 6) / 1000,
    );
    expect(s.has('trustbundle_bundle_earliest_expiry_timestamp_seconds{bundle="empty"}')).toBe(false);

    m.reconciled('tpp-roots', 'rejected', 0.01);
    m.forgetBundle('tpp-roots');
    s = await samples(m.expose);
    expect([...s.keys()].filter((k) => k.includes('bundle="tpp-roots"'))).toEqual([]);
    expect(s.get('trustbundle_bundle_certificates{bundle="empty"}')).toBe(0);
  });

  it('reports the CRLs in force: earliest nextUpdate and oldest thisUpdate; none when the bundle publishes none', async () => {
    const m = createMetrics({ processMetrics: false });
    const at = (iso: string) => new Date(iso);
    m.bundleBuilt('tpp-roots', {
      certificates: 2,
      crls: [
        { thisUpdate: at('2026-11-20T00:00:00Z'), nextUpdate: at('2026-11-27T00:00:00Z') },
        { thisUpdate: at('2026-11-25T00:00:00Z'), nextUpdate: at('2026-11-26T12:00:00Z') },
      ],
    });
    let s = await samples(m.expose);
    expect(s.get('trustbundle_bundle_crl_next_update_timestamp_seconds{bundle="tpp-roots"}')).toBe(
      Date.UTC(2026, 10, 26, 12) / 1000,
    );
    expect(s.get('trustbundle_bundle_crl_this_update_timestamp_seconds{bundle="tpp-roots"}')).toBe(
      Date.UTC(2026, 10, 20) / 1000,
    );

    expect(s.get('trustbundle_bundle_cas_without_crl{bundle="tpp-roots"}')).toBe(0);

    m.bundleBuilt('tpp-roots', { certificates: 2, crls: [], casWithoutCrl: 1 });
    s = await samples(m.expose);
    expect([...s.keys()].filter((k) => k.includes('_crl_'))).toEqual([]);
    expect(s.get('trustbundle_bundle_cas_without_crl{bundle="tpp-roots"}')).toBe(1);
  });

  it('counts target writes, authorization-server pushes, rollouts and the queue depth', async () => {
    const m = createMetrics({ processMetrics: false });
    m.targetWritten('Secret');
    m.targetWritten('Secret');
    m.authorizationServerPushed('cloudentity', 'success');
    m.authorizationServerPushed('cloudentity', 'error');
    m.authorizationServerPushed('cloudentity', 'error');
    m.rolloutTriggered('Deployment');
    m.queueDepth(12);
    m.queueDepth(3);
    const s = await samples(m.expose);
    expect(s.get('trustbundle_target_writes_total{kind="Secret"}')).toBe(2);
    expect(
      s.get('trustbundle_authorization_server_pushes_total{adapter="cloudentity",result="success"}'),
    ).toBe(1);
    expect(s.get('trustbundle_authorization_server_pushes_total{adapter="cloudentity",result="error"}')).toBe(
      2,
    );
    expect(s.get('trustbundle_rollouts_triggered_total{kind="Deployment"}')).toBe(1);
    expect(s.get('trustbundle_workqueue_depth')).toBe(3);
  });

  it('follows the Prometheus naming conventions', async () => {
    const text = await createMetrics({ processMetrics: false }).expose();
    const metrics = [...text.matchAll(/^# HELP (\S+) (.*)\n# TYPE \1 (\S+)$/gm)].map(
      ([, name, help, type]) => ({
        name: name!,
        help: help!,
        type: type!,
      }),
    );
    const names = metrics.map((x) => x.name);
    expect(names.length).toBeGreaterThanOrEqual(9);
    for (const metric of metrics) {
      expect(metric.name).toMatch(/^trustbundle_[a-z_]+$/);
      if (metric.type === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      if (metric.type === 'histogram') expect(metric.name).toMatch(/_seconds$/);
      expect(metric.help.length).toBeGreaterThan(10);
    }
  });

  it('includes the process metrics (RSS) by default, on its own registry', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.targetWritten('Secret');
    const sa = await samples(a.expose);
    expect(sa.get('process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(sa.has('nodejs_eventloop_lag_seconds')).toBe(true);
    // Counters of one instance never leak into another (no global default registry).
    expect((await samples(b.expose)).has('trustbundle_target_writes_total{kind="Secret"}')).toBe(false);
  });
});
