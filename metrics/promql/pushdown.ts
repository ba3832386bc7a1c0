// The pure planner of the sub-expressions evaluated for every step at once
// (range-steps.ts): `f(sel[r])` for the rate family and the *_over_time
// aggregates, and `sum|avg|min|max|count|group [by|without]` over them or
// over an instant selector. Which rollup, if any, answers one exactly
// (chooseRollup), and the SQL of that rollup read: per output step k
// (te = start + k·step − offset) the whole buckets in [te − r, te) fanned
// out to the steps whose window holds them plus the raw samples at te,
// aggregated per (series, step), then grouped across series. Everything
// else is evaluated step by step (evaluate.ts).
import type { Aggregate, Call, Expr, MatrixSelector } from './ast.ts';
import { childrenOf } from './parse.ts';
import { seriesSelectionSql, type QueryTimes, type SqlQuery } from './plan.ts';
import { STALE_BITS_SQL } from '../schema.ts';

export const PUSHDOWN_FUNCTIONS = ['rate', 'increase', 'delta', 'sum_over_time', 'count_over_time', 'min_over_time', 'max_over_time', 'avg_over_time', 'last_over_time', 'present_over_time'] as const;
/** A range function, or `instant`: an instant-vector selector under an aggregation (its "range" the lookback). */
export type PushdownFunction = (typeof PUSHDOWN_FUNCTIONS)[number] | 'instant';
const PUSHDOWN_AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'group'] as const;
type PushdownAggregation = (typeof PUSHDOWN_AGGREGATIONS)[number];

export interface Pushdown {
  /** The node whose per-step answer ClickHouse computes. */
  readonly expr: Expr;
  readonly fn: PushdownFunction;
  readonly matrix: MatrixSelector;
  readonly aggregation: { op: PushdownAggregation; grouping: readonly string[]; without: boolean } | null;
}

function pushableCall(e: Expr): { call: Call; fn: PushdownFunction; matrix: MatrixSelector } | null {
  if (e.kind !== 'call' || !(PUSHDOWN_FUNCTIONS as readonly string[]).includes(e.fn)) return null;
  const arg = e.args[0];
  if (!arg || arg.kind !== 'matrix') return null;
  const vs = arg.vector;
  // A selector across metric names could collide once __name__ is dropped (an error in Prometheus): Node checks that.
  if (vs.at || !vs.matchers.some((m) => m.name === '__name__' && m.op === '=')) return null;
  return { call: e, fn: e.fn as PushdownFunction, matrix: arg };
}

/**
 * Most steps one rollup bucket may fan out to in the rollup statement
 * (pushdownSql). Beyond it (e.g. a 2 h window at 1 min steps: 121 rows per
 * bucket) the statement's work is all after its reads, where neither
 * max_execution_time nor (embedded) an abort can stop it; raw samples
 * through range-steps.ts, which checks the deadline per series, take those.
 */
export const MAX_FANOUT = 100;

/**
 * The sub-expressions evaluated for all steps at once: the largest pushable
 * node on each path from the root, never inside a subquery (whose steps are
 * not the query's).
 */
export function findPushdowns(root: Expr, lookbackMs = 300_000): Pushdown[] {
  const out: Pushdown[] = [];
  const walk = (e: Expr): void => {
    if (e.kind === 'subquery') return;
    if (e.kind === 'aggregate' && (PUSHDOWN_AGGREGATIONS as readonly string[]).includes(e.op)) {
      const a = e as Aggregate;
      const aggregation = { op: a.op as PushdownAggregation, grouping: a.grouping, without: a.without };
      const vs = unparen(e.expr);
      if (vs.kind === 'vector' && !vs.at) {
        out.push({ expr: e, fn: 'instant', matrix: { kind: 'matrix', vector: vs, rangeMs: lookbackMs }, aggregation });
        return;
      }
      const inner = pushableCall(e.expr);
      if (inner) {
        out.push({ expr: e, fn: inner.fn, matrix: inner.matrix, aggregation });
        return;
      }
    }
    const call = pushableCall(e);
    if (call) {
      out.push({ expr: e, fn: call.fn, matrix: call.matrix, aggregation: null });
      return;
    }
    for (const c of childrenOf(e)) walk(c);
  };
  walk(root);
  return out;
}

