// From the metrics' desired count to the count the HPA actually sets: the
// stabilization windows, the scaling policies and the min/max clamps of
// `spec.behavior` (horizontal.go normalizeDesiredReplicasWithBehaviors), or,
// when `behavior` is absent, the controller's older rules
// (normalizeDesiredReplicas). History is handed in rather than kept in
// memory, so the same inputs always give the same answer.
import type { ScalingRulesSpec } from './input.ts';

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** HPAScalingRules after API defaulting. */
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface TimedRecommendation {
  time: number;
  replicas: number;
}

export interface ScaleEvent {
  time: number;
  /** Signed: positive for a scale-up. */
  replicaChange: number;
}

/** The controller's --horizontal-pod-autoscaler-downscale-stabilization default. */
export const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS = 300;

/** Which rule changed the count, in the HPA's own condition reasons. */
export type LimitReason =
  | 'DesiredWithinRange'
  | 'TooFewReplicas'
  | 'TooManyReplicas'
  | 'ScaleUpLimit'
  | 'ScaleDownLimit';

/** The API server's defaults for behavior.scaleUp (autoscaling/v2 SetDefaults). */
export function scaleUpRules(spec: ScalingRulesSpec | undefined): ScalingRules {
  return {
    stabilizationWindowSeconds: spec?.stabilizationWindowSeconds ?? 0,
    selectPolicy: spec?.selectPolicy ?? 'Max',
    policies: spec?.policies ?? [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

/** The defaults for behavior.scaleDown; the window falls back to the controller's 300 s. */
export function scaleDownRules(spec: ScalingRulesSpec | undefined): ScalingRules {
  return {
    stabilizationWindowSeconds: spec?.stabilizationWindowSeconds ?? DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
    selectPolicy: spec?.selectPolicy ?? 'Max',
    policies: spec?.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  };
}

/** Replicas changed by the events strictly inside the last `periodSeconds`. */
export function replicasChangedInPeriod(periodSeconds: number, events: readonly ScaleEvent[], now: number): { added: number; deleted: number } {
  const cutoff = now - periodSeconds * 1000;
  let added = 0;
  let deleted = 0;
  for (const e of events) {
    if (e.time <= cutoff) continue;
    if (e.replicaChange > 0) added += e.replicaChange;
    else deleted -= e.replicaChange;
  }
  return { added, deleted };
}

/** The most replicas the scale-up policies allow now (counting from each period's start). */
export function scaleUpLimit(current: number, events: readonly ScaleEvent[], rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const p of rules.policies) {
    const { added, deleted } = replicasChangedInPeriod(p.periodSeconds, events, now);
    const periodStart = current - added + deleted;
    // Percent rounds up, or a small workload could never grow.
    const proposed = p.type === 'Pods' ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** The fewest replicas the scale-down policies allow now. */
export function scaleDownLimit(current: number, events: readonly ScaleEvent[], rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // For scale-down the "Min" change is the largest remaining count.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const p of rules.policies) {
    const { added, deleted } = replicasChangedInPeriod(p.periodSeconds, events, now);
    const periodStart = current - added + deleted;
    const proposed = p.type === 'Pods' ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/**
 * stabilizeRecommendationWithBehaviors: the count may rise no higher than the
 * lowest recommendation inside the scale-up window and fall no lower than the
 * highest inside the scale-down window.
 */
export function stabilizeWithBehavior(
  current: number,
  desired: number,
  recommendations: readonly TimedRecommendation[],
  up: ScalingRules,
  down: ScalingRules,
  now: number,
): number {
  const upCutoff = now - up.stabilizationWindowSeconds * 1000;
  const downCutoff = now - down.stabilizationWindowSeconds * 1000;
  let upRecommendation = desired;
  let downRecommendation = desired;
  for (const r of recommendations) {
    if (r.time > upCutoff) upRecommendation = Math.min(upRecommendation, r.replicas);
    if (r.time > downCutoff) downRecommendation = Math.max(downRecommendation, r.replicas);
  }
  let recommendation = current;
  if (recommendation < upRecommendation) recommendation = upRecommendation;
  if (recommendation > downRecommendation) recommendation = downRecommendation;
  return recommendation;
}

/** convertDesiredReplicasWithBehaviorRate: policies and the min/max clamps. */
export function limitWithBehavior(
  current: number,
  desired: number,
  min: number,
  max: number,
  events: readonly ScaleEvent[],
  up: ScalingRules,
  down: ScalingRules,
  now: number,
): { replicas: number; reason: LimitReason } {
  if (desired > current) {
    // Never below current: recent events may put the period's limit under it.
    const limit = Math.max(scaleUpLimit(current, events, up, now), current);
    const [allowed, reason]: [number, LimitReason] = max > limit ? [limit, 'ScaleUpLimit'] : [max, 'TooManyReplicas'];
    if (desired > allowed) return { replicas: allowed, reason };
  } else if (desired < current) {
    const limit = Math.min(scaleDownLimit(current, events, down, now), current);
    const [allowed, reason]: [number, LimitReason] = min < limit ? [limit, 'ScaleDownLimit'] : [min, 'TooFewReplicas'];
    if (desired < allowed) return { replicas: allowed, reason };
  }
  return { replicas: desired, reason: 'DesiredWithinRange' };
}

/** stabilizeRecommendation: without behavior, the highest recommendation of the last 5 minutes. */
export function stabilizeLegacy(
  desired: number,
  recommendations: readonly TimedRecommendation[],
  now: number,
  windowSeconds = DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
): number {
  const cutoff = now - windowSeconds * 1000;
  let max = desired;
  for (const r of recommendations) if (r.time >= cutoff && r.replicas > max) max = r.replicas;
  return max;
}

/** Upstream's guard against bogus usage spikes: at most double, or 4, per sync. */
export function legacyScaleUpLimit(current: number): number {
  return Math.max(2 * current, 4);
}

/** convertDesiredReplicasWithRules: the clamps without behavior. */
export function limitLegacy(current: number, desired: number, min: number, max: number): { replicas: number; reason: LimitReason } {
  const upLimit = legacyScaleUpLimit(current);
  const [allowed, reason]: [number, LimitReason] = max > upLimit ? [upLimit, 'ScaleUpLimit'] : [max, 'TooManyReplicas'];
  if (desired < min) return { replicas: min, reason: 'TooFewReplicas' };
  if (desired > allowed) return { replicas: allowed, reason };
  return { replicas: desired, reason: 'DesiredWithinRange' };
}
