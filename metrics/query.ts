// Range queries over the metrics table family: label matchers to series,
// then one aggregation per step bucket and group, pushed entirely into
// ClickHouse. The coarsest table whose resolution divides the step answers.
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { AGGREGATIONS, type Aggregation } from './aggregations.ts';
import { parseInput } from '../core/validate.ts';
import { isValidLabelName } from './series.ts';
import { NOT_STALE } from './schema.ts';
import { regexProblem } from './regex.ts';
import type { Store, QueryParams } from '../core/store.ts';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}


export type SourceTable = 'samples' | 'samples_1m' | 'samples_1h';

export interface RangeQuery {
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
  readonly fn: Aggregation;
  /** Labels to group by; empty: one series per input series for avg/min/max/last/rate, one overall otherwise. */
  readonly by: readonly string[];
  /** Unix seconds, start inclusive, end exclusive. */
  readonly start: number;
  readonly end: number;
  /** Seconds. */
  readonly step: number;
  /** Read this table instead of the coarsest that fits the step (raw for exact short-window figures). */
  readonly table?: SourceTable;
}

export interface SeriesPoints {
  labels: Record<string, string>;
  points: [number, number | null][];
}

/** Parses `name=value`, `name!=value`, `name=~regex`, `name!~regex`. */
export function parseMatcher(text: string, field = 'match'): LabelMatcher {
  const m = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/.exec(text);
  if (!m) throw new InputError(field, `"${text}" is not a matcher such as namespace=shop or pod=~"web-.*"`);
  let value = m[3]!;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  const op = m[2] as MatchOp;
  if (op === '=~' || op === '!~') {
    const problem = regexProblem(value);
    if (problem) throw new InputError(field, problem);
  }
  return { name: m[1]!, op, value };
}

/** Parses unix seconds or an RFC 3339 time into unix seconds. */
export function parseTime(text: string, field: string): number {
  const n = Number(text);
  if (text.trim() !== '' && Number.isFinite(n)) return n;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InputError(field, `"${text}" is not a unix timestamp or RFC 3339 time`);
  return ms / 1000;
}

/** 2200-01-01T00:00:00Z in Unix seconds. */
const MAX_QUERY_TIME = 7_258_118_400;

const rangeQuerySchema = z
  .object({
    metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'not a valid metric name'),
    matchers: z.array(
      z
        .object({ name: z.string().refine(isValidLabelName, 'not a valid label name'), op: z.enum(['=', '!=', '=~', '!~']), value: z.string() })
        .superRefine((m, issues) => {
          const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : null;
          if (problem) issues.addIssue({ code: 'custom', message: problem, path: ['value'] });
        }),
    ),
    fn: z.enum(AGGREGATIONS),
    by: z.array(z.string().refine(isValidLabelName, 'not a valid label name')),
    // Unix seconds the store's DateTime64 can hold (1970 up to 2200): beyond, ClickHouse refuses the query.
    start: z.number().min(0).max(MAX_QUERY_TIME),
    end: z.number().min(0).max(MAX_QUERY_TIME),
    step: z.number().positive().max(86400 * 31),
  })
  .refine((q) => q.end > q.start, { message: 'end must be after start', path: ['end'] })
  .refine((q) => (q.end - q.start) / q.step <= 11_000, { message: 'too many points per series (at most 11,000): raise the step', path: ['step'] });

export function validateRangeQuery(input: unknown): RangeQuery {
  return parseInput(rangeQuerySchema, input);
}

/**
 * The coarsest table whose resolution divides the step. Quantiles come from
 * the 1-minute rollup at most: the hourly one keeps no values.
 */
export function chooseTable(step: number, fn?: Aggregation): SourceTable {
  if (step >= 3600 && step % 3600 === 0 && !(fn && isQuantile(fn))) return 'samples_1h';
  if (step >= 60 && step % 60 === 0) return 'samples_1m';
  return 'samples';
}

