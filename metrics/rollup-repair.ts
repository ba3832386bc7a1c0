// Repairs the rollups of samples the raw table holds but the rollups do not.
// An insert writes the raw part first and its materialized views' parts
// after; a process killed in between (kill -9 mid-insert) leaves samples in
// the raw table that no rollup counts. Their request got no 2xx, so the
// client sends them again; the ingester then finds them in the raw table and
// would drop them as duplicates, leaving the rollups short for good. So for
// samples found already stored, the (series, minute) and (series, hour)
// buckets whose rollup count differs from the raw table's distinct samples
// are rebuilt from the raw table: their rollup rows deleted, then inserted
// again from the raw rows (each (series, ts) once).
import type { Store } from '../core/store.ts';
import { NOT_STALE } from './schema.ts';
import type { LateSample } from './sample-merge.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

interface Rollup {
  table: 'samples_1m' | 'samples_1h';
  bucketMs: number;
  fn: 'toStartOfMinute' | 'toStartOfHour';
  values: boolean;
}

const ROLLUPS: Rollup[] = [
  { table: 'samples_1m', bucketMs: MINUTE_MS, fn: 'toStartOfMinute', values: true },
  { table: 'samples_1h', bucketMs: HOUR_MS, fn: 'toStartOfHour', values: false },
];

/** The (series, bucket start in ms) keys of these samples for a bucket width (pure). */
export function bucketsOf(samples: readonly LateSample[], bucketMs: number): Map<string, { id: bigint; startMs: number }> {
  const out = new Map<string, { id: bigint; startMs: number }>();
  for (const s of samples) {
    const startMs = Math.floor(s.ts / bucketMs) * bucketMs;
    out.set(`${s.id}:${startMs}`, { id: s.id, startMs });
  }
  return out;
}

/** Rebuilds the rollup buckets of `found` (samples already in the raw table) whose counts disagree with it. Returns the buckets rebuilt. */
export async function repairRollups(store: Store, tenant: string, found: readonly LateSample[]): Promise<number> {
  // On a cluster the rollups are Distributed tables over shards; a repair there is not done here.
  if (found.length === 0 || store.options.cluster) return 0;
  let rebuilt = 0;
  for (const r of ROLLUPS) {
    const buckets = bucketsOf(found, r.bucketMs);
    const ids = [...new Set([...buckets.values()].map((b) => b.id))].join(',');
    let min = Infinity;
    let max = -Infinity;
    for (const b of buckets.values()) {
      min = Math.min(min, b.startMs);
      max = Math.max(max, b.startMs);
    }
    const range = { tenant, min, max: max + r.bucketMs };
    const rows = await store.query<{ id: string; start: number }>(
      `SELECT toString(series_id) AS id, toUnixTimestamp(bucket) * 1000 AS start FROM (
         SELECT series_id, ${r.fn}(ts) AS bucket, uniqExactIf(ts, ${NOT_STALE}) AS raw FROM ${store.table('samples')}
         WHERE tenant = {tenant:String} AND series_id IN (${ids})
           AND ts >= fromUnixTimestamp64Milli({min:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({max:Int64}, 'UTC')
         GROUP BY series_id, bucket
       ) AS raw_counts
       LEFT JOIN (
         SELECT series_id, ts AS bucket, sum(count) AS rolled FROM ${store.table(r.table)}
         WHERE tenant = {tenant:String} AND series_id IN (${ids})
           AND ts >= toDateTime(intDiv({min:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({max:Int64}, 1000), 'UTC')
         GROUP BY series_id, bucket
       ) AS rolled_counts USING (series_id, bucket)
       WHERE raw != rolled`,
      range,
      { join_use_nulls: 0, max_query_size: String(1 << 22) },
    );
    const bad = rows.filter((row) => buckets.has(`${row.id}:${row.start}`));
    if (bad.length === 0) continue;
    const keys = bad.map((b) => `(${b.id}, toDateTime(${Math.floor(b.start / 1000)}, 'UTC'))`).join(',');
    await store.command(`DELETE FROM ${store.table(r.table)} WHERE tenant = {tenant:String} AND (series_id, ts) IN (${keys})`, { tenant }, { max_query_size: String(1 << 22) });
    await store.command(
      `INSERT INTO ${store.table(r.table)} (tenant, series_id, ts, sum, count, min, max, first, last${r.values ? ', values' : ''})
       SELECT tenant, series_id, ${r.fn}(sample_ts) AS bucket, sum(value), count(), min(value), max(value),
              min((sample_ts, value)), max((sample_ts, value))${r.values ? ', groupArray(value)' : ''}
       FROM (
         SELECT tenant, series_id, ts AS sample_ts, any(value) AS value FROM ${store.table('samples')}
         WHERE tenant = {tenant:String} AND series_id IN (${ids})
           AND ts >= fromUnixTimestamp64Milli({min:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({max:Int64}, 'UTC')
         GROUP BY tenant, series_id, sample_ts
       )
       WHERE ${NOT_STALE} AND (series_id, ${r.fn}(sample_ts)) IN (${keys})
       GROUP BY tenant, series_id, bucket`,
      range,
      // A rebuild can repeat an earlier one's rows exactly; it must not be dropped as a replay.
      { insert_deduplicate: 0, max_query_size: String(1 << 22) },
    );
    rebuilt += bad.length;
  }
  return rebuilt;
}
