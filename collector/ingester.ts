// The ingester: drains metric deliveries from the bus into the store in
// large binary inserts. Series definitions are written before the samples
// that use them; each insert carries the delivery's token so that a replayed
// delivery (a crash between insert and acknowledgement) is not stored twice.
import { Counter, Histogram, Gauge, type Registry } from 'prom-client';
import type { Bus, Delivery } from '../core/bus.ts';
import type { SampleBatch, SeriesDefinition } from '../core/samples.ts';
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

/** Columns of one tenant's samples, merged from several batches, duplicates removed. */
export interface MergedSamples {
  tenant: string;
  series: SeriesDefinition[];
  seriesIds: BigUint64Array;
  timestamps: Float64Array;
  values: Float64Array;
  length: number;
  duplicates: number;
}

/**
 * Merges batches per tenant and drops samples whose series already has a
 * sample at that exact timestamp (in this merge or, through `lastSeen`, in an
 * earlier one), so the rollups never count a duplicate. Pure but for the
 * `lastSeen` map it updates.
 */
export function mergeBatches(batches: readonly SampleBatch[], lastSeen: Map<bigint, number>): MergedSamples[] {
  const byTenant = new Map<string, SampleBatch[]>();
  for (const b of batches) {
    const list = byTenant.get(b.tenant);
    if (list) list.push(b);
    else byTenant.set(b.tenant, [b]);
  }
  const out: MergedSamples[] = [];
  for (const [tenant, list] of byTenant) {
    let total = 0;
    for (const b of list) total += b.length;
    const seriesIds = new BigUint64Array(total);
    const timestamps = new Float64Array(total);
    const values = new Float64Array(total);
    const series: SeriesDefinition[] = [];
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
        if (lastSeen.get(id) === t) {
          duplicates++;
          continue;
        }
        lastSeen.set(id, t);
        seriesIds[n] = id;
        timestamps[n] = t;
        values[n] = vs[i]!;
        n++;
      }
    }
    out.push({
      tenant,
      series,
      seriesIds: seriesIds.subarray(0, n),
      timestamps: timestamps.subarray(0, n),
      values: values.subarray(0, n),
      length: n,
      duplicates,
    });
  }
  return out;
}

export async function insertSeries(store: Store, tenant: string, series: readonly SeriesDefinition[]): Promise<void> {
  if (series.length === 0) return;
  const seen = new Set<bigint>();
  const rows: Record<string, unknown>[] = [];
  for (const s of series) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    rows.push({ tenant, metric: s.labels['__name__'] ?? '', series_id: s.id.toString(), labels: s.labels });
  }
  await store.insertRows('series', rows);
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
      // One block per insert: the deduplication token then covers the whole insert.
      max_insert_block_size: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_rows: String(Math.max(merged.length, 1_048_576)),
      min_insert_block_size_bytes: '0',
    },
    { tenant: merged.tenant },
  );
}

export class Ingester {
  private readonly lastSeen = new Map<bigint, number>();

  constructor(
    private readonly store: Store,
    private readonly metrics: IngesterMetrics,
    private readonly log: Logger,
    /** Bound on the duplicate-detection memory: the map is cleared past this many series. */
    private readonly maxTrackedSeries = 2_000_000,
  ) {}

  /** Stores one delivery; rejects (so the bus redelivers) when the store fails. */
  readonly handle = async (delivery: Delivery<'metrics'>): Promise<void> => {
    if (this.lastSeen.size > this.maxTrackedSeries) this.lastSeen.clear();
    const merged = mergeBatches(delivery.payloads, this.lastSeen);
    const started = performance.now();
    try {
      for (const m of merged) {
        await insertSeries(this.store, m.tenant, m.series);
        await insertSamples(this.store, m, delivery.token);
      }
    } catch (err) {
      this.metrics.errors.inc();
      // The batch comes back; forget its timestamps so the retry is not taken for duplicates.
      for (const m of merged) for (const id of m.seriesIds) this.lastSeen.delete(id);
      this.log.error({ err: (err as Error).message, token: delivery.token }, 'insert failed; the delivery will be retried');
      throw err;
    }
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
    for (const m of merged) {
      this.metrics.samples.inc(m.length);
      this.metrics.duplicates.inc(m.duplicates);
      this.metrics.batchSize.observe(m.length);
    }
  };

  async start(bus: Bus): Promise<void> {
    await bus.consume('metrics', this.handle);
  }
}
