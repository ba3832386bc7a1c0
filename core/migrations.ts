// Versioned, idempotent schema migrations. Each component (metrics, sla, …)
// owns an ordered list; the runner applies the ones not yet recorded in
// `schema_migrations`, never drops data, and builds cluster-aware DDL: with a
// cluster set, tables are created ON CLUSTER as Replicated*MergeTree with a
// Distributed table in front.
import type { Store } from './store.ts';

export interface SchemaContext {
  readonly database: string;
  /** ClickHouse cluster name: when set, DDL runs ON CLUSTER with Replicated and Distributed tables. */
  readonly cluster?: string;
  readonly rawRetentionDays: number;
  readonly rollupRetentionDays: number;
}

export interface Migration {
  /** Which part of Tidemark owns it, e.g. `metrics` or `sla`. */
  readonly component: string;
  /** Increasing per component; never reused. */
  readonly version: number;
  readonly name: string;
  statements(ctx: SchemaContext): string[];
}

export interface TableSpec {
  name: string;
  /** Column definitions, e.g. `tenant LowCardinality(String)`. */
  columns: string[];
  /** MergeTree family engine without the Replicated prefix, e.g. `MergeTree`, `ReplacingMergeTree(version)`, `AggregatingMergeTree`. */
  engine: string;
  orderBy: string;
  partitionBy?: string;
  ttl?: string;
  settings?: string;
  /**
   * The Distributed table's sharding expression on a cluster. Default: see
   * `shardingKey` — a hash of `series_id`, or of the sorting key's leading
   * non-time columns.
   */
  shardBy?: string;
}

/**
 * Which shard a row goes to on a cluster. Rows a ReplacingMergeTree would
 * collapse (the same sorting key) and rows read together must meet on one
 * shard: a sample sent twice is then deduplicated there, counts once in the
 * rollups, and a series is read from one shard instead of all. So the key
 * is a hash of `series_id` where the table has one (raw samples, rollups,
 * series), else of the sorting key's columns before its first time column
 * (e.g. SLA probes by tenant and cluster, exclusions by tenant and id,
 * charges by tenant, cluster and item, reports by tenant, month and version,
 * decisions by tenant and policy): always a prefix of the sorting key, so
 * duplicates meet, and one entity's history stays together. Never `rand()`.
 */
export function shardingKey(spec: TableSpec): string {
  if (spec.shardBy) return spec.shardBy;
  const columnType = new Map(spec.columns.map((c) => {
    const [name = '', ...type] = c.trim().split(/\s+/);
    return [name, type.join(' ')] as const;
  }));
  if (columnType.has('series_id')) return 'cityHash64(series_id)';
  const keyColumns = spec.orderBy.replace(/^\(|\)$/g, '').split(',').map((c) => c.trim()).filter(Boolean);
  const entity: string[] = [];
  for (const column of keyColumns) {
    const type = columnType.get(column);
    if (type === undefined || /^DateTime|^Date\b/.test(type)) break;
    entity.push(column);
  }
  if (entity.length === 0) throw new Error(`table ${spec.name}: no sharding key (no series_id, and its sorting key starts with a time or an expression); set shardBy`);
  return `cityHash64(${entity.join(', ')})`;
}

/** Where a query reads a table: the Distributed table on a cluster, the table itself otherwise. */
export function readTable(ctx: SchemaContext, name: string): string {
  return `${ctx.database}.${name}`;
}

function onCluster(ctx: SchemaContext): string {
  return ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : '';
}

function replicated(ctx: SchemaContext, engine: string, localName: string): string {
  if (!ctx.cluster) return engine;
  const m = /^(\w*MergeTree)(?:\((.*)\))?$/.exec(engine);
  if (!m) throw new Error(`engine "${engine}" is not of the MergeTree family`);
  const args = [`'/clickhouse/tables/{shard}/${ctx.database}/${localName}'`, `'{replica}'`];
  if (m[2]) args.push(m[2]);
  return `Replicated${m[1]}(${args.join(', ')})`;
}

