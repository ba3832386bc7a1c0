// The embedded store's settings are per call: chDB keeps one session, and a
// setting one call passes must not leak into the next (a stale deduplication
// token silently dropped later inserts; a query's timeout bound later ones).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';

describe('embedded store settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-settings-'));
  let store: Store;
  beforeAll(async () => {
    store = await Store.open({ dataPath: dir, database: 'tidemark' });
    await store.command(`CREATE TABLE ${store.table('t')} (a UInt64) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100`);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an insert without a token is not taken for the previous insert that had one', async () => {
    await store.insertRows('t', [{ a: 1 }], { insert_deduplication_token: 'once' });
    await store.insertRows('t', [{ a: 2 }]);
    await store.insertRows('t', [{ a: 3 }], { insert_deduplication_token: 'once' });
    const rows = await store.query<{ a: number }>(`SELECT a FROM ${store.table('t')} ORDER BY a`);
    expect(rows.map((r) => r.a)).toEqual([1, 2]);
  });

  it('a query timeout applies to its own query only', async () => {
    await store.query('SELECT 1', {}, { max_execution_time: 7 });
    const [row] = await store.query<{ m: number }>("SELECT getSetting('max_execution_time') AS m");
    expect(Number(row!.m)).toBe(0);
  });
});
