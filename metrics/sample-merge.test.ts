// The pure merge: the newest-time table against a Map, the start bound
// that lets a new series' samples skip the store check, and duplicates
// inside one merge.
import { describe, expect, it } from 'vitest';
import { mergeBatches, NewestTimes } from './sample-merge.ts';
import { mulberry32 } from '../core/hashing.ts';
import type { SampleBatch } from '../core/bus/samples.ts';

function batch(samples: [bigint, number][], tenant = 't'): SampleBatch {
  return {
    tenant,
    series: [],
    seriesIds: BigUint64Array.from(samples.map(([id]) => id)),
    timestamps: Float64Array.from(samples.map(([, ts]) => ts)),
    values: Float64Array.from(samples.map(([, ts]) => ts / 1000)),
    length: samples.length,
  } as unknown as SampleBatch;
}

describe('NewestTimes', () => {
  it('answers as a Map<bigint, number> would, through growth and ids sharing a low or high half', () => {
    const random = mulberry32(7);
    const table = new NewestTimes(4);
    const map = new Map<bigint, number>();
    const word = () => BigInt(Math.floor(random() * 2 ** 32));
    const ids: bigint[] = [];
    for (let i = 0; i < 5000; i++) ids.push((word() << 32n) | word());
    // Same low half, different high half; and the reverse.
    for (let i = 0; i < 50; i++) ids.push((BigInt(i) << 32n) | 12345n, (777n << 32n) | BigInt(i));
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        const ts = Math.floor(random() * 1e12);
        const lo = Number(id & 0xffffffffn);
        const hi = Number(id >> 32n);
        table.set(lo, hi, ts);
        map.set(id, ts);
      }
    }
    expect(table.size).toBe(map.size);
    for (const [id, ts] of map) expect(table.getId(id)).toBe(ts);
    expect(Number.isNaN(table.getId(1n))).toBe(true);
    table.clear();
    expect(table.size).toBe(0);
    expect(Number.isNaN(table.getId(ids[0]!))).toBe(true);
  });
});

describe('mergeBatches', () => {
  it("checks a new series' samples only up to what the store held at start", () => {
    const newest = new NewestTimes();
    const [m] = mergeBatches([batch([[1n, 1000], [1n, 2000], [2n, 3000], [2n, 500]])], newest, 2000);
    // Series 1 at 1000 and 2000 (at the bound) and series 2 at 500 are held back; 3000 goes in.
    expect(m!.late.map((l) => [l.id, l.ts])).toEqual([[1n, 1000], [1n, 2000], [2n, 500]]);
    expect([...m!.seriesIds]).toEqual([2n]);
    expect([...m!.timestamps]).toEqual([3000]);
    expect(newest.getId(1n)).toBe(2000);
    expect(newest.getId(2n)).toBe(3000);
    // Without a bound (the default) every sample of an unknown series is checked.
    expect(mergeBatches([batch([[3n, 5000]])])[0]!.late).toHaveLength(1);
    // An empty store at start: nothing of a new series is checked.
    expect(mergeBatches([batch([[4n, 5000]])], new NewestTimes(), -Infinity)[0]!.late).toHaveLength(0);
  });

  it('drops a sample repeated within one merge once, whether it went straight in or was held back', () => {
    const [m] = mergeBatches([batch([[1n, 1000], [1n, 2000]]), batch([[1n, 2000], [1n, 1000], [5n, 10], [5n, 10]])], new NewestTimes(), 0);
    expect(m!.length + m!.late.length).toBe(3);
    expect(m!.duplicates).toBe(3);
  });
});
