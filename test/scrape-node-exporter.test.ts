// Scraping a real prometheus-node-exporter started on a free loopback port:
// its metrics arrive with job/instance labels and the report series, and when
// it stops the target shows up == 0 and its series get stale markers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { isStaleMarker, type SampleBatch, type SeriesDefinition } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import { ScrapeLoop, fetchTarget, scrapeTarget } from '../collector/scrape.ts';
import { parseExposition, formatFromContentType } from '../collector/exposition.ts';
import { SeriesResolver } from '../collector/series-resolver.ts';
import { startNodeExporter, type Peer } from './helpers/peers.ts';

let exporter: Peer;
beforeAll(async () => {
  exporter = await startNodeExporter();
});
afterAll(async () => {
  await exporter?.stop();
});

function sampleOf(batch: SampleBatch, labels: Record<string, string>): { value: number; timestamp: number; stale: boolean } | undefined {
  const id = seriesId(labels);
  for (let i = 0; i < batch.length; i++) {
    if (batch.seriesIds[i] === id) return { value: batch.values[i]!, timestamp: batch.timestamps[i]!, stale: isStaleMarker(batch.values[i]!) };
  }
  return undefined;
}

describe('scraping a real node_exporter', () => {
  it('publishes its series with job and instance, up == 1 and the scrape report, then up == 0 and stale markers when it stops', async () => {
    const bus = new MemoryBus({ capacity: 1_000_000, maxDelivery: 1_000_000 });
    const batches: SampleBatch[] = [];
    await bus.consume('metrics', async (d) => void batches.push(...d.payloads));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const target = scrapeTarget({ job: 'node', url: `${exporter.baseUrl}/metrics`, interval: '15s', timeout: '10s', labels: { cluster: 'test' } });
    let now = 1_767_225_600_000;
    const loop = new ScrapeLoop(target, { bus, tenant: 't', log, resolver: new SeriesResolver(), now: () => now });

    const first = await loop.scrapeOnce();
    const instance = `127.0.0.1:${exporter.port}`;
    const base = { job: 'node', instance, cluster: 'test' };
    expect(sampleOf(first, { ...base, __name__: 'up' })?.value).toBe(1);
    const scraped = sampleOf(first, { ...base, __name__: 'scrape_samples_scraped' })!.value;
    expect(scraped).toBeGreaterThan(200);
    // Every scraped sample plus the five report series.
    expect(first.length).toBe(scraped + 5);
    expect(sampleOf(first, { ...base, __name__: 'scrape_duration_seconds' })!.value).toBeGreaterThan(0);

    const definitions = new Map<string, SeriesDefinition[]>();
    for (const d of first.series) {
      const name = d.labels['__name__']!;
      definitions.set(name, [...(definitions.get(name) ?? []), d]);
    }
    const cpu = definitions.get('node_cpu_seconds_total')!;
    expect(cpu.length).toBeGreaterThan(0);
    expect(Object.keys(cpu[0]!.labels).sort()).toEqual(['__name__', 'cluster', 'cpu', 'instance', 'job', 'mode']);
    const mem = sampleOf(first, { ...base, __name__: 'node_memory_MemAvailable_bytes' })!;
    expect(mem.value).toBeGreaterThan(0);
    expect(mem.timestamp).toBe(now);

    now += 15_000;
    const second = await loop.scrapeOnce();
    expect(second.series).toEqual([]);
    expect(sampleOf(second, { ...base, __name__: 'up' })?.value).toBe(1);

    await exporter.stop();
    now += 15_000;
    const down = await loop.scrapeOnce();
    now += 15_000;
    const downAgain = await loop.scrapeOnce();
    expect(sampleOf(down, { ...base, __name__: 'up' })?.value).toBe(0);
    expect(sampleOf(downAgain, { ...base, __name__: 'up' })?.value).toBe(0);
    expect(sampleOf(down, { ...base, __name__: 'node_memory_MemAvailable_bytes' })?.stale).toBe(true);
    // Stale markers once, not on every failed scrape.
    expect(sampleOf(downAgain, { ...base, __name__: 'node_memory_MemAvailable_bytes' })).toBeUndefined();
    expect(lines.filter((l) => l.includes('scrape target is down'))).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toHaveLength(4);
    await bus.close();
  });
});

describe('content negotiation with a real node_exporter', () => {
  it('gets an exposition the parser reads whole', async () => {
    const peer = await startNodeExporter();
    try {
      const target = scrapeTarget({ job: 'node', url: `${peer.baseUrl}/metrics`, interval: '15s', timeout: '10s', labels: {} });
      const res = await fetchTarget(target);
      if (!res.ok) throw new Error(res.error);
      const exposition = parseExposition(res.body, formatFromContentType(res.contentType));
      expect(exposition.samples.length).toBeGreaterThan(200);
      expect(exposition.families.get('node_cpu_seconds_total')?.type).toBe('counter');
    } finally {
      await peer.stop();
    }
  });
});
