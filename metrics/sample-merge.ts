// The pure half of ingesting: a delivery's batches merged into columns per
// tenant, the samples that must be checked against the store held apart,
// and an insert cut by day so no insert spans too many partitions.
import type { SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';

/** Columns of one tenant's samples, merged from several batches. */
export interface MergedSamples {
  tenant: string;
  series: SeriesDefinition[];
  seriesIds: BigUint64Array;
  timestamps: Float64Array;
  values: Float64Array;
  length: number;
}

/** A sample to check against the store before inserting: at or before its series' newest timestamp (out of order, or a duplicate), or of a series not stored since start. */
export interface LateSample {
  id: bigint;
  ts: number;
  value: number;
}

export interface MergeResult extends MergedSamples {
  /** Late samples, held back until checked against the store; within a merge, each (series, ts) once. */
  late: LateSample[];
  /** Samples dropped because this merge already held that (series, ts). */
  duplicates: number;
}

/**
 * Merges batches per tenant. A sample newer than anything stored for its
 * series since start goes straight in; an older or equal one, or any sample
 * of a series not in `newest` (a previous life may have stored it), is held
 * back as late so the caller can drop it if the store already has that
 * (series, ts): the rollups then never count a duplicate. Pure but for the
 * `newest` map it advances.
 */
export function mergeBatches(batches: readonly SampleBatch[], newest: Map<bigint, number>): MergeResult[] {
  const byTenant = new Map<string, SampleBatch[]>();
  for (const b of batches) {
    const list = byTenant.get(b.tenant);
    if (list) list.push(b);
    else byTenant.set(b.tenant, [b]);
  }
  const out: MergeResult[] = [];
  for (const [tenant, list] of byTenant) {
    let total = 0;
    for (const b of list) total += b.length;
    const seriesIds = new BigUint64Array(total);
    const timestamps = new Float64Array(total);
    const values = new Float64Array(total);
    const series: SeriesDefinition[] = [];
    const late: LateSample[] = [];
    const lateKeys = new Set<string>();
    let n = 0;
    let duplicates = 0;
    /** Series not in `newest` when this merge began: every sample of theirs is checked; their newest is set at the end. */
    const unseen = new Map<bigint, number>();
    for (const b of list) {
      for (const d of b.series) series.push(d);
      const ids = b.seriesIds;
      const ts = b.timestamps;
      const vs = b.values;
      for (let i = 0; i < b.length; i++) {
        const id = ids[i]!;
        const t = ts[i]!;
        const last = newest.get(id);
        if (last === undefined) {
          unseen.set(id, Math.max(unseen.get(id) ?? -Infinity, t));
        } else if (t > last) {
          newest.set(id, t);
          seriesIds[n] = id;
          timestamps[n] = t;
          values[n] = vs[i]!;
          n++;
          continue;
        }
        const key = `${id}:${t}`;
        if (lateKeys.has(key)) {
          duplicates++;
          continue;
        }
        lateKeys.add(key);
        late.push({ id, ts: t, value: vs[i]! });
      }
    }
    for (const [id, t] of unseen) newest.set(id, t);
    out.push({ tenant, series, seriesIds: seriesIds.subarray(0, n), timestamps: timestamps.subarray(0, n), values: values.subarray(0, n), length: n, late, duplicates });
  }
  return out;
}

/** The merged columns with the late samples that survived appended. */
export function withLate(merged: MergedSamples, late: readonly LateSample[]): MergedSamples {
  if (late.length === 0) return merged;
  const n = merged.length + late.length;
  const seriesIds = new BigUint64Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  seriesIds.set(merged.seriesIds);
  timestamps.set(merged.timestamps);
  values.set(merged.values);
  late.forEach((l, i) => {
    seriesIds[merged.length + i] = l.id;
    timestamps[merged.length + i] = l.ts;
    values[merged.length + i] = l.value;
  });
  return { ...merged, seriesIds, timestamps, values, length: n };
}

const DAY_MS = 86_400_000;

/**
 * Most days (raw partitions, `toDate(ts)`) in one insert: ClickHouse refuses
 * an insert block spanning more than max_partitions_per_insert_block (100)
 * partitions. The rollups are partitioned by month, so they stay far below.
 */
export const MAX_DAYS_PER_INSERT = 50;

/** The merged samples cut into parts of at most `maxDays` distinct days each (one part, as it is, when it spans no more). */
export function splitByDay(merged: MergedSamples, maxDays = MAX_DAYS_PER_INSERT): MergedSamples[] {
  const dayOf = (t: number): number => Math.floor(t / DAY_MS);
  const days = new Set<number>();
  for (let i = 0; i < merged.length; i++) days.add(dayOf(merged.timestamps[i]!));
  if (days.size <= maxDays) return [merged];
  const sorted = [...days].sort((a, b) => a - b);
  const group = new Map<number, number>();
  sorted.forEach((d, i) => group.set(d, Math.floor(i / maxDays)));
  const groups = Math.ceil(sorted.length / maxDays);
  const sizes = new Array<number>(groups).fill(0);
  for (let i = 0; i < merged.length; i++) sizes[group.get(dayOf(merged.timestamps[i]!))!]!++;
  const parts = sizes.map((n) => ({ ...merged, seriesIds: new BigUint64Array(n), timestamps: new Float64Array(n), values: new Float64Array(n), length: 0 }));
  for (let i = 0; i < merged.length; i++) {
    const p = parts[group.get(dayOf(merged.timestamps[i]!))!]!;
    p.seriesIds[p.length] = merged.seriesIds[i]!;
    p.timestamps[p.length] = merged.timestamps[i]!;
    p.values[p.length] = merged.values[i]!;
    p.length++;
  }
  return parts;
}
