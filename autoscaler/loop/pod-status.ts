// How a pod policy's evaluation ends, whatever it decided: its status
// (HPA-style conditions, current and desired replicas, current metrics)
// written when it changed, a Warning Event when a failing condition's reason
// is new, and the decision handed to the DecisionLog.
import { POD_POLICY_PLURAL, type PodAutoscalingPolicy, type PodAutoscalingPolicyStatus } from '../kube/policies.ts';
import { mergeConditions, type ConditionType, type ConditionValue } from '../kube/status.ts';
import type { AutoscalingDecision, PolicyRef } from '../ports.ts';
import type { LoopContext, PolicyMemory } from './context.ts';
import { podPolicyEvent } from './events.ts';

export type PodPolicyConditions = Partial<Record<ConditionType, ConditionValue>>;

/** Writes the status when it changed, and a Warning event when a failing condition's reason is new; then records the decision. */
export async function finishPodPolicy(
  ctx: LoopContext,
  policy: PodAutoscalingPolicy,
  memory: PolicyMemory,
  at: Date,
  conditions: PodPolicyConditions,
  fields: Omit<PodAutoscalingPolicyStatus, 'conditions'>,
  decision: Omit<AutoscalingDecision, 'policy' | 'time' | 'conditions'>,
): Promise<void> {
  const { options } = ctx;
  const previous = (memory.lastStatus ?? policy.status) as PodAutoscalingPolicyStatus | undefined;
  const status: PodAutoscalingPolicyStatus = {
    ...(previous ?? {}),
    ...fields,
    ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}),
    conditions: mergeConditions(previous?.conditions, conditions, at),
  };
  if (memory.lastScaleTime) status.lastScaleTime = memory.lastScaleTime;
  const ref: PolicyRef = { kind: 'PodAutoscalingPolicy', namespace: policy.metadata.namespace ?? 'default', name: policy.metadata.name };
  for (const [type, value] of Object.entries(conditions) as [ConditionType, ConditionValue][]) {
    const before = previous?.conditions?.find((c) => c.type === type);
    if (value.status === 'False' && type !== 'ScalingLimited' && before?.reason !== value.reason) {
      await podPolicyEvent(ctx, policy, 'Warning', value.reason, value.message);
    }
  }
  // Usage figures move every round; alone they are written once per resync, anything else at once.
  const { currentMetrics: _before, ...restBefore } = previous ?? {};
  const { currentMetrics: _after, ...restAfter } = status;
  const significant = JSON.stringify(restBefore) !== JSON.stringify(restAfter);
  const metricsOnly = !significant && JSON.stringify(_before) !== JSON.stringify(_after);
  if (significant || (metricsOnly && at.getTime() - (memory.statusWrittenAt ?? 0) >= ctx.resyncMs)) {
    try {
      await options.cluster.patchPolicyStatus(POD_POLICY_PLURAL, ref.namespace, policy.metadata.name, status);
      memory.lastStatus = status;
      memory.statusWrittenAt = at.getTime();
    } catch (e) {
      options.log?.warn({ err: e, policy: ref }, 'status write failed');
    }
  }
  await ctx.decide({ policy: ref, time: at.toISOString(), conditions: status.conditions ?? [], ...decision });
}
