// What the ingester writes and asks: series definitions and samples as
// Native blocks (with the delivery's deduplication token), the late samples
// the store already holds, and dead letters for what the store refuses.
import type { SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import { storeErrorName } from './store-errors.ts';
import { splitByDay, type LateSample, type MergedSamples } from './sample-merge.ts';

/** Series ids per store lookup: keeps each query's text (the inlined id list) near 400 KB. */
const IDS_PER_LOOKUP = 20_000;

/** The late samples whose (series, ts) the store does not hold yet. Reads by primary key: series ids and a time range. */
export async function unseenLateSamples(store: Store, tenant: string, late: readonly LateSample[]): Promise<LateSample[]> {
  if (late.length === 0) return [];
  const ids = [...new Set(late.map((l) => l.id))];
  let min = Infinity;
  let max = -Infinity;
  for (const l of late) {
    if (l.ts < min) min = l.ts;
    if (l.ts > max) max = l.ts;
  }
  const stored = new Set<string>();
  for (let i = 0; i < ids.length; i += IDS_PER_LOOKUP) {
    const chunk = ids.slice(i, i + IDS_PER_LOOKUP);
    const rows = await store.query<{ k: string }>(
      `SELECT concat(toString(series_id), ':', toString(toUnixTimestamp64Milli(ts))) AS k FROM ${store.table('samples')}
       WHERE tenant = {tenant:String} AND series_id IN (${chunk.join(',')})
         AND ts >= fromUnixTimestamp64Milli({min:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({max:Int64}, 'UTC')`,
      // The ids are our own bigints, safe to inline; the tenant goes as a parameter.
      { tenant, min: Math.floor(min), max: Math.ceil(max) },
      { max_query_size: String(1 << 22) },
    );
    for (const r of rows) stored.add(r.k);
  }
  if (stored.size === 0) return late as LateSample[];
  return late.filter((l) => !stored.has(`${l.id}:${l.ts}`));
}

/**
 * The newest sample time (ms) in the raw table, -Infinity when it is empty. Answered from the parts'
 * min/max index of the partition key's column (ts), so it costs no read of the samples.
 */
export async function newestStored(store: Store): Promise<number> {
  const rows = await store.query<{ n: number; ms: number }>(
    `SELECT count() AS n, toInt64(toUnixTimestamp64Milli(max(ts))) AS ms FROM ${store.table('samples')}`,
  );
  const r = rows[0];
  return !r || Number(r.n) === 0 ? -Infinity : Number(r.ms);
}

/** Writes series definitions as one Native block (JSON rows measured ten times slower for a fleet's first scrape). */
export async function insertSeries(store: Store, tenant: string, series: readonly SeriesDefinition[]): Promise<void> {
  if (series.length === 0) return;
  const seen = new Set<bigint>();
  const ids: bigint[] = [];
  const metrics: string[] = [];
  const keys: string[][] = [];
  const values: string[][] = [];
  for (const s of series) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    ids.push(s.id);
    metrics.push(s.labels['__name__'] ?? '');
    const k = Object.keys(s.labels);
    keys.push(k);
    values.push(k.map((name) => s.labels[name]!));
  }
  await store.insertNative(
    'series',
    'tenant, metric, series_id, labels',
    '{tenant:String}, metric, series_id, mapFromArrays(keys, vals)',
    [
      { name: 'metric', type: 'String', data: metrics },
      { name: 'series_id', type: 'UInt64', data: BigUint64Array.from(ids) },
      { name: 'keys', type: 'Array(String)', data: keys },
      { name: 'vals', type: 'Array(String)', data: values },
    ],
    ids.length,
    undefined,
    { tenant },
  );
}

/** Inserts samples with the delivery's token, cut by day so that no partition limit is hit (each part with its own token). */
export async function insertSamples(store: Store, merged: MergedSamples, token: string): Promise<void> {
  const parts = splitByDay(merged);
  for (let i = 0; i < parts.length; i++) await insertSamplesBlock(store, parts[i]!, parts.length === 1 ? token : `${token}/d${i}`);
}

async function insertSamplesBlock(store: Store, merged: MergedSamples, token: string): Promise<void> {
  await store.insertNative(
    'samples',
    'tenant, series_id, ts, value',
    `{tenant:String}, series_id, fromUnixTimestamp64Milli(toInt64(ts), 'UTC'), value`,
    [
      { name: 'series_id', type: 'UInt64', data: merged.seriesIds },
      { name: 'ts', type: 'Float64', data: merged.timestamps },
      { name: 'value', type: 'Float64', data: merged.values },
    ],
    merged.length,
    {
      insert_deduplicate: 1,
      insert_deduplication_token: `${token}/${merged.tenant}`,
      // One block per insert: the deduplication token then covers the whole insert.
      max_insert_block_size: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_rows: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_bytes: '0',
    },
    { tenant: merged.tenant },
  );
}

/** Why the store refused a payload for good, as the dead-letter table keeps it. */
export interface DeadLetter {
  tenant: string;
  token: string;
  reason: string;
  error: string;
  samples: number;
  /** The payload's first series: its id, and its labels when the payload defines it. */
  seriesId: bigint;
  labels: Record<string, string>;
}

/** The dead-letter row for a refused payload (pure). */
export function deadLetterOf(batch: SampleBatch, token: string, err: unknown): DeadLetter {
  const first = batch.length > 0 ? batch.seriesIds[0]! : (batch.series[0]?.id ?? 0n);
  const def = batch.series.find((d) => d.id === first) ?? batch.series[0];
  return {
    tenant: batch.tenant,
    token,
    reason: ((err as Error)?.message ?? String(err)).slice(0, 2000),
    error: storeErrorName(err),
    samples: batch.length,
    seriesId: first,
    labels: { ...(def?.labels ?? {}) },
  };
}

export async function insertDeadLetter(store: Store, d: DeadLetter): Promise<void> {
  await store.insertRows('ingest_dead_letters', [
    { tenant: d.tenant, token: d.token, reason: d.reason, error: d.error, samples: d.samples, series_id: d.seriesId.toString(), labels: d.labels },
  ]);
}
