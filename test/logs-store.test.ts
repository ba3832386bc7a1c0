// The logs table and its one insert path: labels as a map, nanosecond
// timestamps kept exactly, tenant on every row, and a replayed insert (same
// token) stored once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { applyLogsRetention, logsMigrations } from '../logs/schema.ts';
import { insertLogLines, streamId, type LogLine } from '../logs/store.ts';
import { LogsConsumer, logLineOf } from '../logs/consumer.ts';
import { Registry } from 'prom-client';
import { silentLogger } from '../core/log.ts';
import type { LogRecord } from '../core/bus/records.ts';

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidemark-logs-store-'));
  store = await Store.open({ dataPath: dir, database: 'logs_store_test' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), logsMigrations(30));
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = BigInt(Date.now()) * 1_000_000n;
const labels = { cluster: 'c1', namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z', container: 'app' };

describe('insertLogLines', () => {
  it('stores labels as a map, the exact nanosecond time, the stream id and the tenant', async () => {
    const rows: LogLine[] = [
      { tenant: 'a', tsNs: now + 123n, labels, line: 'GET /checkout 200 order=A-1001' },
      { tenant: 'b', tsNs: now + 456n, labels: { ...labels, cluster: 'c2' }, line: 'other tenant' },
    ];
    await insertLogLines(store, rows, 'test/1');
    const got = await store.query<{ ts: string; stream_id: string; ns: string; line: string }>(
      `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts, toString(stream_id) AS stream_id, labels['namespace'] AS ns, line FROM ${store.table('logs')} WHERE tenant = 'a'`,
    );
    expect(got).toEqual([{ ts: String(now + 123n), stream_id: String(streamId(labels)), ns: 'shop', line: 'GET /checkout 200 order=A-1001' }]);
  });

  it('keeps label values exactly: quotes, backslashes, newlines, non-ASCII, empty-looking keys order', async () => {
    const odd = { z: 'last', a: 'q"uote\\back\nnew', m: 'héllo 🌊', n: '{"json":1}' };
    await insertLogLines(store, [{ tenant: 'odd', tsNs: now, labels: odd, line: 'x' }, { tenant: 'odd', tsNs: now + 1n, labels: { ...odd }, line: 'y' }], 'test/odd');
    const got = await store.query<{ labels: Record<string, string>; id: string }>(`SELECT labels, toString(stream_id) AS id FROM ${store.table('logs')} WHERE tenant = 'odd'`);
    expect(got).toEqual([
      { labels: odd, id: String(streamId(odd)) },
      { labels: odd, id: String(streamId(odd)) },
    ]);
  });

  it('drops a replayed insert with the same token, keeps a different one', async () => {
    const rows: LogLine[] = [{ tenant: 'r', tsNs: now, labels, line: 'once' }];
    await insertLogLines(store, rows, 'test/replay');
    await insertLogLines(store, rows, 'test/replay');
    await insertLogLines(store, rows, 'test/other');
    const [row] = await store.query<{ n: number }>(`SELECT count() AS n FROM ${store.table('logs')} WHERE tenant = 'r'`);
    expect(row!.n).toBe(2);
  });

  it('keeps two equal pushes without a token', async () => {
    const rows: LogLine[] = [{ tenant: 'u', tsNs: now, labels, line: 'twice' }];
    await insertLogLines(store, rows);
    await insertLogLines(store, rows);
    const [row] = await store.query<{ n: number }>(`SELECT count() AS n FROM ${store.table('logs')} WHERE tenant = 'u'`);
    expect(row!.n).toBe(2);
  });

  it('finds a token through the text index', async () => {
    const [row] = await store.query<{ n: number }>(`SELECT count() AS n FROM ${store.table('logs')} WHERE tenant = 'a' AND hasToken(line, 'checkout')`);
    expect(row!.n).toBe(1);
  });
});

describe('the logs consumer', () => {
  const record: LogRecord = { tenant: 'c', timestamp: Date.now(), cluster: 'c1', namespace: 'ns', workload: '', pod: 'api-0', container: 'x', stream: 'stdout', message: 'redelivered line' };

  it('stores a redelivered delivery (same token) once', async () => {
    const consumer = new LogsConsumer(store, new Registry(), silentLogger);
    const delivery = { topic: 'logs' as const, payloads: [[record], [{ ...record, message: 'second payload' }]], token: 'kafka/tidemark.logs/0/100-101' };
    await consumer.handle(delivery);
    await consumer.handle(delivery);
    const rows = await store.query<{ line: string }>(`SELECT line FROM ${store.table('logs')} WHERE tenant = 'c' ORDER BY line`);
    expect(rows.map((r) => r.line)).toEqual(['redelivered line', 'second payload']);
  });

  it('labels a plain record by its non-empty fields, and keeps a Loki record\'s own labels and nanoseconds', () => {
    expect(logLineOf(record).labels).toEqual({ cluster: 'c1', namespace: 'ns', pod: 'api-0', container: 'x', stream: 'stdout' });
    expect(logLineOf(record).tsNs).toBe(BigInt(record.timestamp) * 1_000_000n);
    const loki = logLineOf({ ...record, labels: { job: 'j' }, timestampNs: '1700000000000000001' });
    expect(loki).toMatchObject({ labels: { job: 'j' }, tsNs: 1700000000000000001n });
  });
});

describe('applyLogsRetention', () => {
  it('changes the TTL when logs.retention changed, and leaves it alone otherwise', async () => {
    const ctx = schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 });
    expect(await applyLogsRetention(store, ctx, 30)).toBe(false);
    expect(await applyLogsRetention(store, ctx, 7)).toBe(true);
    const [row] = await store.query<{ q: string }>(`SELECT create_table_query AS q FROM system.tables WHERE database = 'logs_store_test' AND name = 'logs'`);
    expect(row!.q).toMatch(/toIntervalDay\(7\)|INTERVAL 7 DAY/);
    expect(await applyLogsRetention(store, ctx, 7)).toBe(false);
  });
});
