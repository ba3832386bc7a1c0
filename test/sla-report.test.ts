// From probe results in the store to a report file: outage derivation in
// SQL, exclusions, CSV billing import, the monthly report and its versions.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import type { ProbeResult } from '../core/bus/records.ts';
import { slaMigrations } from '../sla/schema.ts';
import { recordProbeResults } from '../sla/probes.ts';
import { deriveOutageWindows } from '../sla/outages.ts';
import { recordExclusion, listExclusions } from '../sla/exclusions.ts';
import { parseChargesCsv, storeCharges } from '../sla/billing.ts';
import { runMonthlyReport, listReports, loadReport } from '../sla/report.ts';
import { billingCommand, slaCommand } from '../sla/cli.ts';
import { InputError } from '../core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-report-'));
const outputDir = join(dir, 'reports');
let store: Store;
const tenant = 'default';
const T0 = Date.UTC(2026, 9, 1);
const MIN = 60_000;

/** Four probes a minute (two locations × readyz/livez); `failing(cluster, minute)` says how many of them fail. */
function probes(cluster: string, fromMinute: number, toMinute: number, failing: (m: number) => number): ProbeResult[] {
  const out: ProbeResult[] = [];
  for (let m = fromMinute; m < toMinute; m++) {
    const bad = failing(m);
    let k = 0;
    for (const location of ['eu-1', 'us-1']) {
      for (const target of ['/readyz', '/livez']) {
        out.push({ tenant, cluster, location, target, timestamp: T0 + m * MIN + 5_000 + k * 1000, ok: k >= bad, latencyMs: 3, error: k >= bad ? '' : 'HTTP 500' });
        k++;
      }
    }
  }
  return out;
}

