// The numeric heart of PromQL's functions, as pure functions over plain
// numbers: the range functions over a window's samples (rate's
// extrapolation, counter resets, regression, the *_over_time family),
// quantiles, classic-bucket histogram quantiles, and the per-sample math
// functions. Each follows Prometheus 2.42's promql/functions.go.

/** One window's samples, oldest first: times in ms, values. */
export interface Window {
  readonly t: ArrayLike<number>;
  readonly v: ArrayLike<number>;
  readonly n: number;
}

/**
 * rate / increase / delta with Prometheus' extrapolation: to the window's
 * edges when the first/last sample is within 1.1 average intervals of
 * them, else half an interval; a counter is not extrapolated below zero.
 */
export function extrapolatedRate(w: Window, rangeStartMs: number, rangeEndMs: number, isCounter: boolean, isRate: boolean): number | null {
  if (w.n < 2) return null;
  return extrapolatedRateAt(w.t, w.v, 0, w.n, rangeStartMs, rangeEndMs, isCounter, isRate);
}

/** extrapolatedRate over the samples [lo, hi) of whole arrays (at least two): the all-steps evaluation (range-steps.ts) slides over them. */
export function extrapolatedRateAt(
  t: ArrayLike<number>,
  v: ArrayLike<number>,
  lo: number,
  hi: number,
  rangeStartMs: number,
  rangeEndMs: number,
  isCounter: boolean,
  isRate: boolean,
  /** False when the caller knows no pair in the window drops (a counter without a reset there): the scan would add nothing. */
  scanResets = true,
): number {
  const first = v[lo]!;
  const last = v[hi - 1]!;
  let result = last - first;
  if (isCounter && scanResets) {
    let prev = 0;
    for (let i = lo; i < hi; i++) {
      const x = v[i]!;
      if (x < prev) result += prev;
      prev = x;
    }
  }
  let durationToStart = (t[lo]! - rangeStartMs) / 1000;
  const durationToEnd = (rangeEndMs - t[hi - 1]!) / 1000;
  const sampledInterval = (t[hi - 1]! - t[lo]!) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (hi - lo - 1);
  if (isCounter && result > 0 && first >= 0) {
    const durationToZero = sampledInterval * (first / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageDurationBetweenSamples * 1.1;
  let extrapolateToInterval = sampledInterval;
  extrapolateToInterval += durationToStart < threshold ? durationToStart : averageDurationBetweenSamples / 2;
  extrapolateToInterval += durationToEnd < threshold ? durationToEnd : averageDurationBetweenSamples / 2;
  let factor = extrapolateToInterval / sampledInterval;
  if (isRate) factor /= (rangeEndMs - rangeStartMs) / 1000;
  return result * factor;
}

/** irate / idelta: the last two samples only. */
export function instantValue(w: Window, isRate: boolean): number | null {
  if (w.n < 2) return null;
  const last = w.v[w.n - 1]!;
  const prev = w.v[w.n - 2]!;
  const dt = w.t[w.n - 1]! - w.t[w.n - 2]!;
  let result = isRate && last < prev ? last : last - prev;
  if (dt === 0) return null;
  if (isRate) result /= dt / 1000;
  return result;
}

function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

/** Least-squares slope and intercept at interceptMs, as Prometheus' linearRegression. */
export function linearRegression(w: Window, interceptMs: number): [number, number] {
  let n = 0;
  let sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
  const initY = w.v[0]!;
  let constY = true;
  for (let i = 0; i < w.n; i++) {
    const y = w.v[i]!;
    if (constY && i > 0 && y !== initY) constY = false;
    n += 1;
    const x = (w.t[i]! - interceptMs) / 1000;
    [sumX, cX] = kahanInc(x, sumX, cX);
    [sumY, cY] = kahanInc(y, sumY, cY);
    [sumXY, cXY] = kahanInc(x * y, sumXY, cXY);
    [sumX2, cX2] = kahanInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (!Number.isFinite(initY) && !Number.isNaN(initY)) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

export function avgOverTime(w: Window): number {
  return avgOverTimeAt(w.v, 0, w.n);
}

/** avg_over_time of v[lo, hi): Prometheus' incremental mean. */
export function avgOverTimeAt(v: ArrayLike<number>, lo: number, hi: number): number {
  let mean = 0;
  let count = 0;
  for (let i = lo; i < hi; i++) {
    const x = v[i]!;
    count++;
    if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
      if (!Number.isFinite(x) && !Number.isNaN(x) && mean > 0 === x > 0) continue;
      if (Number.isFinite(x)) continue;
    }
    mean += x / count - mean / count;
  }
  return mean;
}

export function sumOverTime(w: Window): number {
  return sumOverTimeAt(w.v, 0, w.n);
}

export function sumOverTimeAt(v: ArrayLike<number>, lo: number, hi: number): number {
  let sum = 0;
  for (let i = lo; i < hi; i++) sum += v[i]!;
  return sum;
}

export function minOverTime(w: Window): number {
  return minOverTimeAt(w.v, 0, w.n);
}

/** min_over_time of v[lo, hi) (at least one): NaN only when every value is NaN. */
export function minOverTimeAt(v: ArrayLike<number>, lo: number, hi: number): number {
  let min = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const x = v[i]!;
    if (x < min || Number.isNaN(min)) min = x;
  }
  return min;
}

export function maxOverTime(w: Window): number {
  return maxOverTimeAt(w.v, 0, w.n);
}

export function maxOverTimeAt(v: ArrayLike<number>, lo: number, hi: number): number {
  let max = v[lo]!;
  for (let i = lo + 1; i < hi; i++) {
    const x = v[i]!;
    if (x > max || Number.isNaN(max)) max = x;
  }
  return max;
}

/** Population variance by Welford's method with Kahan-compensated sums. */
export function stdvarOverTime(w: Window): number {
  let count = 0;
  let mean = 0, cMean = 0, aux = 0, cAux = 0;
  for (let i = 0; i < w.n; i++) {
    const x = w.v[i]!;
    count++;
    const delta = x - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (x - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

export function resets(w: Window): number {
  let n = 0;
  for (let i = 1; i < w.n; i++) if (w.v[i]! < w.v[i - 1]!) n++;
  return n;
}

export function changes(w: Window): number {
  let n = 0;
  for (let i = 1; i < w.n; i++) {
    const a = w.v[i - 1]!;
    const b = w.v[i]!;
    if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) n++;
  }
  return n;
}

/** Prometheus' quantile: linear interpolation between the closest ranks; NaN sorts first. */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort((a, b) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a - b));
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

export function windowValues(w: Window): number[] {
  const out: number[] = new Array(w.n);
  for (let i = 0; i < w.n; i++) out[i] = w.v[i]!;
  return out;
}

/** Median absolute deviation (mad_over_time, Prometheus 2.51). */
export function madOverTime(w: Window): number {
  const values = windowValues(w);
  const median = quantile(0.5, values);
  return quantile(0.5, values.map((x) => Math.abs(x - median)));
}

export function holtWinters(w: Window, sf: number, tf: number): number | null {
  if (w.n < 2) return null;
  let s0 = 0;
  let s1 = w.v[0]!;
  let b = w.v[1]! - w.v[0]!;
  for (let i = 1; i < w.n; i++) {
    const x = sf * w.v[i]!;
    if (i - 1 > 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

export interface Bucket {
  upperBound: number;
  count: number;
}

/** histogram_quantile over classic `le` buckets (bucketQuantile in Prometheus 2.42). */
export function bucketQuantile(q: number, input: Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.upperBound - b.upperBound);
  if (sorted.length === 0 || sorted[sorted.length - 1]!.upperBound !== Infinity) return NaN;
  // Coalesce buckets with the same upper bound.
  const buckets: Bucket[] = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else buckets.push({ ...b });
  }
  // Ensure monotonic counts.
  let max = -Infinity;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else if (b.count < max) b.count = max;
  }
  if (buckets.length < 2) return NaN;
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && !(buckets[b]!.count >= rank)) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.upperBound;
  if (b === 0 && buckets[0]!.upperBound <= 0) return buckets[0]!.upperBound;
  let bucketStart = 0;
  const bucketEnd = buckets[b]!.upperBound;
  let count = buckets[b]!.count;
  if (b > 0) {
    bucketStart = buckets[b - 1]!.upperBound;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Go's math.Pow where it differs from JavaScript's **. */
export function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1;
  if ((x === -1) && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return x ** y;
}

/** Go's math.Min: -Inf wins over NaN. */
export function goMin(x: number, y: number): number {
  if (x === -Infinity || y === -Infinity) return -Infinity;
  return Math.min(x, y);
}

/** Go's math.Max: +Inf wins over NaN. */
export function goMax(x: number, y: number): number {
  if (x === Infinity || y === Infinity) return Infinity;
  return Math.max(x, y);
}

/** Go's math.Mod (the sign of the dividend, as JavaScript's %). */
export function goMod(x: number, y: number): number {
  return x % y;
}

export const MATH: Readonly<Record<string, (x: number) => number>> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  sqrt: Math.sqrt,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  deg: (x) => (x * 180) / Math.PI,
  rad: (x) => (x * Math.PI) / 180,
  sgn: (x) => (x < 0 ? -1 : x > 0 ? 1 : x),
};

/** Date functions over unix seconds, in UTC (Go truncates the seconds toward zero). */
export const DATE: Readonly<Record<string, (seconds: number) => number>> = {
  day_of_month: (s) => date(s).getUTCDate(),
  day_of_week: (s) => date(s).getUTCDay(),
  day_of_year: (s) => {
    const d = date(s);
    return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  },
  days_in_month: (s) => {
    const d = date(s);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  },
  hour: (s) => date(s).getUTCHours(),
  minute: (s) => date(s).getUTCMinutes(),
  month: (s) => date(s).getUTCMonth() + 1,
  year: (s) => date(s).getUTCFullYear(),
};

function date(seconds: number): Date {
  return new Date(Math.trunc(seconds) * 1000);
}
