// Series, label names and label values for the Prometheus API, read from the
// series table: the tenant's series matching any of the `match[]` selectors,
// and, given a time window, only series with samples in it (read from the
// hourly rollup, so the window is widened to whole hours, as Prometheus'
// own lookups are to whole blocks). SQL built here, run through the store.
import type { QueryParams, Store } from '../../core/store.ts';
import type { LabelMatcher } from '../range-query.ts';
import { matcherSql } from '../range-sql.ts';
import { rollupWatermark } from '../rollups.ts';
import { STORE_MAX_MS, STORE_MIN_MS } from './params.ts';

export interface Lookup {
  tenant: string;
  /** Selectors, any of which a series matches (each a conjunction of matchers); none: every series. */
  selectors: readonly (readonly LabelMatcher[])[];
  /** Unix ms; both absent: all time. */
  startMs?: number;
  endMs?: number;
  /** Most results; 0: no limit. */
  limit: number;
}

/** The largest DateTime (UInt32 seconds) the hourly rollup's `ts` holds. */
const MAX_DATETIME_S = 4_294_967_295;

/** WHERE clause over the series table for a lookup. */
async function whereOf(store: Store, lookup: Lookup, params: QueryParams): Promise<string> {
  params['tenant'] = lookup.tenant;
  const where = ['tenant = {tenant:String}'];
  let i = 0;
  const selectors = lookup.selectors.map((matchers) => `(${matchers.map((m) => matcherSql(m, i++, params)).join(' AND ')})`);
  if (selectors.length > 0) where.push(`(${selectors.join(' OR ')})`);
  if (lookup.startMs !== undefined || lookup.endMs !== undefined) {
    params['ws'] = Math.max(0, Math.floor((lookup.startMs ?? STORE_MIN_MS) / 1000));
    params['we'] = Math.min(MAX_DATETIME_S, Math.ceil((lookup.endMs ?? STORE_MAX_MS) / 1000));
    // Hours the roll-up loop has filled come from the hourly rollup; the hours after its watermark from raw samples.
    params['wm'] = Math.min(MAX_DATETIME_S, (await rollupWatermark(store, lookup.tenant))['1h']);
    where.push(
      `series_id IN (SELECT series_id FROM ${store.table('samples_1h')} WHERE tenant = {tenant:String}
        AND ts >= toStartOfHour(toDateTime({ws:UInt32}, 'UTC')) AND ts <= toDateTime({we:UInt32}, 'UTC') AND ts < toDateTime({wm:UInt32}, 'UTC')
        UNION ALL
        SELECT series_id FROM ${store.table('samples')} WHERE tenant = {tenant:String}
        AND ts >= toDateTime64(greatest({wm:UInt32}, toUInt32(toStartOfHour(toDateTime({ws:UInt32}, 'UTC')))), 3, 'UTC') AND ts < toDateTime64({we:UInt32} + 3600, 3, 'UTC'))`,
    );
  }
  return where.join(' AND ');
}

const limitSql = (limit: number) => (limit > 0 ? `LIMIT ${limit + 1}` : '');

/** Results cut to the limit, and whether there were more (Prometheus then warns). */
function cut<T>(rows: T[], limit: number): { rows: T[]; truncated: boolean } {
  return limit > 0 && rows.length > limit ? { rows: rows.slice(0, limit), truncated: true } : { rows, truncated: false };
}

function compareLabelSets(a: Record<string, string>, b: Record<string, string>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    if (a[ka[i]!] !== b[kb[i]!]) return a[ka[i]!]! < b[kb[i]!]! ? -1 : 1;
  }
  return ka.length - kb.length;
}

/** Label sets (with `__name__`) of the matching series, each with its names sorted, in Prometheus' order. */
export async function lookupSeries(store: Store, lookup: Lookup): Promise<{ rows: Record<string, string>[]; truncated: boolean }> {
  const params: QueryParams = {};
  // Not `AS labels`: that alias would shadow the column in WHERE.
  const rows = await store.query<{ series_labels: Record<string, string> }>(
    `SELECT any(labels) AS series_labels FROM ${store.table('series')} WHERE ${await whereOf(store, lookup, params)}
      GROUP BY series_id ORDER BY any(metric), toString(series_labels) ${limitSql(lookup.limit)}`,
    params,
  );
  const sets = rows.map((r) => Object.fromEntries(Object.entries(r.series_labels).filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  return cut(sets.sort(compareLabelSets), lookup.limit);
}

/** Label names of the matching series, sorted. */
export async function lookupLabelNames(store: Store, lookup: Lookup): Promise<{ rows: string[]; truncated: boolean }> {
  const params: QueryParams = {};
  const rows = await store.query<{ name: string }>(
    `SELECT DISTINCT arrayJoin(mapKeys(mapFilter((k, v) -> v != '', labels))) AS name FROM ${store.table('series')}
      WHERE ${await whereOf(store, lookup, params)} ORDER BY name ${limitSql(lookup.limit)}`,
    params,
  );
  return cut(rows.map((r) => r.name), lookup.limit);
}

/** Values of one label over the matching series, sorted. */
export async function lookupLabelValues(store: Store, lookup: Lookup, label: string): Promise<{ rows: string[]; truncated: boolean }> {
  const params: QueryParams = { label };
  const value = label === '__name__' ? 'metric' : 'labels[{label:String}]';
  const rows = await store.query<{ value: string }>(
    `SELECT DISTINCT ${value} AS value FROM ${store.table('series')}
      WHERE ${await whereOf(store, lookup, params)} AND value != '' ORDER BY value ${limitSql(lookup.limit)}`,
    params,
  );
  return cut(rows.map((r) => r.value), lookup.limit);
}
