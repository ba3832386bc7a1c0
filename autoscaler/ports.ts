// The ports of the autoscaler's control loop: every interface the loop reads
// and writes through, and the decision it records. The loop (controller.ts,
// loop/) knows only these; the engine plugs in the store-backed ones
// (store-metrics.ts, decision-log.ts) and the cluster-backed ones (kube/,
// actuation/), and tests plug in the in-memory fakes of test/kit/.
// ClusterAccess and PolicySource live beside their Kubernetes implementations
// and are re-exported here so that this file lists every port.
import type { RecommendRequest, ReplicaRecommendation } from './pods/recommend.ts';
import type { LoadPoint, PredictiveRecommendation } from './pods/predictive.ts';
import type { NodePlan } from './nodes/plan.ts';
import type { NodePlanInputJson } from './nodes/input.ts';
import type { PodAutoscalingPolicy, PolicyCondition, PolicyKind } from './kube/policies.ts';

export type { ClusterAccess } from './kube/cluster-access.ts';
export type { PolicySource } from './kube/policy-watch.ts';

export interface PodRef {
  namespace: string;
  name: string;
}

/** A metrics.k8s.io/v1beta1 PodMetrics, as the recommender takes it. */
export interface PodMetricsJson {
  metadata: { name: string; namespace: string };
  /** When the usage was measured (the newest sample's time). */
  timestamp: string;
  /** The rate window, as a Go duration ("30s"). */
  window: string;
  containers: { name: string; usage: Record<string, string> }[];
}

/**
 * Pod usage as the metrics-server would report it, read instead from the
 * store's cAdvisor series (container_cpu_usage_seconds_total as a rate,
 * container_memory_working_set_bytes). One call per round with every pod the
 * policies select, so a store-backed source can answer with one query. The
 * answer is aligned with the question: entry i is pod i's metrics, or
 * undefined when the pod has no samples.
 */
export interface PodMetricsSource {
  podMetrics(pods: readonly PodRef[], now: Date): Promise<readonly (PodMetricsJson | undefined)[]>;
}

/**
 * Values for Pods, Object and External metrics, in the custom.metrics.k8s.io
 * (MetricValue) and external.metrics.k8s.io (ExternalMetricValue) shapes.
 * Asked only for policies that have such metrics; without a source they count
 * as missing, and the policy says so in its ScalingActive condition.
 */
export interface CustomMetricsSource {
  metricsFor(
    policy: PodAutoscalingPolicy,
    pods: readonly PodRef[],
    now: Date,
  ): Promise<{ customMetrics: NonNullable<RecommendRequest['customMetrics']>; externalMetrics: NonNullable<RecommendRequest['externalMetrics']> }>;
}

/**
 * The history of a workload's total load, for policies with
 * `spec.tidemark.predictive.enabled`: the policy's first Resource metric
 * summed over the workload's pods (CPU cores or memory bytes), from the store.
 */
export interface LoadHistorySource {
  loadHistory(policy: PodAutoscalingPolicy, since: Date, now: Date): Promise<LoadPoint[]>;
}

export interface PolicyRef {
  kind: PolicyKind;
  namespace?: string;
  name: string;
}

/** One decision of the loop, with everything needed to explain and replay it. */
export interface AutoscalingDecision {
  policy: PolicyRef;
  /** RFC 3339 time of the decision. */
  time: string;
  /** 'scale' changed a target's replicas; 'nodes' acted on a node plan; 'none' changed nothing. */
  action: 'scale' | 'nodes' | 'none';
  fromReplicas?: number;
  toReplicas?: number;
  reason: string;
  /** The recommender's request (RecommendRequest) or the node planner's input (NodePlanInputJson); absent when the loop stopped before building it. */
  input?: RecommendRequest | NodePlanInputJson;
  /** recommend()'s ReplicaRecommendation or planNodes()' NodePlan. */
  output?: ReplicaRecommendation | NodePlan;
  /** The forecast, when predictive scale-out was asked for; toReplicas then includes it. */
  predictive?: PredictiveRecommendation;
  conditions: PolicyCondition[];
}

/** Where decisions are kept; the engine's is store-backed (decision-log.ts), test/kit's InMemoryDecisionLog serves tests and benchmarks. */
export interface DecisionLog {
  record(decision: AutoscalingDecision): Promise<void>;
  /** The policy's latest decision at or before `at` (now when absent). */
  find(policy: PolicyRef, at?: Date): Promise<AutoscalingDecision | undefined>;
}

/** Carries out node plans: the node provider and the drain executor behind one face (actuation/node-actuator.ts). */
export interface NodeActuator {
  /**
   * Nodes asked for but not yet registered in a group: the node planner's
   * `nodeGroups[].upcoming`, so that a round plans with the nodes on their way
   * and does not ask for them twice.
   */
  upcoming(group: string): Promise<number>;
  increase(group: string, delta: number): Promise<void>;
  /** Cordons, drains through the Eviction API (respecting budgets) and deletes; false when the drain could not finish. */
  remove(node: string, group: string): Promise<boolean>;
}
