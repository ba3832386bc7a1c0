// The logs table: one row per log line, the stream's labels as a map, the
// line under a full-text index. Written only through logs/store.ts
// (insertLogLines); read with SQL by logs/search*.ts and logs/logql/*.ts.
//
// Key (tenant, stream_id, ts): one stream's lines sit together in time order,
// as LogQL reads them; a search across streams prunes parts by the day
// partition and granules by the text index on `line`. The text index (not a
// token bloom filter): see docs/architecture.md for the measured comparison.
import { createTable, type Migration, type SchemaContext } from '../core/migrations.ts';
import type { Store } from '../core/store.ts';

/** The tokenizer of the line's text index; search splits its keywords the same way (search-query.ts). */
export const LINE_TOKENIZER = 'splitByNonAlpha';

/** The logs table's migrations; `retentionDays` is `logs.retention` (config), the TTL. */
export function logsMigrations(retentionDays: number): Migration[] {
  return [
    {
      component: 'logs',
      version: 1,
      name: 'logs table with a text index on the line',
      statements: (ctx) =>
        createTable(ctx, {
          name: 'logs',
          columns: [
            'tenant LowCardinality(String)',
            // Loki's timestamps are nanoseconds; kept exactly.
            "ts DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
            // xxHash64 of the sorted label set (logs/store.ts streamId).
            'stream_id UInt64',
            // cluster, namespace, workload, pod, container, source … where known.
            'labels Map(LowCardinality(String), String)',
            'line String CODEC(ZSTD(1))',
            // On the lowercased line: keyword search is case-insensitive and still answered from the index.
            `INDEX line_text lower(line) TYPE text(tokenizer = '${LINE_TOKENIZER}') GRANULARITY 1`,
          ],
          engine: 'MergeTree',
          orderBy: '(tenant, stream_id, ts)',
          partitionBy: 'toDate(ts)',
          ttl: `toDateTime(ts) + INTERVAL ${retentionDays} DAY`,
          // A replayed insert (same deduplication token) is dropped: a redelivery never stores a line twice.
          settings: 'index_granularity = 8192, non_replicated_deduplication_window = 10000',
        }),
    },
  ];
}

/**
 * Brings the table's TTL to `retentionDays` when `logs.retention` changed
 * since the table was created (a migration runs once; the retention is
 * configuration). Returns whether it changed anything.
 */
export async function applyLogsRetention(store: Store, ctx: SchemaContext, retentionDays: number): Promise<boolean> {
  const local = ctx.cluster ? 'logs_local' : 'logs';
  const [row] = await store.query<{ q: string }>('SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {name:String}', { db: ctx.database, name: local });
  if (!row) return false;
  const current = /toIntervalDay\((\d+)\)|INTERVAL (\d+) DAY/.exec(row.q);
  if (current && Number(current[1] ?? current[2]) === retentionDays) return false;
  const onCluster = ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : '';
  await store.command(`ALTER TABLE ${ctx.database}.${local}${onCluster} MODIFY TTL toDateTime(ts) + INTERVAL ${Math.floor(retentionDays)} DAY`);
  return true;
}
