// The metrics table family: series (label sets by id), raw samples, and the
// 1-minute and 1-hour rollups that materialized views keep as samples land.
// Everything that reads metrics (query API, autoscaler, alerting) reads these.
import { createMaterializedView, createTable, type Migration } from '../migrations.ts';

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
      ...rollupTable(ctx, 'samples_1m', ctx.rollupRetentionDays),
      ...rollupTable(ctx, 'samples_1h', ctx.rollupRetentionDays),
      ...createMaterializedView(
        ctx,
        'samples_1m_mv',
        'samples_1m',
        // sample_ts: the bucket takes the name ts, so the sample's own time needs another name.
        (source) => `SELECT tenant, series_id, toStartOfMinute(sample_ts) AS ts,
            avgState(value) AS avg, min(value) AS min, max(value) AS max,
            argMinState(value, sample_ts) AS first, argMaxState(value, sample_ts) AS last,
            count() AS count, quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(value) AS quantiles
          FROM (SELECT tenant, series_id, ts AS sample_ts, value FROM ${source} WHERE ${NOT_STALE})
          GROUP BY tenant, series_id, ts`,
        'samples',
      ),
      ...createMaterializedView(
        ctx,
        'samples_1h_mv',
        'samples_1h',
        (source) => `SELECT tenant, series_id, toStartOfHour(minute) AS ts,
            avgMergeState(avg) AS avg, min(min) AS min, max(max) AS max,
            argMinMergeState(first) AS first, argMaxMergeState(last) AS last,
            sum(count) AS count, quantilesTDigestMergeState(0.5, 0.9, 0.95, 0.99)(quantiles) AS quantiles
          FROM (SELECT *, ts AS minute FROM ${source}) GROUP BY tenant, series_id, ts`,
        'samples_1m',
      ),
    ],
  },
];

function rollupTable(ctx: Parameters<Migration['statements']>[0], name: string, days: number): string[] {
  return createTable(ctx, {
    name,
    columns: [
      'tenant LowCardinality(String)',
      'series_id UInt64',
      "ts DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))",
      'avg AggregateFunction(avg, Float64)',
      'min SimpleAggregateFunction(min, Float64)',
      'max SimpleAggregateFunction(max, Float64)',
      "first AggregateFunction(argMin, Float64, DateTime64(3, 'UTC'))",
      "last AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))",
      'count SimpleAggregateFunction(sum, UInt64)',
      'quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Float64)',
    ],
    engine: 'AggregatingMergeTree',
    orderBy: '(tenant, series_id, ts)',
    partitionBy: 'toYYYYMM(ts)',
    ttl: `ts + INTERVAL ${days} DAY`,
    // The rollups deduplicate replayed inserts too, else a replay would count twice here.
    settings: 'non_replicated_deduplication_window = 10000',
  });
}
