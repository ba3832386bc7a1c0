// The cluster as the planner sees it: existing nodes with their allocatable
// resources, the pods bound to them and the room left, and the pending pods
// the scheduler gave up on. A mutable snapshot so simulations (pending pods
// landing, a node's pods moving away) can place pods and take them back.
import { milliValue } from '../quantity.ts';
import type { NodePlanInput, Node, Pod } from './input.ts';
import {
  NODE_GROUP_LABEL,
  PROVISIONED_BY_ANNOTATION,
  PredicateCache,
  toSchedulingPod,
  type NodeShape,
  type Resources,
  type SchedulingPod,
} from './scheduling.ts';

/** The kubelet's default --max-pods, for nodes that report no pods capacity. */
const DEFAULT_MAX_PODS = 110;
/** Upstream's per-node opt-out of scale-down. */
export const SCALE_DOWN_DISABLED_ANNOTATION = 'cluster-autoscaler.kubernetes.io/scale-down-disabled';

export interface ClusterNode {
  name: string;
  shape: NodeShape;
  allocatable: Resources;
  free: Resources;
  group: string | undefined;
  autoscalerAdded: boolean;
  scaleDownDisabled: boolean;
  createdMs: number;
  ready: boolean;
  /** Pods bound here that still run (terminal pods hold no resources). */
  pods: SchedulingPod[];
  node: Node;
}

export function isTerminal(pod: Pod): boolean {
  return pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed';
}

/** Pending and marked Unschedulable by the scheduler: the only pods that trigger a scale-up, as upstream. */
export function isUnschedulablePending(pod: Pod): boolean {
  if (pod.spec.nodeName || pod.metadata.deletionTimestamp || isTerminal(pod)) return false;
  return pod.status.conditions.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

function resourcesOf(node: Node, maxPodsPerNode: number): Resources {
  const list = { ...node.status.capacity, ...node.status.allocatable };
  const pods = list['pods'] === undefined ? DEFAULT_MAX_PODS : Math.floor(milliValue(list['pods']) / 1000);
  return {
    cpu: milliValue(list['cpu']!),
    memory: Math.ceil(milliValue(list['memory']!) / 1000),
    pods: Math.min(pods, maxPodsPerNode),
  };
}

export class ClusterSnapshot {
  readonly nodes: ClusterNode[];
  readonly byName = new Map<string, ClusterNode>();
  readonly pending: SchedulingPod[] = [];
  readonly predicates = new PredicateCache();

  constructor(input: NodePlanInput) {
    this.nodes = input.nodes.map((node) => {
      const allocatable = resourcesOf(node, input.quotas.maxPodsPerNode);
      const ready = node.status.conditions.length === 0 || node.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      return {
        name: node.metadata.name,
        shape: {
          name: node.metadata.name,
          labels: node.metadata.labels,
          taints: node.spec.taints,
          unschedulable: node.spec.unschedulable === true,
        },
        allocatable,
        free: { ...allocatable },
        group: node.metadata.labels[NODE_GROUP_LABEL],
        autoscalerAdded: node.metadata.annotations[PROVISIONED_BY_ANNOTATION] === 'autoscaler',
        scaleDownDisabled: node.metadata.annotations[SCALE_DOWN_DISABLED_ANNOTATION] === 'true',
        createdMs: Date.parse(node.metadata.creationTimestamp),
        ready,
        pods: [],
        node,
      };
    });
    for (const n of this.nodes) this.byName.set(n.name, n);
    for (const pod of input.pods) {
      if (pod.spec.nodeName) {
        const node = this.byName.get(pod.spec.nodeName);
        if (node && !isTerminal(pod)) this.bind(toSchedulingPod(pod), node);
      } else if (isUnschedulablePending(pod)) {
        this.pending.push(toSchedulingPod(pod));
      }
    }
  }

  bind(pod: SchedulingPod, node: ClusterNode): void {
    node.pods.push(pod);
    node.free.cpu -= pod.cpu;
    node.free.memory -= pod.memory;
    node.free.pods -= 1;
  }

  unbind(pod: SchedulingPod, node: ClusterNode): void {
    const i = node.pods.lastIndexOf(pod);
    if (i >= 0) node.pods.splice(i, 1);
    node.free.cpu += pod.cpu;
    node.free.memory += pod.memory;
    node.free.pods += 1;
  }

  /** Whether the pod could be bound to the node now: predicates and room. */
  accepts(node: ClusterNode, pod: SchedulingPod): boolean {
    return (
      node.ready &&
      node.free.pods >= 1 &&
      node.free.cpu >= pod.cpu &&
      node.free.memory >= pod.memory &&
      this.predicates.check(pod, node.shape) === undefined
    );
  }

  /** Requests over allocatable, per resource, from the pods bound now. */
  utilization(node: ClusterNode): { cpu: number; memory: number } {
    let cpu = 0;
    let memory = 0;
    for (const p of node.pods) {
      cpu += p.cpu;
      memory += p.memory;
    }
    return {
      cpu: node.allocatable.cpu > 0 ? cpu / node.allocatable.cpu : 0,
      memory: node.allocatable.memory > 0 ? memory / node.allocatable.memory : 0,
    };
  }
}
