// The SLA tables: raw probe results, recorded exclusions, billed charges and
// the stored monthly reports (every version kept) with their announcements.
// Every key starts with the tenant; timestamps are UTC milliseconds.
import { createTable, createMaterializedView, addColumn, type Migration } from '../core/migrations.ts';

export const slaMigrations: Migration[] = [
  {
    component: 'sla',
    version: 1,
    name: 'probes, exclusions, charges, reports',
    statements: (ctx) => [
      ...createTable(ctx, {
        name: 'sla_probes',
        columns: [
          'tenant LowCardinality(String)',
          'cluster LowCardinality(String)',
          'location LowCardinality(String)',
          'target LowCardinality(String)',
          "ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD)",
          'ok UInt8',
          'latency_ms Float32',
          'error String',
        ],
        engine: 'MergeTree',
        partitionBy: 'toYYYYMM(ts)',
        orderBy: '(tenant, cluster, ts)',
        // Probe history must outlive the month it is reported in, so it follows rollup retention.
        ttl: `toDateTime(ts) + INTERVAL ${ctx.rollupRetentionDays} DAY`,
      }),
      ...createTable(ctx, {
        name: 'sla_exclusions',
        columns: [
          'tenant LowCardinality(String)',
          'id String',
          /** '*' applies to every cluster (e.g. a region-wide dependency outage). */
          'cluster String',
          "starts_at DateTime64(3, 'UTC')",
          "ends_at DateTime64(3, 'UTC')",
          'cause LowCardinality(String)',
          'reason String',
          'recorded_by String',
          "recorded_at DateTime64(3, 'UTC')",
          'deleted UInt8 DEFAULT 0',
        ],
        engine: 'ReplacingMergeTree(recorded_at)',
        orderBy: '(tenant, id)',
      }),
      ...createTable(ctx, {
        name: 'sla_charges',
        columns: [
          'tenant LowCardinality(String)',
          'cluster String',
          /** What was billed (compute, storage, …): two items over the same hour are separate charges. */
          'item String',
          "starts_at DateTime64(3, 'UTC')",
          "ends_at DateTime64(3, 'UTC')",
          'amount Decimal(18, 6)',
          'source String',
          "imported_at DateTime64(3, 'UTC')",
        ],
        // Re-importing the same billing line replaces it instead of doubling it.
        engine: 'ReplacingMergeTree(imported_at)',
        orderBy: '(tenant, cluster, item, starts_at, ends_at)',
      }),
      ...createTable(ctx, {
        name: 'sla_reports',
        columns: [
          'tenant LowCardinality(String)',
          'month String',
          'version UInt32',
          'digest String',
          "created_at DateTime64(3, 'UTC')",
          'body String CODEC(ZSTD(3))',
          'files String',
        ],
        engine: 'ReplacingMergeTree(created_at)',
        orderBy: '(tenant, month, version)',
      }),
      ...createTable(ctx, {
        name: 'sla_report_announcements',
        columns: ['tenant LowCardinality(String)', 'month String', 'version UInt32', "announced_at DateTime64(3, 'UTC')"],
        engine: 'ReplacingMergeTree(announced_at)',
        orderBy: '(tenant, month, version)',
      }),
    ],
  },
  {
    component: 'sla',
    version: 2,
    name: 'probe minute column, probed clusters per month',
    statements: (ctx) => [
      // Outage derivation groups by minute over a month of probes; computing it once at insert saves it on every read.
      ...addColumn(ctx, 'sla_probes', 'minute UInt32 MATERIALIZED toUInt32(intDiv(toUnixTimestamp64Milli(ts), 60000)) CODEC(Delta, ZSTD)'),
      // Which clusters reported in a month, without a DISTINCT over every probe of the month.
      ...createTable(ctx, {
        name: 'sla_probe_clusters',
        columns: ['tenant LowCardinality(String)', 'month UInt32', 'cluster String'],
        engine: 'ReplacingMergeTree',
        orderBy: '(tenant, month, cluster)',
      }),
      ...createMaterializedView(
        ctx,
        'sla_probe_clusters_mv',
        'sla_probe_clusters',
        (source) => `SELECT tenant, toYYYYMM(ts) AS month, toString(cluster) AS cluster FROM ${source} GROUP BY tenant, month, cluster`,
        'sla_probes',
      ),
      `INSERT INTO ${ctx.database}.sla_probe_clusters SELECT tenant, toYYYYMM(ts) AS month, toString(cluster) AS cluster FROM ${ctx.database}.sla_probes GROUP BY tenant, month, cluster`,
    ],
  },
];
