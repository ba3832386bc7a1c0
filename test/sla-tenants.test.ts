// The monthly SLA report per tenant: the job runs for every tenant with SLA
// data in the store, each report lists only that tenant's clusters, and a
// tenant with nothing measured that month gets no empty report.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { loadConfig, type Config } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import { slaMigrations } from '../sla/schema.ts';
import { recordProbeResults } from '../sla/probes.ts';
import { recordExclusion } from '../sla/exclusions.ts';
import { catchUpMonthlyReport, reportClusters, reportJob, slaTenants } from '../sla/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-tenants-'));
let store: Store;
let config: Config;
const OCT = Date.UTC(2026, 9, 1);

beforeAll(async () => {
  store = await Store.open({ dataPath: join(dir, 'chdb'), database: 'sla_tenants_test' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
  config = loadConfig({
    env: {},
    overrides: [
      { path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') },
      { path: ['sla', 'clusters'], value: [{ name: 'home-cluster', readyzUrl: 'http://127.0.0.1:9/readyz', livezUrl: 'http://127.0.0.1:9/livez' }] },
    ],
  });
  // globex: 30 failed minutes of its own cluster in October; initech: only an exclusion, in November.
  await recordProbeResults(
    store,
    Array.from({ length: 30 }, (_, m) => ({ tenant: 'globex', cluster: 'globex-cluster', location: 'eu', timestamp: OCT + 86_400_000 + m * 60_000, target: '/readyz', ok: false, latencyMs: 1, error: 'down' })),
  );
  await recordExclusion(store, 'initech', { cluster: 'initech-cluster', start: '2026-11-02T00:00:00Z', end: '2026-11-02T01:00:00Z', cause: 'customer', reason: 'maintenance', recordedBy: 'ops' });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('SLA reports per tenant', () => {
  it('finds the configured tenant and every tenant with SLA data', async () => {
    expect(await slaTenants(store, config)).toEqual(['default', 'globex', 'initech']);
  });

  it('lists the configured clusters in the configured tenant only', () => {
    expect(reportClusters(config, 'default')).toEqual(['home-cluster']);
    expect(reportClusters(config, 'globex')).toEqual([]);
  });

  it("catches up each tenant's missed month with its own clusters, and skips a tenant with nothing measured", async () => {
    const job = reportJob(store, config, silentLogger);
    const now = Date.UTC(2026, 10, 2);
    const next = Date.UTC(2026, 11, 1, 0, 10);
    const globex = await catchUpMonthlyReport(store, config, job, now, next, 'globex');
    expect(globex?.report.tenant).toBe('globex');
    expect(globex?.report.clusters.map((c) => c.id)).toEqual(['globex-cluster']);
    expect(globex?.report.clusters[0]!.unavailableMinutes).toBe(30);
    expect(await catchUpMonthlyReport(store, config, job, now, next, 'initech')).toBeUndefined();
    const home = await catchUpMonthlyReport(store, config, job, now, next);
    expect(home?.report.tenant).toBe('default');
    expect(home?.report.clusters.map((c) => c.id)).toEqual(['home-cluster']);
  });
});
