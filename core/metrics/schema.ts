// The metrics table family: series (label sets by id), raw samples, and the
// 1-minute and 1-hour rollups that materialized views keep as samples land.
// Everything that reads metrics (query API, autoscaler, alerting) reads these.
import { createMaterializedView, createTable, type Migration } from '../migrations.ts';

/** Bit pattern of Prometheus' stale marker, as ClickHouse sees it through reinterpretAsUInt64. */
export const STALE_BITS_SQL = '9218868437227405314';

/** The series a raw sample belongs to is live (not the stale marker); rollups skip stale markers. */
/** The quantile levels the 1-minute rollup keeps states for. */
const QUANTILES = '0.5, 0.9, 0.95, 0.99';

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
      ...createMaterializedView(
        ctx,
        'samples_1m_mv',
        'samples_1m',
        // sample_ts: the bucket takes the name ts, so the sample's own time needs another name.
        (source) => `SELECT tenant, series_id, toStartOfMinute(sample_ts) AS ts,
            sum(value) AS sum, count() AS count, min(value) AS min, max(value) AS max,
            min((sample_ts, value)) AS first, max((sample_ts, value)) AS last,
            quantilesExactState(${QUANTILES})(value) AS quantiles
          FROM (SELECT tenant, series_id, ts AS sample_ts, value FROM ${source} WHERE ${NOT_STALE})
          GROUP BY tenant, series_id, ts`,
        'samples',
      ),
      ...createMaterializedView(
        ctx,
        'samples_1h_mv',
        'samples_1h',
        (source) => `SELECT tenant, series_id, toStartOfHour(minute) AS ts,
            sum(sum) AS sum, sum(count) AS count, min(min) AS min, max(max) AS max,
            min(first) AS first, max(last) AS last
          FROM (SELECT *, ts AS minute FROM ${source}) GROUP BY tenant, series_id, ts`,
        'samples_1m',
      ),
    ],
  },
];

/**
 * A rollup table. Plain sums, counts, minima and maxima (first and last as the
 * min and max of (time, value) tuples) are SimpleAggregateFunctions: merging
 * them costs next to nothing, where avg/argMax/t-digest states measured 3 to
 * 10 times the insert cost of the raw samples. The 1-minute table adds exact
 * quantile states (a few values per series and minute); the hourly one has
 * none, so quantiles at hourly steps read the 1-minute table.
 */
function rollupTable(ctx: Parameters<Migration['statements']>[0], name: string, days: number, quantiles: boolean): string[] {
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
      ...(quantiles ? [`quantiles AggregateFunction(quantilesExact(${QUANTILES}), Float64)`] : []),
    ],
    engine: 'AggregatingMergeTree',
    orderBy: '(tenant, series_id, ts)',
    partitionBy: 'toYYYYMM(ts)',
    ttl: `ts + INTERVAL ${days} DAY`,
    // The rollups deduplicate replayed inserts too, else a replay would count twice here.
    settings: 'non_replicated_deduplication_window = 10000',
  });
}
