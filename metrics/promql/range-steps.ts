// The pushed-down range functions evaluated for every step of a query at
// once: per series, two indexes walk its samples as the window [te − r, te]
// slides over the steps (each sample is visited once by each index, so no
// sample is copied per step), the function is computed over the window
// exactly as functions.ts computes it for the step-by-step evaluator, and
// an aggregation over series folds each step's value into its group as the
// evaluator's `aggregate` does. Pure: no I/O.
import type { Labels } from './ast.ts';
import type { SeriesData, Sample } from './evaluate.ts';
import { dropName, labelsKey } from './evaluate.ts';
import { avgOverTimeAt, extrapolatedRateAt, maxOverTimeAt, minOverTimeAt, sumOverTimeAt } from './functions.ts';
import type { Pushdown, PushdownFunction, PushdownSteps } from './pushdown.ts';

/**
 * The function at each step for one series' samples (times ascending,
 * staleness markers already dropped): `out[k]` is the value at step k and
 * `has[k]` 1 when the window held enough samples for one. Returns how many
 * steps have a value.
 */
export function seriesSteps(fn: PushdownFunction, t: Float64Array, v: Float64Array, steps: PushdownSteps, rangeMs: number, offsetMs: number, out: Float64Array, has: Uint8Array): number {
  const n = t.length;
  if (fn === 'instant') throw new Error('seriesSteps: an instant selector is instantSteps');
  let lo = 0;
  let hi = 0;
  let found = 0;
  const need = fn === 'rate' || fn === 'increase' || fn === 'delta' ? 2 : 1;
  // Counter resets before each sample (resets[i]: pairs j ≤ i with v[j] < v[j-1]), so a window
  // without one skips the reset scan: a step costs O(1), not O(window), in the common case.
  let resets: Int32Array | null = null;
  if (fn === 'rate' || fn === 'increase') {
    resets = new Int32Array(n);
    for (let i = 1; i < n; i++) resets[i] = resets[i - 1]! + (v[i]! < v[i - 1]! ? 1 : 0);
  }
  for (let k = 0; k < steps.count; k++) {
    const te = steps.startMs + k * steps.stepMs - offsetMs;
    const from = te - rangeMs;
    while (lo < n && t[lo]! < from) lo++;
    if (hi < lo) hi = lo;
    while (hi < n && t[hi]! <= te) hi++;
    has[k] = 0;
    if (hi - lo < need) continue;
    let value: number;
    switch (fn) {
      case 'rate':
        value = extrapolatedRateAt(t, v, lo, hi, from, te, true, true, resets![hi - 1]! > resets![lo]!);
        break;
      case 'increase':
        value = extrapolatedRateAt(t, v, lo, hi, from, te, true, false, resets![hi - 1]! > resets![lo]!);
        break;
      case 'delta':
        value = extrapolatedRateAt(t, v, lo, hi, from, te, false, false);
        break;
      case 'sum_over_time':
        value = sumOverTimeAt(v, lo, hi);
        break;
      case 'avg_over_time':
        value = avgOverTimeAt(v, lo, hi);
        break;
      case 'min_over_time':
        value = minOverTimeAt(v, lo, hi);
        break;
      case 'max_over_time':
        value = maxOverTimeAt(v, lo, hi);
        break;
      case 'count_over_time':
        value = hi - lo;
        break;
      case 'last_over_time':
        value = v[hi - 1]!;
        break;
      case 'present_over_time':
        value = 1;
        break;
    }
    out[k] = value;
    has[k] = 1;
    found++;
  }
  return found;
}

/**
 * An instant-vector selector at each step: the newest sample in
 * [te − lookback, te] (closed, as 2.42), none when that sample is a
 * staleness marker (`stale[i]` 1). The arrays hold the markers.
 */
export function instantSteps(t: Float64Array, v: Float64Array, stale: Uint8Array, steps: PushdownSteps, lookbackMs: number, offsetMs: number, out: Float64Array, has: Uint8Array): number {
  const n = t.length;
  let hi = 0;
  let found = 0;
  for (let k = 0; k < steps.count; k++) {
    const te = steps.startMs + k * steps.stepMs - offsetMs;
    while (hi < n && t[hi]! <= te) hi++;
    const i = hi - 1;
    if (i < 0 || t[i]! < te - lookbackMs || stale[i]) {
      has[k] = 0;
      continue;
    }
    out[k] = v[i]!;
    has[k] = 1;
    found++;
  }
  return found;
}

type Aggregation = NonNullable<Pushdown['aggregation']>;

/** The labels of an aggregation's group for one series' output labels (the evaluator's rule). */
export function groupLabels(a: Aggregation, metric: Labels): Labels {
  const out: Labels = {};
  if (a.without) {
    for (const [k, v] of Object.entries(metric)) if (k !== '__name__' && !a.grouping.includes(k)) out[k] = v;
  } else {
    for (const k of a.grouping) {
      const v = metric[k];
      if (v !== undefined && v !== '') out[k] = v;
    }
  }
  return out;
}