beforeAll(async () => {
  store = await Store.open({ dataPath: join(dir, 'chdb'), database: 'sla_report_test' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
  // cls-a: day 2, 10:00–10:40 down (3 of 4 probes failing); 10:40–10:45 only 2 of 4 fail (a tie: up).
  // Day 3: 04:00–04:05 down (short). Day 10: 12:00–13:00 down, of which 12:20–12:50 is maintenance.
  const day = 1440;
  await recordProbeResults(
    store,
    probes('cls-a', day, 2 * day, (m) => {
      const t = m - day;
      if (t >= 600 && t < 640) return 3;
      if (t >= 640 && t < 645) return 2;
      return 0;
    }),
  );
  await recordProbeResults(store, probes('cls-a', 2 * day, 2 * day + 300, (m) => (m - 2 * day >= 240 && m - 2 * day < 245 ? 4 : 0)));
  await recordProbeResults(store, probes('cls-a', 9 * day, 10 * day, (m) => (m - 9 * day >= 720 && m - 9 * day < 780 ? 4 : 0)));
  await recordProbeResults(store, probes('cls-b', day, day + 120, () => 0));
  // A down stretch in September must not leak into October.
  await recordProbeResults(store, probes('cls-b', -30, 0, () => 4));
  // A charge across the month's end: half of it is October's.
  await storeCharges(store, tenant, [{ cluster: 'cls-c', item: 'lb', start: Date.UTC(2026, 9, 31, 12), end: Date.UTC(2026, 10, 1, 12), amount: '10.01' }], 'test');
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('outage windows from probes (SQL gaps and islands)', () => {
  it('joins consecutive majority-failed minutes and treats a tie as up', async () => {
    const w = await deriveOutageWindows(store, tenant, { start: T0, end: Date.UTC(2026, 10, 1) });
    expect(w.map((x) => [x.cluster, new Date(x.start).toISOString(), new Date(x.end).toISOString(), x.minutes])).toEqual([
      ['cls-a', '2026-10-02T10:00:00.000Z', '2026-10-02T10:40:00.000Z', 40],
      ['cls-a', '2026-10-03T04:00:00.000Z', '2026-10-03T04:05:00.000Z', 5],
      ['cls-a', '2026-10-10T12:00:00.000Z', '2026-10-10T13:00:00.000Z', 60],
    ]);
  });
  it('filters by tenant', async () => {
    expect(await deriveOutageWindows(store, 'other', { start: T0, end: Date.UTC(2026, 10, 1) })).toEqual([]);
  });
});

describe('exclusions and billing input', () => {
  it('refuses an exclusion without a reason, naming the field, and stores nothing', async () => {
    await expect(recordExclusion(store, tenant, { cluster: 'cls-a', start: '2026-10-10T12:20:00Z', end: '2026-10-10T12:50:00Z', cause: 'maintenance', recordedBy: 'ops' })).rejects.toThrow(/reason/);
    expect(await listExclusions(store, tenant, { start: T0, end: Date.UTC(2026, 10, 1) })).toEqual([]);
  });
  it('rejects a CSV with a bad line without storing any line of it', async () => {
    const csv = 'cluster,start,end,amount\ncls-a,2026-10-01T00:00:00Z,2026-10-01T01:00:00Z,2\ncls-a,2026-10-01T01:00:00Z,2026-10-01T02:00:00Z,-3\n';
    expect(() => parseChargesCsv(csv)).toThrow(InputError);
    try {
      parseChargesCsv(csv);
    } catch (e) {
      expect((e as InputError).field).toBe('csv line 3 column amount');
    }
  });
  it('imports charges through the billing CLI command, idempotently', async () => {
    // Hourly 1.80 (0.03/min) for all of October for cls-a, 0.60/h for cls-b.
    const lines = ['cluster,item,start,end,amount'];
    for (let h = 0; h < 31 * 24; h++) {
      const s = new Date(T0 + h * 3_600_000).toISOString();
      const e = new Date(T0 + (h + 1) * 3_600_000).toISOString();
      lines.push(`cls-a,compute,${s},${e},1.80`, `cls-b,compute,${s},${e},0.60`);
    }
    const file = join(dir, 'charges.csv');
    writeFileSync(file, lines.join('\n'));
    let out = '';
    const cmd = billingCommand({ store, tenant, write: (s) => (out += s) });
    await cmd.parseAsync(['node', 'billing', 'import', file]);
    await cmd.parseAsync(['node', 'billing', 'import', file]);
    expect(out).toMatch(/1488 charges/);
    const rows = await store.query<{ n: string; total: string }>(`SELECT toString(count()) AS n, toString(sum(amount)) AS total FROM ${store.table('sla_charges')} FINAL WHERE tenant = {t:String} AND item = 'compute'`, { t: tenant });
    expect(rows[0]).toEqual({ n: '1488', total: String(31 * 24 * 2.4) });
  });
  it('stores charges from JSON as well', async () => {
    expect(await storeCharges(store, tenant, [], 'api')).toBe(0);
  });
});

describe('monthly report from the store to files', () => {
  it('writes JSON, CSV and HTML, stores the report, and is idempotent', async () => {
    const hooks: unknown[] = [];
    const fakeFetch = (async (_url: string, init: { body: string }) => {
      hooks.push(JSON.parse(init.body));
      return new Response('{}', { status: 200 });
    }) as unknown as typeof fetch;
    const opts = { tenant, month: '2026-10', outputDir, commitment: 99.95, multiplier: 100, minOutageMinutes: 10, clusters: ['cls-c'], webhookUrl: 'http://hook.invalid/x', fetch: fakeFetch };
    const first = await runMonthlyReport(store, opts);
    expect(first.version).toBe(1);
    expect(first.created).toBe(true);
    const a = first.report.clusters.find((c) => c.id === 'cls-a')!;
    // 40 + 60 counted minutes (the 5-minute stretch does not count) of 44,640.
    expect(a.unavailableMinutes).toBe(100);
    expect(a.met).toBe(false);
    expect(a.availability).toBe(99.776);
    // 0.03/min × 40 × 100 = 120.00 and × 60 × 100 = 180.00.
    expect(a.incidents.map((i) => [i.minutes, i.counted, i.compensation])).toEqual([
      [40, true, 120],
      [5, false, 0],
      [60, true, 180],
    ]);
    expect(a.compensation).toBe(300);
    expect(first.report.clusters.map((c) => c.id)).toEqual(['cls-a', 'cls-b', 'cls-c']);
    expect(first.report.clusters.find((c) => c.id === 'cls-b')!.incidents).toEqual([]);
    // The cap: October's charges, the one across the month's end pro-rated (10.01 / 2 = 5.005, floored to 5.00).
    expect(a.paid).toBe(1339.2);
    expect(first.report.clusters.find((c) => c.id === 'cls-c')!.paid).toBe(5);
    expect(a.daily).toHaveLength(31);
    expect(a.daily[1]).toEqual({ date: '2026-10-02', availability: Math.round(((1440 - 40) / 1440) * 100 * 1e4) / 1e4 });

    const json = JSON.parse(readFileSync(first.files.json, 'utf8'));
    expect(json.clusters[0].compensation).toBe(300);
    expect(readFileSync(first.files.csv, 'utf8')).toContain('cluster,cls-a,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,100,,,,300,99.776,false,false');
    const html = readFileSync(first.files.html, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('300.00');
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(hooks).toHaveLength(1);

    const again = await runMonthlyReport(store, opts);
    expect(again.version).toBe(1);
    expect(again.created).toBe(false);
    expect(hooks).toHaveLength(1);
    expect(await listReports(store, tenant, '2026-10')).toHaveLength(1);
  });

  it('re-runs after an exclusion as a new version and keeps the earlier one', async () => {
    let out = '';
    const cli = slaCommand({ store, tenant, write: (s) => (out += s) });
    await cli.parseAsync(['node', 'sla', 'exclusions', 'add', '--cluster', 'cls-a', '--start', '2026-10-10T12:20:00Z', '--end', '2026-10-10T12:50:00Z', '--cause', 'maintenance', '--reason', 'etcd upgrade CHG-42', '--by', 'alice']);
    expect(JSON.parse(out)).toMatchObject({ cluster: 'cls-a', cause: 'maintenance', recordedBy: 'alice' });
    const second = await runMonthlyReport(store, { tenant, month: '2026-10', outputDir, commitment: 99.95, multiplier: 100, minOutageMinutes: 10, clusters: ['cls-c'] });
    expect(second.version).toBe(2);
    const a = second.report.clusters.find((c) => c.id === 'cls-a')!;
    expect(a.incidents.map((i) => [i.start, i.minutes, i.counted])).toEqual([
      ['2026-10-02T10:00:00Z', 40, true],
      ['2026-10-03T04:00:00Z', 5, false],
      ['2026-10-10T12:00:00Z', 20, true],
      ['2026-10-10T12:50:00Z', 10, true],
    ]);
    expect(a.exclusions).toEqual([
      { start: '2026-10-10T12:20:00Z', end: '2026-10-10T12:50:00Z', cause: 'maintenance', minutes: 30, excludedOutageMinutes: 30, reason: 'etcd upgrade CHG-42', recordedBy: 'alice' },
    ]);
    expect(a.compensation).toBe(210);
    expect(readFileSync(second.files.html, 'utf8')).toContain('etcd upgrade CHG-42');
    const versions = await listReports(store, tenant, '2026-10');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(existsSync(versions[0]!.files.json)).toBe(true);
    expect((await loadReport(store, tenant, '2026-10', 1))!.clusters[0]!.compensation).toBe(300);
    expect((await loadReport(store, tenant, '2026-10'))!.version).toBe(2);
  });
});