function unparen(e: Expr): Expr {
  return e.kind === 'paren' ? unparen(e.expr) : e;
}

export interface PushdownSteps {
  startMs: number;
  stepMs: number;
  count: number;
}

/**
 * The SQL of a min_over_time/max_over_time pushdown read from a rollup
 * (chooseRollup): JSON rows `[labels, [[k, partials…], …]]`, one per output
 * series (per group when aggregated), k the step index. Each rollup bucket
 * is fanned out to the steps whose window holds it (at most MAX_FANOUT),
 * aggregated per (series, step) with the raw samples exactly at te, then
 * grouped across series.
 */
export function pushdownSql(p: Pushdown, table: (name: string) => string, tenant: string, steps: PushdownSteps, rollup: Rollup, chunk: Chunk = { index: 0, of: 1 }): SqlQuery {
  if (p.fn !== 'min_over_time' && p.fn !== 'max_over_time') throw new Error(`pushdownSql: ${p.fn} is not read from a rollup`);
  const params: Record<string, unknown> = {};
  const vs = p.matrix.vector;
  // One chunk of the series (by id hash): the (series, step) groups of a chunk fit in memory.
  const sel = chunk.of > 1 ? `SELECT * FROM (${seriesSelectionSql(table, tenant, vs.matchers, params)}) WHERE series_id % {chunkOf:UInt64} = {chunkIndex:UInt64}` : seriesSelectionSql(table, tenant, vs.matchers, params);
  params['chunkOf'] = chunk.of;
  params['chunkIndex'] = chunk.index;
  const r = p.matrix.rangeMs;
  const off = vs.offsetMs;
  const lastStep = steps.startMs + (steps.count - 1) * steps.stepMs;
  params['minMs'] = steps.startMs - off - r;
  params['maxMs'] = lastStep - off;
  params['startMs'] = steps.startMs;
  params['stepMs'] = steps.stepMs;
  params['lastK'] = steps.count - 1;
  params['off'] = off;
  params['r'] = r;
  const value = p.fn === 'min_over_time' ? 'if(n_num = 0, nan, lo)' : 'if(n_num = 0, nan, hi)';
  const outLabels = `mapFilter((name, val) -> name != '__name__', series_labels)`;
  const perSeries = `SELECT series_id, k, toFloat64(${value}) AS value FROM (${rollupPerStepSql(rollup, table)}) WHERE n >= 1`;
  let body: string;
  if (!p.aggregation) {
    body = `SELECT ${outLabels} AS out_labels, arraySort(groupArray((k, value))) AS points
      FROM (${perSeries}) AS ps INNER JOIN sel USING series_id
      GROUP BY series_id, out_labels`;
  } else {
    const a = p.aggregation;
    params['grouping'] = [...a.grouping];
    const groupLabels = a.without
      ? `mapFilter((name, val) -> NOT has({grouping:Array(String)}, name), ${outLabels})`
      : `mapFilter((name, val) -> has({grouping:Array(String)}, name) AND val != '', ${outLabels})`;
    // Partial aggregates (sum, count, min and max ignoring NaN, non-NaN count) that chunks combine in mergePartials,
    // only those the operation needs: each is computed for every (group, step) and sent as JSON.
    // Each series' group labels and their hash are computed once per series, not per (series, step) row.
    const columns = partialColumns(a.op);
    body = `SELECT any(out_labels) AS out_labels, arraySort(groupArray((k, ${columns.join(', ')}))) AS points FROM (
        SELECT gid, any(out_labels) AS out_labels, k, ${columns.map((c) => `${PARTIAL_SQL[c]} AS ${c}`).join(', ')}
        FROM (${perSeries}) AS ps
        INNER JOIN (SELECT series_id, ${groupLabels} AS out_labels, sipHash64(out_labels) AS gid FROM sel) AS g USING series_id
        GROUP BY gid, k)
      GROUP BY gid`;
  }
  const sql = `WITH sel AS (${sel}),
      pts AS (SELECT series_id, t, v FROM (
          SELECT series_id, toUnixTimestamp64Milli(ts) AS t, any(value) AS v FROM ${table('samples')}
          WHERE tenant = {tenant:String} AND series_id IN (SELECT series_id FROM sel)
            AND ts >= fromUnixTimestamp64Milli({minMs:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({maxMs:Int64}, 'UTC')
            AND (toUnixTimestamp64Milli(ts) + {off:Int64} - {startMs:Int64}) % {stepMs:Int64} = 0
          GROUP BY series_id, ts)
        WHERE reinterpretAsUInt64(v) != ${STALE_BITS_SQL})
    ${body}`;
  return { sql, params };
}

