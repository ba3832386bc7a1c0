import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { coreConfigSchema, settleDefaults } from '../core/config.ts';
import { collectorSection, type CollectorConfig } from './config.ts';
import { silentLogger } from '../core/log.ts';
import { seriesId } from '../metrics/series.ts';
import type { AppContext } from '../core/context.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import { startCollectorSources, startCollectors } from './sources.ts';

let server: http.Server;
let url = '';
beforeAll(async () => {
  server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('jobs_queued 4\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function context(raw: unknown): { ctx: AppContext<CollectorConfig>; bus: MemoryBus; registry: Registry; close: () => Promise<void>; batches: SampleBatch[] } {
  const bus = new MemoryBus({ capacity: 1_000_000, maxDelivery: 1_000_000 });
  const registry = new Registry();
  const closers: (() => Promise<void> | void)[] = [];
  const batches: SampleBatch[] = [];
  void bus.consume('metrics', async (d) => void batches.push(...d.payloads));
  const ctx: AppContext<CollectorConfig> = {
    config: coreConfigSchema.extend({ collector: collectorSection }).transform(settleDefaults).parse(raw),
    store: null as unknown as Store,
    bus,
    log: silentLogger,
    registry,
    onClose: (fn) => void closers.push(fn),
  };
  return {
    ctx,
    bus,
    registry,
    batches,
    close: async () => {
      for (const fn of closers) await fn();
      await bus.close();
    },
  };
}

describe('startCollectors', () => {
  it('starts the host source and a scrape loop per target, counts their samples, and stops them on close', async () => {
    const { ctx, registry, close, batches } = context({ tenant: 'acme', collector: { host: { interval: '1s' }, scrape: [{ job: 'queue', url, interval: '1s', timeout: '1s' }] } });
    const running = await startCollectorSources(ctx);
    expect(running.host).not.toBeNull();
    expect(running.scrapes).toHaveLength(1);
    const jobs = () => new Set(batches.flatMap((b) => b.series.map((d) => d.labels['job'])));
    for (let waited = 0; !(jobs().has('node') && jobs().has('queue')) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await close();
    const ids = new Set(batches.flatMap((b) => [...b.seriesIds]));
    expect(batches.every((b) => b.tenant === 'acme')).toBe(true);
    expect(ids.has(seriesId({ __name__: 'jobs_queued', job: 'queue', instance: new URL(url).host }))).toBe(true);
    expect(batches.some((b) => b.series.some((s) => s.labels['__name__'] === 'node_memory_MemAvailable_bytes' && s.labels['job'] === 'node'))).toBe(true);
    const received = await registry.getSingleMetricAsString('tidemark_collector_samples_received_total');
    expect(received).toMatch(/source="host"/);
    expect(received).toMatch(/source="scrape"/);
    expect(await registry.getSingleMetricAsString('tidemark_scrape_duration_seconds')).toMatch(/job="queue"/);
    const count = batches.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(batches.length).toBe(count);
  });

  it('starts nothing with the host source disabled and no targets, or in the api role', async () => {
    const a = context({ collector: { host: { enabled: false } } });
    expect(await startCollectorSources(a.ctx)).toEqual({ host: null, scrapes: [] });
    const b = context({ role: 'api' });
    await startCollectors(b.ctx);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.batches).toHaveLength(0);
    await a.close();
    await b.close();
  });
});
