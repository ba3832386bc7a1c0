// The ingester against a real embedded store: a delivery spanning many days
// is stored (no partition limit), a restarted ingester does not store twice
// what a previous life stored, and a payload the store refuses for good is
// dead-lettered while the rest of its delivery is stored (the HTTP side is
// test/ingest-poison-http.test.ts: chDB opens one data directory per process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTestStore, sampleBatch, type TestStore } from './helpers/store.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { splitByDay, mergeBatches, withLate, MAX_DAYS_PER_INSERT } from '../metrics/sample-merge.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { seriesId } from '../metrics/series.ts';
import { silentLogger } from '../core/log.ts';
import type { Store } from '../core/store.ts';
import { rollUp } from '../metrics/rollups.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

let t: TestStore;
const registry = new Registry();
const metrics = ingesterMetrics(registry, new MemoryBus({ capacity: 10, maxDelivery: 10 }));
const newIngester = () => new Ingester(t.store, metrics, silentLogger);

async function counts(store: Store, name: string, roll = true): Promise<{ raw: number; distinct: number; m1: number; h1: number }> {
  // The rollups as the roll-up loop leaves them once it has caught up.
  if (roll) await rollUp(store, { all: true });
  const id = seriesId({ __name__: name });
  const [r] = await store.query<{ raw: number; distinct: number }>(`SELECT count() AS raw, uniqExact(series_id, ts) AS distinct FROM tidemark_test.samples WHERE series_id = ${id}`);
  const [m1] = await store.query<{ c: number }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1m WHERE series_id = ${id}`);
  const [h1] = await store.query<{ c: number }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1h WHERE series_id = ${id}`);
  return { raw: r!.raw, distinct: r!.distinct, m1: Number(m1!.c), h1: Number(h1!.c) };
}

const points = (name: string, n: number, stepMs: number, from = T0) => Array.from({ length: n }, (_, i) => ({ labels: { __name__: name }, ts: from + i * stepMs, value: i }));

beforeAll(async () => {
  t = await openTestStore();
  // The dead-letter table (metrics migration 2) along with the rest.
  await migrate(t.store, schemaContext(t.store, { rawRetentionDays: 3650, rollupRetentionDays: 3650 }), metricsMigrations);
  await t.store.command('SYSTEM STOP MERGES tidemark_test.samples');
});
afterAll(async () => {
  await t.close();
});

