// The SQL of a range query, built as text from plain values with no I/O:
// label matchers to a series selection, one aggregation per step bucket and
// group, on the coarsest table whose resolution divides the step (a rollup
// read up to its watermark, raw samples after it: metrics/rollups.ts).
// Execution (and its errors) is in query.ts.
import { InputError } from '../core/errors.ts';
import type { Store, QueryParams } from '../core/store.ts';
import type { Aggregation } from './aggregations.ts';
import { NOT_STALE } from './schema.ts';
import { rollupSourceSql } from './rollups.ts';
import type { LabelMatcher, RangeQuery, SourceTable } from './range-query.ts';

/**
 * The coarsest table whose resolution divides the step. Quantiles come from
 * the 1-minute rollup at most: the hourly one keeps no values.
 */
export function chooseTable(step: number, fn?: Aggregation): SourceTable {
  if (step >= 3600 && step % 3600 === 0 && !(fn && isQuantile(fn))) return 'samples_1h';
  if (step >= 60 && step % 60 === 0) return 'samples_1m';
  return 'samples';
}

export function matcherSql(m: LabelMatcher, i: number, params: QueryParams): string {
  const key = `m${i}`;
  params[`${key}n`] = m.name;
  params[`${key}v`] = m.value;
  const label = m.name === '__name__' ? 'metric' : `labels[{${key}n:String}]`;
  switch (m.op) {
    case '=':
      return `${label} = {${key}v:String}`;
    case '!=':
      return `${label} != {${key}v:String}`;
    // Prometheus anchors regexes at both ends.
    case '=~':
      return `match(${label}, concat('^(?:', {${key}v:String}, ')$'))`;
    case '!~':
      return `NOT match(${label}, concat('^(?:', {${key}v:String}, ')$'))`;
  }
}

/** SQL selecting (series_id, grp) for the matching series, grp being the group-by label values. */
export function seriesSelection(store: Store, tenant: string, metric: string, matchers: readonly LabelMatcher[], by: readonly string[], params: QueryParams): string {
  params['tenant'] = tenant;
  params['metric'] = metric;
  const where = [`tenant = {tenant:String}`, `metric = {metric:String}`, ...matchers.map((m, i) => matcherSql(m, i, params))];
  const groupExpr = by.length === 0 ? 'labels' : `mapFilter((k, v) -> has({by:Array(String)}, k), labels)`;
  params['by'] = [...by];
  return `SELECT series_id, any(${groupExpr}) AS grp FROM ${store.table('series')} WHERE ${where.join(' AND ')} GROUP BY series_id`;
}

/**
 * Counter rate per series and bucket: the increases between consecutive
 * points (a drop is a counter reset: the counter restarted from zero) over
 * the time those increases span, so the first bucket and gaps are right.
 * `points` yields (series_id, ts, val).
 */
function rateSql(points: string, bucket: string): string {
  return `SELECT series_id, ${bucket} AS t, if(sum(dt) > 0, sum(inc) / sum(dt), nan) AS v FROM (
      SELECT series_id, ts, val,
        lagInFrame(val, 1, nan) OVER w AS prev,
        lagInFrame(toFloat64(ts), 1, nan) OVER w AS prev_t,
        if(isNaN(prev), 0, if(val >= prev, val - prev, val)) AS inc,
        if(isNaN(prev_t), 0, toFloat64(ts) - prev_t) AS dt
      FROM (${points})
      WINDOW w AS (PARTITION BY series_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))
    GROUP BY series_id, t`;
}

const QUANTILE_INDEX = { p50: 1, p90: 2, p95: 3, p99: 4 } as const;
const QUANTILE_LEVELS = [0.5, 0.9, 0.95, 0.99];

function isQuantile(fn: Aggregation): fn is 'p50' | 'p90' | 'p95' | 'p99' {
  return fn in QUANTILE_INDEX;
}

/** The step bucket of a row, and the rows of the selected series (`sel`) in the query's range. */
const BUCKET = `toUnixTimestamp(toStartOfInterval(ts, toIntervalSecond({step:UInt32})))`;
const RANGE = `tenant = {tenant:String} AND series_id IN (SELECT series_id FROM sel) AND ts >= toDateTime64({start:Float64}, 3, 'UTC') AND ts < toDateTime64({end:Float64}, 3, 'UTC')`;

/**
 * Per-(series, bucket) values from the chosen table: deduplicated raw samples
 * (a duplicate sent before a merge counts once), or merged rollup columns.
 * Yields (series_id, t, v, c): for avg, v is the sum and c the count, so
 * that averages across series weigh every sample alike.
 */
