// The pod recommender: the replica count Kubernetes' HPA controller (v1.30+)
// would set for the same HPA, pods, metrics and history, plus Tidemark's
// opt-in extensions (per-direction tolerance, scale to and from zero on an
// activation threshold, cooldown). A pure function of its input.
import {
  limitLegacy,
  limitWithBehavior,
  scaleDownRules,
  scaleUpRules,
  stabilizeLegacy,
  stabilizeWithBehavior,
  type LimitReason,
} from './behavior.ts';
import { DEFAULT_TOLERANCE, type CalculatorConfig } from './calculator.ts';
import type { RecommendInput } from './input.ts';
import { evaluateMetric, type MetricFailure, type MetricProposal } from './metrics.ts';

export type { MetricProposal } from './metrics.ts';
export { parseRecommendInput, type RecommendInput, type RecommendRequest } from './input.ts';

export type LimitedBy = null | 'minReplicas' | 'maxReplicas' | 'scaleUpPolicy' | 'scaleDownPolicy' | 'stabilizationWindow';

export interface ReplicaRecommendation {
  desiredReplicas: number;
  currentReplicas: number;
  metrics: MetricProposal[];
  limitedBy: LimitedBy;
  reason: string;
}

/** What the control loop keeps besides the recommendation itself. */
export interface RecommendationTrace {
  recommendation: ReplicaRecommendation;
  /**
   * The count before stabilization and policies. The controller appends
   * {time: now, replicas: this} to history.recommendations for the next call
   * (undefined when the HPA did not compute one: disabled, out of range, errors).
   */
  prenormalizedReplicas?: number;
  /** Metrics that could not be evaluated (upstream: ScalingActive=False with this reason). */
  failures: MetricFailure[];
}

export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
export const INITIAL_READINESS_DELAY_MS = 30_000;

const LIMITED_BY: Record<LimitReason, LimitedBy> = {
  DesiredWithinRange: null,
  TooFewReplicas: 'minReplicas',
  TooManyReplicas: 'maxReplicas',
  ScaleUpLimit: 'scaleUpPolicy',
  ScaleDownLimit: 'scaleDownPolicy',
};

const LIMIT_MESSAGE: Record<LimitReason, string> = {
  DesiredWithinRange: 'the desired count is within the acceptable range',
  TooFewReplicas: 'the desired replica count is less than the minimum replica count',
  TooManyReplicas: 'the desired replica count is more than the maximum replica count',
  ScaleUpLimit: 'the desired replica count is increasing faster than the maximum scale rate',
  ScaleDownLimit: 'the desired replica count is decreasing faster than the maximum scale rate',
};

export function recommend(input: RecommendInput): ReplicaRecommendation {
  return recommendWithTrace(input).recommendation;
}