/**
 * DDL for a table. Single node: the table under its name. Cluster: a
 * `<name>_local` Replicated table on every shard and a Distributed table
 * `<name>` over them, so readers and writers use one name either way.
 */
export function createTable(ctx: SchemaContext, spec: TableSpec): string[] {
  const local = ctx.cluster ? `${spec.name}_local` : spec.name;
  const parts = [
    `CREATE TABLE IF NOT EXISTS ${ctx.database}.${local}${onCluster(ctx)} (${spec.columns.join(', ')})`,
    `ENGINE = ${replicated(ctx, spec.engine, local)}`,
  ];
  if (spec.partitionBy) parts.push(`PARTITION BY ${spec.partitionBy}`);
  parts.push(`ORDER BY ${spec.orderBy}`);
  if (spec.ttl) parts.push(`TTL ${spec.ttl}`);
  if (spec.settings) parts.push(`SETTINGS ${spec.settings}`);
  const out = [parts.join(' ')];
  if (ctx.cluster) {
    out.push(
      `CREATE TABLE IF NOT EXISTS ${ctx.database}.${spec.name}${onCluster(ctx)} AS ${ctx.database}.${local} ENGINE = Distributed(${ctx.cluster}, ${ctx.database}, ${local}, ${shardingKey(spec)})`,
    );
  }
  return out;
}

/** A materialized view writing into `to` (on a cluster: into the local table, from the local source). */
export function createMaterializedView(ctx: SchemaContext, name: string, to: string, select: (source: string) => string, from: string): string[] {
  const target = ctx.cluster ? `${to}_local` : to;
  const source = ctx.cluster ? `${ctx.database}.${from}_local` : `${ctx.database}.${from}`;
  return [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.database}.${name}${onCluster(ctx)} TO ${ctx.database}.${target} AS ${select(source)}`];
}

/** `ALTER TABLE … ADD COLUMN IF NOT EXISTS` on the local table and, on a cluster, the Distributed one. */
export function addColumn(ctx: SchemaContext, table: string, column: string): string[] {
  if (!ctx.cluster) return [`ALTER TABLE ${ctx.database}.${table} ADD COLUMN IF NOT EXISTS ${column}`];
  return [
    `ALTER TABLE ${ctx.database}.${table}_local${onCluster(ctx)} ADD COLUMN IF NOT EXISTS ${column}`,
    `ALTER TABLE ${ctx.database}.${table}${onCluster(ctx)} ADD COLUMN IF NOT EXISTS ${column}`,
  ];
}

export function schemaContext(store: Store, retention: { rawRetentionDays: number; rollupRetentionDays: number }): SchemaContext {
  return { database: store.database, cluster: store.options.cluster, ...retention };
}

/** Applies every migration not yet recorded, in (component, version) order. Returns the ones applied. */
export async function migrate(store: Store, ctx: SchemaContext, migrations: readonly Migration[]): Promise<Migration[]> {
  for (const ddl of createTable(ctx, {
    name: 'schema_migrations',
    columns: ['component String', 'version UInt32', 'name String', 'applied_at DateTime64(3, \'UTC\') DEFAULT now64(3)'],
    engine: 'ReplacingMergeTree',
    orderBy: '(component, version)',
  })) {
    await store.command(ddl);
  }
  const rows = await store.query<{ component: string; version: number }>(
    `SELECT component, toUInt32(version) AS version FROM ${ctx.database}.schema_migrations`,
  );
  const done = new Set(rows.map((r) => `${r.component}/${r.version}`));
  const pending = [...migrations]
    .filter((m) => !done.has(`${m.component}/${m.version}`))
    .sort((a, b) => (a.component === b.component ? a.version - b.version : a.component < b.component ? -1 : 1));
  for (const m of pending) {
    for (const sql of m.statements(ctx)) await store.command(sql);
    await store.insertRows('schema_migrations', [{ component: m.component, version: m.version, name: m.name }]);
  }
  return pending;
}
