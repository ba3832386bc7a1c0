// The metrics table family: series (label sets by id), raw samples, the
// 1-minute and 1-hour rollups, and the roll-up loop's durable bookkeeping
// (what is still to roll, how far each rollup got). Migration 1 kept the
// rollups with per-insert materialized views; migration 3 drops them for the
// bulk loop in metrics/rollups.ts. Everything that reads metrics (query API,
// autoscaler, alerting) reads these.
import { createMaterializedView, createTable, type Migration, type SchemaContext } from '../core/migrations.ts';

/** Bit pattern of Prometheus' stale marker, as ClickHouse sees it through reinterpretAsUInt64. */
export const STALE_BITS_SQL = '9218868437227405314';

/** The series a raw sample belongs to is live (not the stale marker); rollups skip stale markers. */
export const NOT_STALE = `reinterpretAsUInt64(value) != ${STALE_BITS_SQL}`;

export const metricsMigrations: Migration[] = [
  {
    component: 'metrics',
    version: 1,
    name: 'series, samples, 1m and 1h rollups',
    statements: (ctx) => [
      ...createTable(ctx, {
        name: 'series',
        columns: [
          'tenant LowCardinality(String)',
          'metric LowCardinality(String)',
          'series_id UInt64',
          'labels Map(LowCardinality(String), String)',
          "first_seen DateTime64(3, 'UTC') DEFAULT now64(3)",
        ],
        // Re-sent definitions collapse on merge; readers also GROUP BY series_id, so a definition seen twice before a merge counts once.
        engine: 'ReplacingMergeTree',
        orderBy: '(tenant, metric, series_id)',
      }),
      ...createTable(ctx, {
        name: 'samples',
        columns: [
          'tenant LowCardinality(String)',
          'series_id UInt64',
          "ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
          'value Float64 CODEC(Gorilla, ZSTD(1))',
        ],
        // The same (series, ts) twice collapses on merge; queries deduplicate before merges too.
        engine: 'ReplacingMergeTree',
        orderBy: '(tenant, series_id, ts)',
        partitionBy: 'toDate(ts)',
        ttl: `toDateTime(ts) + INTERVAL ${ctx.rawRetentionDays} DAY`,
        // A replayed insert (same deduplication token) is dropped: Kafka redeliveries never count twice.
        settings: 'index_granularity = 8192, non_replicated_deduplication_window = 10000',
      }),
      ...rollupTable(ctx, 'samples_1m', ctx.rollupRetentionDays, true),
      ...rollupTable(ctx, 'samples_1h', ctx.rollupRetentionDays, false),
      ...createMaterializedView(ctx, 'samples_1m_mv', 'samples_1m', (source) => rollupRows(source, 'toStartOfMinute', true), 'samples'),
      ...createMaterializedView(ctx, 'samples_1h_mv', 'samples_1h', (source) => rollupRows(source, 'toStartOfHour', false), 'samples'),
    ],
  },
  {
    component: 'metrics',
    version: 2,
    name: 'ingest dead letters',
    statements: (ctx) =>
      createTable(ctx, {
        name: 'ingest_dead_letters',
        columns: [
          "time DateTime64(3, 'UTC') DEFAULT now64(3)",
          'tenant LowCardinality(String)',
          // The delivery token (with the payload's index when a delivery was split).
          'token String',
          'reason String',
          // ClickHouse's error name, e.g. TOO_MANY_PARTS.
          'error LowCardinality(String)',
          'samples UInt64',
          // The payload's first series: its id, and its labels when the payload defined it.
          'series_id UInt64',
          'labels Map(String, String)',
        ],
        // Payloads the store refused for good (retrying cannot fix them), kept for an operator to read; not the samples.
        engine: 'MergeTree',
        orderBy: '(tenant, time, token)',
        partitionBy: 'toYYYYMM(time)',
        ttl: `toDateTime(time) + INTERVAL ${ctx.rollupRetentionDays} DAY`,
      }),
  },
  {
    component: 'metrics',
    version: 3,
    name: 'rollups by a bulk loop instead of per-insert views',
    statements: (ctx) => [
      ...createTable(ctx, {
        name: 'rollup_pending',
        columns: [
          'id UUID',
          'tenant LowCardinality(String)',
          // '1m' or '1h': which rollup these buckets are to be (re-)rolled in.
          'rollup LowCardinality(String)',
          "buckets Array(DateTime('UTC'))",
          // The delivery (or the 1-minute roll) that wrote the row, for an operator to read.
          'source String',
          "at DateTime64(3, 'UTC') DEFAULT now64(3)",
        ],
        // Written before the raw insert it announces; deleted by the loop once its buckets are rolled.
        engine: 'MergeTree',
        orderBy: '(tenant, rollup, id)',
      }),
      ...createTable(ctx, {
        name: 'rollup_progress',
        columns: [
          'tenant LowCardinality(String)',
          'rollup LowCardinality(String)',
          // Buckets before rolled_to may hold rows (rolled, or being rolled when the process died), so
          // rolling one again deletes it first; buckets at or past it were never rolled. Written before each roll's insert.
          "rolled_to DateTime('UTC')",
          "at DateTime64(3, 'UTC')",
        ],
        engine: 'ReplacingMergeTree(at)',
        orderBy: '(tenant, rollup)',
      }),
      ...dropView(ctx, 'samples_1m_mv'),
      ...dropView(ctx, 'samples_1h_mv'),
      // The views rolled up everything stored so far, up to the newest sample: buckets before these
      // bounds are re-rolled with a delete first, so the current minute and hour never count twice.
      `INSERT INTO ${ctx.database}.rollup_progress (tenant, rollup, rolled_to, at)
       SELECT tenant, '1m', b, now64(3) FROM (
         SELECT tenant, toStartOfMinute(greatest(now(), toDateTime(max(ts)))) + 60 AS b FROM ${ctx.database}.samples GROUP BY tenant)`,
      `INSERT INTO ${ctx.database}.rollup_progress (tenant, rollup, rolled_to, at)
       SELECT tenant, '1h', b, now64(3) FROM (
         SELECT tenant, toStartOfHour(greatest(now(), toDateTime(max(ts)))) + 3600 AS b FROM ${ctx.database}.samples GROUP BY tenant)`,
    ],
  },
  {
    component: 'metrics',
    version: 4,
    name: 'raw sample values: Delta + ZSTD',
    // Measured with bench/scale.ts' node_exporter-like values (counters, byte gauges in pages, small
    // gauges), 1.2 M samples after a merge: Gorilla + ZSTD(1) 2.48 bytes a value, ZSTD(1) alone 1.95,
    // FPC + ZSTD(1) 1.31, Delta + ZSTD(1) 0.67 (with noisy gauges: 4.29, 2.87, -, 2.04). Delta works on
    // the bits, so NaN, ±Inf and the stale marker stay bit-exact. New parts get it; merges rewrite old ones.
    statements: (ctx) => [
      `ALTER TABLE ${ctx.database}.${ctx.cluster ? 'samples_local' : 'samples'}${ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : ''} MODIFY COLUMN value Float64 CODEC(Delta, ZSTD(1))`,
    ],
  },
];

