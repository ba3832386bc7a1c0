import { describe, expect, it } from 'vitest';
import { decodeSampleRows, ROW_BYTES } from './sample-rows.ts';

const STALE_BITS = 0x7ff0000000000002n;

/** RowBinary rows (series_id UInt64, t Int64, value Float64 or raw bits), placed at `offset` in a larger buffer. */
function rows(list: [bigint, number, number | bigint][], offset = 0): Uint8Array {
  const buf = Buffer.alloc(offset + list.length * ROW_BYTES);
  list.forEach(([id, t, v], i) => {
    const o = offset + i * ROW_BYTES;
    buf.writeBigUInt64LE(id, o);
    buf.writeBigInt64LE(BigInt(t), o + 8);
    if (typeof v === 'bigint') buf.writeBigUInt64LE(v, o + 16);
    else buf.writeDoubleLE(v, o + 16);
  });
  return buf.subarray(offset);
}

describe('decodeSampleRows', () => {
  const big = 18446744073709551557n;
  const labels = new Map([
    [String(big), { __name__: 'a', job: 'x' }],
    ['7', { __name__: 'a', job: 'y' }],
  ]);

  it('splits rows by series, keeps a duplicate (series, time) once and flags staleness markers by their bits', () => {
    const bytes = rows(
      [
        [7n, 1000, 1],
        [7n, 1000, 1],
        [7n, 2000, STALE_BITS],
        [7n, 3000, NaN],
        [big, -5000, 2.5],
        [big, 1_700_000_000_123, Infinity],
      ],
      3,
    );
    expect(bytes.byteOffset % 8).not.toBe(0);
    const { series, rows: n } = decodeSampleRows(bytes, labels);
    expect(n).toBe(6);
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

  it('skips rows of a series the selection did not return, and refuses a partial row', () => {
    expect(decodeSampleRows(rows([[8n, 1, 1], [7n, 1, 1]]), labels).series.map((s) => s.metric['job'])).toEqual(['y']);
    expect(() => decodeSampleRows(new Uint8Array(25), labels)).toThrow(/whole number/);
    expect(decodeSampleRows(new Uint8Array(0), labels)).toEqual({ series: [], rows: 0 });
  });
});
