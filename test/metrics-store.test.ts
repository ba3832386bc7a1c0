// The metrics store end to end inside one process: migrations, the
// ingester's binary inserts, rollups, deduplication and the range queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTestStore, sampleBatch, type TestStore } from './helpers/store.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { mergeBatches, withLate } from '../metrics/sample-merge.ts';
import { insertSamples } from '../metrics/sample-writes.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { staleMarker, type SampleBatch } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import { silentLogger } from '../core/log.ts';
import { runRangeQuery } from '../metrics/query.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { rollUp } from '../metrics/rollups.ts';

let t: TestStore;
const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000 });
const newIngester = () => new Ingester(t.store, ingesterMetrics(new Registry(), bus), silentLogger);
// A fixed hour, aligned so that minute and hour buckets are predictable.
const T0 = Date.UTC(2026, 9, 1, 10, 0, 0);

const batch = sampleBatch;

let token = 0;
async function ingest(ingester: Ingester, b: SampleBatch, tok = `test/${token++}`): Promise<void> {
  await ingester.handle({ topic: 'metrics', payloads: [b], token: tok });
}

beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t?.close();
});

describe('migrations', () => {
  it('apply once and are a no-op the second time', async () => {
    const again = await migrate(t.store, schemaContext(t.store, { rawRetentionDays: 3650, rollupRetentionDays: 3650 }), metricsMigrations);
    expect(again).toEqual([]);
    const tables = await t.store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = 'tidemark_test' ORDER BY name`);
    expect(tables.map((r) => r.name)).toEqual(expect.arrayContaining(['series', 'samples', 'samples_1m', 'samples_1h', 'rollup_pending', 'rollup_progress', 'schema_migrations']));
    // The rollups are kept by the roll-up loop, not by per-insert views.
    expect(tables.map((r) => r.name)).not.toContain('samples_1m_mv');
  });
});

describe('ingest and query', () => {
  const cpu = (node: string, ns: string) => ({ __name__: 'test_cpu', node, namespace: ns });

  beforeAll(async () => {
    const ing = newIngester();
    const points = [];
    for (let i = 0; i < 120; i++) {
      // Two minutes of 1 s samples for three series in two namespaces.
      points.push({ labels: cpu('n1', 'a'), ts: T0 + i * 1000, value: 1 });
      points.push({ labels: cpu('n2', 'a'), ts: T0 + i * 1000, value: 3 });
      points.push({ labels: cpu('n3', 'b'), ts: T0 + i * 1000, value: 10 + (i % 2) });
    }
    await ingest(ing, batch(points));
    // The rollup answers below come from rolled rows, not the raw tail.
    await rollUp(t.store, { all: true });
  });

  it('answers avg by label from raw samples', async () => {
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [], fn: 'avg', by: ['namespace'], start: T0 / 1000, end: T0 / 1000 + 120, step: 30 });
    expect(r.table).toBe('samples');
    expect(r.series.map((s) => s.labels)).toEqual([{ namespace: 'a' }, { namespace: 'b' }]);
    expect(r.series[0]!.points).toHaveLength(4);
    expect(r.series[0]!.points[0]).toEqual([T0 / 1000, 2]);
    expect(r.series[1]!.points[0]).toEqual([T0 / 1000, 10.5]);
  });

  it('answers a 60 s step from the 1-minute rollup with the same figures', async () => {
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [], fn: 'avg', by: ['namespace'], start: T0 / 1000, end: T0 / 1000 + 120, step: 60 });
    expect(r.table).toBe('samples_1m');
    expect(r.series[0]!.points).toEqual([
      [T0 / 1000, 2],
      [T0 / 1000 + 60, 2],
    ]);
    const max = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [{ name: 'namespace', op: '=', value: 'b' }], fn: 'max', by: [], start: T0 / 1000, end: T0 / 1000 + 120, step: 60 });
    expect(max.series).toHaveLength(1);
    expect(max.series[0]!.points[0]![1]).toBe(11);
  });

  it('keeps every series apart when there is no group-by', async () => {
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [], fn: 'count', by: [], start: T0 / 1000, end: T0 / 1000 + 60, step: 60 });
    expect(r.series.map((s) => s.labels['node'])).toEqual(['n1', 'n2', 'n3']);
    expect(r.series[0]!.labels).toEqual({ __name__: 'test_cpu', node: 'n1', namespace: 'a' });
  });

  it('answers an hourly step from the 1-hour rollup', async () => {
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [], fn: 'count', by: ['__name__'], start: T0 / 1000, end: T0 / 1000 + 3600, step: 3600 });
    expect(r.table).toBe('samples_1h');
    expect(r.series[0]!.points).toEqual([[T0 / 1000, 360]]);
  });

  it('sums across series and takes quantiles', async () => {
    const sum = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [{ name: 'namespace', op: '=', value: 'a' }], fn: 'sum', by: ['namespace'], start: T0 / 1000, end: T0 / 1000 + 60, step: 60 });
    expect(sum.series[0]!.points[0]![1]).toBe(4);
    const p99 = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [], fn: 'p99', by: ['__name__'], start: T0 / 1000, end: T0 / 1000 + 60, step: 15 });
    expect(p99.series[0]!.points[0]![1]).toBe(11);
  });

  it('filters with regex matchers anchored at both ends', async () => {
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [{ name: 'node', op: '=~', value: 'n[12]' }], fn: 'avg', by: ['node'], start: T0 / 1000, end: T0 / 1000 + 60, step: 60 });
    expect(r.series.map((s) => s.labels['node'])).toEqual(['n1', 'n2']);
    const none = await runRangeQuery(t.store, 'default', { metric: 'test_cpu', matchers: [{ name: 'node', op: '=~', value: 'n' }], fn: 'avg', by: ['node'], start: T0 / 1000, end: T0 / 1000 + 60, step: 60 });
    expect(none.series).toEqual([]);
  });

  it('keeps tenants apart', async () => {
    const r = await runRangeQuery(t.store, 'other-tenant', { metric: 'test_cpu', matchers: [], fn: 'avg', by: [], start: T0 / 1000, end: T0 / 1000 + 60, step: 60 });
    expect(r.series).toEqual([]);
  });
});

describe('edge values', () => {
  it('computes counter rates across a reset', async () => {
    const labels = { __name__: 'test_requests_total', pod: 'p' };
    const values = [0, 10, 20, 5, 15];
    await ingest(newIngester(), batch(values.map((v, i) => ({ labels, ts: T0 + 3600_000 + i * 10_000, value: v }))));
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_requests_total', matchers: [], fn: 'rate', by: [], start: T0 / 1000 + 3600, end: T0 / 1000 + 3650, step: 50 });
    // Increases 10, 10, 5 (restart from 0), 10 over 40 s.
    expect(r.series[0]!.points[0]![1]).toBeCloseTo(35 / 40, 10);
  });

  it('stores NaN and ±Inf as values and a stale marker ends the series', async () => {
    const labels = { __name__: 'test_edge', k: 'v' };
    const base = T0 + 7200_000;
    await ingest(
      newIngester(),
      batch([
        { labels, ts: base, value: Number.POSITIVE_INFINITY },
        { labels, ts: base + 15_000, value: Number.NEGATIVE_INFINITY },
        { labels, ts: base + 30_000, value: Number.NaN },
        { labels, ts: base + 45_000, value: staleMarker() },
      ]),
    );
    const raw = await t.store.query<{ v: string }>(
      `SELECT toString(value) AS v FROM tidemark_test.samples WHERE ts >= fromUnixTimestamp64Milli(toInt64(${base}), 'UTC') ORDER BY ts`,
    );
    expect(raw.map((r) => r.v)).toEqual(['inf', '-inf', 'nan', 'nan']);
    const bits = await t.store.query<{ b: string }>(
      `SELECT toString(reinterpretAsUInt64(value)) AS b FROM tidemark_test.samples WHERE ts = fromUnixTimestamp64Milli(toInt64(${base + 45_000}), 'UTC')`,
    );
    expect(bits[0]!.b).toBe('9218868437227405314');
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_edge', matchers: [], fn: 'last', by: [], start: base / 1000, end: base / 1000 + 60, step: 15 });
    // Points for the three real samples; the stale marker's bucket has none.
    expect(r.series[0]!.points.map((p) => p[0])).toEqual([base / 1000, base / 1000 + 15, base / 1000 + 30]);
  });
});

describe('duplicates', () => {
  // Merges would collapse duplicates by themselves; the point is that queries are right before any merge.
  beforeAll(async () => {
    // Only the raw table: a rollup merge sums counts (it cannot hide a double count), and the roll-up
    // loop's re-rolls delete rows, which needs the merge pool.
    await t.store.command('SYSTEM STOP MERGES tidemark_test.samples');
  });
  afterAll(async () => {
    await t.store.command('SYSTEM START MERGES tidemark_test.samples');
  });

  it('counts a sample sent twice once, in raw queries and rollups, before any merge', async () => {
    const labels = { __name__: 'test_dup', k: 'v' };
    const base = T0 + 4 * 3600_000;
    const ing = newIngester();
    const b = batch([
      { labels, ts: base, value: 1 },
      { labels, ts: base + 1000, value: 3 },
    ]);
    await ingest(ing, b);
    await rollUp(t.store, { all: true });
    await ingest(ing, b);
    await rollUp(t.store, { all: true });
    const parts = await t.store.query<{ c: number }>(`SELECT count() AS c FROM tidemark_test.samples WHERE series_id = ${seriesId(labels)}`);
    expect(parts[0]!.c).toBe(2);
    for (const step of [15, 60]) {
      const r = await runRangeQuery(t.store, 'default', { metric: 'test_dup', matchers: [], fn: 'count', by: [], start: base / 1000, end: base / 1000 + 60, step });
      expect(r.series[0]!.points[0]![1]).toBe(2);
      const avg = await runRangeQuery(t.store, 'default', { metric: 'test_dup', matchers: [], fn: 'avg', by: [], start: base / 1000, end: base / 1000 + 60, step });
      expect(avg.series[0]!.points[0]![1]).toBe(2);
    }
  });

  it('raw queries count a duplicate once even when the raw table holds it twice', async () => {
    const labels = { __name__: 'test_dup2', k: 'v' };
    const base = T0 + 5 * 3600_000;
    const b = batch([{ labels, ts: base, value: 7 }]);
    await ingest(newIngester(), b);
    // A fresh ingester now checks a series it has not seen against the store, so the duplicate is
    // written below the ingester (as a replica or a foreign writer could), with another token.
    const [m] = mergeBatches([b]);
    await insertSamples(t.store, withLate(m!, m!.late), 'test/raw-duplicate');
    const stored = await t.store.query<{ c: number }>(`SELECT count() AS c FROM tidemark_test.samples WHERE series_id = ${seriesId(labels)}`);
    expect(stored[0]!.c).toBe(2);
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_dup2', matchers: [], fn: 'count', by: [], start: base / 1000, end: base / 1000 + 60, step: 15 });
    expect(r.series[0]!.points[0]![1]).toBe(1);
  });

  it('drops a replayed delivery (same token) in samples and rollups', async () => {
    const labels = { __name__: 'test_replay', k: 'v' };
    const base = T0 + 6 * 3600_000;
    const b = batch([
      { labels, ts: base, value: 1 },
      { labels, ts: base + 1000, value: 2 },
      { labels, ts: base + 2000, value: 3 },
    ]);
    await ingest(newIngester(), b, 'kafka/metrics/0/10-12');
    await rollUp(t.store, { all: true });
    await ingest(newIngester(), b, 'kafka/metrics/0/10-12');
    await rollUp(t.store, { all: true });
    const stored = await t.store.query<{ c: number }>(`SELECT count() AS c FROM tidemark_test.samples WHERE series_id = ${seriesId(labels)}`);
    expect(stored[0]!.c).toBe(3);
    const r = await runRangeQuery(t.store, 'default', { metric: 'test_replay', matchers: [], fn: 'count', by: [], start: base / 1000, end: base / 1000 + 60, step: 60 });
    expect(r.series[0]!.points[0]![1]).toBe(3);
  });
});