function perSeriesBucketSql(store: Store, table: SourceTable, fn: Aggregation, params: QueryParams): string {
  const bucket = BUCKET;
  const range = RANGE;
  if (table === 'samples') {
    const raw = `SELECT series_id, ts, any(value) AS val FROM ${store.table('samples')} WHERE ${range} GROUP BY series_id, ts HAVING ${NOT_STALE.replace('value', 'val')}`;
    if (fn === 'rate') return rateSql(raw, bucket);
    const agg = {
      avg: 'sum(val) AS v, count() AS c',
      sum: 'avg(val) AS v, 0 AS c',
      min: 'min(val) AS v, 0 AS c',
      max: 'max(val) AS v, 0 AS c',
      count: 'count() AS v, 0 AS c',
      last: 'argMax(val, ts) AS v, 0 AS c',
      p50: 'groupArray(val) AS v, 0 AS c',
      p90: 'groupArray(val) AS v, 0 AS c',
      p95: 'groupArray(val) AS v, 0 AS c',
      p99: 'groupArray(val) AS v, 0 AS c',
    }[fn];
    return `SELECT series_id, ${bucket} AS t, ${agg} FROM (${raw}) GROUP BY series_id, t`;
  }
  const src = rollupTableSql(store, table, params);
  // From a rollup, the rate runs over each bucket's last value.
  if (fn === 'rate') return rateSql(`SELECT series_id, ts, max(last).2 AS val FROM ${src} WHERE ${range} GROUP BY series_id, ts`, bucket);
  const agg = {
    avg: 'sum(sum) AS v, sum(count) AS c',
    sum: 'sum(sum) / sum(count) AS v, 0 AS c',
    min: 'min(min) AS v, 0 AS c',
    max: 'max(max) AS v, 0 AS c',
    count: 'sum(count) AS v, 0 AS c',
    last: 'max(last).2 AS v, 0 AS c',
    p50: 'groupArrayArray(values) AS v, 0 AS c',
    p90: 'groupArrayArray(values) AS v, 0 AS c',
    p95: 'groupArrayArray(values) AS v, 0 AS c',
    p99: 'groupArrayArray(values) AS v, 0 AS c',
  }[fn];
  return `SELECT series_id, ${bucket} AS t, ${agg} FROM ${src} WHERE ${range} GROUP BY series_id, t`;
}

/** How per-series bucket values combine across the series of a group. */
function acrossSeries(fn: Aggregation): string {
  switch (fn) {
    case 'avg':
      return 'sum(v) / sum(c)';
    case 'min':
      return 'min(v)';
    case 'max':
      return 'max(v)';
    case 'sum':
    case 'rate':
    case 'count':
      return 'sum(v)';
    case 'last':
      return 'avg(v)';
    default:
      return `quantileExact(${QUANTILE_LEVELS[QUANTILE_INDEX[fn] - 1]})(arrayJoin(v))`;
  }
}

export function rangeSql(store: Store, tenant: string, query: RangeQuery, table: SourceTable, params: QueryParams): string {
  const sel = seriesSelection(store, tenant, query.metric, query.matchers, query.by, params);
  if (table === 'samples' && query.step !== Math.round(query.step)) throw new InputError('step', 'step must be a whole number of seconds');
  // Groups are keyed by a hash of their labels, and series map to groups through transform() rather
  // than a JOIN: grouping a million points by a Map key measured twice as slow.
  const toGroup = `transform(series_id, (SELECT groupArray(series_id) FROM sel), (SELECT groupArray(gid) FROM sel), toUInt64(0))`;
  const single = singleLevelSql(store, table, query.fn, toGroup, params);
  const buckets =
    single ??
    `SELECT ${toGroup.replace('series_id', 'b.series_id')} AS gid, t, ${acrossSeries(query.fn)} AS value
        FROM (${perSeriesBucketSql(store, table, query.fn, params)}) AS b
        GROUP BY gid, t`;
  return `WITH sel AS (SELECT series_id, grp, sipHash64(grp) AS gid FROM (${sel})),
      groups AS (SELECT DISTINCT gid, grp FROM sel)
    SELECT grp AS labels, points FROM (
      SELECT gid, arraySort(groupArray((t, value))) AS points FROM (${buckets}) GROUP BY gid) AS g
    INNER JOIN groups USING gid ORDER BY toString(grp)`;
}

/**
 * Aggregations that combine across series the same way as within one
 * (avg over samples, min, max, count) need no per-series step on a rollup:
 * one GROUP BY over (group, bucket), measured about twice as fast.
 */
function singleLevelSql(store: Store, table: SourceTable, fn: Aggregation, toGroup: string, params: QueryParams): string | null {
  if (table === 'samples') return null;
  const agg = { avg: 'sum(sum) / sum(count)', min: 'min(min)', max: 'max(max)', count: 'sum(count)' }[fn as 'avg' | 'min' | 'max' | 'count'];
  if (!agg) return null;
  return `SELECT ${toGroup} AS gid, ${BUCKET} AS t, ${agg} AS value FROM ${rollupTableSql(store, table, params)} WHERE ${RANGE} GROUP BY gid, t`;
}

/**
 * A rollup as the query reads it: the table alone when it is complete over
 * the whole range (no `wm` parameter, or `wm` at or past the end), else its
 * rows before the watermark `wm` and raw samples after it.
 */
function rollupTableSql(store: Store, table: 'samples_1m' | 'samples_1h', params: QueryParams): string {
  const wm = params['wm'];
  if (typeof wm !== 'number' || !Number.isFinite(wm) || wm >= Number(params['end'])) return store.table(table);
  return rollupSourceSql(store, table, 'series_id IN (SELECT series_id FROM sel)');
}
