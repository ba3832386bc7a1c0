// One pod policy's decision, given what its round read: the recommender's
// request built from the policy, fresh pod metrics and custom metrics; the
// pure recommender's answer, raised by the predictive forecast when the
// policy asks for one; the scale written through /scale with its
// SuccessfulRescale Event; and the HPA conditions that explain it.
import { InputError } from '../../core/errors.ts';
import { parseRecommendInput, recommendWithTrace } from '../pods/recommend.ts';
import type { PredictiveRecommendation } from '../pods/predictive.ts';
import type { KubeObjectJson } from '../kube/cluster-access.ts';
import type { PodAutoscalingPolicy } from '../kube/policies.ts';
import { condition, metricStatus, scalingLimited } from '../kube/status.ts';
import type { AutoscalingDecision, CustomMetricsSource, PodMetricsJson } from '../ports.ts';
import { iso, type LoopContext, type PolicyMemory } from './context.ts';
import { podPolicyEvent } from './events.ts';
import { recommendRequestOf } from './policy-input.ts';
import { finishPodPolicy, type PodPolicyConditions } from './pod-status.ts';
import { predict, predictiveSpecOf } from './predictive.ts';

/** A pod policy whose target and pods were read this round. */
export interface PreparedPodPolicy {
  policy: PodAutoscalingPolicy;
  key: string;
  memory: PolicyMemory;
  currentReplicas: number;
  pods: KubeObjectJson[];
}

/** Longest any history matters: stabilization windows reach 3600 s, policy periods 1800 s. */
const HISTORY_MS = 3_600_000;

/** How the HPA controller describes a metric in its ValidMetricFound message. */
function metricDescription(m: { type: string; name: string; currentAverageUtilization?: number }): string {
  switch (m.type) {
    case 'Resource':
      return m.currentAverageUtilization !== undefined ? `${m.name} resource utilization (percentage of request)` : `${m.name} resource`;
    case 'ContainerResource':
      return m.currentAverageUtilization !== undefined ? `${m.name} container resource utilization (percentage of request)` : `${m.name} container resource`;
    case 'Pods':
      return `pods metric ${m.name}`;
    case 'Object':
      return `object metric ${m.name}`;
    default:
      return `external metric ${m.name}`;
  }
}

