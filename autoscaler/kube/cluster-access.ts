// What the control loop needs from a cluster, as one narrow interface: a
// target's /scale, the pods its selector matches, nodes and disruption
// budgets, policy status writes and Events. Two implementations: the
// Kubernetes API through @kubernetes/client-node (kube-access.ts) and a
// the test kit's ClusterObjects in-process (test/kit/cluster/objects-access.ts)
// for tests and benchmarks.

export interface ScaleTargetRef {
  apiVersion?: string;
  kind: string;
  name: string;
}

/** An autoscaling/v1 Scale, reduced to what the loop reads. */
export interface TargetScale {
  /** spec.replicas: what the workload is asked to run. */
  replicas: number;
  /** status.replicas: what it runs. */
  statusReplicas: number;
  /** status.selector, the label selector string of its pods. */
  selector: string;
}

/** A Kubernetes object as JSON, typed loosely: the pure functions parse what they read. */
export interface KubeObjectJson {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** A core/v1 Event to record, as the HPA records SuccessfulRescale on itself. */
export interface ScalingEvent {
  involvedObject: InvolvedObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export class TargetNotFoundError extends Error {
  constructor(
    readonly namespace: string,
    readonly target: ScaleTargetRef,
    detail: string,
  ) {
    super(`${target.kind}/${target.name} in ${namespace}: ${detail}`);
    this.name = 'TargetNotFoundError';
  }
}

export interface ClusterAccess {
  /** The target's scale; TargetNotFoundError when it or its /scale does not exist. */
  getScale(namespace: string, target: ScaleTargetRef): Promise<TargetScale>;
  setScale(namespace: string, target: ScaleTargetRef, replicas: number): Promise<void>;
  /** Pods of a namespace matching a label selector string. */
  listPods(namespace: string, selector: string): Promise<KubeObjectJson[]>;
  /** Every pod of the cluster (the node planner's view). */
  listAllPods(): Promise<KubeObjectJson[]>;
  listNodes(): Promise<KubeObjectJson[]>;
  listPodDisruptionBudgets(): Promise<KubeObjectJson[]>;
  /** Merge-patches a policy's /status; namespace undefined for the cluster-scoped NodeAutoscalingPolicy. */
  patchPolicyStatus(plural: string, namespace: string | undefined, name: string, status: object): Promise<void>;
  recordEvent(event: ScalingEvent): Promise<void>;
}
