// Samples as ClickHouse sends them in RowBinary — one row per series:
// series_id UInt64, then its times (ms) and values as Array(Float64), in
// time order — turned into SeriesData: each array is one byte copy into
// a Float64Array, no text and no per-sample objects. A (series, time)
// stored twice before a ReplacingMergeTree merge appears twice in a row
// and is kept once; staleness markers are recognised by their bit pattern
// (read as bits: a NaN's payload does not survive every float path).
import { endianness } from 'node:os';
import type { Labels } from './ast.ts';
import type { SeriesData } from './evaluate.ts';

/** Prometheus' staleness marker, 0x7ff0000000000002, as its two little-endian 32-bit halves. */
const STALE_LO = 2;
const STALE_HI = 0x7ff00000;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface DecodedRows {
  series: SeriesData[];
  /** Samples received, duplicates and staleness markers included (what the sample budget counts). */
  rows: number;
}

class Reader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new Error(`sample rows: truncated at byte ${this.pos} of ${this.bytes.length}`);
  }

  /** The series id as decimal text (it is 64-bit). */
  id(): string {
    this.need(8);
    const b = this.bytes;
    const p = this.pos;
    const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
    const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
    this.pos += 8;
    return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  /** An Array(Float64): LEB128 length, then the raw little-endian values. */
  float64s(): Float64Array {
    let n = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const byte = this.bytes[this.pos++]!;
      n += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
      shift += 7;
    }
    this.need(n * 8);
    const out = new Float64Array(n);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.pos, this.pos + n * 8));
    this.pos += n * 8;
    return out;
  }
}

function sortByTime(t: Float64Array, v: Float64Array, stale: Uint8Array): [Float64Array, Float64Array, Uint8Array] {
  const order = Array.from(t.keys()).sort((a, b) => t[a]! - t[b]!);
  const st = new Float64Array(t.length);
  const sv = new Float64Array(t.length);
  const ss = new Uint8Array(t.length);
  order.forEach((from, to) => {
    st[to] = t[from]!;
    sv[to] = v[from]!;
    ss[to] = stale[from]!;
  });
  return [st, sv, ss];
}

/**
 * Decodes the RowBinary rows of `sampleRowsSql`. `labels` maps a series id
 * (decimal text) to its label set; a series not in it is skipped (stored
 * after the selection ran). Series without samples are absent.
 */
export function decodeSampleRows(bytes: Uint8Array, labels: ReadonlyMap<string, Labels>): DecodedRows {
  if (!LITTLE_ENDIAN) throw new Error('sample rows: a big-endian host cannot view RowBinary floats as typed arrays');
  const reader = new Reader(bytes);
  const series: SeriesData[] = [];
  let rows = 0;
  while (!reader.done) {
    const metric = labels.get(reader.id());
    let t = reader.float64s();
    let v = reader.float64s();
    if (t.length !== v.length) throw new Error(`sample rows: ${t.length} times but ${v.length} values`);
    rows += t.length;
    if (!metric || t.length === 0) continue;
    // Staleness markers first, from the bits as they arrived (a copy through a JS number may not keep a NaN's payload).
    const bits = new Uint32Array(v.buffer, v.byteOffset, v.length * 2);
    let stale: Uint8Array = new Uint8Array(t.length);
    let staleCount = 0;
    for (let i = 0; i < v.length; i++) {
      if (bits[i * 2] === STALE_LO && bits[i * 2 + 1] === STALE_HI) {
        stale[i] = 1;
        staleCount++;
      }
    }
    // sampleRowsSql sorts; the decoder does not rely on it (an unsorted series costs a stable sort here).
    let sorted = true;
    for (let i = 1; i < t.length && sorted; i++) if (t[i]! < t[i - 1]!) sorted = false;
    if (!sorted) [t, v, stale] = sortByTime(t, v, stale);
    // Duplicates are adjacent once sorted: keep the first of each run.
    let dups = 0;
    for (let i = 1; i < t.length; i++) if (t[i] === t[i - 1]) dups++;
    if (dups > 0) {
      const ut = new Float64Array(t.length - dups);
      const uv = new Float64Array(t.length - dups);
      const us = new Uint8Array(t.length - dups);
      staleCount = 0;
      let j = 0;
      for (let i = 0; i < t.length; i++) {
        if (i > 0 && t[i] === t[i - 1]) continue;
        ut[j] = t[i]!;
        uv[j] = v[i]!;
        staleCount += us[j++] = stale[i]!;
      }
      t = ut;
      v = uv;
      stale = us;
    }
    let clean = { t, v };
    if (staleCount > 0) {
      const ct = new Float64Array(t.length - staleCount);
      const cv = new Float64Array(t.length - staleCount);
      let c = 0;
      for (let i = 0; i < t.length; i++) {
        if (stale[i]) continue;
        ct[c] = t[i]!;
        cv[c++] = v[i]!;
      }
      clean = { t: ct, v: cv };
    }
    series.push({ metric, t, v, stale, clean });
  }
  return { series, rows };
}
