// The ingester: drains metric deliveries from the bus into the store in
// large binary inserts. Series definitions are written before the samples
// that use them; each insert carries the delivery's token so that a replayed
// delivery (a crash between insert and acknowledgement) is not stored twice.
// Samples of a series this ingester has not stored since it started are
// checked against the store first, so a client re-sending what a previous
// life stored (it died before answering) is not counted twice by the rollups.
// A delivery the store refuses for good is split into its payloads; only the
// refused ones go to the dead-letter table, the rest are stored.
import { Counter, Histogram, Gauge, type Registry } from 'prom-client';
import type { Bus, Delivery, DeliveryOutcome } from '../core/bus/bus.ts';
import type { SampleBatch, SeriesDefinition } from '../core/bus/samples.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import { storeErrorKind, storeErrorName } from './store-errors.ts';
import { repairRollups } from './rollup-repair.ts';

export interface IngesterMetrics {
  samples: Counter;
  duplicates: Counter;
  batchSize: Histogram;
  insertSeconds: Histogram;
  errors: Counter;
  deadLetters: Counter;
  verifySeconds: Histogram;
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
    errors: new Counter({ name: 'tidemark_ingest_errors_total', help: 'Failed inserts (retried, or dead-lettered when retrying cannot fix them).', registers: [registry] }),
    deadLetters: new Counter({
      name: 'tidemark_ingest_dead_letter_total',
      help: 'Payloads (requests, scrapes) the store refused for good, written to the ingest_dead_letters table instead; by ClickHouse error.',
      labelNames: ['error'],
      registers: [registry],
    }),
    verifySeconds: new Histogram({
      name: 'tidemark_ingest_verify_seconds',
      help: 'Time spent checking samples of series not seen since start (or late samples) against the store, per delivery.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
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

  /**
   * Stores one delivery. Rejects (so the bus redelivers, same token) when the
   * store fails in a way retrying can fix. When the store refuses the
   * delivery for good, its payloads are stored one by one and the refused
   * ones dead-lettered; the outcome names them.
   */
  readonly handle = async (delivery: Delivery<'metrics'>): Promise<DeliveryOutcome | void> => {
    const { payloads, token } = delivery;
    let refusal: unknown;
    try {
      await this.insert(payloads, token);
      return;
    } catch (err) {
      this.failed(err, token);
      if (storeErrorKind(err) === 'retryable') throw err;
      refusal = err;
    }
    if (payloads.length === 1) return { rejected: new Map([[0, await this.deadLetter(payloads[0]!, token, refusal)]]) };
    const rejected = new Map<number, string>();
    for (let i = 0; i < payloads.length; i++) {
      const own = `${token}/p${i}`;
      try {
        await this.insert([payloads[i]!], own);
      } catch (err) {
        this.failed(err, own);
        if (storeErrorKind(err) === 'retryable') throw err;
        rejected.set(i, await this.deadLetter(payloads[i]!, own, err));
      }
    }
    return { rejected };
  };

  /** Writes the refused payload's dead-letter row; returns the reason. A failure here is retried with the delivery. */
  private async deadLetter(payload: SampleBatch, token: string, err: unknown): Promise<string> {
    const letter = deadLetterOf(payload, token, err);
    await insertDeadLetter(this.store, letter);
    this.metrics.deadLetters.inc({ error: letter.error });
    this.log.error({ token, tenant: letter.tenant, samples: letter.samples, reason: letter.reason }, 'the store refused a payload for good; it is in ingest_dead_letters');
    return letter.reason;
  }

  private failed(err: unknown, token: string): void {
    this.metrics.errors.inc();
    // The payloads come back (same token, or one by one): forget what this attempt advanced so
    // that they are checked against the store; ClickHouse also drops a retry by its token.
    this.newest.clear();
    this.log.error({ err: (err as Error).message, token, retry: storeErrorKind(err) === 'retryable' }, 'insert failed');
  }

  /** Merges payloads and inserts them as one insert per tenant under `token`. */
  private async insert(payloads: readonly SampleBatch[], token: string): Promise<void> {
    if (this.newest.size > this.maxTrackedSeries) this.newest.clear();
    const merged = mergeBatches(payloads, this.newest);
    const started = performance.now();
    let stored = 0;
    let dropped = 0;
    for (const m of merged) {
      const verifyStarted = performance.now();
      const late = await unseenLateSamples(this.store, m.tenant, m.late);
      if (late.length < m.late.length) {
        // Samples already stored: make sure the rollups count them (an insert cut short by a kill may not have reached them).
        const fresh = new Set(late);
        const rebuilt = await repairRollups(this.store, m.tenant, m.late.filter((l) => !fresh.has(l)));
        if (rebuilt > 0) this.log.warn({ tenant: m.tenant, buckets: rebuilt }, 'rebuilt rollup buckets that missed stored samples');
      }
      if (m.late.length > 0) this.metrics.verifySeconds.observe((performance.now() - verifyStarted) / 1000);
      dropped += m.duplicates + (m.late.length - late.length);
      const all = withLate(m, late);
      await insertSeries(this.store, m.tenant, m.series);
      await insertSamples(this.store, all, token);
      stored += all.length;
    }
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
    this.stored += stored;
    this.metrics.samples.inc(stored);
    this.metrics.duplicates.inc(dropped);
    this.metrics.batchSize.observe(stored);
  }

  async start(bus: Bus): Promise<void> {
    await bus.consume('metrics', this.handle);
  }
}