export function recommendWithTrace(input: RecommendInput): RecommendationTrace {
  const { spec } = input.hpa;
  const current = input.hpa.status.currentReplicas;
  const minReplicas = spec.minReplicas ?? 1;
  const maxReplicas = spec.maxReplicas;
  const scaleToZero = spec.tidemark?.minReplicas === 0;
  const behavior = spec.behavior ?? undefined;
  const cfg: CalculatorConfig = {
    now: input.now,
    tolerances: {
      scaleUp: behavior?.scaleUp?.tolerance ?? DEFAULT_TOLERANCE,
      scaleDown: behavior?.scaleDown?.tolerance ?? DEFAULT_TOLERANCE,
    },
    cpuInitializationPeriodMs: CPU_INITIALIZATION_PERIOD_MS,
    delayOfInitialReadinessMs: INITIAL_READINESS_DELAY_MS,
  };
  const result = (desiredReplicas: number, limitedBy: LimitedBy, reason: string, metrics: MetricProposal[] = []) => ({
    desiredReplicas,
    currentReplicas: current,
    metrics,
    limitedBy,
    reason,
  });

  if (current === 0 && minReplicas !== 0 && !scaleToZero) {
    return {
      recommendation: result(0, null, 'scaling is disabled since the replica count of the target is zero'),
      failures: [],
    };
  }
  if (current > maxReplicas) {
    return { recommendation: result(maxReplicas, 'maxReplicas', 'Current number of replicas above Spec.MaxReplicas'), failures: [] };
  }
  if (current < minReplicas && !(scaleToZero && current === 0)) {
    return { recommendation: result(minReplicas, 'minReplicas', 'Current number of replicas below Spec.MinReplicas'), failures: [] };
  }

  // computeReplicasForMetrics: the largest proposal; an unreadable metric blocks a scale-down.
  const metricSpecs = spec.metrics ?? [];
  const proposals: MetricProposal[] = [];
  const failures: MetricFailure[] = [];
  let metricReplicas = 0;
  let metricDescription = '';
  let activationSeen = false;
  let active = false;
  metricSpecs.forEach((m) => {
    const outcome = evaluateMetric(m, input, current, cfg);
    if (m.tidemark) {
      activationSeen = true;
      // An unreadable activation metric keeps the workload up: guessing "idle" would drop traffic.
      if (!outcome.ok || (outcome.activationValue ?? 0) > m.tidemark.activationThreshold) active = true;
    }
    if (!outcome.ok) {
      failures.push(outcome.failure);
      return;
    }
    proposals.push(outcome.proposal);
    if (metricReplicas === 0 || outcome.proposal.proposal > metricReplicas) {
      metricReplicas = outcome.proposal.proposal;
      metricDescription = outcome.description;
    }
  });
  const zeroAllowed = scaleToZero && activationSeen && !active;

  const allFailed = failures.length > 0 && failures.length >= metricSpecs.length;
  if (allFailed || (failures.length > 0 && metricReplicas < current && !zeroAllowed)) {
    const first = failures[0]!;
    return {
      recommendation: result(
        current,
        null,
        `invalid metrics (${failures.length} invalid out of ${metricSpecs.length}), first error is: ${first.reason}: ${first.message}`,
        proposals,
      ),
      failures,
    };
  }

  if (scaleToZero && current === 0) {
    if (!active) {
      return {
        recommendation: result(0, null, 'inactive: every activation metric is at or below its threshold', proposals),
        prenormalizedReplicas: 0,
        failures,
      };
    }
    // Coming back from zero skips the rate policies (a percentage of 0 is 0), as KEDA's activation does.
    const floor = Math.max(1, minReplicas);
    const wanted = Math.max(floor, metricReplicas);
    const desired = Math.min(wanted, maxReplicas);
    return {
      recommendation: result(
        desired,
        desired < wanted ? 'maxReplicas' : wanted === floor && metricReplicas < floor ? 'minReplicas' : null,
        'active: an activation metric is above its threshold, scaling from zero',
        proposals,
      ),
      prenormalizedReplicas: wanted,
      failures,
    };
  }

  let prenormalized = metricReplicas;
  let rescaleReason = '';
  if (zeroAllowed) {
    prenormalized = 0;
    rescaleReason = 'inactive: every activation metric is at or below its threshold';
  } else if (prenormalized > current) {
    rescaleReason = `${metricDescription} above target`;
  } else if (prenormalized < current) {
    rescaleReason = 'All metrics below target';
  }
  const floor = zeroAllowed ? 0 : minReplicas;

  const history = input.history;
  let stabilized: number;
  let limited: { replicas: number; reason: LimitReason };
  let stabilizationMessage: string;
  if (!behavior) {
    stabilized = stabilizeLegacy(prenormalized, history.recommendations, input.now);
    stabilizationMessage = 'recent recommendations were higher than current one, applying the highest recent recommendation';
    limited = limitLegacy(current, stabilized, floor, maxReplicas);
  } else {
    const up = scaleUpRules(behavior.scaleUp);
    const down = scaleDownRules(behavior.scaleDown);
    stabilized = stabilizeWithBehavior(current, prenormalized, history.recommendations, up, down, input.now);
    stabilizationMessage =
      stabilized < prenormalized
        ? 'recent recommendations were lower than current one, applying the lowest recent recommendation'
        : 'recent recommendations were higher than current one, applying the highest recent recommendation';
    limited = limitWithBehavior(current, stabilized, floor, maxReplicas, history.scaleEvents, up, down, input.now);
  }

  let desired = limited.replicas;
  let limitedBy: LimitedBy = LIMITED_BY[limited.reason];
  const reasons = [rescaleReason || 'recommended size matches current size'];
  if (limited.reason !== 'DesiredWithinRange') {
    reasons.push(LIMIT_MESSAGE[limited.reason]);
  } else if (stabilized !== prenormalized) {
    limitedBy = 'stabilizationWindow';
    reasons.push(stabilizationMessage);
  }

  const cooldown = spec.tidemark?.cooldown;
  if (cooldown && desired !== current && history.scaleEvents.length > 0) {
    const last = Math.max(...history.scaleEvents.map((e) => e.time));
    const holdSeconds = desired > current ? cooldown.scaleUpSeconds : cooldown.scaleDownSeconds;
    const sinceSeconds = (input.now - last) / 1000;
    if (holdSeconds !== undefined && sinceSeconds < holdSeconds) {
      limitedBy = desired > current ? 'scaleUpPolicy' : 'scaleDownPolicy';
      reasons.push(
        `cooldown: last scale ${Math.floor(sinceSeconds)}s ago, ${desired > current ? 'scale-up' : 'scale-down'} held for ${holdSeconds}s (wanted ${desired})`,
      );
      desired = current;
    }
  }

  return {
    recommendation: result(desired, limitedBy, reasons.join('; '), proposals),
    prenormalizedReplicas: prenormalized,
    failures,
  };
}
