// The SLA API through fastify's inject: live availability, incidents,
// exclusions, charges, remote probe results, reports and the calculator.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { loadConfig, type Config } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import { createHttpServer } from '../core/http.ts';
import { authOff } from '../core/auth/http.ts';
import type { AppContext } from '../core/context.ts';
import type { Bus } from '../core/bus/bus.ts';
import { slaMigrations } from '../sla/schema.ts';
import { slaRoutes } from '../sla/routes.ts';
import { slaCommand, billingCommand } from '../sla/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-api-'));
let store: Store;
let app: FastifyInstance;
const now = Date.now();
const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);

beforeAll(async () => {
  store = await Store.open({ dataPath: join(dir, 'chdb'), database: 'sla_api_test' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
  const config = loadConfig({ env: {}, overrides: [{ path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') }] });
  const ctx: AppContext<Config> = { config, store, bus: {} as Bus, log: silentLogger, registry: new Registry(), onClose: () => undefined };
  app = createHttpServer({ bodyLimit: 1 << 20, auth: authOff(config.tenant) });
  await slaRoutes(app, ctx);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('SLA API', () => {
  it('accepts probe results from a remote location and reports live availability this month', async () => {
    // 15 failed minutes right at the start of this month, from two locations.
    const probes = [];
    for (let m = 0; m < 20; m++) {
      for (const location of ['eu-1', 'us-1']) probes.push({ cluster: 'cls-live', location, timestamp: monthStart + m * 60_000 + 1000, target: '/readyz', ok: m >= 15, latencyMs: 2 });
    }
    const posted = await app.inject({ method: 'POST', url: '/api/v1/sla/probes', payload: probes });
    expect(posted.statusCode).toBe(202);
    const res = await app.inject({ method: 'GET', url: '/api/v1/sla/availability' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const c = body.clusters.find((x: { id: string }) => x.id === 'cls-live');
    expect(c.unavailableMinutes).toBe(15);
    // A live figure: measured against the minutes elapsed so far, not the whole month.
    expect(c.periodMinutes).toBeLessThan(44_640);
    expect(c.availability).toBeLessThan(100);
    const inc = await app.inject({ method: 'GET', url: '/api/v1/sla/incidents?cluster=cls-live' });
    expect(inc.json().clusters[0].incidents[0]).toMatchObject({ minutes: 15, counted: true });
  });

  it('rejects a bad probe batch naming the field', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sla/probes', payload: [{ cluster: 'x', location: 'l', timestamp: 'soon', ok: true }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('probes[0].timestamp');
  });

  it('records and lists exclusions with who and why, and refuses an unknown cause', async () => {
    const start = new Date(monthStart + 3 * 60_000).toISOString();
    const end = new Date(monthStart + 10 * 60_000).toISOString();
    const bad = await app.inject({ method: 'POST', url: '/api/v1/sla/exclusions', payload: { cluster: 'cls-live', start, end, cause: 'platform', reason: 'x', recordedBy: 'bob' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('cause');
    const ok = await app.inject({ method: 'POST', url: '/api/v1/sla/exclusions', payload: { cluster: 'cls-live', start, end, cause: 'customer', reason: 'customer deleted the API server LB', recordedBy: 'bob' } });
    expect(ok.statusCode).toBe(201);
    const list = await app.inject({ method: 'GET', url: '/api/v1/sla/exclusions' });
    expect(list.json().exclusions).toHaveLength(1);
    expect(list.json().exclusions[0]).toMatchObject({ cause: 'customer', recordedBy: 'bob', reason: 'customer deleted the API server LB' });
    // The 15-minute stretch is now split into 3 + 5 minutes, both too short to count.
    const inc = await app.inject({ method: 'GET', url: '/api/v1/sla/incidents?cluster=cls-live' });
    expect(inc.json().clusters[0].incidents.map((i: { minutes: number; counted: boolean }) => [i.minutes, i.counted])).toEqual([
      [3, false],
      [5, false],
    ]);
  });

  it('stores charges and refuses a negative one', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/v1/sla/charges', payload: [{ cluster: 'c', start: '2026-10-01T00:00:00Z', end: '2026-10-01T01:00:00Z', amount: -2 }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('charges[0].amount');
    const ok = await app.inject({ method: 'POST', url: '/api/v1/sla/charges', payload: [{ cluster: 'c', start: '2026-10-01T00:00:00Z', end: '2026-10-01T01:00:00Z', amount: 2.5 }] });
    expect(ok.json()).toEqual({ stored: 1 });
  });

  it('runs, lists and serves reports, 404 for a missing one', async () => {
    const missing = await app.inject({ method: 'GET', url: '/api/v1/sla/reports/2026-07' });
    expect(missing.statusCode).toBe(404);
    const run = await app.inject({ method: 'POST', url: '/api/v1/sla/reports/2026-07/run' });
    expect(run.statusCode).toBe(200);
    expect(run.json().version).toBe(1);
    const list = await app.inject({ method: 'GET', url: '/api/v1/sla/reports' });
    expect(list.json().reports.map((r: { month: string }) => r.month)).toEqual(['2026-07']);
    const html = await app.inject({ method: 'GET', url: '/api/v1/sla/reports/2026-07?format=html' });
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('SLA report 2026-07');
    const badMonth = await app.inject({ method: 'POST', url: '/api/v1/sla/reports/2026-13/run' });
    expect(badMonth.statusCode).toBe(400);
  });

  it('serves the calculator', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/sla/compute', payload: { period: { start: '2026-11-01T00:00:00Z', end: '2026-12-01T00:00:00Z' }, instances: [{ id: 'a' }] } });
    expect(res.json().instances[0]).toMatchObject({ id: 'a', periodMinutes: 43_200, availability: 100, met: true });
    const bad = await app.inject({ method: 'POST', url: '/api/v1/sla/compute', payload: { period: { start: '2026-11-01T00:00:00Z', end: '2026-11-01T00:00:00Z' }, instances: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('period.end');
  });
});

describe('CLI through a running engine (--api)', () => {
  it('records and lists exclusions, imports charges and runs a report over HTTP, exit 2 on a bad field', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    let out = '';
    let err = '';
    let code = 0;
    const deps = { write: (s: string) => (out += s), writeError: (s: string) => (err += s), exit: (c: number) => (code = c) };
    await slaCommand(deps).parseAsync(['node', 'sla', 'exclusions', 'add', '--api', address, '--cluster', '*', '--start', '2026-06-01T00:00:00Z', '--end', '2026-06-01T01:00:00Z', '--cause', 'dependency', '--reason', 'VPC outage INC-7', '--by', 'carol']);
    expect(JSON.parse(out)).toMatchObject({ cluster: '*', cause: 'dependency', recordedBy: 'carol' });
    out = '';
    await slaCommand(deps).parseAsync(['node', 'sla', 'exclusions', 'list', '--api', address, '--month', '2026-06']);
    expect(JSON.parse(out)).toHaveLength(1);
    out = '';
    const csv = join(dir, 'charges.csv');
    writeFileSync(csv, 'cluster,start,end,amount\ncls-live,2026-06-01T00:00:00Z,2026-06-01T01:00:00Z,3.25\n');
    await billingCommand(deps).parseAsync(['node', 'billing', 'import', '--api', address, csv]);
    expect(out).toBe(`imported 1 charges from ${csv}\n`);
    out = '';
    await slaCommand(deps).parseAsync(['node', 'sla', 'report', '--api', address, '--month', '2026-06']);
    expect(JSON.parse(out)).toMatchObject({ month: '2026-06', version: 1 });
    out = '';
    await slaCommand(deps).parseAsync(['node', 'sla', 'exclusions', 'add', '--api', address, '--cluster', 'x', '--start', '2026-06-01T00:00:00Z', '--end', '2026-06-01T01:00:00Z', '--cause', 'sunspots', '--reason', 'r', '--by', 'b']);
    expect(code).toBe(2);
    expect(err).toMatch(/^cause: /);
    expect(out).toBe('');
  });
});