describe('the ingester against the store', () => {
  it('stores one payload spanning 120 days (more partitions than one insert may touch), each sample once', async () => {
    const b = sampleBatch(points('span_days', 120, DAY));
    const outcome = await newIngester().handle({ topic: 'metrics', payloads: [b], token: 'days/1' });
    expect(outcome?.rejected?.size ?? 0).toBe(0);
    expect(await counts(t.store, 'span_days')).toEqual({ raw: 120, distinct: 120, m1: 120, h1: 120 });
  });

  it('splits by day only past the limit', () => {
    const [m] = mergeBatches([sampleBatch(points('split', 120, DAY))]);
    const all = withLate(m!, m!.late);
    const parts = splitByDay(all);
    expect(parts.map((p) => p.length)).toEqual([MAX_DAYS_PER_INSERT, MAX_DAYS_PER_INSERT, 120 - 2 * MAX_DAYS_PER_INSERT]);
    expect(splitByDay({ ...all, timestamps: all.timestamps.map((_, i) => T0 + i), length: 120 })).toHaveLength(1);
  });

  it('a restarted ingester given what a previous life stored, under a new token, stores nothing again (raw and rollups)', async () => {
    const b = sampleBatch(points('restart_resend', 300, 1000));
    await newIngester().handle({ topic: 'metrics', payloads: [b], token: 'life1/0' });
    const before = await counts(t.store, 'restart_resend');
    expect(before).toEqual({ raw: 300, distinct: 300, m1: 300, h1: 300 });
    // The process died after the insert, before answering: the client sends the same samples again to a new life.
    const again = newIngester();
    await again.handle({ topic: 'metrics', payloads: [b], token: 'life2/0' });
    expect(await counts(t.store, 'restart_resend')).toEqual(before);
    // New samples of that series after the resend are stored as usual.
    await again.handle({ topic: 'metrics', payloads: [sampleBatch(points('restart_resend', 10, 1000, T0 + 300_000))], token: 'life2/1' });
    expect(await counts(t.store, 'restart_resend')).toEqual({ raw: 310, distinct: 310, m1: 310, h1: 310 });
  });

  it('a re-sent request whose first insert reached the raw table but not the rollups (killed before they were rolled) gets its rollups rebuilt', async () => {
    const name = 'partial_commit';
    const id = seriesId({ __name__: name });
    // 150 samples over 3 minutes; a neighbour series' rollups must stay as they are.
    const b = sampleBatch([...points(name, 150, 1200), ...points('partial_neighbour', 30, 6000)]);
    await newIngester().handle({ topic: 'metrics', payloads: [b], token: 'partial/1' });
    await rollUp(t.store, { all: true });
    // Rollups short of what the raw table holds (as the per-insert views left them when a process died between
    // the raw part and the views' parts, before this store moved to the roll-up loop).
    for (const table of ['samples_1m', 'samples_1h']) await t.store.command(`DELETE FROM tidemark_test.${table} WHERE series_id = ${id}`);
    expect(await counts(t.store, name, false)).toEqual({ raw: 150, distinct: 150, m1: 0, h1: 0 });
    await newIngester().handle({ topic: 'metrics', payloads: [b], token: 'partial/resend' });
    expect(await counts(t.store, name)).toEqual({ raw: 150, distinct: 150, m1: 150, h1: 150 });
    expect(await counts(t.store, 'partial_neighbour')).toEqual({ raw: 30, distinct: 30, m1: 30, h1: 30 });
    const [sums] = await t.store.query<{ s: number; n: number }>(`SELECT sum(sum) AS s, sum(length(values)) AS n FROM tidemark_test.samples_1m WHERE series_id = ${id}`);
    expect(sums).toEqual({ s: (149 * 150) / 2, n: 150 });
    // Sent a third time: nothing to repair, nothing counted twice.
    await newIngester().handle({ topic: 'metrics', payloads: [b], token: 'partial/again' });
    expect(await counts(t.store, name)).toEqual({ raw: 150, distinct: 150, m1: 150, h1: 150 });
  });

  it('dead-letters only the payload the store refuses; the rest of the delivery is stored', async () => {
    const poisonId = seriesId({ __name__: 'poisoned' });
    const store = t.store;
    const original = store.insertNative.bind(store);
    // A refusal as ClickHouse reports one that retrying cannot fix (the partition limit of an unsplit insert).
    store.insertNative = async (table, target, select, columns, rows, settings, params) => {
      const ids = columns.find((c) => c.name === 'series_id')?.data as BigUint64Array | undefined;
      if (table === 'samples' && ids && ids.includes(poisonId)) {
        throw Object.assign(new Error('Too many partitions for single INSERT block (more than 100).'), { code: '252', type: 'TOO_MANY_PARTS' });
      }
      return original(table, target, select, columns, rows, settings, params);
    };
    try {
      const deadBefore = (await registry.getSingleMetricAsString('tidemark_ingest_dead_letter_total')).match(/TOO_MANY_PARTS"} (\d+)/)?.[1] ?? '0';
      const outcome = await newIngester().handle({
        topic: 'metrics',
        payloads: [sampleBatch(points('good_a', 5, 1000)), sampleBatch(points('poisoned', 7, 1000)), sampleBatch(points('good_b', 6, 1000))],
        token: 'mixed/1',
      });
      expect([...(outcome?.rejected ?? new Map()).keys()]).toEqual([1]);
      expect(outcome!.rejected!.get(1)).toMatch(/Too many partitions/);
      expect((await counts(t.store, 'good_a')).m1).toBe(5);
      expect((await counts(t.store, 'good_b')).raw).toBe(6);
      expect((await counts(t.store, 'poisoned')).raw).toBe(0);
      const letters = await t.store.query<{ token: string; samples: number; error: string; name: string; reason: string }>(
        `SELECT token, samples, error, labels['__name__'] AS name, reason FROM tidemark_test.ingest_dead_letters WHERE tenant = 'default'`,
      );
      expect(letters).toEqual([{ token: 'mixed/1/p1', samples: 7, error: 'TOO_MANY_PARTS', name: 'poisoned', reason: expect.stringMatching(/partitions/) }]);
      const deadAfter = (await registry.getSingleMetricAsString('tidemark_ingest_dead_letter_total')).match(/TOO_MANY_PARTS"} (\d+)/)?.[1];
      expect(Number(deadAfter)).toBe(Number(deadBefore) + 1);
    } finally {
      store.insertNative = original;
    }
  });

  it('rethrows what retrying can fix, so the bus retries the delivery', async () => {
    const store = t.store;
    const original = store.insertNative.bind(store);
    store.insertNative = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    };
    try {
      await expect(newIngester().handle({ topic: 'metrics', payloads: [sampleBatch(points('away', 2, 1000))], token: 'away/1' })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      store.insertNative = original;
    }
    expect((await counts(t.store, 'away')).raw).toBe(0);
  });
});
