// Evaluating a PromQL syntax tree at one time over samples already read
// from ClickHouse (or over per-step results ClickHouse computed, for the
// sub-expressions the planner pushed down): Prometheus 2.42's evaluator
// semantics step by step (lookback and staleness, offset and @,
// subqueries, vector matching, aggregation, functions). Pure: no I/O.
import type { Aggregate, AtModifier, Binary, Call, Expr, Labels, MatrixSelector, Subquery, VectorSelector } from './ast.ts';
import { isComparison } from './ast.ts';
import { RE2JS } from 're2js';
import {
  avgOverTime, bucketQuantile, changes, DATE, extrapolatedRate, goMax, goMin, goMod, goPow, holtWinters, instantValue, linearRegression,
  madOverTime, MATH, maxOverTime, minOverTime, quantile, resets, stdvarOverTime, sumOverTime, windowValues, type Bucket, type Window,
} from './functions.ts';
import { formatValue } from './format.ts';

/** A selected series' samples, oldest first; `stale` marks Prometheus' staleness markers. */
export interface SeriesData {
  readonly metric: Labels;
  readonly t: Float64Array;
  readonly v: Float64Array;
  readonly stale: Uint8Array;
  /** The same samples without staleness markers, for range windows. */
  readonly clean: { t: Float64Array; v: Float64Array };
}

export interface Sample {
  metric: Labels;
  value: number;
  /** The sample's own time, for timestamp() over a plain selector. */
  ts?: number;
}

export interface MatrixSeries {
  metric: Labels;
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

export type Value =
  | { type: 'scalar'; value: number }
  | { type: 'string'; value: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: MatrixSeries[] };

/** Errors found while evaluating: Prometheus answers these with errorType "execution". */
export class EvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalError';
  }
}

export interface EvalContext {
  readonly startMs: number;
  readonly endMs: number;
  readonly lookbackMs: number;
  /** Subqueries without a step use this (Prometheus: the global evaluation interval, 1m). */
  readonly intervalMs: number;
  /** Samples of every selector that is evaluated here. */
  readonly data: Map<VectorSelector, SeriesData[]>;
  /** Per-step answers computed in ClickHouse for pushed-down sub-expressions, by step time. */
  readonly pushed: Map<Expr, Map<number, Sample[]>>;
  /** Called now and then: throws when the query was cancelled or ran out of time. */
  readonly check?: () => void;
}

const keyCache = new WeakMap<Labels, string>();

/** A label set's identity: its sorted pairs. */
export function labelsKey(metric: Labels): string {
  let k = keyCache.get(metric);
  if (k === undefined) {
    k = Object.keys(metric)
      .sort()
      .map((n) => `${n}\u0000${metric[n]}`)
      .join('\u0001');
    keyCache.set(metric, k);
  }
  return k;
}

const nameless = new WeakMap<Labels, Labels>();
/** histogram_quantile's group of a bucket series: its labels without __name__ and le, one object per input object. */
const withoutLe = new WeakMap<Labels, Labels>();

/**
 * The label set without __name__: one object per input object, so that a
 * series keeps one label-set object (and labelsKey its cached key) across
 * the steps of a range query. Label sets are never mutated.
 */
export function dropName(metric: Labels): Labels {
  if (!('__name__' in metric)) return metric;
  let out = nameless.get(metric);
  if (out === undefined) {
    const { __name__: _, ...rest } = metric;
    nameless.set(metric, (out = rest));
  }
  return out;
}

function upperBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface RangeArg {
  series: { metric: Labels; w: Window }[];
  rangeStartMs: number;
  rangeEndMs: number;
  /** The selector, for absent_over_time's labels. */
  selector: VectorSelector | null;
}

export class Evaluator {
  private readonly memo = new Map<Expr, Map<number, Value>>();
  /** For functions that drop __name__ over ranges: which source series each output label set came from. */
  private readonly owners = new Map<Expr, Map<string, string>>();
  private steps = 0;

  constructor(private readonly ctx: EvalContext) {}

  atTime(at: AtModifier | null, t: number): number {
    if (!at) return t;
    if (at.kind === 'start') return this.ctx.startMs;
    if (at.kind === 'end') return this.ctx.endMs;
    return at.ms;
  }

