// Running LogQL against the store: the plans (plan.ts) executed, the stages
// ClickHouse cannot run applied per line (pipeline.ts), metric queries
// evaluated (metric.ts); and the label, series and index-stats questions
// Grafana's Loki data source asks. Every query filters on the tenant.
import { InputError } from '../../core/errors.ts';
import type { Store } from '../../core/store.ts';
import type { LogQuery, MetricQuery, Selector } from './ast.ts';
import { compilePipeline, labelsOnly, type Entry } from './pipeline.ts';
import { anySelectorSql, planBuckets, planLines, planMetricLines, splitPipeline, SqlBuilder, whereSql, type NsRange, type SqlGrouping, type StepGrid } from './plan.ts';
import { bucketOf, evaluateMetric, labelsKey, rangeOf, type BucketRow, type Labels, type StepSeries } from './metric.ts';

/** The logs table (logs/schema.ts). */
export const LOGS_TABLE = 'logs';

/** At most this many rows are read to run json/logfmt/line_format stages for one log query. */
export const MAX_SCANNED_LINES = 200_000;
/** At most this many lines feed a metric query whose pipeline runs here; beyond, a 400 asks for a narrower query. */
export const MAX_METRIC_LINES = 250_000;
/** At most this many (series, bucket) counts come back from ClickHouse for one metric query. */
export const MAX_BUCKET_ROWS = 500_000;
/** Label names, values and series answered at most. */
export const MAX_LABEL_ANSWERS = 10_000;

/**
 * Runs a store query, turning refusals that the query (not the store) causes
 * into 400s: a regex re2js accepts but the store's RE2 will not compile (its
 * program-size budget, `\\pL{1000}`), and a query over one query's memory.
 */
async function query<T>(store: Store, sql: string, params: Record<string, unknown>): Promise<T[]> {
  try {
    return await store.query<T>(sql, params);
  } catch (e) {
    const message = (e as Error).message ?? '';
    if (/cannot compile re2|CANNOT_COMPILE_REGEXP/i.test(message)) {
      const reason = /error: ([^.]*)/.exec(message)?.[1] ?? 'RE2 cannot compile it';
      throw new InputError('query', `a regular expression in the query is not one the store's RE2 compiles: ${reason}`);
    }
    if (/MEMORY_LIMIT_EXCEEDED|memory limit exceeded/i.test(message) && !/total memory/i.test(message)) {
      throw new InputError('query', 'the query needs more memory than one query may use; narrow the selector or shorten the range', 'query_too_large');
    }
    throw e;
  }
}

interface LineRow {
  ts_ns: string;
  stream: string;
  labels: Record<string, string>;
  line: string;
}

export interface Stream {
  readonly stream: Labels;
  readonly values: [string, string][];
}

/** What a query read, for Loki's `stats`. */
export interface QueryCounts {
  linesProcessed: number;
  bytesProcessed: number;
  entriesReturned: number;
}

export interface StreamsAnswer {
  readonly streams: Stream[];
  readonly counts: QueryCounts;
}

function groupStreams(entries: readonly { tsNs: string; labels: Labels; line: string }[]): Stream[] {
  const byKey = new Map<string, Stream>();
  for (const e of entries) {
    const key = labelsKey(e.labels);
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { stream: e.labels, values: [] }));
    s.values.push([e.tsNs, e.line]);
  }
  return [...byKey.values()];
}

