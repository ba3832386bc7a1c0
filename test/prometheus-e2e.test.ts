// End to end with real peers: a Debian Prometheus scrapes a real
// node_exporter and remote-writes to the whole engine (receiver, bus,
// ingester, store). What Tidemark stores agrees with what Prometheus stores,
// and an outage of Tidemark's store (answered 503) is retried by Prometheus
// until nothing is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../bin/engine.ts';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { requireBinary, startNodeExporter, startPeer, type Peer } from './helpers/peers.ts';

let running: TestEngine;
let engine: Engine;
let exporter: Peer;
let prometheus: Peer;
let dir: string;

async function tidemarkCount(metric: string, match: string[], start: number, end: number): Promise<number> {
  const q = new URLSearchParams({ metric, fn: 'count', by: '__name__', start: String(start), end: String(end), step: String(Math.max(1, Math.round(end - start))) });
  for (const m of match) q.append('match', m);
  const r = await fetch(`${engine.url}/api/v1/range?${q}`);
  const body = (await r.json()) as { series: { points: [number, number][] }[]; message?: string };
  if (!r.ok) throw new Error(body.message);
  return body.series.reduce((a, s) => a + s.points.reduce((b, p) => b + p[1], 0), 0);
}

async function promQuery(expr: string, time?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const params = new URLSearchParams({ query: expr });
  if (time !== undefined) params.set('time', String(time));
  const body = (await (await fetch(`${prometheus.baseUrl}/api/v1/query?${params}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return body.data.result;
}

async function until(fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  running = await startTestEngine();
  engine = running.engine;
  dir = running.dir;
  exporter = await startNodeExporter();
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s }',
      'scrape_configs:',
      '  - job_name: node',
      `    static_configs: [{ targets: ["127.0.0.1:${exporter.port}"] }]`,
      'remote_write:',
      `  - url: ${engine.url}/api/v1/write`,
      '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s }',
    ].join('\n'),
  );
  prometheus = await startPeer({
    name: 'prometheus',
    binary: requireBinary('prometheus', 'prometheus'),
    args: (port) => [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`],
    readyPath: '/-/ready',
    timeoutMs: 30_000,
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await running?.close();
});

describe('Prometheus → Tidemark end to end', () => {
  it('stores node_exporter series with their labels and Prometheus’ own values', async () => {
    await until(async () => (await tidemarkCount('node_memory_MemAvailable_bytes', [], Date.now() / 1000 - 300, Date.now() / 1000 + 1)) >= 3, 60_000);
    const series = (await (await fetch(`${engine.url}/api/v1/series?match[]=node_memory_MemAvailable_bytes`)).json()) as { data: Record<string, string>[] };
    expect(series.data).toEqual([{ __name__: 'node_memory_MemAvailable_bytes', instance: `127.0.0.1:${exporter.port}`, job: 'node' }]);
    const prom = await promQuery('timestamp(node_memory_MemAvailable_bytes) * 1000');
    const tsMs = Math.round(Number(prom[0]!.value[1]));
    const promValue = await promQuery('node_memory_MemAvailable_bytes', tsMs / 1000);
    await until(async () => (await tidemarkCount('node_memory_MemAvailable_bytes', [], tsMs / 1000, tsMs / 1000 + 1)) === 1, 30_000);
    const q = new URLSearchParams({ metric: 'node_memory_MemAvailable_bytes', fn: 'last', start: String(tsMs / 1000), end: String(tsMs / 1000 + 1), step: '1' });
    const ours = (await (await fetch(`${engine.url}/api/v1/range?${q}`)).json()) as { series: { points: [number, number][] }[] };
    expect(ours.series[0]!.points[0]![1]).toBe(Number(promValue[0]!.value[1]));
  }, 90_000);

  it('loses nothing across a store outage: Prometheus retries the 503s', async () => {
    const start = Math.floor(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, 2000));
    await engine.ctx.store.command(`DETACH TABLE ${engine.ctx.store.table('samples')}`);
    await new Promise((r) => setTimeout(r, 4000));
    await engine.ctx.store.command(`ATTACH TABLE ${engine.ctx.store.table('samples')}`);
    await new Promise((r) => setTimeout(r, 2000));
    const end = Math.floor(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, 1500));
    // Prometheus' window (end − N s, end] in Tidemark's half-open terms: [start + 1 + ε, end + ε).
    const expected = Number((await promQuery(`count_over_time(up{job="node"}[${end - start - 1}s])`, end))[0]!.value[1]);
    expect(expected).toBeGreaterThanOrEqual(6);
    const count = () => tidemarkCount('up', ['job=node'], start + 1.0005, end + 0.0005);
    await until(async () => (await count()) >= expected, 60_000);
    expect(await count()).toBe(expected);
  }, 120_000);
});
