// Metric queries from counted buckets, with no I/O: the range aggregations
// (count_over_time, rate, bytes_over_time, bytes_rate) as sliding sums over
// the buckets plan.ts counts, then the vector aggregations (sum, avg, min,
// max, count, stddev, stdvar, topk, bottomk, by/without) step by step, as
// Loki evaluates them.
import type { MetricQuery, RangeAggregation, ScalarOperation, VectorAggregation } from './ast.ts';
import { InputError } from '../../core/errors.ts';
import { bucketWidth, type StepGrid } from './plan.ts';

/** Values (series x steps) one query may hold in memory: beyond, a 400 rather than an engine out of memory. */
export const MAX_SERIES_POINTS = 5_000_000;

export type Labels = Readonly<Record<string, string>>;

/** Lines and bytes of one series in one bucket (see plan.ts StepGrid). */
export interface BucketRow {
  readonly labels: Labels;
  readonly bucket: number;
  readonly lines: number;
  readonly bytes: number;
}

/** A series' value at each step; null where it has none (Loki leaves the point out). */
export interface StepSeries {
  readonly labels: Labels;
  readonly values: (number | null)[];
}

export function labelsKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** The bucket (plan.ts) a line at `tsNs` falls in: ceil((ts - origin) / g). */
export function bucketOf(tsNs: bigint, grid: StepGrid): number {
  const g = bucketWidth(grid);
  const u = tsNs - (grid.startNs - grid.offsetNs);
  return Number(u > 0n ? (u + g - 1n) / g : -(-u / g));
}

/** A range aggregation's series from its buckets: sliding sums over each step's window. */
export function rangeSeries(op: RangeAggregation['op'], rows: readonly BucketRow[], grid: StepGrid): StepSeries[] {
  const g = bucketWidth(grid);
  const S = Number(grid.stepNs / g);
  const R = Number(grid.rangeNs / g);
  const seconds = Number(grid.rangeNs) / 1e9;
  const bySeries = new Map<string, { labels: Labels; rows: BucketRow[] }>();
  for (const r of rows) {
    const key = labelsKey(r.labels);
    let s = bySeries.get(key);
    if (!s) bySeries.set(key, (s = { labels: r.labels, rows: [] }));
    s.rows.push(r);
  }
  if (bySeries.size * grid.n > MAX_SERIES_POINTS) {
    throw new InputError('query', `${bySeries.size} series of ${grid.n} steps is more than the ${MAX_SERIES_POINTS} values a query may hold; aggregate with sum by (…), narrow the selector, or take a larger step`, 'query_too_large');
  }
  const out: StepSeries[] = [];
  for (const { labels, rows: rs } of bySeries.values()) {
    rs.sort((a, b) => a.bucket - b.bucket);
    // Buckets may repeat (several streams folded into one series): prefix sums over the sorted list still add them all.
    const js = rs.map((r) => r.bucket);
    const lines = [0];
    const bytes = [0];
    for (const r of rs) {
      lines.push(lines[lines.length - 1]! + r.lines);
      bytes.push(bytes[bytes.length - 1]! + r.bytes);
    }
    /** Index of the first bucket greater than x. */
    const upper = (x: number): number => {
      let lo = 0;
      let hi = js.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (js[mid]! <= x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const values: (number | null)[] = [];
    let any = false;
    for (let i = 0; i < grid.n; i++) {
      const hiIdx = upper(i * S);
      const loIdx = upper(i * S - R);
      const n = lines[hiIdx]! - lines[loIdx]!;
      if (n === 0) {
        values.push(null);
        continue;
      }
      any = true;
      const b = bytes[hiIdx]! - bytes[loIdx]!;
      values.push(op === 'count_over_time' ? n : op === 'rate' ? n / seconds : op === 'bytes_over_time' ? b : b / seconds);
    }
    if (any) out.push({ labels, values });
  }
  return out;
}

function groupLabels(labels: Labels, grouping: VectorAggregation['grouping']): Labels {
  if (!grouping) return {};
  const out: Record<string, string> = {};
  if (grouping.mode === 'by') {
    for (const k of grouping.labels) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k]!;
  } else {
    const drop = new Set(grouping.labels);
    for (const [k, v] of Object.entries(labels)) if (!drop.has(k)) out[k] = v;
  }
  return out;
}

function aggregate(op: VectorAggregation['op'], xs: number[]): number {
  switch (op) {
    case 'sum':
      return xs.reduce((a, b) => a + b, 0);
    case 'avg':
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    case 'min':
      return Math.min(...xs);
    case 'max':
      return Math.max(...xs);
    case 'count':
      return xs.length;
    case 'stddev':
    case 'stdvar': {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
      return op === 'stddev' ? Math.sqrt(variance) : variance;
    }
    default:
      throw new Error(`not an aggregation over values: ${op}`);
  }
}

/** A vector aggregation over its inner expression's series, step by step. */
export function vectorSeries(q: VectorAggregation, inner: readonly StepSeries[], n: number): StepSeries[] {
  const groups = new Map<string, { labels: Labels; members: StepSeries[] }>();
  for (const s of inner) {
    const labels = groupLabels(s.labels, q.grouping);
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels, members: [] }));
    g.members.push(s);
  }
  if (q.op === 'topk' || q.op === 'bottomk') {
    const k = q.param ?? 1;
    const kept = new Map<StepSeries, (number | null)[]>();
    for (const g of groups.values()) {
      for (let i = 0; i < n; i++) {
        const present = g.members.filter((m) => m.values[i] !== null);
        present.sort((a, b) => (q.op === 'topk' ? b.values[i]! - a.values[i]! : a.values[i]! - b.values[i]!));
        for (const m of present.slice(0, k)) {
          let vs = kept.get(m);
          if (!vs) kept.set(m, (vs = new Array<number | null>(n).fill(null)));
          vs[i] = m.values[i]!;
        }
      }
    }
    return [...kept].map(([m, values]) => ({ labels: m.labels, values }));
  }
  const out: StepSeries[] = [];
  for (const g of groups.values()) {
    const values: (number | null)[] = [];
    for (let i = 0; i < n; i++) {
      const xs = g.members.map((m) => m.values[i]).filter((v): v is number => v !== null && v !== undefined);
      values.push(xs.length === 0 ? null : aggregate(q.op, xs));
    }
    if (values.some((v) => v !== null)) out.push({ labels: g.labels, values });
  }
  return out;
}

