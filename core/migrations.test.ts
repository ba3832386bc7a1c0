import { describe, expect, it } from 'vitest';
import { createMaterializedView, createTable, shardingKey, type SchemaContext } from './migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { slaMigrations } from '../sla/schema.ts';
import { autoscalerMigrations } from '../autoscaler/decision-log.ts';
import { alertingMigrations } from '../alerting/schema.ts';
import { logsMigrations } from '../logs/schema.ts';

const single: SchemaContext = { database: 'tm', rawRetentionDays: 15, rollupRetentionDays: 400 };
const cluster: SchemaContext = { ...single, cluster: 'prod' };

describe('createTable', () => {
  const spec = { name: 'samples', columns: ['tenant String', 'v Float64'], engine: 'ReplacingMergeTree', orderBy: '(tenant)', partitionBy: 'toDate(ts)', ttl: 'ts + INTERVAL 1 DAY' };

  it('creates a plain MergeTree-family table on a single node', () => {
    const ddl = createTable(single, spec);
    expect(ddl).toHaveLength(1);
    expect(ddl[0]).toBe(
      'CREATE TABLE IF NOT EXISTS tm.samples (tenant String, v Float64) ENGINE = ReplacingMergeTree PARTITION BY toDate(ts) ORDER BY (tenant) TTL ts + INTERVAL 1 DAY',
    );
  });

  it('creates a Replicated local table and a Distributed table ON CLUSTER', () => {
    const ddl = createTable(cluster, spec);
    expect(ddl).toHaveLength(2);
    expect(ddl[0]).toContain('CREATE TABLE IF NOT EXISTS tm.samples_local ON CLUSTER prod');
    expect(ddl[0]).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tm/samples_local', '{replica}')");
    expect(ddl[1]).toBe('CREATE TABLE IF NOT EXISTS tm.samples ON CLUSTER prod AS tm.samples_local ENGINE = Distributed(prod, tm, samples_local, cityHash64(tenant))');
  });

  it('keeps engine arguments after the replication path', () => {
    const ddl = createTable(cluster, { ...spec, engine: 'ReplacingMergeTree(version)' });
    expect(ddl[0]).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tm/samples_local', '{replica}', version)");
  });

  it('refuses an engine outside the MergeTree family on a cluster', () => {
    expect(() => createTable(cluster, { ...spec, engine: 'Log' })).toThrow(/MergeTree family/);
  });
});

describe('createMaterializedView', () => {
  it('reads and writes the local tables on a cluster', () => {
    const [sql] = createMaterializedView(cluster, 'mv', 'roll', (src) => `SELECT * FROM ${src}`, 'samples');
    expect(sql).toBe('CREATE MATERIALIZED VIEW IF NOT EXISTS tm.mv ON CLUSTER prod TO tm.roll_local AS SELECT * FROM tm.samples_local');
  });
});

