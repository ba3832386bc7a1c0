// startSla: the prober stores results for each configured cluster on its
// interval, the monthly job is scheduled, and closing stops both.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import schedule from 'node-schedule';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { loadConfig, type Config } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import type { AppContext } from '../core/context.ts';
import type { Bus } from '../core/bus/bus.ts';
import { slaMigrations } from '../sla/schema.ts';
import { startSla } from '../sla/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-service-'));
let store: Store;
let server: Server;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  store = await Store.open({ dataPath: join(dir, 'chdb'), database: 'sla_service_test' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
  server = createServer((req, res) => {
    res.statusCode = req.url === '/readyz' ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const c of closers) await c();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('startSla', () => {
  it('probes configured clusters on the interval, schedules the monthly job, and stops on close', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      env: {},
      overrides: [
        { path: ['tenant'], value: 'svc' },
        { path: ['sla', 'probeInterval'], value: '200ms' },
        { path: ['sla', 'location'], value: 'test-loc' },
        { path: ['sla', 'clusters'], value: [{ name: 'cls-svc', readyzUrl: `${base}/readyz`, livezUrl: `${base}/livez` }] },
        { path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') },
      ],
    });
    const ctx: AppContext<Config> = { config, store, bus: {} as Bus, log: silentLogger, registry: new Registry(), onClose: (fn) => void closers.push(fn) };
    const before = Object.keys(schedule.scheduledJobs).length;
    await startSla(ctx);
    expect(Object.keys(schedule.scheduledJobs).length).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 900));
    const rows = await store.query<{ target: string; ok: number; location: string }>(
      `SELECT target, ok, location FROM ${store.table('sla_probes')} WHERE tenant = 'svc' AND cluster = 'cls-svc'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.every((r) => r.location === 'test-loc')).toBe(true);
    expect(rows.filter((r) => r.target.endsWith('/readyz')).every((r) => Number(r.ok) === 1)).toBe(true);
    expect(rows.filter((r) => r.target.endsWith('/livez')).every((r) => Number(r.ok) === 0)).toBe(true);

    for (const c of closers.splice(0)) await c();
    expect(Object.keys(schedule.scheduledJobs).length).toBe(before);
    const n1 = rows.length;
    await new Promise((r) => setTimeout(r, 600));
    const after = await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${store.table('sla_probes')} WHERE tenant = 'svc'`);
    // Close waits for the round in flight, so nothing lands afterwards (a round may have landed between the query and close).
    const settled = Number(after[0]!.n);
    await new Promise((r) => setTimeout(r, 400));
    const later = await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${store.table('sla_probes')} WHERE tenant = 'svc'`);
    expect(Number(later[0]!.n)).toBe(settled);
    expect(settled).toBeLessThanOrEqual(n1 + 2);
  });
});
