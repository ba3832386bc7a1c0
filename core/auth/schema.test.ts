import { describe, expect, it } from 'vitest';
import { authMigrations } from './schema.ts';

describe('authMigrations', () => {
  it('builds Replicated tables with a Distributed table in front on a cluster', () => {
    const ddl = authMigrations.flatMap((m) => m.statements({ database: 'tm', cluster: 'c1', rawRetentionDays: 15, rollupRetentionDays: 400 }));
    const tokens = ddl.find((s) => s.includes('tm.auth_tokens_local'))!;
    expect(tokens).toMatch(/ON CLUSTER c1/);
    expect(tokens).toMatch(/ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/tm\/auth_tokens_local', '\{replica\}', version\)/);
    expect(ddl.some((s) => /CREATE TABLE IF NOT EXISTS tm\.auth_tokens ON CLUSTER c1 AS tm\.auth_tokens_local ENGINE = Distributed/.test(s))).toBe(true);
    const audit = ddl.find((s) => s.includes('tm.audit_log_local'))!;
    expect(audit).toMatch(/ORDER BY \(tenant, ts\)/);
    expect(audit).toMatch(/INTERVAL 400 DAY/);
  });

  it('keeps no secret column: tokens are found by hash', () => {
    const ddl = authMigrations.flatMap((m) => m.statements({ database: 'tm', rawRetentionDays: 15, rollupRetentionDays: 400 })).join('\n');
    expect(ddl).toMatch(/ORDER BY \(hash, id\)/);
    expect(ddl).not.toMatch(/\bsecret\b|\btoken String\b/);
  });
});
