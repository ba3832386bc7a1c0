// The alerting tables: the history of every alert state change and every
// notification (which also restores pending and firing state after a
// restart), the notification log replicas claim groups in, silences, and
// rule files loaded through the API. Every key starts with the tenant.
import { createTable, type Migration } from '../core/migrations.ts';

export const alertingMigrations: Migration[] = [
  {
    component: 'alerting',
    version: 1,
    name: 'alert history, notification log, silences, API rule files',
    statements: (ctx) => [
      ...createTable(ctx, {
        name: 'alert_history',
        columns: [
          'tenant LowCardinality(String)',
          "ts DateTime64(3, 'UTC')",
          /** `state` (an alert's transition) or `notification` (a post's outcome). */
          'kind LowCardinality(String)',
          'alertname String',
          'rule_group String',
          'fingerprint String',
          'labels Map(String, String)',
          'annotations Map(String, String)',
          /** state: pending, firing, resolved, inactive; notification: sent, failed, silenced, inhibited, summarised. */
          'state LowCardinality(String)',
          "active_at DateTime64(3, 'UTC')",
          "fired_at DateTime64(3, 'UTC')",
          "resolved_at DateTime64(3, 'UTC')",
          'value Float64',
          'receiver String',
          'detail String',
        ],
        engine: 'MergeTree',
        partitionBy: 'toYYYYMM(ts)',
        orderBy: '(tenant, alertname, ts)',
        ttl: `toDateTime(ts) + INTERVAL ${ctx.rollupRetentionDays} DAY`,
      }),
      ...createTable(ctx, {
        name: 'alert_notification_log',
        columns: [
          'tenant LowCardinality(String)',
          'receiver String',
          'group_key String',
          /** What is being sent: a digest of the group's alerts and their states; two replicas sending the same notification claim the same slot. */
          'slot String',
          'replica String',
          "claimed_at DateTime64(3, 'UTC')",
        ],
        engine: 'MergeTree',
        orderBy: '(tenant, receiver, group_key, slot)',
        ttl: "toDateTime(claimed_at) + INTERVAL 7 DAY",
      }),
      ...createTable(ctx, {
        name: 'alert_silences',
        columns: [
          'tenant LowCardinality(String)',
          'id String',
          /** JSON: Alertmanager's matchers [{name, value, isRegex, isEqual}]. */
          'matchers String',
          "starts_at DateTime64(3, 'UTC')",
          "ends_at DateTime64(3, 'UTC')",
          'created_by String',
          'comment String',
          "updated_at DateTime64(3, 'UTC')",
        ],
        engine: 'ReplacingMergeTree(updated_at)',
        orderBy: '(tenant, id)',
      }),
      ...createTable(ctx, {
        name: 'alert_rule_files',
        columns: ['tenant LowCardinality(String)', 'name String', 'body String', 'deleted UInt8', "updated_at DateTime64(3, 'UTC')"],
        engine: 'ReplacingMergeTree(updated_at)',
        orderBy: '(tenant, name)',
      }),
    ],
  },
];

/** A DateTime64(3) value for a JSONEachRow insert: UTC text with milliseconds (a bare number would be read as seconds). */
export function chTime(ms: number): string {
  return new Date(Math.max(0, ms)).toISOString().replace('T', ' ').replace('Z', '');
}
