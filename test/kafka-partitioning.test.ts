// The wire partitioning of sample batches (pure; no broker needed).
import { describe, expect, it } from 'vitest';
import { partitionSampleBatch, seriesPartition } from '../core/bus/kafka/partitioning.ts';
import { encodeSampleBatch } from '../core/bus/sample-codec.ts';
import { makeBatch } from './helpers/sample-stream.ts';

describe('partitionSampleBatch', () => {
  it('puts every sample of a series in the partition seriesPartition names, keeping order and values', () => {
    const batch = makeBatch(50, 4, 1_700_000_000_000);
    const parts = partitionSampleBatch(batch, 6, 900 * 1024);
    const seen: { id: bigint; ts: number; value: number }[] = [];
    for (const { partition, batch: part } of parts) {
      for (const def of part.series) expect(seriesPartition(def.id, 6)).toBe(partition);
      for (let i = 0; i < part.length; i++) {
        expect(seriesPartition(part.seriesIds[i]!, 6)).toBe(partition);
        seen.push({ id: part.seriesIds[i]!, ts: part.timestamps[i]!, value: part.values[i]! });
      }
    }
    expect(seen.length).toBe(200);
    expect(parts.reduce((n, p) => n + p.batch.series.length, 0)).toBe(50);
    // Within a series, timestamps keep their order.
    const bySeries = new Map<bigint, number[]>();
    for (const s of seen) bySeries.set(s.id, [...(bySeries.get(s.id) ?? []), s.ts]);
    for (const ts of bySeries.values()) expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(new Set(parts.map((p) => p.partition)).size).toBe(6);
  });

  it('cuts samples and many definitions into messages under the size limit, definitions first', () => {
    const batch = makeBatch(3000, 20, 1_700_000_000_000);
    const limit = 64 * 1024;
    const parts = partitionSampleBatch(batch, 2, limit);
    for (const { batch: part } of parts) expect(encodeSampleBatch(part).length).toBeLessThanOrEqual(limit);
    expect(parts.reduce((n, p) => n + p.batch.length, 0)).toBe(60_000);
    expect(parts.reduce((n, p) => n + p.batch.series.length, 0)).toBe(3000);
    for (const p of [0, 1]) {
      const mine = parts.filter((x) => x.partition === p);
      const lastDefinition = mine.findLastIndex((x) => x.batch.series.length > 0);
      const firstSamples = mine.findIndex((x) => x.batch.length > 0);
      expect(lastDefinition).toBeLessThan(firstSamples);
    }
  });
});
