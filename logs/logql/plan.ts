// LogQL to ClickHouse SQL, with no I/O: the stream selector, the line
// filters that come before any parser, and Tidemark's token searches become
// the WHERE clause, so ClickHouse's full-text index skips the granules that
// cannot hold a needle; metric queries are counted per series and time
// bucket inside ClickHouse. What SQL cannot do (json, logfmt, label filters
// on what they extract, line_format) is left to pipeline.ts, per line.
import type { LabelMatcher, LineFilter, LogQuery, Selector, Stage } from './ast.ts';

export type Params = Record<string, unknown>;

/** Builds a WHERE clause with numbered query parameters (never values spliced into SQL). */
export class SqlBuilder {
  readonly params: Params = {};
  private n = 0;

  param(value: unknown, type: string): string {
    const name = `p${this.n++}`;
    this.params[name] = value;
    return `{${name}:${type}}`;
  }
}

/** LIKE's wildcards and its escape character, escaped: `a%b` matches only "a%b". */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** RE2 metacharacters escaped, so a literal reads as itself inside a pattern. */
export function quoteRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`);
}

/** ClickHouse's token characters (hasToken, the token bloom filter, the text index): ASCII letters and digits, and every non-ASCII character. */
const TOKEN_CHAR = /[A-Za-z0-9\u0080-\uffff]/;

/** The tokens of a search term as ClickHouse splits a line. */
export function tokensOf(term: string): string[] {
  return term.split(/[^A-Za-z0-9\u0080-\uffff]+/).filter((t) => t !== '');
}

/** ClickHouse's lower(): ASCII letters only (lowerUTF8 is the Unicode one), which the index is built with. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function matcherSql(b: SqlBuilder, m: LabelMatcher): string {
  // A label a stream does not have reads as '' from the map, which is Loki's meaning of an absent label.
  const value = `labels[${b.param(m.name, 'String')}]`;
  switch (m.op) {
    case '=':
      return `${value} = ${b.param(m.value, 'String')}`;
    case '!=':
      return `${value} != ${b.param(m.value, 'String')}`;
    case '=~':
      return `match(${value}, ${b.param(`^(?s:${m.value})$`, 'String')})`;
    case '!~':
      return `NOT match(${value}, ${b.param(`^(?s:${m.value})$`, 'String')})`;
  }
}

/**
 * A token search: every token of the term as a whole token, case-insensitive
 * (hasToken over lower(line): the expression the text index of
 * logs/schema.ts indexes, so ClickHouse reads the index, not the lines), and
 * a term of several tokens also as written, with token boundaries at its
 * ends (the phrase semantics of VictoriaLogs), checked on the granules the
 * index kept.
 */
export function searchSql(b: SqlBuilder, term: string): string {
  const tokens = tokensOf(term);
  const parts = tokens.map((t) => `hasToken(lower(line), ${b.param(asciiLower(t), 'String')})`);
  const single = tokens.length === 1 && tokens[0] === term;
  if (!single) {
    const edge = '[^A-Za-z0-9\\x{80}-\\x{10FFFF}]';
    const before = TOKEN_CHAR.test(term[0] ?? '') ? `(?:^|${edge})` : '';
    const after = TOKEN_CHAR.test(term[term.length - 1] ?? '') ? `(?:$|${edge})` : '';
    parts.push(`match(line, ${b.param(`(?i)${before}${quoteRegex(term)}${after}`, 'String')})`);
  }
  return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
}

/**
 * The tokens a line holding `needle` anywhere must hold whole: those inside
 * it, bounded by separators on both sides (an edge token may be part of a
 * longer one in the line: "rror" in "error"). "10.1.2.3" gives 1 and 2.
 */
export function innerTokens(needle: string): string[] {
  const tokens = tokensOf(needle);
  if (tokens.length > 0 && TOKEN_CHAR.test(needle[0] ?? '')) tokens.shift();
  if (tokens.length > 0 && TOKEN_CHAR.test(needle[needle.length - 1] ?? '')) tokens.pop();
  return tokens;
}

function lineFilterSql(b: SqlBuilder, f: LineFilter): string {
  const any = (fn: (v: string) => string): string => (f.values.length === 1 ? fn(f.values[0]!) : `(${f.values.map(fn).join(' OR ')})`);
  switch (f.op) {
    // Loki's substring semantics, exactly (case-sensitive); the needle's inner tokens, which any
    // matching line holds whole, go to the text index first (hasToken over lower(line)).
    case '|=':
      return any((v) => {
        const exact = `like(line, ${b.param(`%${likeLiteral(v)}%`, 'String')})`;
        const inner = [...new Set(innerTokens(v).map(asciiLower))];
        return inner.length === 0 ? exact : `(${[...inner.map((t) => `hasToken(lower(line), ${b.param(t, 'String')})`), exact].join(' AND ')})`;
      });
    case '!=':
      return `NOT ${any((v) => `like(line, ${b.param(`%${likeLiteral(v)}%`, 'String')})`)}`;
    case '|~':
      return any((v) => `match(line, ${b.param(v, 'String')})`);
    case '!~':
      return `NOT ${any((v) => `match(line, ${b.param(v, 'String')})`)}`;
  }
}

/** The line filters ClickHouse can run (those before the first parser or line_format), and the stages left for pipeline.ts. */
export function splitPipeline(pipeline: readonly Stage[]): { pushed: LineFilter[]; rest: Stage[] } {
  const pushed: LineFilter[] = [];
  let i = 0;
  for (; i < pipeline.length; i++) {
    const s = pipeline[i]!;
    if (s.kind !== 'line') break;
    pushed.push(s);
  }
  return { pushed, rest: pipeline.slice(i) };
}

/** A time range in nanoseconds since the epoch: [start, end) unless endInclusive. */
export interface NsRange {
  readonly start: bigint;
  readonly end: bigint;
  readonly endInclusive?: boolean;
}

/** The WHERE clause of a log query: tenant, time, selector, token searches and the pushed line filters. */
export function whereSql(b: SqlBuilder, tenant: string, selector: Selector, filters: readonly LineFilter[], range: NsRange | null): string {
  const parts = [`tenant = ${b.param(tenant, 'String')}`];
  if (range) {
    parts.push(`ts >= fromUnixTimestamp64Nano(${b.param(range.start.toString(), 'Int64')}, 'UTC')`);
    parts.push(`ts ${range.endInclusive ? '<=' : '<'} fromUnixTimestamp64Nano(${b.param(range.end.toString(), 'Int64')}, 'UTC')`);
  }
  for (const m of selector.matchers) parts.push(matcherSql(b, m));
  for (const term of selector.search) if (tokensOf(term).length > 0) parts.push(searchSql(b, term));
  for (const f of filters) parts.push(lineFilterSql(b, f));
  return parts.join(' AND ');
}

/** Several selectors (the series API's match[]), any of which may match. */
export function anySelectorSql(b: SqlBuilder, selectors: readonly Selector[]): string {
  if (selectors.length === 0) return '1';
  const one = (s: Selector): string => {
    const parts = [...s.matchers.map((m) => matcherSql(b, m)), ...s.search.filter((t) => tokensOf(t).length > 0).map((t) => searchSql(b, t))];
    return parts.length === 0 ? '1' : `(${parts.join(' AND ')})`;
  };
  return selectors.length === 1 ? one(selectors[0]!) : `(${selectors.map(one).join(' OR ')})`;
}

export interface LinesPlan {
  readonly sql: string;
  readonly params: Params;
  /** Stages pipeline.ts runs on each row; none when ClickHouse answered everything. */
  readonly rest: readonly Stage[];
}

/**
 * The lines of a log query, newest (backward) or oldest (forward) first.
 * With stages left for pipeline.ts, rows are read in pages (`offset`) until
 * enough survive; without, `limit` is exact.
 */
export function planLines(table: string, tenant: string, q: LogQuery, range: NsRange, direction: 'backward' | 'forward', limit: number, offset = 0): LinesPlan {
  const b = new SqlBuilder();
  const { pushed, rest } = splitPipeline(q.pipeline);
  const where = whereSql(b, tenant, q.selector, pushed, range);
  const order = direction === 'backward' ? 'DESC' : 'ASC';
  const sql =
    `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, toString(stream_id) AS stream, labels, line FROM ${table}` +
    ` WHERE ${where} ORDER BY ts ${order} LIMIT ${b.param(limit, 'UInt64')}${offset > 0 ? ` OFFSET ${b.param(offset, 'UInt64')}` : ''}`;
  return { sql, params: b.params, rest };
}

/**
 * Evaluation steps of a metric query: t_i = start + i*step, i in [0, n); the
 * window of t_i is (t_i - offset - range, t_i - offset]. Lines are counted
 * in buckets of width g = gcd(step, range), bucket j holding the lines with
 * (j-1)*g < ts - origin <= j*g (origin = start - offset); window i is then
 * buckets (i*step - range)/g < j <= i*step/g, summed by metric.ts.
 */
export interface StepGrid {
  readonly startNs: bigint;
  readonly stepNs: bigint;
  readonly n: number;
  readonly rangeNs: bigint;
  readonly offsetNs: bigint;
}

export function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

export function bucketWidth(grid: StepGrid): bigint {
  return gcd(grid.stepNs, grid.rangeNs);
}

/** The span of timestamps a grid reads: (origin - range, origin + (n-1)*step]. */
export function gridRange(grid: StepGrid): NsRange {
  const origin = grid.startNs - grid.offsetNs;
  return { start: origin - grid.rangeNs + 1n, end: origin + BigInt(grid.n - 1) * grid.stepNs, endInclusive: true };
}

/** How the rows of a metric query are grouped in ClickHouse: per stream, or already by the labels of an outer `sum by/without`. */
export type SqlGrouping = { readonly kind: 'stream' } | { readonly kind: 'by' | 'without'; readonly labels: readonly string[] };

export interface BucketsPlan {
  readonly sql: string;
  readonly params: Params;
}

/**
 * Line counts and bytes per series and bucket, when every stage runs in
 * ClickHouse (splitPipeline's rest is empty). Rows: labels, bucket, lines, bytes.
 */
export function planBuckets(table: string, tenant: string, q: LogQuery, grid: StepGrid, grouping: SqlGrouping, maxRows: number): BucketsPlan {
  const b = new SqlBuilder();
  const { pushed } = splitPipeline(q.pipeline);
  const where = whereSql(b, tenant, q.selector, pushed, gridRange(grid));
  const width = bucketWidth(grid);
  const origin = b.param((grid.startNs - grid.offsetNs).toString(), 'Int64');
  const g = b.param(width.toString(), 'Int64');
  // ceil((ts - origin) / g), for negative offsets too (intDiv truncates toward zero).
  const u = `(toUnixTimestamp64Nano(ts) - ${origin})`;
  const bucket = `if(${u} > 0, intDiv(${u} + ${g} - 1, ${g}), -intDiv(-${u}, ${g}))`;
  let key: string;
  let labels: string;
  if (grouping.kind === 'stream') {
    key = 'stream_id';
    labels = 'any(labels)';
  } else {
    const names = b.param(grouping.labels, 'Array(String)');
    key = grouping.kind === 'by' ? `mapFilter((k, v) -> has(${names}, k), labels)` : `mapFilter((k, v) -> NOT has(${names}, k), labels)`;
    labels = 'any(grouped)';
  }
  const sql =
    `SELECT ${labels} AS labels, bucket, count() AS lines, sum(length(line)) AS bytes FROM (` +
    `SELECT ${key} AS grouped, labels, line, ${bucket} AS bucket FROM ${table} WHERE ${where}` +
    `) GROUP BY grouped, bucket LIMIT ${b.param(maxRows, 'UInt64')}`;
  return { sql, params: b.params };
}

/** The rows (time, labels, line) a metric query's JS pipeline reads, oldest first, at most `limit`. */
export function planMetricLines(table: string, tenant: string, q: LogQuery, grid: StepGrid, limit: number): LinesPlan {
  const b = new SqlBuilder();
  const { pushed, rest } = splitPipeline(q.pipeline);
  const where = whereSql(b, tenant, q.selector, pushed, gridRange(grid));
  const sql = `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, toString(stream_id) AS stream, labels, line FROM ${table} WHERE ${where} LIMIT ${b.param(limit, 'UInt64')}`;
  return { sql, params: b.params, rest };
}
