// The ingester: drains metric deliveries from the bus into the store in
// large binary inserts. Series definitions are written before the samples
// that use them; each insert carries the delivery's token so that a replayed
// delivery (a crash between insert and acknowledgement) is not stored twice.
import { Counter, Histogram, Gauge, type Registry } from 'prom-client';
import type { Bus, Delivery } from '../core/bus/bus.ts';
import type { SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';

export interface IngesterMetrics {
  samples: Counter;
  duplicates: Counter;
  batchSize: Histogram;
  insertSeconds: Histogram;
  errors: Counter;
  busDepth: Gauge;
}

export function ingesterMetrics(registry: Registry, bus: Bus): IngesterMetrics {
  return {
    samples: new Counter({ name: 'tidemark_ingest_samples_total', help: 'Samples inserted into the store.', registers: [registry] }),
    duplicates: new Counter({ name: 'tidemark_ingest_duplicate_samples_total', help: 'Samples dropped because their series already had a sample at that timestamp.', registers: [registry] }),
    batchSize: new Histogram({
      name: 'tidemark_ingest_batch_samples',
      help: 'Samples per insert.',
      buckets: [100, 1_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'tidemark_ingest_insert_seconds',
      help: 'Latency of one insert into the store.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    errors: new Counter({ name: 'tidemark_ingest_errors_total', help: 'Failed inserts (retried).', registers: [registry] }),
    busDepth: new Gauge({
      name: 'tidemark_bus_depth',
      help: 'Payload units waiting on the bus, per topic.',
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        for (const [topic, depth] of Object.entries(bus.depth())) this.set({ topic }, depth);
      },
    }),
  };
}

/** Columns of one tenant's samples, merged from several batches. */
export interface MergedSamples {
  tenant: string;
  series: SeriesDefinition[];
  seriesIds: BigUint64Array;
  timestamps: Float64Array;
  values: Float64Array;
  length: number;
}

/** A sample at or before its series' newest timestamp: out of order, or a duplicate. */
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
 * Merges batches per tenant. A sample newer than anything seen for its
 * series goes straight in; an older or equal one is held back as late so the
 * caller can drop it if the store already has that (series, ts): the
 * rollups then never count a duplicate. Pure but for the `newest` map it
 * advances.
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
    for (const b of list) {
      for (const d of b.series) series.push(d);
      const ids = b.seriesIds;
      const ts = b.timestamps;
      const vs = b.values;
      for (let i = 0; i < b.length; i++) {
        const id = ids[i]!;
        const t = ts[i]!;
        const last = newest.get(id);
        if (last === undefined || t > last) {
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
    out.push({ tenant, series, seriesIds: seriesIds.subarray(0, n), timestamps: timestamps.subarray(0, n), values: values.subarray(0, n), length: n, late, duplicates });
  }
  return out;
}

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
  const rows = await store.query<{ k: string }>(
    `SELECT concat(toString(series_id), ':', toString(toUnixTimestamp64Milli(ts))) AS k FROM ${store.table('samples')}
     WHERE tenant = {tenant:String} AND series_id IN (${ids.join(',')})
       AND ts >= fromUnixTimestamp64Milli({min:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({max:Int64}, 'UTC')`,
    // The ids are our own bigints, safe to inline; the tenant goes as a parameter.
    { tenant, min: Math.floor(min), max: Math.ceil(max) },
  );
  const stored = new Set(rows.map((r) => r.k));
  return late.filter((l) => !stored.has(`${l.id}:${l.ts}`));
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

export async function insertSamples(store: Store, merged: MergedSamples, token: string): Promise<void> {
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
      deduplicate_blocks_in_dependent_materialized_views: 1,
      // The two rollup views run side by side: measured 1.5-2x faster inserts on two cores.
      parallel_view_processing: 1,
      // One block per insert: the deduplication token then covers the whole insert.
      max_insert_block_size: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_rows: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_bytes: '0',
    },
    { tenant: merged.tenant },
  );
}

export class Ingester {
  /** Samples stored since start. */
  stored = 0;
  /** Per series, the newest timestamp stored: anything at or before it is checked against the store. */
  private readonly newest = new Map<bigint, number>();

  constructor(
    private readonly store: Store,
    private readonly metrics: IngesterMetrics,
    private readonly log: Logger,
    /** Bound on the duplicate-detection memory: past this many series the map starts afresh. */
    private readonly maxTrackedSeries = 2_000_000,
  ) {}

  /** Stores one delivery; rejects (so the bus redelivers) when the store fails. */
  readonly handle = async (delivery: Delivery<'metrics'>): Promise<void> => {
    if (this.newest.size > this.maxTrackedSeries) this.newest.clear();
    const merged = mergeBatches(delivery.payloads, this.newest);
    const started = performance.now();
    let stored = 0;
    let dropped = 0;
    try {
      for (const m of merged) {
        const late = await unseenLateSamples(this.store, m.tenant, m.late);
        dropped += m.duplicates + (m.late.length - late.length);
        const all = withLate(m, late);
        await insertSeries(this.store, m.tenant, m.series);
        await insertSamples(this.store, all, delivery.token);
        stored += all.length;
      }
    } catch (err) {
      this.metrics.errors.inc();
      // The delivery comes back with the same token: forget what this attempt advanced so the retry is
      // taken as fresh; if this attempt did reach the store, ClickHouse drops the retry by its token.
      this.newest.clear();
      this.log.error({ err: (err as Error).message, token: delivery.token }, 'insert failed; the delivery will be retried');
      throw err;
    }
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
    this.stored += stored;
    this.metrics.samples.inc(stored);
    this.metrics.duplicates.inc(dropped);
    this.metrics.batchSize.observe(stored);
  };

  async start(bus: Bus): Promise<void> {
    await bus.consume('metrics', this.handle);
  }
}
