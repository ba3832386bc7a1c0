// Predictive scale-out in the loop: for a policy with
// spec.tidemark.predictive.enabled, the load profile fitted from the
// LoadHistorySource (refitted every 15 minutes, not every round), the load
// one replica should carry at the policy's target, and the forecast of the
// pure predictor (pods/predictive.ts) that may raise the reactive count.
import { milliValue } from '../quantity.ts';
import { buildLoadProfile, predictReplicas, type PredictiveRecommendation } from '../pods/predictive.ts';
import type { KubeObjectJson } from '../kube/cluster-access.ts';
import type { PodAutoscalingPolicy } from '../kube/policies.ts';
import type { LoopContext, PolicyMemory } from './context.ts';

const PROFILE_REFIT_MS = 15 * 60_000;

export interface PredictiveSpec {
  enabled?: boolean;
  lookbackDays?: number;
  leadTimeSeconds?: number;
  minHistoryDays?: number;
  bucketMinutes?: number;
  quantile?: number;
}

/** The policy's spec.tidemark.predictive, when it has one. */
export function predictiveSpecOf(policy: PodAutoscalingPolicy): PredictiveSpec | undefined {
  return (policy.spec.tidemark as { predictive?: PredictiveSpec } | undefined)?.predictive;
}

/** The load one replica should carry at the target, in the units of the load history; undefined when the first metric is not a Resource one. */
export function perReplicaTarget(policy: PodAutoscalingPolicy, pods: readonly KubeObjectJson[]): number | undefined {
  const metric = (policy.spec.metrics ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }])[0] as
    | { type?: string; resource?: { name: string; target: { type: string; averageUtilization?: number; averageValue?: string | number } } }
    | undefined;
  if (metric?.type !== 'Resource' || !metric.resource) return undefined;
  const { name, target } = metric.resource;
  try {
    if (target.type === 'AverageValue' && target.averageValue !== undefined) return milliValue(target.averageValue) / 1000;
    if (target.type !== 'Utilization' || target.averageUtilization === undefined || pods.length === 0) return undefined;
    let requested = 0;
    for (const pod of pods) {
      for (const c of (pod.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] } | undefined)?.containers ?? []) {
        const q = c.resources?.requests?.[name];
        if (q !== undefined) requested += milliValue(q) / 1000;
      }
    }
    return requested > 0 ? (requested / pods.length) * (target.averageUtilization / 100) : undefined;
  } catch {
    return undefined;
  }
}

/** The forecast for a policy, refitting its profile from the load history when it is missing or old. */
export async function predict(
  ctx: LoopContext,
  policy: PodAutoscalingPolicy,
  pods: readonly KubeObjectJson[],
  memory: PolicyMemory,
  spec: PredictiveSpec,
  reactive: number,
  at: Date,
): Promise<PredictiveRecommendation | undefined> {
  const { options } = ctx;
  const target = perReplicaTarget(policy, pods);
  if (target === undefined || !options.loadHistory) return undefined;
  const profileOptions = { ...(spec.bucketMinutes !== undefined ? { bucketMinutes: spec.bucketMinutes } : {}), ...(spec.quantile !== undefined ? { quantile: spec.quantile } : {}) };
  if (!memory.profile || memory.profileAt === undefined || at.getTime() - memory.profileAt > PROFILE_REFIT_MS) {
    try {
      const since = new Date(at.getTime() - (spec.lookbackDays ?? 7) * 86_400_000);
      const history = await options.loadHistory.loadHistory(policy, since, at);
      const profile = buildLoadProfile(history, profileOptions);
      if (profile) memory.profile = profile;
      else delete memory.profile;
      memory.profileAt = at.getTime();
    } catch (e) {
      options.log?.warn({ err: e, policy: policy.metadata }, 'load history unavailable; deciding reactively');
      return undefined;
    }
  }
  if (!memory.profile) return undefined;
  return predictReplicas({
    now: at.getTime(),
    history: [],
    profile: memory.profile,
    perReplicaTarget: target,
    leadTimeSeconds: spec.leadTimeSeconds ?? 300,
    reactiveReplicas: reactive,
    maxReplicas: policy.spec.maxReplicas,
    ...(spec.minHistoryDays !== undefined ? { minHistoryDays: spec.minHistoryDays } : {}),
    ...profileOptions,
  });
}