  eval(e: Expr, t: number): Value {
    if ((++this.steps & 1023) === 0) this.ctx.check?.();
    const pushed = this.ctx.pushed.get(e);
    if (pushed) return { type: 'vector', samples: pushed.get(t) ?? [] };
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', value: e.value };
      case 'string':
        return { type: 'string', value: e.value };
      case 'paren':
        return this.eval(e.expr, t);
      case 'unary': {
        const v = this.eval(e.expr, t);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', value: -v.value };
        if (v.type === 'vector') return { type: 'vector', samples: v.samples.map((s) => ({ metric: dropName(s.metric), value: -s.value })) };
        return v;
      }
      case 'vector':
        return { type: 'vector', samples: this.instantSelector(e, t) };
      case 'matrix': {
        const r = this.rangeSelector(e, t);
        return { type: 'matrix', series: r.series.map((s) => ({ metric: s.metric, t: s.w.t, v: s.w.v })) };
      }
      case 'subquery': {
        const r = this.subquery(e, t);
        return { type: 'matrix', series: r.series.map((s) => ({ metric: s.metric, t: s.w.t, v: s.w.v })) };
      }
      case 'call':
        return this.call(e, t);
      case 'aggregate':
        return { type: 'vector', samples: this.aggregate(e, t) };
      case 'binary':
        return this.binary(e, t);
    }
  }

  private instantSelector(e: VectorSelector, t: number): Sample[] {
    const te = this.atTime(e.at, t) - e.offsetMs;
    const out: Sample[] = [];
    for (const s of this.ctx.data.get(e) ?? []) {
      const i = upperBound(s.t, te) - 1;
      if (i < 0) continue;
      const ts = s.t[i]!;
      if (ts < te - this.ctx.lookbackMs || s.stale[i]) continue;
      out.push({ metric: s.metric, value: s.v[i]!, ts });
    }
    return out;
  }

  private rangeSelector(e: MatrixSelector, t: number): RangeArg {
    const te = this.atTime(e.vector.at, t) - e.vector.offsetMs;
    const from = te - e.rangeMs;
    const series: RangeArg['series'] = [];
    for (const s of this.ctx.data.get(e.vector) ?? []) {
      const { t: ts, v } = s.clean;
      const lo = lowerBound(ts, from);
      const hi = upperBound(ts, te, lo);
      if (hi <= lo) continue;
      series.push({ metric: s.metric, w: { t: ts.subarray(lo, hi), v: v.subarray(lo, hi), n: hi - lo } });
    }
    return { series, rangeStartMs: from, rangeEndMs: te, selector: e.vector };
  }

  /** The subquery's inner expression at each aligned step in [te - range, te]. */
  private subquery(e: Subquery, t: number): RangeArg {
    const te = this.atTime(e.at, t) - e.offsetMs;
    const step = e.stepMs || this.ctx.intervalMs;
    const from = te - e.rangeMs;
    let first = Math.floor(from / step) * step;
    if (first < from) first += step;
    const bySeries = new Map<string, { metric: Labels; t: number[]; v: number[] }>();
    let memo = this.memo.get(e.expr);
    if (!memo) this.memo.set(e.expr, (memo = new Map()));
    for (let ts = first; ts <= te; ts += step) {
      let value = memo.get(ts);
      if (!value) {
        value = this.eval(e.expr, ts);
        memo.set(ts, value);
      }
      const samples = value.type === 'scalar' ? [{ metric: {}, value: value.value }] : value.type === 'vector' ? value.samples : [];
      for (const s of samples) {
        const k = labelsKey(s.metric);
        let acc = bySeries.get(k);
        if (!acc) bySeries.set(k, (acc = { metric: s.metric, t: [], v: [] }));
        acc.t.push(ts);
        acc.v.push(s.value);
      }
    }
    const series = [...bySeries.values()].map((s) => ({ metric: s.metric, w: { t: s.t, v: s.v, n: s.t.length } }));
    return { series, rangeStartMs: from, rangeEndMs: te, selector: null };
  }

  private rangeArg(e: Expr, t: number): RangeArg {
    if (e.kind === 'paren') return this.rangeArg(e.expr, t);
    if (e.kind === 'matrix') return this.rangeSelector(e, t);
    if (e.kind === 'subquery') return this.subquery(e, t);
    throw new EvalError(`expected a range vector, got ${e.kind}`);
  }

  private scalarArg(e: Expr, t: number): number {
    const v = this.eval(e, t);
    if (v.type !== 'scalar') throw new EvalError('expected a scalar');
    return v.value;
  }

  private vectorArg(e: Expr, t: number): Sample[] {
    const v = this.eval(e, t);
    if (v.type !== 'vector') throw new EvalError('expected an instant vector');
    return v.samples;
  }

  private stringArg(e: Expr, t: number): string {
    const v = this.eval(e, t);
    if (v.type !== 'string') throw new EvalError('expected a string');
    return v.value;
  }

  private call(e: Call, t: number): Value {
    const fn = e.fn;
    const vec = (samples: Sample[]): Value => ({ type: 'vector', samples: this.unique(samples) });
    switch (fn) {
      case 'time':
        return { type: 'scalar', value: t / 1000 };
      case 'pi':
        return { type: 'scalar', value: Math.PI };
      case 'vector':
        return { type: 'vector', samples: [{ metric: {}, value: this.scalarArg(e.args[0]!, t) }] };
      case 'scalar': {
        const s = this.vectorArg(e.args[0]!, t);
        return { type: 'scalar', value: s.length === 1 ? s[0]!.value : NaN };
      }
      case 'timestamp': {
        const arg = unwrap(e.args[0]!);
        const samples = this.vectorArg(e.args[0]!, t);
        const direct = arg.kind === 'vector';
        return vec(samples.map((s) => ({ metric: dropName(s.metric), value: (direct && s.ts !== undefined ? s.ts : t) / 1000 })));
      }
      case 'absent': {
        const samples = this.vectorArg(e.args[0]!, t);
        if (samples.length > 0) return { type: 'vector', samples: [] };
        const arg = unwrap(e.args[0]!);
        return { type: 'vector', samples: [{ metric: arg.kind === 'vector' ? absentLabels(arg) : {}, value: 1 }] };
      }
      case 'absent_over_time': {
        const r = this.rangeArg(e.args[0]!, t);
        if (r.series.length > 0) return { type: 'vector', samples: [] };
        return { type: 'vector', samples: [{ metric: r.selector ? absentLabels(r.selector) : {}, value: 1 }] };
      }
      case 'sort':
      case 'sort_desc': {
        const samples = [...this.vectorArg(e.args[0]!, t)];
        const desc = fn === 'sort_desc';
        samples.sort((a, b) => {
          if (Number.isNaN(a.value)) return Number.isNaN(b.value) ? 0 : 1;
          if (Number.isNaN(b.value)) return -1;
          return desc ? b.value - a.value : a.value - b.value;
        });
        return { type: 'vector', samples };
      }
      case 'label_replace':
        return vec(this.labelReplace(e, t));
      case 'label_join':
        return vec(this.labelJoin(e, t));
      case 'histogram_quantile':
        return { type: 'vector', samples: this.histogramQuantile(this.scalarArg(e.args[0]!, t), this.vectorArg(e.args[1]!, t)) };
      case 'histogram_count':
      case 'histogram_sum':
      case 'histogram_fraction':
        // Native histograms only; Tidemark stores none, so (as Prometheus over classic series) nothing.
        return { type: 'vector', samples: [] };
      case 'clamp': {
        const min = this.scalarArg(e.args[1]!, t);
        const max = this.scalarArg(e.args[2]!, t);
        const samples = this.vectorArg(e.args[0]!, t);
        if (max < min) return { type: 'vector', samples: [] };
        return vec(samples.map((s) => ({ metric: dropName(s.metric), value: goMax(min, goMin(max, s.value)) })));
      }
      case 'clamp_min':
      case 'clamp_max': {
        const bound = this.scalarArg(e.args[1]!, t);
        const f = fn === 'clamp_min' ? goMax : goMin;
        return vec(this.vectorArg(e.args[0]!, t).map((s) => ({ metric: dropName(s.metric), value: f(s.value, bound) })));
      }
      case 'round': {
        const toNearest = e.args[1] ? this.scalarArg(e.args[1], t) : 1;
        const inv = 1 / toNearest;
        return vec(this.vectorArg(e.args[0]!, t).map((s) => ({ metric: dropName(s.metric), value: Math.floor(s.value * inv + 0.5) / inv })));
      }
    }
    if (fn in MATH) {
      const f = MATH[fn]!;
      return vec(this.vectorArg(e.args[0]!, t).map((s) => ({ metric: dropName(s.metric), value: f(s.value) })));
    }
    if (fn in DATE) {
      const f = DATE[fn]!;
      const samples = e.args[0] ? this.vectorArg(e.args[0], t) : [{ metric: {}, value: t / 1000 }];
      return vec(samples.map((s) => ({ metric: dropName(s.metric), value: Number.isNaN(s.value) ? NaN : f(s.value) })));
    }
    return { type: 'vector', samples: this.rangeFunction(e, t) };
  }

  private rangeFunction(e: Call, t: number): Sample[] {
    const fn = e.fn;
    const matrixIndex = fn === 'quantile_over_time' ? 1 : 0;
    const r = this.rangeArg(e.args[matrixIndex]!, t);
    const param = fn === 'quantile_over_time' ? this.scalarArg(e.args[0]!, t) : fn === 'predict_linear' ? this.scalarArg(e.args[1]!, t) : 0;
    let sf = 0;
    let tf = 0;
    if (fn === 'holt_winters') {
      sf = this.scalarArg(e.args[1]!, t);
      tf = this.scalarArg(e.args[2]!, t);
      if (!(sf > 0 && sf < 1)) throw new EvalError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${sf.toFixed(6)}`);
      if (!(tf > 0 && tf < 1)) throw new EvalError(`invalid trend factor. Expected: 0 < tf < 1, got: ${tf.toFixed(6)}`);
    }
    const out: Sample[] = [];
    for (const { metric, w } of r.series) {
      let value: number | null;
      switch (fn) {
        case 'rate':
          value = extrapolatedRate(w, r.rangeStartMs, r.rangeEndMs, true, true);
          break;
        case 'increase':
          value = extrapolatedRate(w, r.rangeStartMs, r.rangeEndMs, true, false);
          break;
        case 'delta':
          value = extrapolatedRate(w, r.rangeStartMs, r.rangeEndMs, false, false);
          break;
        case 'irate':
          value = instantValue(w, true);
          break;
        case 'idelta':
          value = instantValue(w, false);
          break;
        case 'deriv':
          value = w.n < 2 ? null : linearRegression(w, w.t[0]!)[0];
          break;
        case 'predict_linear': {
          if (w.n < 2) value = null;
          else {
            const [slope, intercept] = linearRegression(w, t);
            value = slope * param + intercept;
          }
          break;
        }
        case 'avg_over_time':
          value = avgOverTime(w);
          break;
        case 'sum_over_time':
          value = sumOverTime(w);
          break;
        case 'min_over_time':
          value = minOverTime(w);
          break;
        case 'max_over_time':
          value = maxOverTime(w);
          break;
        case 'count_over_time':
          value = w.n;
          break;
        case 'last_over_time':
          value = w.v[w.n - 1]!;
          break;
        case 'present_over_time':
          value = 1;
          break;
        case 'stddev_over_time':
          value = Math.sqrt(stdvarOverTime(w));
          break;
        case 'stdvar_over_time':
          value = stdvarOverTime(w);
          break;
        case 'quantile_over_time':
          value = quantile(param, windowValues(w));
          break;
        case 'mad_over_time':
          value = madOverTime(w);
          break;
        case 'resets':
          value = resets(w);
          break;
        case 'changes':
          value = changes(w);
          break;
        case 'holt_winters':
          value = holtWinters(w, sf, tf);
          break;
        default:
          throw new EvalError(`function "${fn}" is not supported`);
      }
      if (value === null) continue;
      out.push({ metric: fn === 'last_over_time' ? metric : dropName(metric), value });
    }
    if (fn !== 'last_over_time') this.checkOwners(e, r.series.map((s) => s.metric));
    return out;
  }

  /**
   * Prometheus refuses a range function whose outputs collide once
   * __name__ is dropped, across the whole query range, not per step.
   */
  private checkOwners(e: Expr, sources: Labels[]): void {
    let owners = this.owners.get(e);
    if (!owners) this.owners.set(e, (owners = new Map()));
    for (const m of sources) {
      const k = labelsKey(dropName(m));
      const src = labelsKey(m);
      const prev = owners.get(k);
      if (prev === undefined) owners.set(k, src);
      else if (prev !== src) throw new EvalError('vector cannot contain metrics with the same labelset');
    }
  }

  private unique(samples: Sample[]): Sample[] {
    if (samples.length < 2) return samples;
    const seen = new Set<string>();
    for (const s of samples) {
      const k = labelsKey(s.metric);
      if (seen.has(k)) throw new EvalError('vector cannot contain metrics with the same labelset');
      seen.add(k);
    }
    return samples;
  }

  private labelReplace(e: Call, t: number): Sample[] {
    const samples = this.vectorArg(e.args[0]!, t);
    const dst = this.stringArg(e.args[1]!, t);
    const repl = this.stringArg(e.args[2]!, t);
    const src = this.stringArg(e.args[3]!, t);
    const regexText = this.stringArg(e.args[4]!, t);
    let re: RE2JS;
    try {
      re = RE2JS.compile(`^(?:${regexText})$`);
    } catch {
      throw new EvalError(`invalid regular expression in label_replace(): ${regexText}`);
    }
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(dst)) throw new EvalError(`invalid destination label name in label_replace(): ${dst}`);
    return samples.map((s) => {
      const value = s.metric[src] ?? '';
      const m = re.matcher(value);
      if (!m.matches()) return s;
      const res = expandTemplate(repl, m, re);
      const metric = { ...s.metric };
      if (res === '') delete metric[dst];
      else metric[dst] = res;
      return { metric, value: s.value };
    });
  }

  private labelJoin(e: Call, t: number): Sample[] {
    const samples = this.vectorArg(e.args[0]!, t);
    const dst = this.stringArg(e.args[1]!, t);
    const sep = this.stringArg(e.args[2]!, t);
    const srcs = e.args.slice(3).map((a) => this.stringArg(a, t));
    for (const s of srcs) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(s)) throw new EvalError(`invalid source label name in label_join(): ${s}`);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(dst)) throw new EvalError(`invalid destination label name in label_join(): ${dst}`);
    return samples.map((s) => {
      const joined = srcs.map((n) => s.metric[n] ?? '').join(sep);
      const metric = { ...s.metric };
      if (joined === '') delete metric[dst];
      else metric[dst] = joined;
      return { metric, value: s.value };
    });
  }

  private histogramQuantile(q: number, samples: Sample[]): Sample[] {
    const groups = new Map<string, { metric: Labels; buckets: Bucket[] }>();
    for (const s of samples) {
      const le = s.metric['le'];
      if (le === undefined) continue;
      const upperBound = parseGoFloat(le);
      if (upperBound === null) continue;
      let rest = withoutLe.get(s.metric);
      if (!rest) {
        const { le: _, ...others } = dropName(s.metric);
        withoutLe.set(s.metric, (rest = others));
      }
      const k = labelsKey(rest);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { metric: rest, buckets: [] }));
      g.buckets.push({ upperBound, count: s.value });
    }
    return [...groups.values()].map((g) => ({ metric: g.metric, value: bucketQuantile(q, g.buckets) }));
  }

  private readonly groupCache = new Map<Aggregate, WeakMap<Labels, Labels>>();

  private aggregate(e: Aggregate, t: number): Sample[] {
    let param: number | string | null = null;
    if (e.param) param = e.op === 'count_values' ? this.stringArg(e.param, t) : this.scalarArg(e.param, t);
    const samples = this.vectorArg(e.expr, t);
    let grouping = e.grouping;
    let valueLabel = '';
    if (e.op === 'count_values') {
      valueLabel = param as string;
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(valueLabel)) throw new EvalError(`invalid label name "${valueLabel}"`);
      if (!e.without) grouping = [...grouping, valueLabel];
    }
    const groups = new Map<string, { metric: Labels; samples: Sample[] }>();
    // A series' group is the same at every step: kept per label-set object (count_values' depends on the value).
    let cache = this.groupCache.get(e);
    if (!cache) this.groupCache.set(e, (cache = new WeakMap()));
    for (const s0 of samples) {
      let s = s0;
      if (e.op === 'count_values') s = { metric: { ...s.metric, [valueLabel]: formatValue(s.value) }, value: s.value };
      let metric = e.op === 'count_values' ? undefined : cache.get(s.metric);
      if (!metric) {
        metric = {};
        if (e.without) {
          for (const [k, v] of Object.entries(s.metric)) if (k !== '__name__' && !grouping.includes(k)) metric[k] = v;
        } else {
          for (const k of grouping) {
            const v = s.metric[k];
            if (v !== undefined && v !== '') metric[k] = v;
          }
        }
        if (e.op !== 'count_values') cache.set(s.metric, metric);
      }
      const k = labelsKey(metric);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { metric, samples: [] }));
      g.samples.push(s);
    }
    const out: Sample[] = [];
    for (const g of groups.values()) {
      const values = g.samples.map((s) => s.value);
      switch (e.op) {
        case 'sum': {
          let sum = 0;
          for (const x of values) sum += x;
          out.push({ metric: g.metric, value: sum });
          break;
        }
        case 'avg': {
          let mean = values[0]!;
          let count = 1;
          for (let i = 1; i < values.length; i++) {
            const x = values[i]!;
            count++;
            if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
              if (!Number.isFinite(x) && !Number.isNaN(x) && mean > 0 === x > 0) continue;
              if (Number.isFinite(x)) continue;
            }
            mean += x / count - mean / count;
          }
          out.push({ metric: g.metric, value: mean });
          break;
        }
        case 'count':
          out.push({ metric: g.metric, value: values.length });
          break;
        case 'count_values':
          out.push({ metric: g.metric, value: values.length });
          break;
        case 'group':
          out.push({ metric: g.metric, value: 1 });
          break;
        case 'min':
        case 'max': {
          let m = values[0]!;
          for (let i = 1; i < values.length; i++) {
            const x = values[i]!;
            if ((e.op === 'min' ? m > x : m < x) || Number.isNaN(m)) m = x;
          }
          out.push({ metric: g.metric, value: m });
          break;
        }
        case 'stddev':
        case 'stdvar': {
          let mean = values[0]!;
          let acc = 0;
          let count = 1;
          for (let i = 1; i < values.length; i++) {
            const x = values[i]!;
            count++;
            const delta = x - mean;
            mean += delta / count;
            acc += delta * (x - mean);
          }
          const variance = acc / count;
          out.push({ metric: g.metric, value: e.op === 'stddev' ? Math.sqrt(variance) : variance });
          break;
        }
        case 'quantile':
          out.push({ metric: g.metric, value: quantile(param as number, values) });
          break;
        case 'topk':
        case 'bottomk': {
          const k = Math.trunc(param as number);
          if (!(k >= 1)) break;
          const top = e.op === 'topk';
          const sorted = [...g.samples].sort((a, b) => {
            if (Number.isNaN(a.value)) return Number.isNaN(b.value) ? 0 : 1;
            if (Number.isNaN(b.value)) return -1;
            return top ? b.value - a.value : a.value - b.value;
          });
          for (const s of sorted.slice(0, k)) out.push({ metric: s.metric, value: s.value });
          break;
        }
      }
    }
    return out;
  }

  private binary(e: Binary, t: number): Value {
    const l = this.eval(e.lhs, t);
    const r = this.eval(e.rhs, t);
    if (l.type === 'scalar' && r.type === 'scalar') {
      const [value, keep] = elemBinop(e.op, l.value, r.value);
      return { type: 'scalar', value: e.bool ? (keep ? 1 : 0) : value };
    }
    if (l.type === 'vector' && r.type === 'vector') return { type: 'vector', samples: this.vectorBinop(e, l.samples, r.samples) };
    const swap = l.type === 'scalar';
    const vector = (swap ? r : l) as { type: 'vector'; samples: Sample[] };
    const scalar = ((swap ? l : r) as { type: 'scalar'; value: number }).value;
    const out: Sample[] = [];
    for (const s of vector.samples) {
      const lv = swap ? scalar : s.value;
      const rv = swap ? s.value : scalar;
      let [value, keep] = elemBinop(e.op, lv, rv);
      if (isComparison(e.op) && swap) value = rv;
      if (e.bool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      const metric = shouldDropName(e.op) || e.bool ? dropName(s.metric) : s.metric;
      out.push({ metric, value });
    }
    return { type: 'vector', samples: this.unique(out) };
  }

  /** Per binary expression: its matching signature and result label sets, cached by label-set object across steps. */
  private readonly binopCache = new Map<Binary, { sig: (m: Labels) => string; results: WeakMap<Labels, WeakMap<Labels, Labels>> }>();

  private vectorBinop(e: Binary, lhs: Sample[], rhs: Sample[]): Sample[] {
    const m = e.matching!;
    let cache = this.binopCache.get(e);
    if (!cache) {
      const compute = signatureFn(m.on, m.labels);
      const sigs = new WeakMap<Labels, string>();
      const sig = (metric: Labels): string => {
        let k = sigs.get(metric);
        if (k === undefined) sigs.set(metric, (k = compute(metric)));
        return k;
      };
      this.binopCache.set(e, (cache = { sig, results: new WeakMap() }));
    }
    const { sig, results } = cache;
    const result = (l: Labels, r: Labels): Labels => {
      let byRight = results.get(l);
      if (!byRight) results.set(l, (byRight = new WeakMap()));
      let out = byRight.get(r);
      if (!out) byRight.set(r, (out = resultMetric(l, r, e)));
      return out;
    };
    if (e.op === 'and' || e.op === 'unless') {
      const right = new Set(rhs.map((s) => sig(s.metric)));
      return lhs.filter((s) => right.has(sig(s.metric)) === (e.op === 'and'));
    }
    if (e.op === 'or') {
      const left = new Set(lhs.map((s) => sig(s.metric)));
      return [...lhs, ...rhs.filter((s) => !left.has(sig(s.metric)))];
    }
    if (lhs.length === 0 || rhs.length === 0) return [];
    let [many, one] = [lhs, rhs];
    if (m.card === 'one-to-many') [many, one] = [rhs, lhs];
    const oneBySig = new Map<string, Sample>();
    for (const s of one) {
      const k = sig(s.metric);
      const dup = oneBySig.get(k);
      if (dup) {
        const side = m.card === 'one-to-many' ? 'left' : 'right';
        throw new EvalError(`found duplicate series for the match group ${matchedLabelsString(s.metric, m.on, m.labels)} on the ${side} hand-side of the operation: [${labelsString(s.metric)}, ${labelsString(dup.metric)}];many-to-many matching not allowed: matching labels must be unique on one side`);
      }
      oneBySig.set(k, s);
    }
    const matched = new Map<string, Set<string> | null>();
    const out: Sample[] = [];
    for (const ls of many) {
      const k = sig(ls.metric);
      const rs = oneBySig.get(k);
      if (!rs) continue;
      let [vl, vr] = [ls.value, rs.value];
      if (m.card === 'one-to-many') [vl, vr] = [vr, vl];
      let [value, keep] = elemBinop(e.op, vl, vr);
      if (e.bool) {
        value = keep ? 1 : 0;
      } else if (!keep) continue;
      let metric = result(ls.metric, rs.metric);
      if (e.bool) metric = dropName(metric);
      const seen = matched.get(k);
      if (m.card === 'one-to-one') {
        if (matched.has(k)) throw new EvalError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        matched.set(k, null);
      } else {
        const mk = labelsKey(metric);
        if (seen === undefined) matched.set(k, new Set([mk]));
        else if (seen!.has(mk)) throw new EvalError('multiple matches for labels: grouping labels must ensure unique results');
        else seen!.add(mk);
      }
      out.push({ metric, value });
    }
    return out;
  }
}

function unwrap(e: Expr): Expr {
  return e.kind === 'paren' ? unwrap(e.expr) : e;
}

function shouldDropName(op: Binary['op']): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^';
}

function resultMetric(lhs: Labels, rhs: Labels, e: Binary): Labels {
  const m = e.matching!;
  let metric: Labels = shouldDropName(e.op) ? dropName(lhs) : { ...lhs };
  if (m.card === 'one-to-one') {
    if (m.on) {
      const kept: Labels = {};
      for (const k of m.labels) if (metric[k] !== undefined) kept[k] = metric[k]!;
      metric = kept;
    } else {
      metric = { ...metric };
      for (const k of m.labels) delete metric[k];
    }
  }
  if (m.include.length > 0) {
    metric = { ...metric };
    for (const ln of m.include) {
      const v = rhs[ln];
      if (v !== undefined && v !== '') metric[ln] = v;
      else delete metric[ln];
    }
  }
  return metric;
}

function signatureFn(on: boolean, labels: readonly string[]): (m: Labels) => string {
  if (on) {
    const names = [...labels].sort();
    return (m) => names.map((n) => `${n}\u0000${m[n] ?? ''}`).join('\u0001');
  }
  const skip = new Set([...labels, '__name__']);
  return (m) =>
    Object.keys(m)
      .filter((k) => !skip.has(k))
      .sort()
      .map((n) => `${n}\u0000${m[n]}`)
      .join('\u0001');
}

function labelsString(m: Labels): string {
  return `{${Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`)
    .join(', ')}}`;
}

function matchedLabelsString(m: Labels, on: boolean, labels: readonly string[]): string {
  const out: Labels = {};
  for (const [k, v] of Object.entries(m)) if (on ? labels.includes(k) : !labels.includes(k) && k !== '__name__') out[k] = v;
  return labelsString(out);
}

/** A binary operator on two numbers: the value, and whether a comparison holds. */
export function elemBinop(op: Binary['op'], l: number, r: number): [number, boolean] {
  switch (op) {
    case '+': return [l + r, true];
    case '-': return [l - r, true];
    case '*': return [l * r, true];
    case '/': return [l / r, true];
    case '%': return [goMod(l, r), true];
    case '^': return [goPow(l, r), true];
    case 'atan2': return [Math.atan2(l, r), true];
    case '==': return [l, l === r];
    case '!=': return [l, l !== r];
    case '>': return [l, l > r];
    case '<': return [l, l < r];
    case '>=': return [l, l >= r];
    case '<=': return [l, l <= r];
    default: throw new EvalError(`operator "${op}" not allowed here`);
  }
}

/** absent()'s labels: the selector's equality matchers, unless a label is matched twice. */
function absentLabels(vs: VectorSelector): Labels {
  const out: Labels = {};
  const drop: string[] = [];
  for (const m of vs.matchers) {
    if (m.name === '__name__') continue;
    if (m.op === '=' && !(m.name in out)) out[m.name] = m.value;
    else drop.push(m.name);
  }
  for (const d of drop) delete out[d];
  for (const [k, v] of Object.entries(out)) if (v === '') delete out[k];
  return out;
}

function parseGoFloat(s: string): number | null {
  const t = s.trim();
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return NaN;
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return null;
  return Number(t);
}

/** Go's regexp Expand: $1, ${1}, $name, ${name}, $$. */
function expandTemplate(template: string, m: ReturnType<RE2JS['matcher']>, re: RE2JS): string {
  let out = '';
  const named = re.namedGroups() as Record<string, number>;
  const group = (name: string): string => {
    let idx: number | undefined;
    if (/^\d+$/.test(name)) idx = Number(name);
    else idx = named[name];
    if (idx === undefined || idx > re.groupCount()) return '';
    return m.group(idx) ?? '';
  };
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{') {
      const close = template.indexOf('}', i + 2);
      const name = close === -1 ? '' : template.slice(i + 2, close);
      if (close === -1 || !/^[a-zA-Z0-9_]+$/.test(name)) {
        out += c;
        continue;
      }
      out += group(name);
      i = close;
      continue;
    }
    const rest = /^[a-zA-Z0-9_]+/.exec(template.slice(i + 1));
    if (!rest) {
      out += c;
      continue;
    }
    out += group(rest[0]);
    i += rest[0].length;
  }
  return out;
}
