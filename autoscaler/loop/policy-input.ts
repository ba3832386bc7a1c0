// The policy-to-decider mapping, pure: a PodAutoscalingPolicy with what the
// loop read becomes the recommender's RecommendRequest (an autoscaling/v2
// HPA), and a NodeAutoscalingPolicy with the cluster's nodes, pods and
// budgets, the loop's unneeded-since memory and the actuator's nodes in
// flight becomes the node planner's input. Defaults that the policy CRD
// leaves open are chosen here.
import type { RecommendRequest } from '../pods/recommend.ts';
import type { NodePlanInputJson } from '../nodes/input.ts';
import type { KubeObjectJson } from '../kube/cluster-access.ts';
import type { NodeAutoscalingPolicy, PodAutoscalingPolicy } from '../kube/policies.ts';
import type { PodMetricsJson } from '../ports.ts';

export interface PodPolicyReadings {
  currentReplicas: number;
  pods: readonly KubeObjectJson[];
  /** Fresh PodMetrics only: stale ones count as missing. */
  podMetrics: readonly PodMetricsJson[];
  customMetrics: NonNullable<RecommendRequest['customMetrics']>;
  externalMetrics: NonNullable<RecommendRequest['externalMetrics']>;
  history: RecommendRequest['history'];
}

/** The recommender's request for a pod policy: the policy read as an autoscaling/v2 HorizontalPodAutoscaler. */
export function recommendRequestOf(policy: PodAutoscalingPolicy, readings: PodPolicyReadings, at: Date): RecommendRequest {
  return {
    now: at.toISOString(),
    hpa: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: policy.metadata.name, namespace: policy.metadata.namespace ?? 'default' },
      spec: policy.spec as RecommendRequest['hpa']['spec'],
      status: { currentReplicas: readings.currentReplicas },
    },
    pods: readings.pods as RecommendRequest['pods'],
    podMetrics: readings.podMetrics as unknown as RecommendRequest['podMetrics'],
    customMetrics: readings.customMetrics,
    externalMetrics: readings.externalMetrics,
    history: readings.history,
  };
}

export interface NodePolicyReadings {
  nodes: readonly KubeObjectJson[];
  pods: readonly KubeObjectJson[];
  pdbs: readonly KubeObjectJson[];
  /** The previous plan's unneededSince. */
  unneededSince: Record<string, string>;
  /** Nodes asked of the provider but not registered yet, by group (the actuator's in-flight count); absent groups have none. */
  upcoming: Readonly<Record<string, number>>;
}

/** Whether a pod ended: finished pods hold no resources and the planner need not see them. */
export function podFinished(pod: KubeObjectJson): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Whether a pod waits for a node: only then can nodes on their way change a plan. */
export function podWaitsForNode(pod: KubeObjectJson): boolean {
  return !podFinished(pod) && !(pod.spec as { nodeName?: string } | undefined)?.nodeName;
}

/** The node planner's input for a node policy. */
export function nodePlanInputOf(policy: NodeAutoscalingPolicy, readings: NodePolicyReadings, at: Date): NodePlanInputJson {
  const spec = policy.spec;
  // The priority expander's table, as upstream's ConfigMap: each group's name as an anchored pattern under its priority.
  const priorities: Record<string, string[]> = {};
  for (const g of spec.nodeGroups) if (g.priority !== undefined) (priorities[String(g.priority)] ??= []).push(`^${g.name.replace(/[.]/g, '\\.')}$`);
  return {
    now: at.toISOString(),
    nodeGroups: spec.nodeGroups.map((g) => ({
      name: g.name,
      minSize: g.minSize,
      maxSize: g.maxSize,
      ...(readings.upcoming[g.name] ? { upcoming: readings.upcoming[g.name] } : {}),
      template: { capacity: g.template.capacity, labels: g.template.labels ?? {}, taints: g.template.taints ?? [] },
    })),
    nodes: readings.nodes,
    pods: readings.pods.filter((p) => !podFinished(p)),
    pdbs: readings.pdbs,
    quotas: { ...(spec.quotas?.maxNodesPerCluster !== undefined ? { maxNodesPerCluster: spec.quotas.maxNodesPerCluster } : {}), maxPodsPerNode: spec.quotas?.maxPodsPerNode ?? 256 },
    options: {
      expander: spec.expander ?? 'least-waste',
      scaleDownUtilizationThreshold: spec.scaleDownUtilizationThreshold ?? 0.5,
      scaleDownUnneededTime: spec.scaleDownUnneededTime ?? '10m',
      ...(Object.keys(priorities).length > 0 ? { priorities } : {}),
    },
    unneededSince: readings.unneededSince,
  } as unknown as NodePlanInputJson;
}