/** The lines of a log query in [start, end), newest or oldest first, at most `limit`. */
export async function selectLines(store: Store, tenant: string, q: LogQuery, range: NsRange, direction: 'backward' | 'forward', limit: number): Promise<StreamsAnswer> {
  const table = store.table(LOGS_TABLE);
  const { rest } = splitPipeline(q.pipeline);
  const pipeline = compilePipeline(rest);
  const counts: QueryCounts = { linesProcessed: 0, bytesProcessed: 0, entriesReturned: 0 };
  const kept: { tsNs: string; labels: Labels; line: string }[] = [];
  if (!pipeline) {
    const plan = planLines(table, tenant, q, range, direction, limit);
    const rows = await query<LineRow>(store, plan.sql, plan.params);
    for (const r of rows) {
      counts.linesProcessed++;
      counts.bytesProcessed += Buffer.byteLength(r.line);
      kept.push({ tsNs: r.ts_ns, labels: r.labels, line: r.line });
    }
  } else {
    // Stages run here drop lines ClickHouse cannot know about: read pages until enough survive.
    const page = Math.min(Math.max(limit * 4, 1000), 20_000);
    for (let offset = 0; kept.length < limit && offset < MAX_SCANNED_LINES; offset += page) {
      const plan = planLines(table, tenant, q, range, direction, page, offset);
      const rows = await query<LineRow>(store, plan.sql, plan.params);
      for (const r of rows) {
        counts.linesProcessed++;
        counts.bytesProcessed += Buffer.byteLength(r.line);
        const e = pipeline({ labels: { ...r.labels }, line: r.line });
        if (!e) continue;
        kept.push({ tsNs: r.ts_ns, labels: withoutDetails(e), line: e.line });
        if (kept.length >= limit) break;
      }
      if (rows.length < page) break;
    }
  }
  counts.entriesReturned = kept.length;
  return { streams: groupStreams(kept), counts };
}

function withoutDetails(e: Entry): Labels {
  if (!('__error_details__' in e.labels)) return e.labels;
  const { __error_details__: _, ...rest } = e.labels;
  return rest;
}

interface BucketSqlRow {
  labels: Record<string, string>;
  bucket: number | string;
  lines: number | string;
  bytes: number | string;
}

/** `sum by (…)` or `sum without (…)` straight over a range aggregation: ClickHouse can fold the streams into the groups. */
function sqlGrouping(q: MetricQuery): SqlGrouping {
  if (q.kind === 'vector' && q.op === 'sum' && q.grouping && q.inner.kind === 'range') return { kind: q.grouping.mode, labels: q.grouping.labels };
  return { kind: 'stream' };
}

/** A metric query's series over the grid's steps. */
export async function evaluateMetricQuery(store: Store, tenant: string, q: MetricQuery, grid: StepGrid): Promise<{ series: StepSeries[]; counts: QueryCounts }> {
  const table = store.table(LOGS_TABLE);
  const range = rangeOf(q);
  // One step (an instant query): a step as long as the window makes the window one bucket.
  const g = { ...grid, rangeNs: range.rangeNs, offsetNs: range.offsetNs, stepNs: grid.n === 1 ? range.rangeNs : grid.stepNs };
  const { rest } = splitPipeline(range.log.pipeline);
  const pipeline = compilePipeline(rest);
  const counts: QueryCounts = { linesProcessed: 0, bytesProcessed: 0, entriesReturned: 0 };
  const buckets: BucketRow[] = [];
  if (!pipeline || labelsOnly(rest)) {
    // drop/keep (Grafana's logs volume: `| drop __error__`) change only a series' labels: applied to ClickHouse's counts.
    const plan = planBuckets(table, tenant, range.log, g, sqlGrouping(q), MAX_BUCKET_ROWS + 1);
    const rows = await query<BucketSqlRow>(store, plan.sql, plan.params);
    if (rows.length > MAX_BUCKET_ROWS) {
      throw new InputError('query', `the query counts more than ${MAX_BUCKET_ROWS} series-steps; aggregate with sum by (…), narrow the selector, or take a larger step`, 'query_too_large');
    }
    for (const r of rows) {
      const lines = Number(r.lines);
      const bytes = Number(r.bytes);
      counts.linesProcessed += lines;
      counts.bytesProcessed += bytes;
      const labels = pipeline ? pipeline({ labels: r.labels, line: '' })!.labels : r.labels;
      buckets.push({ labels, bucket: Number(r.bucket), lines, bytes });
    }
  } else {
    const plan = planMetricLines(table, tenant, range.log, g, MAX_METRIC_LINES + 1);
    const rows = await query<LineRow>(store, plan.sql, plan.params);
    if (rows.length > MAX_METRIC_LINES) {
      throw new InputError('query', `the pipeline would run over more than ${MAX_METRIC_LINES} lines; narrow the selector, add a line filter before the parser, or shorten the range`, 'query_too_large');
    }
    for (const r of rows) {
      const bytes = Buffer.byteLength(r.line);
      counts.linesProcessed++;
      counts.bytesProcessed += bytes;
      const e = pipeline({ labels: { ...r.labels }, line: r.line });
      if (!e) continue;
      buckets.push({ labels: withoutDetails(e), bucket: bucketOf(BigInt(r.ts_ns), g), lines: 1, bytes });
    }
  }
  const series = evaluateMetric(q, buckets, g);
  counts.entriesReturned = series.length;
  return { series, counts };
}

