// Predictive scale-out (Tidemark's own, opt-in): from the history of a
// workload's total load, a time-of-day profile on top of a linear trend
// forecasts the load over a lead time, and the workload is sized for the
// forecast peak, so that pods are ready before a recurring peak instead of
// being started by it. Never below the reactive recommendation: the forecast
// may only add replicas.
import { linearRegression, linearRegressionLine, quantileSorted } from 'simple-statistics';

export interface LoadPoint {
  /** Epoch milliseconds. */
  time: number;
  /** The workload's TOTAL load (e.g. summed CPU cores, requests/s): what replicas share. */
  value: number;
}

export interface ProfileOptions {
  /** Width of a time-of-day bucket (default 15 minutes). */
  bucketMinutes?: number;
  /** The residual quantile a bucket keeps (default 0.9): peaks matter more than averages. */
  quantile?: number;
}

export interface LoadProfile {
  /** Trend: load = slopePerDay × days + intercept, days since the epoch. */
  slopePerDay: number;
  intercept: number;
  bucketMs: number;
  /** Per time-of-day bucket (UTC), the chosen quantile of the load above/below the trend. */
  seasonal: number[];
  spanMs: number;
}

const DAY_MS = 86_400_000;

/** Fits trend and daily profile; undefined when the history is empty. */
export function buildLoadProfile(history: readonly LoadPoint[], options: ProfileOptions = {}): LoadProfile | undefined {
  if (history.length < 2) return undefined;
  const bucketMs = (options.bucketMinutes ?? 15) * 60_000;
  const q = options.quantile ?? 0.9;
  const buckets = Math.max(1, Math.round(DAY_MS / bucketMs));
  const points = history.map((p) => [p.time / DAY_MS, p.value]);
  const { m, b } = linearRegression(points);
  const trend = linearRegressionLine({ m, b });
  const residuals: number[][] = Array.from({ length: buckets }, () => []);
  for (const p of history) residuals[bucketOf(p.time, bucketMs, buckets)]!.push(p.value - trend(p.time / DAY_MS));
  const seasonal = residuals.map((r) => (r.length === 0 ? 0 : quantileSorted(r.sort((x, y) => x - y), q)));
  let first = Infinity;
  let last = -Infinity;
  for (const p of history) {
    if (p.time < first) first = p.time;
    if (p.time > last) last = p.time;
  }
  return { slopePerDay: m, intercept: b, bucketMs, seasonal, spanMs: last - first };
}

function bucketOf(time: number, bucketMs: number, buckets: number): number {
  const ofDay = ((time % DAY_MS) + DAY_MS) % DAY_MS;
  return Math.min(buckets - 1, Math.floor(ofDay / bucketMs));
}

/** The forecast load at `time`. */
export function forecastLoad(profile: LoadProfile, time: number): number {
  const trend = profile.slopePerDay * (time / DAY_MS) + profile.intercept;
  const s = profile.seasonal[bucketOf(time, profile.bucketMs, profile.seasonal.length)] ?? 0;
  return Math.max(0, trend + s);
}

/** The highest forecast from now to now + lead, sampled every minute. */
export function forecastPeak(profile: LoadProfile, now: number, leadMs: number): number {
  let peak = 0;
  for (let t = now; t <= now + leadMs; t += 60_000) peak = Math.max(peak, forecastLoad(profile, t));
  return peak;
}

export interface PredictiveInput extends ProfileOptions {
  now: number;
  history: readonly LoadPoint[];
  /** The load one replica should carry at the target (e.g. 1 core request × 70% → 0.7). */
  perReplicaTarget: number;
  /** How far ahead to size for: pod start-up time plus the loop's reaction time. */
  leadTimeSeconds: number;
  /** What the reactive recommender asks for; the result is never below it. */
  reactiveReplicas: number;
  maxReplicas: number;
  /** Less history than this (default 2 days) cannot show a daily pattern. */
  minHistoryDays?: number;
  /** A profile built earlier from the same history, to avoid refitting on every call. */
  profile?: LoadProfile;
}

export interface PredictiveRecommendation {
  desiredReplicas: number;
  /** Replicas the forecast alone asks for; null without enough history. */
  predictedReplicas: number | null;
  forecastPeak: number | null;
  source: 'reactive' | 'predictive';
  reason: string;
}

export function predictReplicas(input: PredictiveInput): PredictiveRecommendation {
  const minSpan = (input.minHistoryDays ?? 2) * DAY_MS;
  const profile = input.profile ?? buildLoadProfile(input.history, input);
  if (!profile || profile.spanMs < minSpan || !(input.perReplicaTarget > 0)) {
    return {
      desiredReplicas: input.reactiveReplicas,
      predictedReplicas: null,
      forecastPeak: null,
      source: 'reactive',
      reason: `not enough history for a daily profile (need ${input.minHistoryDays ?? 2} days)`,
    };
  }
  const peak = forecastPeak(profile, input.now, input.leadTimeSeconds * 1000);
  const predicted = Math.min(Math.ceil(peak / input.perReplicaTarget), input.maxReplicas);
  if (predicted <= input.reactiveReplicas) {
    return { desiredReplicas: input.reactiveReplicas, predictedReplicas: predicted, forecastPeak: peak, source: 'reactive', reason: 'the reactive recommendation covers the forecast' };
  }
  return {
    desiredReplicas: predicted,
    predictedReplicas: predicted,
    forecastPeak: peak,
    source: 'predictive',
    reason: `forecast peak ${peak.toFixed(2)} within ${input.leadTimeSeconds}s needs ${predicted} replicas at ${input.perReplicaTarget} each`,
  };
}
