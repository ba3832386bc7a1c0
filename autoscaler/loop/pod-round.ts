// The pod round: every PodAutoscalingPolicy's target /scale and pods read
// (an invalid policy, a missing target or selector ends there, as a condition
// and a "no change" decision), every selected pod's metrics fetched in one
// PodMetricsSource call, and the policies whose inputs changed decided first,
// then a fair share of those due for a resync.
import { TargetNotFoundError } from '../kube/cluster-access.ts';
import { policyKey, type PodAutoscalingPolicy } from '../kube/policies.ts';
import { condition, type ConditionValue } from '../kube/status.ts';
import type { PodMetricsJson, PodRef } from '../ports.ts';
import { inPool, type LoopContext } from './context.ts';
import { decidePodPolicy, type PreparedPodPolicy } from './pod-decision.ts';
import { finishPodPolicy } from './pod-status.ts';

/** Reads a policy's target and pods; undefined when the policy ended here (its status and decision say why). */
async function prepare(ctx: LoopContext, policy: PodAutoscalingPolicy, at: Date): Promise<PreparedPodPolicy | undefined> {
  const key = `pod/${policyKey(policy)}`;
  const memory = ctx.memoryOf(key);
  const namespace = policy.metadata.namespace ?? 'default';
  const issues = ctx.issuesOf('PodAutoscalingPolicy', policy);
  if (issues.length > 0) {
    const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
    await finishPodPolicy(ctx, policy, memory, at, { ScalingActive: condition.invalidPolicy(message) }, {}, { action: 'none', reason: `invalid policy: ${message}` });
    return undefined;
  }
  let scale;
  try {
    scale = await ctx.options.cluster.getScale(namespace, policy.spec.scaleTargetRef);
  } catch (e) {
    const detail = e instanceof TargetNotFoundError ? e.message : (e as Error).message;
    await finishPodPolicy(ctx, policy, memory, at, { AbleToScale: condition.failedGetScale(detail) }, {}, { action: 'none', reason: `failed to get scale: ${detail}` });
    return undefined;
  }
  if (!scale.selector) {
    const c: ConditionValue = { status: 'False', reason: 'InvalidSelector', message: 'the HPA target\'s scale is missing a selector' };
    await finishPodPolicy(ctx, policy, memory, at, { AbleToScale: condition.readyForNewScale(), ScalingActive: c }, { currentReplicas: scale.statusReplicas }, { action: 'none', reason: c.message });
    return undefined;
  }
  const pods = await ctx.options.cluster.listPods(namespace, scale.selector);
  return { policy, key, memory, currentReplicas: scale.replicas, pods };
}

/** Whether a policy needs deciding this round: its inputs changed, it is due for a resync, or neither. */
function urgency(ctx: LoopContext, p: PreparedPodPolicy, all: readonly PodMetricsJson[], at: Date): { kind: 'changed' | 'resync' | 'skip'; fingerprint: string } {
  const { policy, memory } = p;
  let newest = '';
  for (const m of all) if (m.timestamp > newest) newest = m.timestamp;
  let podsSeen = '';
  for (const pod of p.pods) podsSeen += `${pod.metadata?.['resourceVersion'] ?? pod.metadata?.name},`;
  const fingerprint = `${policy.metadata.resourceVersion ?? ''}|${policy.metadata.generation ?? ''}|${p.currentReplicas}|${newest}|${podsSeen}`;
  if (memory.fingerprint !== fingerprint || memory.evaluatedAt === undefined) return { kind: 'changed', fingerprint };
  return { kind: at.getTime() - memory.evaluatedAt >= ctx.resyncOf(p.key) ? 'resync' : 'skip', fingerprint };
}

export async function podRound(ctx: LoopContext, at: Date): Promise<{ scaled: number; failed: number; count: number }> {
  const { options, memories, concurrency } = ctx;
  const policies = options.policies.podPolicies();
  // A deleted policy's history goes with it; a policy recreated under the same name starts afresh.
  const live = new Set(policies.map((p) => `pod/${policyKey(p)}`));
  for (const p of options.policies.nodePolicies()) live.add(`node/${policyKey(p)}`);
  for (const key of memories.keys()) if (!live.has(key)) memories.delete(key);
  const prepared: PreparedPodPolicy[] = [];
  let failed = 0;
  await inPool(policies, concurrency, async (policy) => {
    try {
      const p = await prepare(ctx, policy, at);
      if (p) prepared.push(p);
      else failed++;
    } catch (e) {
      failed++;
      options.log?.warn({ err: e, policy: policy.metadata }, 'policy preparation failed');
    }
  });
  // Each policy's pods occupy a slice of one request; the answer is aligned with it.
  const refs: PodRef[] = [];
  const offsets: number[] = [];
  for (const p of prepared) {
    offsets.push(refs.length);
    const namespace = p.policy.metadata.namespace ?? 'default';
    for (const pod of p.pods) refs.push(ctx.refOf(pod, namespace));
  }
  let metrics: readonly (PodMetricsJson | undefined)[] = [];
  try {
    metrics = await options.metrics.podMetrics(refs, at);
  } catch (e) {
    // Metrics unavailable: every policy sees missing metrics and holds still.
    options.log?.warn({ err: e }, 'pod metrics unavailable');
  }
  let scaled = 0;
  // Fresh samples are decided first; resyncs follow, at most a fair share per round, so a wave of
  // them (after a cold start) cannot delay the next round's fresh samples.
  type Work = { p: PreparedPodPolicy; own: PodMetricsJson[]; fingerprint: string };
  const changed: Work[] = [];
  const due: Work[] = [];
  prepared.forEach((p, k) => {
    const start = offsets[k]!;
    const own: PodMetricsJson[] = [];
    for (let i = start; i < start + p.pods.length; i++) if (metrics[i]) own.push(metrics[i]!);
    const u = urgency(ctx, p, own, at);
    if (u.kind === 'changed') changed.push({ p, own, fingerprint: u.fingerprint });
    else if (u.kind === 'resync') due.push({ p, own, fingerprint: u.fingerprint });
  });
  const resyncShare = Math.max(1, Math.ceil((2 * prepared.length * ctx.tickMs) / ctx.resyncMs));
  const work = [...changed, ...due.slice(0, resyncShare)];
  await inPool(work, concurrency, async ({ p, own, fingerprint }) => {
    try {
      if (await decidePodPolicy(ctx, p, own, fingerprint, at)) scaled++;
    } catch (e) {
      failed++;
      options.log?.warn({ err: e, policy: p.policy.metadata }, 'policy evaluation failed');
    }
  });
  return { scaled, failed, count: policies.length };
}
