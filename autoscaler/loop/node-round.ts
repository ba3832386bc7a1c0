// The node round, one NodeAutoscalingPolicy at a time: the policy checked
// against its schema, the cluster's nodes, pods and budgets read, the nodes
// the actuator has in flight asked for, the pure node planner run on the
// policy's input (loop/policy-input.ts), and its plan carried out as it
// stands: groups grown (TriggeredScaleUp or FailedScaleUp Events), unneeded
// nodes drained beside the rounds (drains.ts), the policy's status written
// and the decision recorded. The planner sees the nodes on their way
// (`upcoming`), so a plan never asks twice for the same pods.
import { InputError } from '../../core/errors.ts';
import { planNodes, type NodePlan } from '../nodes/plan.ts';
import { parseNodePlanInput } from '../nodes/input.ts';
import { NODE_GROUP_LABEL } from '../nodes/scheduling.ts';
import type { KubeObjectJson } from '../kube/cluster-access.ts';
import { NODE_POLICY_PLURAL, policyKey, type NodeAutoscalingPolicy, type NodeAutoscalingPolicyStatus, type PolicyCondition } from '../kube/policies.ts';
import type { AutoscalingDecision, NodeActuator, PolicyRef } from '../ports.ts';
import { iso, type LoopContext } from './context.ts';
import { isDraining, startDrain } from './drains.ts';
import { nodePolicyEvent } from './events.ts';
import { nodePlanInputOf, podWaitsForNode } from './policy-input.ts';

/** Nodes in flight per group, asked only when a pod waits for a node: otherwise they cannot change the plan. */
async function upcomingNodes(actuator: NodeActuator | undefined, policy: NodeAutoscalingPolicy, pods: readonly KubeObjectJson[]): Promise<Record<string, number>> {
  const upcoming: Record<string, number> = {};
  if (!actuator || !pods.some(podWaitsForNode)) return upcoming;
  await Promise.all(
    policy.spec.nodeGroups.map(async (g) => {
      const n = await actuator.upcoming(g.name);
      if (n > 0) upcoming[g.name] = n;
    }),
  );
  return upcoming;
}

/** Plans and acts for one node policy; true when it grew a group or started a drain. */
export async function nodeRound(ctx: LoopContext, policy: NodeAutoscalingPolicy, at: Date): Promise<boolean> {
  const { options } = ctx;
  const key = `node/${policyKey(policy)}`;
  const memory = ctx.memoryOf(key);
  const ref: PolicyRef = { kind: 'NodeAutoscalingPolicy', name: policy.metadata.name };
  const previous = (memory.lastStatus ?? policy.status) as NodeAutoscalingPolicyStatus | undefined;
  const finish = async (c: { status: 'True' | 'False'; reason: string; message: string }, extra: Partial<NodeAutoscalingPolicyStatus>, decision: Omit<AutoscalingDecision, 'policy' | 'time' | 'conditions'>): Promise<void> => {
    const time = iso(at);
    const before = previous?.conditions?.find((x) => x.type === 'ScalingActive');
    const conditions: PolicyCondition[] = [
      { type: 'ScalingActive', status: c.status, reason: c.reason, message: c.message, lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : time },
    ];
    const status: NodeAutoscalingPolicyStatus = { ...(previous ?? {}), ...extra, conditions, ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}) };
    if (JSON.stringify(previous ?? {}) !== JSON.stringify(status)) {
      try {
        await options.cluster.patchPolicyStatus(NODE_POLICY_PLURAL, undefined, policy.metadata.name, status);
        memory.lastStatus = status;
      } catch (e) {
        options.log?.warn({ err: e, policy: ref }, 'status write failed');
      }
    }
    await ctx.decide({ policy: ref, time: at.toISOString(), conditions, ...decision });
  };
  const issues = ctx.issuesOf('NodeAutoscalingPolicy', policy);
  if (issues.length > 0) {
    const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
    await finish({ status: 'False', reason: 'InvalidPolicy', message }, {}, { action: 'none', reason: `invalid policy: ${message}` });
    return false;
  }
  const [nodes, pods, pdbs] = await Promise.all([options.cluster.listNodes(), options.cluster.listAllPods(), options.cluster.listPodDisruptionBudgets()]);
  const upcoming = await upcomingNodes(options.nodes, policy, pods);
  const input = nodePlanInputOf(policy, { nodes, pods, pdbs, unneededSince: memory.unneededSince, upcoming }, at);
  let plan: NodePlan;
  try {
    plan = planNodes(parseNodePlanInput(input));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    await finish({ status: 'False', reason: 'InvalidInput', message: `the node planner refused its input at ${e.field}: ${e.message}` }, {}, { action: 'none', reason: e.message, input });
    return false;
  }
  memory.unneededSince = plan.unneededSince;
  const acted: string[] = [];
  const actuator = options.nodes;
  if (actuator) {
    for (const up of plan.scaleUp) {
      try {
        await actuator.increase(up.nodeGroup, up.delta);
      } catch (e) {
        await nodePolicyEvent(ctx, policy, 'Warning', 'FailedScaleUp', `node group ${up.nodeGroup} could not grow by ${up.delta}: ${(e as Error).message}`);
        continue;
      }
      acted.push(`+${up.delta} ${up.nodeGroup}`);
      await nodePolicyEvent(ctx, policy, 'Normal', 'TriggeredScaleUp', `node group ${up.nodeGroup} +${up.delta} for ${up.pods.length} pending pod(s)`);
    }
    if (policy.spec.scaleDownEnabled !== false) {
      const groupOf = new Map(nodes.map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.[NODE_GROUP_LABEL] ?? '']));
      for (const down of plan.scaleDown) {
        if (isDraining(ctx, down.node)) continue;
        acted.push(`drain ${down.node}`);
        startDrain(ctx, actuator, policy, memory, down.node, groupOf.get(down.node) ?? '', down.reason);
      }
    }
  }
  const extra: Partial<NodeAutoscalingPolicyStatus> = { unschedulablePods: plan.unschedulable.length };
  if (acted.some((a) => a.startsWith('+'))) extra.lastScaleUpTime = iso(at);
  const reason = acted.length > 0 ? acted.join(', ') : plan.scaleUp.length + plan.scaleDown.length > 0 ? 'planned, not carried out (no actuator, a refused scale-up, scale-down disabled or drains under way)' : 'no change needed';
  await finish({ status: 'True', reason: acted.length > 0 ? 'SucceededRescale' : 'ValidPlan', message: reason }, extra, { action: acted.length > 0 ? 'nodes' : 'none', reason, input, output: plan });
  return acted.length > 0;
}