function matcherSql(m: LabelMatcher, i: number, params: QueryParams): string {
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
function perSeriesBucketSql(store: Store, table: SourceTable, fn: Aggregation): string {
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
  const src = store.table(table);
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

export interface RangeQueryResult {
  series: SeriesPoints[];
  table: SourceTable;
}

function rangeSql(store: Store, tenant: string, query: RangeQuery, table: SourceTable, params: QueryParams): string {
  const sel = seriesSelection(store, tenant, query.metric, query.matchers, query.by, params);
  if (table === 'samples' && query.step !== Math.round(query.step)) throw new InputError('step', 'step must be a whole number of seconds');
  // Groups are keyed by a hash of their labels, and series map to groups through transform() rather
  // than a JOIN: grouping a million points by a Map key measured twice as slow.
  const toGroup = `transform(series_id, (SELECT groupArray(series_id) FROM sel), (SELECT groupArray(gid) FROM sel), toUInt64(0))`;
  const single = singleLevelSql(store, table, query.fn, toGroup);
  const buckets =
    single ??
    `SELECT ${toGroup.replace('series_id', 'b.series_id')} AS gid, t, ${acrossSeries(query.fn)} AS value
        FROM (${perSeriesBucketSql(store, table, query.fn)}) AS b
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
function singleLevelSql(store: Store, table: SourceTable, fn: Aggregation, toGroup: string): string | null {
  if (table === 'samples') return null;
  const agg = { avg: 'sum(sum) / sum(count)', min: 'min(min)', max: 'max(max)', count: 'sum(count)' }[fn as 'avg' | 'min' | 'max' | 'count'];
  if (!agg) return null;
  return `SELECT ${toGroup} AS gid, ${BUCKET} AS t, ${agg} AS value FROM ${store.table(table)} WHERE ${RANGE} GROUP BY gid, t`;
}

/** Names matcher i in an error: `matchers[i].value` in a JSON query, `match[i]` in a query string. */
export type MatcherField = (index: number) => string;

const jsonMatcherField: MatcherField = (i) => `matchers[${i}].value`;

/**
 * Runs a store query, turning ClickHouse's refusal to compile a matcher's
 * regex into a 400 naming it. re2js applies RE2's syntax rules at the edge,
 * but not the size budget of RE2's UTF-8 program (`\pL{1000}` three times
 * over is "pattern too large"), which only the store's RE2 knows.
 */
async function refusingOversizedRegex<T>(matchers: readonly LabelMatcher[], field: MatcherField, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const message = (e as Error).message ?? '';
    if (!/cannot compile re2|CANNOT_COMPILE_REGEXP/i.test(message)) throw e;
    const regexes = matchers.map((m, i) => ({ m, i })).filter(({ m }) => m.op === '=~' || m.op === '!~');
    const culprit = regexes.find(({ m }) => message.includes(`^(?:${m.value})$`)) ?? regexes[0];
    if (!culprit) throw e;
    const reason = /error: ([^.]*)/.exec(message)?.[1] ?? 'RE2 cannot compile it';
    throw new InputError(field(culprit.i), `"${culprit.m.value.slice(0, 200)}" is not a regular expression the store's RE2 compiles: ${reason}`);
  }
}

// NaN and ±Inf come out as null: JSON has no spelling for them.
const JSON_SETTINGS = { output_format_json_quote_denormals: 0 } as const;

/** Runs a range query; ClickHouse returns one JSON row per group, already in the API's shape. */
export async function runRangeQuery(store: Store, tenant: string, query: RangeQuery, matcherField: MatcherField = jsonMatcherField): Promise<RangeQueryResult> {
  const table = query.table ?? chooseTable(query.step, query.fn);
  const params: QueryParams = { start: query.start, end: query.end, step: Math.round(query.step) };
  const rows = await refusingOversizedRegex(query.matchers, matcherField, () => store.query<SeriesPoints>(rangeSql(store, tenant, query, table, params), params, JSON_SETTINGS));
  return { series: rows, table };
}

/**
 * The same answer as runRangeQuery, as the bytes of the HTTP response:
 * ClickHouse's JSON rows are spliced into the body without being parsed or
 * even decoded, which matters for answers of a million points. Row
 * separators become commas in place (a newline inside a JSON string is
 * always escaped, so every raw newline is a separator).
 */
export async function runRangeQueryJson(store: Store, tenant: string, query: RangeQuery, matcherField: MatcherField = jsonMatcherField): Promise<Buffer> {
  const table = query.table ?? chooseTable(query.step, query.fn);
  const params: QueryParams = { start: query.start, end: query.end, step: Math.round(query.step) };
  const rows = await refusingOversizedRegex(query.matchers, matcherField, () => store.queryBytes(rangeSql(store, tenant, query, table, params), 'JSONEachRow', params, JSON_SETTINGS));
  let end = rows.length;
  while (end > 0 && rows[end - 1] === 0x0a) end--;
  const body = rows.subarray(0, end);
  for (let i = body.indexOf(0x0a); i !== -1; i = body.indexOf(0x0a, i + 1)) body[i] = 0x2c;
  return Buffer.concat([Buffer.from('{"series":['), body, Buffer.from(`],"table":"${table}"}`)]);
}

export interface SeriesLookup {
  metric?: string;
  matchers: readonly LabelMatcher[];
  limit: number;
}

/** Series (label sets with __name__) matching the matchers. */
export async function findSeries(store: Store, tenant: string, lookup: SeriesLookup, matcherField: MatcherField = (i) => `match[${i}]`): Promise<Record<string, string>[]> {
  const params: QueryParams = { tenant, limit: lookup.limit };
  const where = [`tenant = {tenant:String}`];
  if (lookup.metric) {
    params['metric'] = lookup.metric;
    where.push('metric = {metric:String}');
  }
  lookup.matchers.forEach((m, i) => where.push(matcherSql(m, i, params)));
  // Not `AS labels`: that alias would shadow the column in WHERE, putting an aggregate there.
  const rows = await refusingOversizedRegex(lookup.matchers, matcherField, () =>
    store.query<{ series_labels: Record<string, string> }>(
      `SELECT any(labels) AS series_labels FROM ${store.table('series')} WHERE ${where.join(' AND ')} GROUP BY series_id ORDER BY toString(series_labels) LIMIT {limit:UInt32}`,
      params,
    ),
  );
  return rows.map((r) => r.series_labels);
}
