// A policy's status as the HPA controller writes an HPA's: conditions
// AbleToScale, ScalingActive and ScalingLimited with the controller's reasons
// and messages, lastTransitionTime kept while a condition's status holds, and
// currentMetrics in autoscaling/v2 MetricStatus form. Pure functions.
import type { PolicyCondition, PodAutoscalingPolicyStatus } from './policies.ts';

export type ConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

export interface ConditionValue {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export const condition = {
  readyForNewScale: (): ConditionValue => ({ status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' }),
  scaleDownStabilized: (): ConditionValue => ({ status: 'True', reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' }),
  scaleUpStabilized: (): ConditionValue => ({ status: 'True', reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }),
  succeededRescale: (n: number): ConditionValue => ({ status: 'True', reason: 'SucceededRescale', message: `the HPA controller was able to update the target scale to ${n}` }),
  failedGetScale: (detail: string): ConditionValue => ({ status: 'False', reason: 'FailedGetScale', message: `the HPA controller was unable to get the target's current scale: ${detail}` }),
  failedUpdateScale: (detail: string): ConditionValue => ({ status: 'False', reason: 'FailedUpdateScale', message: `the HPA controller was unable to update the target scale: ${detail}` }),
  validMetricFound: (description: string): ConditionValue => ({ status: 'True', reason: 'ValidMetricFound', message: `the HPA was able to successfully calculate a replica count from ${description}` }),
  scalingDisabled: (): ConditionValue => ({ status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' }),
  metricFailure: (reason: string, message: string): ConditionValue => ({ status: 'False', reason, message: `the HPA was unable to compute the replica count: ${message}` }),
  invalidPolicy: (message: string): ConditionValue => ({ status: 'False', reason: 'InvalidPolicy', message: `the policy does not conform to the PodAutoscalingPolicy schema: ${message}` }),
  limited: (reason: string, message: string): ConditionValue => ({ status: 'True', reason, message }),
  withinRange: (): ConditionValue => ({ status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' }),
};

/** The recommender's limitedBy, as the HPA's ScalingLimited condition. */
export function scalingLimited(limitedBy: string | null): ConditionValue {
  switch (limitedBy) {
    case 'maxReplicas':
      return condition.limited('TooManyReplicas', 'the desired replica count is more than the maximum replica count');
    case 'minReplicas':
      return condition.limited('TooFewReplicas', 'the desired replica count is less than the minimum replica count');
    case 'scaleUpPolicy':
      return condition.limited('ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate');
    case 'scaleDownPolicy':
      return condition.limited('ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate');
    default:
      // The HPA reports a stabilized recommendation as within range too.
      return condition.withinRange();
  }
}

/** Sets conditions over the previous ones, keeping lastTransitionTime where the status did not change. */
export function mergeConditions(previous: readonly PolicyCondition[] | undefined, next: Partial<Record<ConditionType, ConditionValue>>, now: Date): PolicyCondition[] {
  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const out: PolicyCondition[] = [];
  const order: ConditionType[] = ['AbleToScale', 'ScalingActive', 'ScalingLimited'];
  for (const type of order) {
    const prev = previous?.find((c) => c.type === type);
    const value = next[type];
    if (!value) {
      if (prev) out.push(prev);
      continue;
    }
    out.push({
      type,
      status: value.status,
      reason: value.reason,
      message: value.message,
      lastTransitionTime: prev && prev.status === value.status && prev.lastTransitionTime ? prev.lastTransitionTime : time,
    });
  }
  for (const c of previous ?? []) if (!order.includes(c.type as ConditionType)) out.push(c);
  return out;
}

export interface MetricProposalLike {
  type: string;
  name: string;
  currentAverageUtilization?: number;
  currentAverageValue?: string;
}

/** A recommender metric proposal as an autoscaling/v2 MetricStatus. */
export function metricStatus(m: MetricProposalLike): Record<string, unknown> {
  const current = {
    ...(m.currentAverageUtilization !== undefined ? { averageUtilization: m.currentAverageUtilization } : {}),
    ...(m.currentAverageValue !== undefined ? { averageValue: m.currentAverageValue } : {}),
  };
  switch (m.type) {
    case 'Resource':
      return { type: 'Resource', resource: { name: m.name, current } };
    case 'ContainerResource': {
      const [container, name] = m.name.includes('/') ? m.name.split('/', 2) : ['', m.name];
      return { type: 'ContainerResource', containerResource: { name, container, current } };
    }
    case 'Pods':
      return { type: 'Pods', pods: { metric: { name: m.name }, current } };
    case 'Object':
      return { type: 'Object', object: { metric: { name: m.name }, current: m.currentAverageValue !== undefined ? { value: m.currentAverageValue } : current } };
    default:
      return { type: 'External', external: { metric: { name: m.name }, current } };
  }
}

/** True when writing `next` would change what the API server holds (so unchanged rounds write nothing). */
export function statusChanged(previous: PodAutoscalingPolicyStatus | undefined, next: PodAutoscalingPolicyStatus): boolean {
  return JSON.stringify(previous ?? {}) !== JSON.stringify({ ...(previous ?? {}), ...next });
}