describe('metrics migrations', () => {
  it('emit only idempotent, non-destructive DDL in both modes', () => {
    for (const ctx of [single, cluster]) {
      for (const m of metricsMigrations) {
        for (const sql of m.statements(ctx)) {
          // Migration 3 drops the per-insert rollup views (no data in a view) and seeds the roll-up loop's bookkeeping.
          if (/^DROP VIEW IF EXISTS tm\.samples_1[mh]_mv( ON CLUSTER prod)?$/.test(sql) || /^INSERT INTO tm\.rollup_progress /.test(sql)) continue;
          // Migration 4 changes the raw value column's codec (lossless; same type).
          if (/^ALTER TABLE tm\.samples(_local ON CLUSTER prod)? MODIFY COLUMN value Float64 CODEC\(Delta, ZSTD\(1\)\)$/.test(sql)) continue;
          expect(sql).toMatch(/^(CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE .* ADD COLUMN IF NOT EXISTS)/);
          expect(sql).not.toMatch(/\bDROP\b|\bTRUNCATE\b/);
        }
      }
    }
  });

  it('puts the tenant first in every metrics table key', () => {
    const ddl = metricsMigrations.flatMap((m) => m.statements(single)).filter((s) => s.startsWith('CREATE TABLE'));
    expect(ddl.length).toBeGreaterThanOrEqual(4);
    for (const sql of ddl) expect(sql).toMatch(/ORDER BY \(tenant,/);
  });
});

/** The Distributed tables' sharding expressions in the generated cluster DDL, by table name. */
function distributedKeys(sql: readonly string[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const s of sql) {
    const m = /^CREATE TABLE IF NOT EXISTS tm\.(\w+) ON CLUSTER prod AS tm\.\w+_local ENGINE = Distributed\(prod, tm, \w+_local, (.*)\)$/.exec(s);
    if (m) keys.set(m[1]!, m[2]!);
  }
  return keys;
}

describe('logs migrations', () => {
  it('create the logs table idempotently, tenant first, by day, with the configured TTL and a text index on the line', () => {
    for (const ctx of [single, cluster]) {
      const ddl = logsMigrations(7).flatMap((m) => m.statements(ctx));
      for (const sql of ddl) {
        expect(sql).toMatch(/^CREATE TABLE IF NOT EXISTS/);
        expect(sql).not.toMatch(/\bDROP\b|\bTRUNCATE\b/);
      }
      expect(ddl[0]).toMatch(/ORDER BY \(tenant, stream_id, ts\)/);
      expect(ddl[0]).toContain('PARTITION BY toDate(ts)');
      expect(ddl[0]).toContain('TTL toDateTime(ts) + INTERVAL 7 DAY');
      expect(ddl[0]).toMatch(/INDEX line_text lower\(line\) TYPE text\(/);
    }
  });
});

describe('cluster sharding', () => {
  const all = [...metricsMigrations, ...slaMigrations, ...autoscalerMigrations, ...alertingMigrations, ...logsMigrations(30)].flatMap((m) => m.statements(cluster));

  it('never shards at random', () => {
    expect(all.filter((s) => s.includes('Distributed(')).length).toBeGreaterThanOrEqual(11);
    for (const sql of all) expect(sql).not.toMatch(/rand\(\)/);
  });

  it('shards raw samples, both rollups, series and dead letters by a hash of series_id, so duplicates meet on one shard', () => {
    const keys = distributedKeys(all);
    for (const table of ['samples', 'samples_1m', 'samples_1h', 'series', 'ingest_dead_letters']) expect(keys.get(table)).toBe('cityHash64(series_id)');
  });

  it('keeps one entity together in tables without series_id', () => {
    const keys = distributedKeys(all);
    expect(Object.fromEntries([...keys].filter(([t]) => !['samples', 'samples_1m', 'samples_1h', 'series', 'ingest_dead_letters'].includes(t)))).toEqual({
      sla_probes: 'cityHash64(tenant, cluster)',
      sla_exclusions: 'cityHash64(tenant, id)',
      sla_charges: 'cityHash64(tenant, cluster, item)',
      sla_reports: 'cityHash64(tenant, month, version)',
      sla_report_announcements: 'cityHash64(tenant, month, version)',
      sla_probe_clusters: 'cityHash64(tenant, month, cluster)',
      autoscaler_decisions: 'cityHash64(tenant, policy_kind, namespace, name)',
      alert_history: 'cityHash64(tenant, alertname)',
      alert_notification_log: 'cityHash64(tenant, receiver, group_key, slot)',
      alert_silences: 'cityHash64(tenant, id)',
      alert_rule_files: 'cityHash64(tenant, name)',
      logs: 'cityHash64(tenant, stream_id)',
      rollup_pending: 'cityHash64(tenant, rollup, id)',
      rollup_progress: 'cityHash64(tenant, rollup)',
    });
  });

  it('takes an explicit key, and refuses a table with nothing to shard by', () => {
    const base = { name: 't', columns: ["ts DateTime64(3, 'UTC')", 'v Float64'], engine: 'MergeTree', orderBy: '(ts)' };
    expect(shardingKey({ ...base, shardBy: 'cityHash64(v)' })).toBe('cityHash64(v)');
    expect(() => createTable(cluster, base)).toThrow(/no sharding key/);
    expect(createTable(single, base)).toHaveLength(1);
  });
});
