// The auth tables: API tokens (tenant-independent, one row per version: a
// revocation is a newer row of the same token) and the audit trail of
// Tidemark's own changes (tenant first, like every tenant's table).
import { createTable, type Migration } from '../migrations.ts';

export const authMigrations: Migration[] = [
  {
    component: 'auth',
    version: 1,
    name: 'tokens and audit trail',
    statements: (ctx) => [
      ...createTable(ctx, {
        name: 'auth_tokens',
        columns: [
          'id String',
          /** Hex SHA-256 of the secret; the secret itself is never stored. */
          'hash String',
          'name String',
          /** Empty for cloud-admin tokens, which span every tenant. */
          'tenants Array(String)',
          'role LowCardinality(String)',
          'creator String',
          "created_at DateTime64(3, 'UTC')",
          "expires_at DateTime64(3, 'UTC')",
          /** 0 (the epoch) while the token is live. */
          "revoked_at DateTime64(3, 'UTC') DEFAULT 0",
          'version UInt64',
        ],
        // Replacing merges fold versions on one node; on a cluster the versions
        // of a token may sit on different shards, so readers take argMax(…, version).
        engine: 'ReplacingMergeTree(version)',
        orderBy: '(hash, id)',
      }),
      ...createTable(ctx, {
        name: 'audit_log',
        columns: [
          'tenant LowCardinality(String)',
          "ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD)",
          /** Token id, `oidc:<subject>`, `bootstrap` or `anonymous`. */
          'principal String',
          'role LowCardinality(String)',
          'action LowCardinality(String)',
          'method LowCardinality(String)',
          /** The route pattern, e.g. /api/v1/tokens/:id. */
          'route LowCardinality(String)',
          /** The path asked for, e.g. /api/v1/tokens/abc (what was changed). */
          'resource String',
          'remote String',
          'status UInt16',
        ],
        engine: 'MergeTree',
        partitionBy: 'toYYYYMM(ts)',
        orderBy: '(tenant, ts)',
        ttl: `toDateTime(ts) + INTERVAL ${ctx.rollupRetentionDays} DAY`,
      }),
    ],
  },
];
