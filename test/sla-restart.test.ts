// A restart during the monthly job neither loses nor doubles the report: the
// job is killed after writing the files (before storing), or after storing
// (before announcing); the restarted engine's catch-up completes it, once.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { loadConfig } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import { slaMigrations } from '../sla/schema.ts';
import { recordProbeResults } from '../sla/probes.ts';
import { storeCharges } from '../sla/billing.ts';
import { runMonthlyReport, listReports } from '../sla/report.ts';
import { reportJob, catchUpMonthlyReport, monthDueAtStart, monthToReport } from '../sla/service.ts';

class SimulatedCrash extends Error {}
const crashAfter = (at: 'files' | 'stored') => (step: string) => {
  if (step === at) throw new SimulatedCrash(`crash after ${step}`);
};

const dir = mkdtempSync(join(tmpdir(), 'sla-restart-'));
const dataPath = join(dir, 'chdb');
const outputDir = join(dir, 'reports');
const database = 'sla_restart_test';
const tenant = 'default';
let store: Store;
const hooks: { month: string; version: number }[] = [];
const fakeFetch = (async (_url: string, init: { body: string }) => {
  hooks.push(JSON.parse(init.body));
  return new Response('{}', { status: 200 });
}) as unknown as typeof fetch;

const config = loadConfig({
  env: {},
  overrides: [
    { path: ['sla', 'report', 'outputDir'], value: outputDir },
    { path: ['sla', 'report', 'webhookUrl'], value: 'http://hook.invalid/sla' },
  ],
});

