// Samples as ClickHouse sends them in RowBinary — rows of (series_id
// UInt64, time Int64 ms, value Float64), 24 bytes each, ordered by series
// and time — turned into SeriesData in one pass over typed-array views of
// the bytes: no text, no per-sample objects. A (series, time) stored twice
// before a ReplacingMergeTree merge arrives twice in a row and is kept
// once; staleness markers are recognised by their bit pattern (read as
// bits: a NaN's payload does not survive every float path).
import { endianness } from 'node:os';
import type { Labels } from './ast.ts';
import type { SeriesData } from './evaluate.ts';

export const ROW_BYTES = 24;
/** Prometheus' staleness marker, 0x7ff0000000000002, as its two little-endian 32-bit halves. */
const STALE_LO = 2;
const STALE_HI = 0x7ff00000;
const LITTLE_ENDIAN = endianness() === 'LE';

/** The rows' bytes 8-aligned (a Float64Array cannot view them otherwise). */
function aligned(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset % 8 === 0) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

/** The series id of row i, as the decimal text the series selection gave it. */
function idText(u32: Uint32Array, i: number): string {
  return ((BigInt(u32[i * 6 + 1]!) << 32n) | BigInt(u32[i * 6]!)).toString();
}

export interface DecodedRows {
  series: SeriesData[];
  /** Rows received, duplicates and staleness markers included (what the sample budget counts). */
  rows: number;
}

/**
 * Decodes RowBinary sample rows. `labels` maps a series id (decimal text) to
 * its label set; rows of a series not in it are skipped (a series stored
 * after the selection ran). Series with no rows are absent.
 */
export function decodeSampleRows(bytes: Uint8Array, labels: ReadonlyMap<string, Labels>): DecodedRows {
  if (bytes.length % ROW_BYTES !== 0) throw new Error(`sample rows: ${bytes.length} bytes is not a whole number of ${ROW_BYTES}-byte rows`);
  if (!LITTLE_ENDIAN) throw new Error('sample rows: a big-endian host cannot view RowBinary as typed arrays');
  const rows = bytes.length / ROW_BYTES;
  const buf = aligned(bytes);
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, rows * 6);
  const i32 = new Int32Array(buf.buffer, buf.byteOffset, rows * 6);
  const f64 = new Float64Array(buf.buffer, buf.byteOffset, rows * 3);
  // One allocation for every series' times, values and stale flags; each series views its part.
  const T = new Float64Array(rows);
  const V = new Float64Array(rows);
  const S = new Uint8Array(rows);
  const series: SeriesData[] = [];
  let j = 0;
  let i = 0;
  while (i < rows) {
    const idLo = u32[i * 6]!;
    const idHi = u32[i * 6 + 1]!;
    const metric = labels.get(idText(u32, i));
    const begin = j;
    let staleCount = 0;
    let prevT = NaN;
    for (; i < rows && u32[i * 6] === idLo && u32[i * 6 + 1] === idHi; i++) {
      const t = i32[i * 6 + 3]! * 4294967296 + u32[i * 6 + 2]!;
      if (t === prevT || !metric) continue;
      prevT = t;
      T[j] = t;
      V[j] = f64[i * 3 + 2]!;
      if (u32[i * 6 + 4] === STALE_LO && u32[i * 6 + 5] === STALE_HI) {
        S[j] = 1;
        staleCount++;
      }
      j++;
    }
    if (!metric || j === begin) continue;
    const t = T.subarray(begin, j);
    const v = V.subarray(begin, j);
    const stale = S.subarray(begin, j);
    let clean = { t, v };
    if (staleCount > 0) {
      const ct = new Float64Array(t.length - staleCount);
      const cv = new Float64Array(t.length - staleCount);
      let c = 0;
      for (let k = 0; k < t.length; k++) {
        if (stale[k]) continue;
        ct[c] = t[k]!;
        cv[c++] = v[k]!;
      }
      clean = { t: ct, v: cv };
    }
    series.push({ metric, t, v, stale, clean });
  }
  return { series, rows };
}
