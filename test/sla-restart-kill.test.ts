// A real restart during the monthly job: a child process seeds the store and
// runs the report job, and is killed with SIGKILL right after the report
// files are written (before the report is stored and announced). This
// process then opens the same data directory, as the restarted engine would,
// and its start-up catch-up must leave exactly one version, announced once.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { loadConfig } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import { slaMigrations } from '../sla/schema.ts';
import { listReports } from '../sla/report.ts';
import { reportJob, catchUpMonthlyReport } from '../sla/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-kill-'));
const dataPath = join(dir, 'chdb');
const outputDir = join(dir, 'reports');
const root = resolve(import.meta.dirname, '..');
let store: Store | undefined;

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const child = `
import { Store } from '${root}/core/store.ts';
import { migrate, schemaContext } from '${root}/core/migrations.ts';
import { slaMigrations } from '${root}/sla/schema.ts';
import { recordProbeResults } from '${root}/sla/probes.ts';
import { runMonthlyReport } from '${root}/sla/report.ts';
const store = await Store.open({ dataPath: ${JSON.stringify(dataPath)}, database: 'sla_kill' });
await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
const start = Date.UTC(2026, 9, 20, 6, 0);
const rows = [];
for (let m = -60; m < 120; m++) rows.push({ tenant: 'default', cluster: 'cls-k', location: 'l', target: '/readyz', timestamp: start + m * 60000, ok: m < 0 || m >= 25, latencyMs: 1, error: '' });
await recordProbeResults(store, rows);
await runMonthlyReport(store, {
  tenant: 'default', month: '2026-10', outputDir: ${JSON.stringify(outputDir)}, commitment: 99.95, multiplier: 100, minOutageMinutes: 10,
  webhookUrl: 'http://127.0.0.1:1/never',
  onStep: async (step) => { if (step === 'files') { process.stdout.write('FILES-WRITTEN\\n'); await new Promise(() => {}); } },
});
`;

describe('SIGKILL during the monthly job', () => {
  it('is completed by the restarted engine: one version, one announcement', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += String(d)));
    await new Promise<void>((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never reached the files step: ${stderr}`)), 90_000);
      proc.stdout.on('data', (d) => {
        if (String(d).includes('FILES-WRITTEN')) {
          clearTimeout(timer);
          resolveWait();
        }
      });
      proc.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
    });
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGKILL');
    await exited;
    expect(readdirSync(join(outputDir, 'default'))).toContain('sla-2026-10.v1.json');

    store = await Store.open({ dataPath, database: 'sla_kill' });
    await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
    expect(await listReports(store, 'default', '2026-10')).toEqual([]);

    const hooks: unknown[] = [];
    const fakeFetch = (async (_u: string, init: { body: string }) => {
      hooks.push(JSON.parse(init.body));
      return new Response('{}', { status: 200 });
    }) as unknown as typeof fetch;
    const config = loadConfig({ env: {}, overrides: [{ path: ['sla', 'report', 'outputDir'], value: outputDir }, { path: ['sla', 'report', 'webhookUrl'], value: 'http://hook.invalid/' }] });
    const job = reportJob(store, config, silentLogger, { fetch: fakeFetch });
    const out = await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 10, 2), Date.UTC(2026, 11, 1, 0, 10));
    expect(out?.version).toBe(1);
    expect(out?.report.clusters[0]).toMatchObject({ id: 'cls-k', unavailableMinutes: 25 });
    expect((await listReports(store, 'default', '2026-10')).map((r) => r.version)).toEqual([1]);
    expect(hooks).toHaveLength(1);
    // Restarting again changes nothing.
    expect(await catchUpMonthlyReport(store, config, job, Date.UTC(2026, 10, 3), Date.UTC(2026, 11, 1, 0, 10))).toBeUndefined();
    expect(hooks).toHaveLength(1);
    expect(readdirSync(join(outputDir, 'default')).sort()).toEqual(['sla-2026-10.v1.csv', 'sla-2026-10.v1.html', 'sla-2026-10.v1.json']);
  });
});