function dropView(ctx: SchemaContext, name: string): string[] {
  return [`DROP VIEW IF EXISTS ${ctx.database}.${name}${ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : ''}`];
}

/**
 * A rollup's rows for one insert: one row per sample, no GROUP BY. Every
 * column is a SimpleAggregateFunction, so a row per sample is a valid partial
 * aggregate and background merges fold the rows of a (series, bucket)
 * together; queries aggregate again, so they are right before merges too.
 * Measured here: a GROUP BY in the view cut insert throughput about 4x (the
 * per-group cost dominates when each series has a sample or two per insert),
 * and aggregate states (avg, argMax, t-digest) cost 3-10x more than these.
 */
function rollupRows(source: string, bucket: 'toStartOfMinute' | 'toStartOfHour', values: boolean): string {
  // sample_ts: the bucket takes the name ts, so the sample's own time needs another name.
  return `SELECT tenant, series_id, ${bucket}(sample_ts) AS ts,
      value AS sum, toUInt64(1) AS count, value AS min, value AS max,
      (sample_ts, value) AS first, (sample_ts, value) AS last${values ? ', [value] AS values' : ''}
    FROM (SELECT tenant, series_id, ts AS sample_ts, value FROM ${source} WHERE ${NOT_STALE})`;
}

/**
 * A rollup table: sums, counts, minima and maxima, first and last as the min
 * and max of (time, value) tuples. The 1-minute table also keeps the
 * minute's values (a few per series), from which quantiles are exact; the
 * hourly one does not, so quantiles at hourly steps read the 1-minute table.
 */
function rollupTable(ctx: Parameters<Migration['statements']>[0], name: string, days: number, values: boolean): string[] {
  return createTable(ctx, {
    name,
    columns: [
      'tenant LowCardinality(String)',
      'series_id UInt64',
      "ts DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))",
      'sum SimpleAggregateFunction(sum, Float64)',
      'count SimpleAggregateFunction(sum, UInt64)',
      'min SimpleAggregateFunction(min, Float64)',
      'max SimpleAggregateFunction(max, Float64)',
      "first SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), Float64))",
      "last SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), Float64))",
      ...(values ? ['values SimpleAggregateFunction(groupArrayArray, Array(Float64)) CODEC(ZSTD(1))'] : []),
    ],
    engine: 'AggregatingMergeTree',
    orderBy: '(tenant, series_id, ts)',
    partitionBy: 'toYYYYMM(ts)',
    ttl: `ts + INTERVAL ${days} DAY`,
    // The rollups deduplicate replayed inserts too, else a replay would count twice here.
    settings: 'non_replicated_deduplication_window = 10000',
  });
}
