import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { isStaleMarker, type SampleBatch } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import { silentLogger } from '../core/log.ts';
import { SeriesResolver } from './series-resolver.ts';
import { SCRAPE_ACCEPT, ScrapeLoop, assembleScrape, scrapeTarget, withTargetLabels, type ScrapeTarget } from './scrape.ts';

const target: ScrapeTarget = scrapeTarget({ job: 'app', url: 'http://127.0.0.1:9999/metrics', interval: '15s', timeout: '10s', labels: { env: 'prod' } });

/** Whether the series' sample in the batch is a stale marker (read from the typed column: JS arrays canonicalise NaN). */
function staleIn(batch: SampleBatch, labels: Record<string, string>): boolean {
  const id = seriesId(labels);
  for (let i = 0; i < batch.length; i++) if (batch.seriesIds[i] === id) return isStaleMarker(batch.values[i]!);
  return false;
}

function valuesOf(batch: SampleBatch, labels: Record<string, string>): number[] {
  const id = seriesId(labels);
  const out: number[] = [];
  for (let i = 0; i < batch.length; i++) if (batch.seriesIds[i] === id) out.push(batch.values[i]!);
  return out;
}

describe('target labels', () => {
  it('derives job and instance from the config', () => {
    expect(target.labels).toEqual({ job: 'app', instance: '127.0.0.1:9999', env: 'prod' });
    expect(scrapeTarget({ job: 'x', url: 'https://example.com/m', interval: '5s', timeout: '10s', labels: {} })).toMatchObject({
      timeoutMs: 5000,
      labels: { instance: 'example.com:443' },
    });
  });

  it('renames clashing scraped labels to exported_* (honor_labels: false)', () => {
    expect(withTargetLabels({ __name__: 'm', job: 'inner', exported_job: 'x', a: 'b' }, { job: 'app', instance: 'h:1' })).toEqual({
      __name__: 'm',
      job: 'app',
      instance: 'h:1',
      // As Prometheus: the clashing value moves to the first free exported_* name.
      exported_job: 'x',
      exported_exported_job: 'inner',
      a: 'b',
    });
  });
});