export interface Chunk {
  index: number;
  of: number;
}

/** (series, step) groups one statement may hold: about 200 bytes each, so a chunk stays near 200 MB. */
export const GROUPS_PER_CHUNK = 1_000_000;

/** How many chunks (by series id hash) a pushdown over `series` series and `steps` steps is split into. */
export function chunksFor(series: number, steps: number): number {
  return Math.max(1, Math.ceil((series * steps) / GROUPS_PER_CHUNK));
}

/** One group's partial aggregate at one step: [sum, count, min, max, non-NaN count]. */
export type Partial = [number, number, number, number, number];

const PARTIAL_COLUMNS = ['ps_sum', 'ps_count', 'ps_min', 'ps_max', 'ps_num'] as const;
type PartialColumn = (typeof PARTIAL_COLUMNS)[number];
const PARTIAL_SQL: Record<PartialColumn, string> = {
  ps_sum: 'sum(value)',
  ps_count: 'count()',
  ps_min: 'minIf(value, NOT isNaN(value))',
  ps_max: 'maxIf(value, NOT isNaN(value))',
  ps_num: 'countIf(NOT isNaN(value))',
};
/** What a partial holds for a column the operation does not need: the identity of its merge. */
const PARTIAL_NEUTRAL: Partial = [0, 0, NaN, NaN, 0];

/** The partial columns an aggregation's merge reads (the others are never computed). */
export function partialColumns(op: NonNullable<Pushdown['aggregation']>['op']): PartialColumn[] {
  switch (op) {
    case 'sum':
      return ['ps_sum'];
    case 'avg':
      return ['ps_sum', 'ps_count'];
    case 'count':
    case 'group':
      return ['ps_count'];
    case 'min':
      return ['ps_min', 'ps_num'];
    case 'max':
      return ['ps_max', 'ps_num'];
  }
}

/** A whole Partial from the columns `partialColumns(op)` sent, in that order. */
export function toPartial(op: NonNullable<Pushdown['aggregation']>['op'], values: readonly number[]): Partial {
  const out = [...PARTIAL_NEUTRAL] as Partial;
  partialColumns(op).forEach((c, i) => {
    out[PARTIAL_COLUMNS.indexOf(c)] = values[i]!;
  });
  return out;
}

/** The aggregation's value from the partials of every chunk (min/max ignore NaN unless all are NaN, as Prometheus does). */
export function mergePartials(op: NonNullable<Pushdown['aggregation']>['op'], parts: readonly Partial[]): number {
  let sum = 0;
  let count = 0;
  let min = NaN;
  let max = NaN;
  let num = 0;
  for (const [s, c, lo, hi, n] of parts) {
    sum += s;
    count += c;
    if (n > 0) {
      min = num === 0 || lo < min ? lo : min;
      max = num === 0 || hi > max ? hi : max;
      num += n;
    }
  }
  switch (op) {
    case 'sum':
      return sum;
    case 'avg':
      return sum / count;
    case 'count':
      return count;
    case 'group':
      return 1;
    case 'min':
      return num === 0 ? NaN : min;
    case 'max':
      return num === 0 ? NaN : max;
  }
}

/** A rollup that gives the raw table's answer for a pushdown: its table and bucket. */
export interface Rollup {
  table: 'samples_1m' | 'samples_1h';
  bucketMs: number;
}

/**
 * The coarsest rollup that answers exactly, or null to read raw. Only
 * min_over_time and max_over_time qualify: min and max are idempotent, so
 * a sample stored twice before a merge does not change them (rollup sums
 * and counts would count it twice), and staleness markers are absent from
 * rollups as from range windows. The window and every step's end must lie
 * on bucket boundaries: 2.42's windows [te − r, te] are then the whole
 * buckets in [te − r, te) plus the samples exactly at te, read raw. A
 * bucket holding NaN makes ClickHouse's min/max order-dependent: the
 * executor checks for one (isNaN(sum)) and reads raw instead.
 */
