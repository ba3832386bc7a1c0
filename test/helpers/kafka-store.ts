// Counting what reached the store where a duplicate would show. A
// ReplacingMergeTree merge collapses a duplicated (series, ts) in the raw
// table, so raw rows are read without FINAL from tables whose merges are
// held; in the rollups a duplicate adds to `count` for good, so their sum of
// `count` is compared with the distinct samples sent as well.
import { Registry } from 'prom-client';
import type { Store } from '../../core/store.ts';
import type { Bus, Delivery } from '../../core/bus/bus.ts';
import { Ingester, ingesterMetrics } from '../../metrics/ingester.ts';
import { silentLogger } from '../../core/log.ts';
import { rollUp } from '../../metrics/rollups.ts';

// The raw table only: a merge in a rollup sums `count` (a duplicate stays counted), and the roll-up
// loop's re-rolls delete rollup rows, which needs the merge pool.
const METRIC_TABLES = ['samples'] as const;

/**
 * No merges in the metrics tables, in this process and in any other that
 * opens the same store later (an engine child process): a table setting no
 * part can satisfy is persisted with the table; SYSTEM STOP MERGES covers
 * this process at once. The tables must exist (migrate first).
 */
export async function holdMerges(store: Store): Promise<void> {
  for (const table of METRIC_TABLES) {
    await store.command(`ALTER TABLE ${store.table(table)} MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1`);
    await store.command(`SYSTEM STOP MERGES ${store.table(table)}`);
  }
}

export interface StoredCounts {
  /** Raw rows, duplicates included (no FINAL; merges held). */
  rawRows: number;
  /** Distinct (series, timestamp) in the raw table. */
  distinct: number;
  /** Sum of the 1-minute and 1-hour rollups' `count`: a duplicate counts twice there. */
  rollup1m: number;
  rollup1h: number;
}

export async function storedCounts(store: Store, tenant?: string): Promise<StoredCounts> {
  // The rollups as the roll-up loop leaves them once it has caught up with what is stored.
  await rollUp(store, { all: true });
  const where = tenant === undefined ? '' : ' WHERE tenant = {tenant:String}';
  const params = tenant === undefined ? {} : { tenant };
  const [raw] = await store.query<{ rows: string; distinct: string }>(`SELECT count() AS rows, uniqExact(series_id, ts) AS distinct FROM ${store.table('samples')}${where}`, params);
  const [m] = await store.query<{ n: string }>(`SELECT sum(count) AS n FROM ${store.table('samples_1m')}${where}`, params);
  const [h] = await store.query<{ n: string }>(`SELECT sum(count) AS n FROM ${store.table('samples_1h')}${where}`, params);
  return { rawRows: Number(raw!.rows), distinct: Number(raw!.distinct), rollup1m: Number(m!.n), rollup1h: Number(h!.n) };
}

/**
 * A bus consumer's handler that stores every delivery through the engine's
 * own Ingester (what `--role ingester` runs), so a test counts in the store
 * what its consumers received.
 */
export function storingHandler(store: Store, bus: Bus, also?: (delivery: Delivery<'metrics'>) => void): (delivery: Delivery<'metrics'>) => Promise<void> {
  const ingester = new Ingester(store, ingesterMetrics(new Registry(), bus), silentLogger);
  return async (delivery) => {
    also?.(delivery);
    await ingester.handle(delivery);
  };
}