describe('assembleScrape', () => {
  const T = 1_767_225_600_000;

  it('stamps samples with the scrape time unless the exposition gives one, and adds the report series', () => {
    const resolver = new SeriesResolver();
    const body = '# TYPE a gauge\na{x="1"} 5\nb 6 1767225000000\n';
    const r = assembleScrape(target, { ok: true, body, contentType: 'text/plain; version=0.0.4' }, T, 0.012, { previous: new Set() }, resolver, 't');
    const base = { job: 'app', instance: '127.0.0.1:9999', env: 'prod' };
    expect(r.up).toBe(true);
    expect(valuesOf(r.batch, { ...base, __name__: 'a', x: '1' })).toEqual([5]);
    const bIdx = [...r.batch.seriesIds].indexOf(seriesId({ ...base, __name__: 'b' }));
    expect(r.batch.timestamps[bIdx]).toBe(1767225000000);
    expect(valuesOf(r.batch, { ...base, __name__: 'up' })).toEqual([1]);
    expect(valuesOf(r.batch, { ...base, __name__: 'scrape_duration_seconds' })).toEqual([0.012]);
    expect(valuesOf(r.batch, { ...base, __name__: 'scrape_samples_scraped' })).toEqual([2]);
    expect(valuesOf(r.batch, { ...base, __name__: 'scrape_series_added' })).toEqual([1]);
    expect(r.batch.length).toBe(2 + 5);
  });

  it('writes a stale marker for a series that vanished, and for all of them when the target goes down', () => {
    const resolver = new SeriesResolver();
    const base = { job: 'app', instance: '127.0.0.1:9999', env: 'prod' };
    const first = assembleScrape(target, { ok: true, body: 'a 1\nb 2\n', contentType: null }, T, 0.01, { previous: new Set() }, resolver, 't');
    const second = assembleScrape(target, { ok: true, body: 'a 1\n', contentType: null }, T + 15_000, 0.01, first.state, resolver, 't');
    expect(valuesOf(second.batch, { ...base, __name__: 'b' })).toHaveLength(1);
    expect(staleIn(second.batch, { ...base, __name__: 'b' })).toBe(true);
    expect(staleIn(second.batch, { ...base, __name__: 'a' })).toBe(false);
    const down = assembleScrape(target, { ok: false, error: 'connection refused' }, T + 30_000, 0.001, second.state, resolver, 't');
    expect(down.up).toBe(false);
    expect(valuesOf(down.batch, { ...base, __name__: 'up' })).toEqual([0]);
    expect(staleIn(down.batch, { ...base, __name__: 'a' })).toBe(true);
    expect(down.state.previous.size).toBe(0);
  });

  it('treats a malformed exposition as a failed scrape (up 0, nothing of it stored)', () => {
    const r = assembleScrape(target, { ok: true, body: 'good 1\nbad{ 2\n', contentType: null }, T, 0.01, { previous: new Set() }, new SeriesResolver(), 't');
    expect(r.up).toBe(false);
    expect(r.error).toMatch(/line 2/);
    expect(r.batch.length).toBe(5);
  });

  it('reads OpenMetrics when the target answers with it', () => {
    const body = '# TYPE c counter\nc_total 3 1767225000.5\nc_created 1767000000\n# EOF\n';
    const r = assembleScrape(target, { ok: true, body, contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8' }, T, 0.01, { previous: new Set() }, new SeriesResolver(), 't');
    expect(r.samplesScraped).toBe(1);
    expect(r.batch.timestamps[0]).toBe(1767225000500);
  });

  it('defines each series once across scrapes', () => {
    const resolver = new SeriesResolver();
    const first = assembleScrape(target, { ok: true, body: 'a 1\n', contentType: null }, T, 0.01, { previous: new Set() }, resolver, 't');
    first.commit();
    const second = assembleScrape(target, { ok: true, body: 'a 1\n', contentType: null }, T + 1, 0.01, first.state, resolver, 't');
    expect(first.batch.series.length).toBe(6);
    expect(second.batch.series).toEqual([]);
  });
});

describe('ScrapeLoop against a local HTTP target', () => {
  let server: http.Server;
  let url = '';
  let accept = '';
  let healthy = true;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      accept = req.headers['accept'] ?? '';
      if (!healthy) {
        res.writeHead(500).end('boom');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('requests_total{job="inner"} 7\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends Prometheus Accept header, publishes, and logs a down target once', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const bus = new MemoryBus({ capacity: 100_000, maxDelivery: 100_000 });
    const published: SampleBatch[] = [];
    await bus.consume('metrics', async (d) => void published.push(...d.payloads));
    const t = scrapeTarget({ job: 'web', url, interval: '1s', timeout: '1s', labels: {} });
    const loop = new ScrapeLoop(t, { bus, tenant: 't', log });
    const ok = await loop.scrapeOnce();
    expect(accept).toBe(SCRAPE_ACCEPT);
    const instance = new URL(url).host;
    expect(valuesOf(ok, { __name__: 'requests_total', job: 'web', instance, exported_job: 'inner' })).toEqual([7]);
    healthy = false;
    await loop.scrapeOnce();
    await loop.scrapeOnce();
    await loop.scrapeOnce();
    expect(loop.targetHealth).toBe('down');
    expect(lines.filter((l) => l.includes('scrape target is down'))).toHaveLength(1);
    expect(lines.join('')).toMatch(/HTTP status 500/);
    healthy = true;
    await loop.scrapeOnce();
    expect(lines.filter((l) => l.includes('scrape target is up again'))).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(published.length).toBe(5);
    await bus.close();
  });

  it('start() scrapes immediately and stop() ends the loop', async () => {
    const bus = new MemoryBus({ capacity: 100_000, maxDelivery: 100_000 });
    const loop = new ScrapeLoop(scrapeTarget({ job: 'web', url, interval: '1s', timeout: '1s', labels: {} }), { bus, tenant: 't', log: silentLogger });
    loop.start();
    for (let waited = 0; bus.depth().metrics === 0 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(bus.depth().metrics).toBeGreaterThan(0);
    const depth = bus.depth().metrics;
    await new Promise((r) => setTimeout(r, 1200));
    expect(bus.depth().metrics).toBe(depth);
    await bus.close();
  });

  it('logs a bus that refuses the results once, not every interval', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const bus = new MemoryBus({ capacity: 100_000, maxDelivery: 100_000 });
    await bus.close(); // publishing now rejects with BusClosedError
    let attempts = 0;
    const loop = new ScrapeLoop(scrapeTarget({ job: 'web', url, interval: '100ms', timeout: '100ms', labels: {} }), {
      bus,
      tenant: 't',
      log,
      fetchTarget: async () => {
        attempts++;
        return { ok: true, body: 'm 1\n', contentType: null };
      },
    });
    loop.start();
    for (let waited = 0; attempts < 4 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(lines.filter((l) => l.includes('could not be published'))).toHaveLength(1);
  });

  it('reports an unreachable target as down with the connection error', async () => {
    const bus = new MemoryBus({ capacity: 100_000, maxDelivery: 100_000 });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    // A port that was just free: nothing listens there.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const loop = new ScrapeLoop(scrapeTarget({ job: 'gone', url: `http://127.0.0.1:${port}/metrics`, interval: '1s', timeout: '1s', labels: {} }), { bus, tenant: 't', log });
    const batch = await loop.scrapeOnce();
    expect(valuesOf(batch, { __name__: 'up', job: 'gone', instance: `127.0.0.1:${port}` })).toEqual([0]);
    expect(lines.join('')).toMatch(/ECONNREFUSED|refused/);
    await bus.close();
  });
});
