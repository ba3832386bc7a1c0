// Explain and replay: the decision in force for a policy at a moment, read
// from the DecisionLog, and its stored recommender input run again through
// the pure recommender, to show whether the same inputs still give the same
// replica count (what `tidemark autoscale explain` and
// GET /api/v1/autoscale/decisions answer).
import { parseRecommendInput, recommendWithTrace, type ReplicaRecommendation } from './pods/recommend.ts';
import type { AutoscalingDecision, DecisionLog, PolicyRef } from './ports.ts';

export interface DecisionExplanation {
  decision: AutoscalingDecision;
  /** The recommender run again on the stored input. */
  replayed?: ReplicaRecommendation;
  /** Whether the replay gives the stored desired replica count. */
  reproducible?: boolean;
}

/** The decision in force at `at`, replayed through the recommender (what `tidemark autoscale explain` prints). */
export async function explainDecision(log: DecisionLog, policy: PolicyRef, at?: Date): Promise<DecisionExplanation | undefined> {
  const decision = await log.find(policy, at);
  if (!decision) return undefined;
  if (policy.kind !== 'PodAutoscalingPolicy' || !decision.input || !decision.output) return { decision };
  const replayed = recommendWithTrace(parseRecommendInput(decision.input)).recommendation;
  return { decision, replayed, reproducible: replayed.desiredReplicas === (decision.output as ReplicaRecommendation).desiredReplicas };
}
