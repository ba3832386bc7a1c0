// Node removals carried out beside the rounds: a drain waits on evictions and
// disruption budgets for as long as its retries allow, so pod decisions never
// wait for it. Each drain ends with a ScaleDown or ScaleDownFailed Event, the
// policy's lastScaleDownTime, and a decision; a node is never drained twice
// at once.
import { NODE_POLICY_PLURAL, type NodeAutoscalingPolicy } from '../kube/policies.ts';
import type { NodeActuator, PolicyRef } from '../ports.ts';
import { iso, type LoopContext, type PolicyMemory } from './context.ts';
import { nodePolicyEvent } from './events.ts';

/** Whether a drain of this node is under way. */
export function isDraining(ctx: LoopContext, node: string): boolean {
  return ctx.draining.has(node);
}

/** Starts removing a node without waiting for it; stop() waits for every drain started. */
export function startDrain(ctx: LoopContext, actuator: NodeActuator, policy: NodeAutoscalingPolicy, memory: PolicyMemory, node: string, group: string, why: string): void {
  const { options } = ctx;
  ctx.draining.add(node);
  const ref: PolicyRef = { kind: 'NodeAutoscalingPolicy', name: policy.metadata.name };
  const work = (async () => {
    const removed = await actuator.remove(node, group);
    const at = ctx.now();
    await nodePolicyEvent(ctx, policy, removed ? 'Normal' : 'Warning', removed ? 'ScaleDown' : 'ScaleDownFailed', removed ? `node ${node} removed: ${why}` : `node ${node} kept: its drain did not finish`);
    if (removed) {
      delete memory.unneededSince[node];
      await options.cluster.patchPolicyStatus(NODE_POLICY_PLURAL, undefined, policy.metadata.name, { lastScaleDownTime: iso(at) }).catch((e: unknown) => options.log?.warn({ err: e }, 'status write failed'));
    }
    await ctx.decide({ policy: ref, time: at.toISOString(), action: removed ? 'nodes' : 'none', reason: removed ? `removed node ${node}: ${why}` : `drain of node ${node} did not finish; node kept`, conditions: [] });
  })()
    .catch((e: unknown) => options.log?.warn({ err: e, node }, 'node removal failed'))
    .finally(() => {
      ctx.draining.delete(node);
      ctx.drains.delete(work);
    });
  ctx.drains.add(work);
}