async function openStore(): Promise<Store> {
  const s = await Store.open({ dataPath, database });
  await migrate(s, schemaContext(s, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
  return s;
}

/** One cluster down for `minutes` from `start`, with probes every minute for the day around it. */
async function seedOutage(s: Store, start: number, minutes: number): Promise<void> {
  const dayStart = start - (start % 86_400_000);
  const rows = [];
  for (let m = 0; m < 1440; m++) {
    const ts = dayStart + m * 60_000;
    rows.push({ tenant, cluster: 'cls-1', location: 'local', target: '/readyz', timestamp: ts, ok: !(ts >= start && ts < start + minutes * 60_000), latencyMs: 1, error: '' });
  }
  await recordProbeResults(s, rows);
  await storeCharges(s, tenant, [{ cluster: 'cls-1', item: '', start: dayStart - 86_400_000, end: dayStart + 86_400_000, amount: '288' }], 'test');
}

beforeAll(async () => {
  store = await openStore();
  await seedOutage(store, Date.UTC(2026, 9, 12, 8, 0), 45);
  await seedOutage(store, Date.UTC(2026, 8, 3, 8, 0), 30);
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('start-up catch-up decision', () => {
  it('is due for the month just ended once this month’s run time has passed', () => {
    expect(monthDueAtStart(Date.UTC(2026, 10, 5), Date.UTC(2026, 11, 1, 0, 10))).toBe('2026-10');
    expect(monthDueAtStart(Date.UTC(2026, 10, 1, 0, 5), Date.UTC(2026, 10, 1, 0, 10))).toBeUndefined();
    expect(monthDueAtStart(Date.UTC(2027, 0, 3), Date.UTC(2027, 1, 1, 0, 10))).toBe('2026-12');
    expect(monthDueAtStart(Date.UTC(2027, 0, 3), undefined)).toBeUndefined();
  });
});

describe('which month a scheduled run reports', () => {
  it('is the month just ended in the schedule’s zone, waiting for its UTC end when the zone is ahead', () => {
    expect(monthToReport(Date.UTC(2026, 10, 1, 0, 10), 'UTC')).toEqual({ month: '2026-10', notBefore: Date.UTC(2026, 10, 1) });
    // 00:10 on 1 Nov in Tokyo is 15:10 UTC on 31 Oct: October, not before its UTC end.
    expect(monthToReport(Date.UTC(2026, 9, 31, 15, 10), 'Asia/Tokyo')).toEqual({ month: '2026-10', notBefore: Date.UTC(2026, 10, 1) });
    // 00:10 on 1 Jan in New York is 05:10 UTC: December of the year before.
    expect(monthToReport(Date.UTC(2027, 0, 1, 5, 10), 'America/New_York').month).toBe('2026-12');
  });
});

describe('a restart during the monthly job', () => {
  it('completes a job killed after writing files and before storing, with one version and one announcement', async () => {
    const opts = { tenant, month: '2026-10', outputDir, commitment: 99.95, multiplier: 100, minOutageMinutes: 10, webhookUrl: 'http://hook.invalid/sla', fetch: fakeFetch };
    await expect(runMonthlyReport(store, { ...opts, onStep: crashAfter('files') })).rejects.toBeInstanceOf(SimulatedCrash);
    expect(await listReports(store, tenant, '2026-10')).toEqual([]);
    await store.close(); // the process dies
    store = await openStore(); // and comes back

    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    const out = await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 10, 1, 3, 0), Date.UTC(2026, 11, 1, 0, 10));
    expect(out?.version).toBe(1);
    expect(out?.report.clusters[0]!.unavailableMinutes).toBe(45);
    // 288 over 48 h → 0.1/min; 45 min × 100 → 450.00, capped at the 288.00 billed in October.
    expect(out?.report.clusters[0]!.incidents[0]!.compensation).toBe(450);
    expect(out?.report.clusters[0]!.compensation).toBe(288);
    expect(out?.report.clusters[0]!.capped).toBe(true);
    const versions = await listReports(store, tenant, '2026-10');
    expect(versions.map((v) => v.version)).toEqual([1]);
    expect(existsSync(versions[0]!.files.html)).toBe(true);
    expect(hooks.filter((h) => h.month === '2026-10')).toHaveLength(1);
    expect(readdirSync(join(outputDir, tenant)).filter((f) => f.includes('2026-10')).sort()).toEqual(['sla-2026-10.v1.csv', 'sla-2026-10.v1.html', 'sla-2026-10.v1.json']);
  });

  it('completes a job killed after storing and before announcing, without a second version', async () => {
    const opts = { tenant, month: '2026-09', outputDir, commitment: 99.95, multiplier: 100, minOutageMinutes: 10, webhookUrl: 'http://hook.invalid/sla', fetch: fakeFetch };
    await expect(runMonthlyReport(store, { ...opts, onStep: crashAfter('stored') })).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await listReports(store, tenant, '2026-09')).map((v) => v.version)).toEqual([1]);
    expect(hooks.filter((h) => h.month === '2026-09')).toHaveLength(0);
    await store.close();
    store = await openStore();

    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    const out = await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 9, 2), Date.UTC(2026, 10, 1, 0, 10));
    expect(out?.created).toBe(false);
    expect(out?.announced).toBe(true);
    expect((await listReports(store, tenant, '2026-09')).map((v) => v.version)).toEqual([1]);
    expect(hooks.filter((h) => h.month === '2026-09')).toHaveLength(1);
  });

  it('does nothing on a further restart once the report is stored and announced', async () => {
    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    const out = await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 10, 2), Date.UTC(2026, 11, 1, 0, 10));
    expect(out).toBeUndefined();
    expect((await listReports(store, tenant, '2026-10')).map((v) => v.version)).toEqual([1]);
    expect(hooks).toHaveLength(2);
  });

  it('skips the catch-up for a month with no clusters configured or probed', async () => {
    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    expect(await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 6, 2), Date.UTC(2026, 7, 1, 0, 10))).toBeUndefined();
    expect(await listReports(store, tenant, '2026-06')).toEqual([]);
  });

  it('serialises concurrent runs of the same month into one version', async () => {
    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    const [a, b] = await Promise.all([job.run('2026-08'), job.run('2026-08')]);
    expect([a.version, b.version]).toEqual([1, 1]);
    expect((await listReports(store, tenant, '2026-08')).map((v) => v.version)).toEqual([1]);
  });
});
