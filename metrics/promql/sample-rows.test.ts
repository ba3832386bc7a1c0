import { describe, expect, it } from 'vitest';
import { decodeSampleRows } from './sample-rows.ts';

const STALE_BITS = 0x7ff0000000000002n;

/** RowBinary rows of sampleRowsSql: series_id UInt64, times Array(Float64), values Array(Float64) (a bigint: raw bits). */
function rows(list: [bigint, number[], (number | bigint)[]][], offset = 0): Uint8Array {
  const parts: Buffer[] = [Buffer.alloc(offset)];
  const array = (xs: (number | bigint)[]) => {
    const lens: number[] = [];
    let n = xs.length;
    do {
      lens.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    const b = Buffer.alloc(lens.length + xs.length * 8);
    b.set(lens);
    xs.forEach((x, i) => (typeof x === 'bigint' ? b.writeBigUInt64LE(x, lens.length + i * 8) : b.writeDoubleLE(x, lens.length + i * 8)));
    return b;
  };
  for (const [id, t, v] of list) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(id);
    parts.push(b, array(t), array(v));
  }
  return Buffer.concat(parts).subarray(offset);
}

describe('decodeSampleRows', () => {
  const big = 18446744073709551557n;
  const labels = new Map([
    [String(big), { __name__: 'a', job: 'x' }],
    ['7', { __name__: 'a', job: 'y' }],
  ]);

  it('reads each series’ arrays, keeps a duplicate (series, time) once and flags staleness markers by their bits', () => {
    const bytes = rows(
      [
        [7n, [1000, 1000, 2000, 2000, 3000], [1, 1, STALE_BITS, STALE_BITS, NaN]],
        [big, [-5000, 1_700_000_000_123], [2.5, Infinity]],
      ],
      3,
    );
    const { series, rows: n } = decodeSampleRows(bytes, labels);
    expect(n).toBe(7);
    expect(series).toHaveLength(2);
    const [y, x] = series;
    expect(y!.metric).toEqual({ __name__: 'a', job: 'y' });
    expect([...y!.t]).toEqual([1000, 2000, 3000]);
    expect([...y!.stale]).toEqual([0, 1, 0]);
    expect([...y!.clean.t]).toEqual([1000, 3000]);
    expect(y!.clean.v[0]).toBe(1);
    expect(y!.clean.v[1]).toBeNaN();
    expect(x!.metric).toEqual({ __name__: 'a', job: 'x' });
    expect([...x!.t]).toEqual([-5000, 1_700_000_000_123]);
    expect([...x!.v]).toEqual([2.5, Infinity]);
    expect(x!.clean.t).toBe(x!.t);
  });

  it('sorts a series whose parts arrived out of order, markers and duplicates with their samples', () => {
    const { series } = decodeSampleRows(rows([[7n, [3000, 4000, 1000, 2000, 2000], [3, STALE_BITS, 1, 2, 2]]]), labels);
    expect([...series[0]!.t]).toEqual([1000, 2000, 3000, 4000]);
    expect([...series[0]!.stale]).toEqual([0, 0, 0, 1]);
    expect([...series[0]!.clean.v]).toEqual([1, 2, 3]);
  });

  it('reads arrays longer than one length byte', () => {
    const t = Array.from({ length: 300 }, (_, i) => i * 15_000);
    const { series } = decodeSampleRows(rows([[7n, t, t.map((x) => x / 2)]]), labels);
    expect(series[0]!.t.length).toBe(300);
    expect(series[0]!.v[299]).toBe(299 * 7_500);
  });

  it('skips a series the selection did not return, and refuses truncated rows', () => {
    expect(decodeSampleRows(rows([[8n, [1], [1]], [7n, [1], [1]]]), labels).series.map((s) => s.metric['job'])).toEqual(['y']);
    const whole = rows([[7n, [1, 2], [1, 2]]]);
    expect(() => decodeSampleRows(whole.subarray(0, whole.length - 3), labels)).toThrow(/truncated/);
    expect(decodeSampleRows(new Uint8Array(0), labels)).toEqual({ series: [], rows: 0 });
  });
});