interface Group {
  metric: Labels;
  /** Per step: the running sum, mean, minimum or maximum. */
  value: Float64Array;
  /** Per step: how many series have contributed (0: none, the step has no sample). */
  count: Uint32Array;
}

/**
 * Accumulates a pushdown's answer over chunks of series: `add` each chunk's
 * series, then `byStep` gives every step's samples (one per series, or one
 * per group when aggregated), keyed by step time.
 */
export class StepAccumulator {
  private readonly out: Float64Array;
  private readonly has: Uint8Array;
  private readonly groups = new Map<string, Group>();
  private readonly plain: { metric: Labels; value: Float64Array; has: Uint8Array }[] = [];

  constructor(
    private readonly p: Pushdown,
    private readonly steps: PushdownSteps,
  ) {
    this.out = new Float64Array(steps.count);
    this.has = new Uint8Array(steps.count);
  }

  /** One series' samples. */
  add(series: SeriesData): void {
    const { p, steps, out, has } = this;
    const offsetMs = p.matrix.vector.offsetMs;
    const found =
      p.fn === 'instant'
        ? instantSteps(series.t, series.v, series.stale, steps, p.matrix.rangeMs, offsetMs, out, has)
        : seriesSteps(p.fn, series.clean.t, series.clean.v, steps, p.matrix.rangeMs, offsetMs, out, has);
    if (found === 0) return;
    const metric = p.fn === 'last_over_time' || p.fn === 'instant' ? series.metric : dropName(series.metric);
    const a = p.aggregation;
    if (!a) {
      this.plain.push({ metric, value: out.slice(), has: has.slice() });
      return;
    }
    const labels = groupLabels(a, metric);
    const key = labelsKey(labels);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { metric: labels, value: new Float64Array(steps.count), count: new Uint32Array(steps.count) }));
    const { value, count } = g;
    const op = a.op;
    for (let k = 0; k < steps.count; k++) {
      if (!has[k]) continue;
      const x = out[k]!;
      const c = ++count[k]!;
      if (c === 1) {
        value[k] = op === 'count' ? 1 : op === 'group' ? 1 : x;
        continue;
      }
      switch (op) {
        case 'sum':
          value[k] = value[k]! + x;
          break;
        case 'avg': {
          // Prometheus 2.42's incremental mean, infinities included (the evaluator's `aggregate`).
          const mean = value[k]!;
          if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
            if (!Number.isFinite(x) && !Number.isNaN(x) && mean > 0 === x > 0) break;
            if (Number.isFinite(x)) break;
          }
          value[k] = mean + (x / c - mean / c);
          break;
        }
        case 'count':
          value[k] = c;
          break;
        case 'group':
          break;
        case 'min': {
          const m = value[k]!;
          if (m > x || Number.isNaN(m)) value[k] = x;
          break;
        }
        case 'max': {
          const m = value[k]!;
          if (m < x || Number.isNaN(m)) value[k] = x;
          break;
        }
      }
    }
  }

  /**
   * The range query's answer when the pushdown is the whole query: one
   * entry per series (or group) with a value, sorted by labels as the
   * engine sorts, values as Prometheus writes them; no per-step samples.
   */
  matrix(format: (v: number) => string): { metric: Labels; values: [number, string][] }[] {
    const { steps } = this;
    const out: { key: string; metric: Labels; values: [number, string][] }[] = [];
    const emit = (metric: Labels, value: Float64Array, present: (k: number) => boolean) => {
      const values: [number, string][] = [];
      for (let k = 0; k < steps.count; k++) if (present(k)) values.push([(steps.startMs + k * steps.stepMs) / 1000, format(value[k]!)]);
      if (values.length > 0) out.push({ key: labelsKey(metric), metric, values });
    };
    for (const s of this.plain) emit(s.metric, s.value, (k) => s.has[k] === 1);
    for (const g of this.groups.values()) emit(g.metric, g.value, (k) => g.count[k]! > 0);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.map(({ metric, values }) => ({ metric, values }));
  }

  /** Every step's samples by step time (steps without any are absent). */
  byStep(): Map<number, Sample[]> {
    const { steps } = this;
    const lists: (Sample[] | undefined)[] = new Array(steps.count);
    const push = (k: number, s: Sample) => {
      const list = lists[k];
      if (list) list.push(s);
      else lists[k] = [s];
    };
    for (const s of this.plain) for (let k = 0; k < steps.count; k++) if (s.has[k]) push(k, { metric: s.metric, value: s.value[k]! });
    for (const g of this.groups.values()) for (let k = 0; k < steps.count; k++) if (g.count[k]) push(k, { metric: g.metric, value: g.value[k]! });
    const out = new Map<number, Sample[]>();
    for (let k = 0; k < steps.count; k++) {
      const list = lists[k];
      if (list) out.set(steps.startMs + k * steps.stepMs, list);
    }
    return out;
  }
}
