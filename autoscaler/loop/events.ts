// The Events the loop writes on its policies, as the HPA controller and the
// cluster-autoscaler record them: SuccessfulRescale and failing conditions on
// a PodAutoscalingPolicy; TriggeredScaleUp, FailedScaleUp, ScaleDown and
// ScaleDownFailed on a NodeAutoscalingPolicy. An Event that cannot be written
// is logged and never fails a round.
import { POLICY_GROUP, POLICY_VERSION, type NodeAutoscalingPolicy, type PodAutoscalingPolicy } from '../kube/policies.ts';
import type { LoopContext } from './context.ts';

export type EventType = 'Normal' | 'Warning';

/** An Event on a PodAutoscalingPolicy. */
export async function podPolicyEvent(ctx: LoopContext, policy: PodAutoscalingPolicy, type: EventType, reason: string, message: string): Promise<void> {
  const namespace = policy.metadata.namespace ?? 'default';
  await ctx.options.cluster
    .recordEvent({
      involvedObject: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'PodAutoscalingPolicy', name: policy.metadata.name, namespace, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) },
      type,
      reason,
      message,
    })
    .catch((e: unknown) => ctx.options.log?.warn({ err: e }, 'event write failed'));
}

/** An Event on a NodeAutoscalingPolicy (cluster-scoped). */
export async function nodePolicyEvent(ctx: LoopContext, policy: NodeAutoscalingPolicy, type: EventType, reason: string, message: string): Promise<void> {
  await ctx.options.cluster
    .recordEvent({ involvedObject: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'NodeAutoscalingPolicy', name: policy.metadata.name, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) }, type, reason, message })
    .catch((e: unknown) => ctx.options.log?.warn({ err: e }, 'event write failed'));
}