/** Decides one pod policy and acts on it; true when it scaled its target. */
export async function decidePodPolicy(ctx: LoopContext, p: PreparedPodPolicy, all: PodMetricsJson[], fingerprint: string, at: Date): Promise<boolean> {
  const { options, staleAfterMs } = ctx;
  const { policy, memory } = p;
  const namespace = policy.metadata.namespace ?? 'default';
  const cutoff = at.getTime() - HISTORY_MS;
  memory.recommendations = memory.recommendations.filter((r) => Date.parse(r.time) >= cutoff);
  memory.scaleEvents = memory.scaleEvents.filter((r) => Date.parse(r.time) >= cutoff);
  memory.fingerprint = fingerprint;
  memory.evaluatedAt = at.getTime();
  const fresh = all.filter((m) => at.getTime() - Date.parse(m.timestamp) <= staleAfterMs);
  const stale = all.length - fresh.length;
  let custom: Awaited<ReturnType<CustomMetricsSource['metricsFor']>> = { customMetrics: [], externalMetrics: [] };
  if (options.customMetrics && (policy.spec.metrics ?? []).some((m) => m['type'] === 'Pods' || m['type'] === 'Object' || m['type'] === 'External')) {
    try {
      custom = await options.customMetrics.metricsFor(policy, p.pods.map((pod) => ({ namespace, name: pod.metadata?.name ?? '' })), at);
    } catch (e) {
      options.log?.warn({ err: e, policy: policy.metadata }, 'custom metrics unavailable');
    }
  }
  const request = recommendRequestOf(
    policy,
    {
      currentReplicas: p.currentReplicas,
      pods: p.pods,
      podMetrics: fresh,
      customMetrics: custom.customMetrics,
      externalMetrics: custom.externalMetrics,
      history: { recommendations: memory.recommendations, scaleEvents: memory.scaleEvents },
    },
    at,
  );
  let trace;
  try {
    trace = recommendWithTrace(parseRecommendInput(request));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const c = condition.metricFailure('FailedGetResourceMetric', `invalid input at ${e.field}: ${e.message}`);
    await finishPodPolicy(ctx, policy, memory, at, { AbleToScale: condition.readyForNewScale(), ScalingActive: c }, { currentReplicas: p.currentReplicas, desiredReplicas: p.currentReplicas }, { action: 'none', reason: c.message, input: request });
    return false;
  }
  const rec = trace.recommendation;
  if (trace.prenormalizedReplicas !== undefined) memory.recommendations.push({ time: iso(at), replicas: trace.prenormalizedReplicas });
  const conditions: PodPolicyConditions = {};
  if (trace.failures.length > 0) {
    const f = trace.failures[0]!;
    const staleNote = stale > 0 ? ` (${stale} pod metrics older than ${Math.round(staleAfterMs / 1000)}s ignored as stale)` : '';
    conditions.ScalingActive = condition.metricFailure(f.reason, `${f.message}${staleNote}`);
  } else if (p.currentReplicas === 0 && rec.desiredReplicas === 0 && rec.reason.startsWith('scaling is disabled')) {
    conditions.ScalingActive = condition.scalingDisabled();
  } else {
    // Upstream names the metric that set the count.
    const top = rec.metrics.reduce<(typeof rec.metrics)[number] | undefined>((best, m) => (!best || m.proposal > best.proposal ? m : best), undefined);
    conditions.ScalingActive = condition.validMetricFound(top ? metricDescription(top) : 'its metrics');
  }
  conditions.ScalingLimited = scalingLimited(rec.limitedBy);
  let desired = rec.desiredReplicas;
  let reason = rec.reason;
  let predicted: PredictiveRecommendation | undefined;
  const predictive = predictiveSpecOf(policy);
  if (predictive?.enabled && options.loadHistory && trace.failures.length === 0 && p.currentReplicas > 0) {
    predicted = await predict(ctx, policy, p.pods, memory, predictive, rec.desiredReplicas, at);
    if (predicted?.source === 'predictive' && predicted.desiredReplicas > desired) {
      desired = predicted.desiredReplicas;
      reason = `predictive: ${predicted.reason}`;
    }
  }
  let action: AutoscalingDecision['action'] = 'none';
  if (desired !== p.currentReplicas) {
    try {
      await options.cluster.setScale(namespace, policy.spec.scaleTargetRef, desired);
      action = 'scale';
      memory.scaleEvents.push({ time: iso(at), replicaChange: desired - p.currentReplicas });
      memory.lastScaleTime = iso(at);
      conditions.AbleToScale = condition.succeededRescale(desired);
      await podPolicyEvent(ctx, policy, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
    } catch (e) {
      conditions.AbleToScale = condition.failedUpdateScale((e as Error).message);
    }
  } else if (rec.limitedBy === 'stabilizationWindow' && trace.prenormalizedReplicas !== undefined) {
    conditions.AbleToScale = trace.prenormalizedReplicas < rec.desiredReplicas ? condition.scaleDownStabilized() : condition.scaleUpStabilized();
  } else {
    conditions.AbleToScale = condition.readyForNewScale();
  }
  await finishPodPolicy(
    ctx,
    policy,
    memory,
    at,
    conditions,
    { currentReplicas: p.currentReplicas, desiredReplicas: desired, currentMetrics: rec.metrics.map(metricStatus) },
    { action, fromReplicas: p.currentReplicas, toReplicas: action === 'scale' ? desired : p.currentReplicas, reason, input: request, output: rec, ...(predicted ? { predictive: predicted } : {}) },
  );
  return action === 'scale';
}