function optionalWhere(b: SqlBuilder, tenant: string, range: NsRange, selectors: readonly Selector[]): string {
  return `${whereSql(b, tenant, { matchers: [], search: [] }, [], range)} AND ${anySelectorSql(b, selectors)}`;
}

/** Label names of the streams with lines in the range (and matching the selector, when given). */
export async function labelNames(store: Store, tenant: string, range: NsRange, selector: Selector | null): Promise<string[]> {
  const b = new SqlBuilder();
  const where = optionalWhere(b, tenant, range, selector ? [selector] : []);
  const rows = await query<{ name: string }>(
    store,
    `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS name FROM ${store.table(LOGS_TABLE)} WHERE ${where} ORDER BY name LIMIT ${MAX_LABEL_ANSWERS}`,
    b.params,
  );
  return rows.map((r) => r.name);
}

/** Values of one label over the streams with lines in the range (and matching the selector, when given). */
export async function labelValues(store: Store, tenant: string, name: string, range: NsRange, selector: Selector | null): Promise<string[]> {
  const b = new SqlBuilder();
  const where = optionalWhere(b, tenant, range, selector ? [selector] : []);
  const key = b.param(name, 'String');
  const rows = await query<{ value: string }>(
    store,
    `SELECT DISTINCT labels[${key}] AS value FROM ${store.table(LOGS_TABLE)} WHERE ${where} AND mapContains(labels, ${key}) ORDER BY value LIMIT ${MAX_LABEL_ANSWERS}`,
    b.params,
  );
  return rows.map((r) => r.value);
}

/** The label sets of the streams matching any of the selectors, with lines in the range. */
export async function seriesOf(store: Store, tenant: string, range: NsRange, selectors: readonly Selector[]): Promise<Labels[]> {
  const b = new SqlBuilder();
  const where = optionalWhere(b, tenant, range, selectors);
  // Not `AS labels`: ClickHouse would read the alias in the WHERE clause too.
  const rows = await query<{ stream_labels: Record<string, string> }>(
    store,
    `SELECT any(labels) AS stream_labels FROM ${store.table(LOGS_TABLE)} WHERE ${where} GROUP BY stream_id ORDER BY stream_id LIMIT ${MAX_LABEL_ANSWERS}`,
    b.params,
  );
  return rows.map((r) => r.stream_labels);
}

/** Loki's index stats: streams, chunks, entries and bytes a selector covers in the range. */
export async function indexStats(store: Store, tenant: string, q: LogQuery, range: NsRange): Promise<{ streams: number; chunks: number; entries: number; bytes: number }> {
  const b = new SqlBuilder();
  const { pushed } = splitPipeline(q.pipeline);
  const where = whereSql(b, tenant, q.selector, pushed, range);
  const [row] = await query<{ streams: number | string; chunks: number | string; entries: number | string; bytes: number | string }>(
    store,
    // A chunk is a stream's day here (its lines in one partition), the nearest thing to Loki's chunks.
    `SELECT uniqExact(stream_id) AS streams, uniqExact(stream_id, toDate(ts)) AS chunks, count() AS entries, sum(length(line)) AS bytes FROM ${store.table(LOGS_TABLE)} WHERE ${where}`,
    b.params,
  );
  return { streams: Number(row?.streams ?? 0), chunks: Number(row?.chunks ?? 0), entries: Number(row?.entries ?? 0), bytes: Number(row?.bytes ?? 0) };
}
