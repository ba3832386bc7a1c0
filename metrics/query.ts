// Running range queries and series lookups against the metrics tables: the
// question is parsed in range-query.ts and its SQL built in range-sql.ts;
// ClickHouse does all the aggregation, and this module turns its answers
// (and its refusals) into the API's.
import { InputError } from '../core/errors.ts';
import type { Store, QueryParams } from '../core/store.ts';
import type { LabelMatcher, RangeQuery, SeriesPoints, SourceTable } from './range-query.ts';
import { chooseTable, matcherSql, rangeSql } from './range-sql.ts';
import { rollupWatermark } from './rollups.ts';

export interface RangeQueryResult {
  series: SeriesPoints[];
  table: SourceTable;
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

/** A range query's parameters; on a rollup, with its watermark `wm`: raw samples stand in for buckets not rolled up yet. */
async function rangeParams(store: Store, tenant: string, query: RangeQuery, table: SourceTable): Promise<QueryParams> {
  const params: QueryParams = { start: query.start, end: query.end, step: Math.round(query.step) };
  if (table !== 'samples') {
    const wm = (await rollupWatermark(store, tenant))[table === 'samples_1m' ? '1m' : '1h'];
    if (Number.isFinite(wm)) params['wm'] = wm;
  }
  return params;
}

/** Runs a range query; ClickHouse returns one JSON row per group, already in the API's shape. */
export async function runRangeQuery(store: Store, tenant: string, query: RangeQuery, matcherField: MatcherField = jsonMatcherField): Promise<RangeQueryResult> {
  const table = query.table ?? chooseTable(query.step, query.fn);
  const params = await rangeParams(store, tenant, query, table);
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
  const params = await rangeParams(store, tenant, query, table);
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