export function chooseRollup(p: Pushdown, steps: PushdownSteps): Rollup | null {
  if (p.fn !== 'min_over_time' && p.fn !== 'max_over_time') return null;
  const off = p.matrix.vector.offsetMs;
  const r = p.matrix.rangeMs;
  if (steps.count > 1 && r / steps.stepMs + 1 > MAX_FANOUT) return null;
  for (const [table, bucketMs] of [['samples_1h', 3_600_000], ['samples_1m', 60_000]] as const) {
    const aligned = r % bucketMs === 0 && (steps.count === 1 || steps.stepMs % bucketMs === 0) && (((steps.startMs - off) % bucketMs) + bucketMs) % bucketMs === 0;
    if (aligned) return { table, bucketMs };
  }
  return null;
}

/** Per (series, step) from whole rollup buckets inside [te − r, te) and the raw samples exactly at te. */
function rollupPerStepSql(rollup: Rollup, table: (name: string) => string): string {
  return `SELECT series_id, k, count() AS n, sum(part_num) AS n_num, minIf(part_lo, part_num > 0) AS lo, maxIf(part_hi, part_num > 0) AS hi FROM (
      SELECT series_id, b_lo AS part_lo, b_hi AS part_hi, toUInt64(1) AS part_num,
        arrayJoin(range(greatest(toInt64(ceil((b + ${rollup.bucketMs} + {off:Int64} - {startMs:Int64}) / {stepMs:Int64})), 0),
                        least(toInt64(floor((b + {off:Int64} + {r:Int64} - {startMs:Int64}) / {stepMs:Int64})), {lastK:Int64}) + 1)) AS k
      FROM (SELECT series_id, toInt64(toUnixTimestamp(ts)) * 1000 AS b, min(min) AS b_lo, max(max) AS b_hi FROM ${table(rollup.table)}
        WHERE tenant = {tenant:String} AND series_id IN (SELECT series_id FROM sel)
          AND ts >= toDateTime(intDiv({minMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({maxMs:Int64}, 1000), 'UTC')
        GROUP BY series_id, ts)
      UNION ALL
      SELECT series_id, v AS part_lo, v AS part_hi, toUInt64(NOT isNaN(v)) AS part_num, intDiv(t + {off:Int64} - {startMs:Int64}, {stepMs:Int64}) AS k
      FROM pts WHERE (t + {off:Int64} - {startMs:Int64}) % {stepMs:Int64} = 0 AND t + {off:Int64} >= {startMs:Int64})
    GROUP BY series_id, k`;
}

/** Whether the rollup buckets a pushdown would read hold a NaN (or +Inf and −Inf together): then it reads raw. */
export function rollupNaNSql(rollup: Rollup, table: (name: string) => string, tenant: string, p: Pushdown, minMs: number, maxMs: number): SqlQuery {
  const params: Record<string, unknown> = { minMs: Math.floor(minMs), maxMs: Math.ceil(maxMs) };
  const sel = seriesSelectionSql(table, tenant, p.matrix.vector.matchers, params);
  return {
    sql: `SELECT count() AS n FROM ${table(rollup.table)} WHERE tenant = {tenant:String} AND series_id IN (SELECT series_id FROM (${sel}))
      AND ts >= toDateTime(intDiv({minMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({maxMs:Int64}, 1000), 'UTC') AND isNaN(sum)`,
    params,
  };
}

/** How many samples a selector's span holds (read before the work, to refuse over-budget queries early). */
export function countSql(table: (name: string) => string, tenant: string, p: { matchers: Pushdown['matrix']['vector']['matchers'] }, minMs: number, maxMs: number): SqlQuery {
  const params: Record<string, unknown> = { minMs: Math.floor(minMs), maxMs: Math.ceil(maxMs) };
  const sel = seriesSelectionSql(table, tenant, p.matchers, params);
  return {
    sql: `SELECT count() AS n, uniqExact(series_id) AS s FROM ${table('samples')} WHERE tenant = {tenant:String} AND series_id IN (SELECT series_id FROM (${sel}))
      AND ts >= fromUnixTimestamp64Milli({minMs:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({maxMs:Int64}, 'UTC')`,
    params,
  };
}