function apply(op: ScalarOperation['op'], a: number, b: number): number | boolean {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return a ** b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** A query and a number, value by value: arithmetic, or a comparison that keeps (or, with bool, marks 1/0) each value. */
export function scalarSeries(q: ScalarOperation, inner: readonly StepSeries[]): StepSeries[] {
  const out: StepSeries[] = [];
  for (const s of inner) {
    const values = s.values.map((v) => {
      if (v === null) return null;
      const r = q.scalarLeft ? apply(q.op, q.scalar, v) : apply(q.op, v, q.scalar);
      if (typeof r === 'number') return r;
      if (q.bool) return r ? 1 : 0;
      return r ? v : null;
    });
    if (values.some((v) => v !== null)) out.push({ labels: s.labels, values });
  }
  return out;
}

/** Evaluates a metric query whose innermost range aggregation's buckets are given. */
export function evaluateMetric(q: MetricQuery, rows: readonly BucketRow[], grid: StepGrid): StepSeries[] {
  if (q.kind === 'range') return rangeSeries(q.op, rows, grid);
  if (q.kind === 'scalar') return scalarSeries(q, evaluateMetric(q.inner, rows, grid));
  return vectorSeries(q, evaluateMetric(q.inner, rows, grid), grid.n);
}

/** The innermost range aggregation of a metric query. */
export function rangeOf(q: MetricQuery): RangeAggregation {
  return q.kind === 'range' ? q : rangeOf(q.inner);
}

/** Prometheus' float text: integers without a decimal point, NaN and ±Inf spelled its way. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Seconds since the epoch of step i, as a JSON number (Loki's matrix timestamps). */
export function stepSeconds(grid: StepGrid, i: number): number {
  const ns = grid.startNs + BigInt(i) * grid.stepNs;
  return Number(ns / 1_000_000n) / 1000;
}

export function sortSeries(series: StepSeries[]): StepSeries[] {
  return series.sort((a, b) => (labelsKey(a.labels) < labelsKey(b.labels) ? -1 : labelsKey(a.labels) > labelsKey(b.labels) ? 1 : 0));
}
