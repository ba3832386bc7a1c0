// The cluster as the planner sees it: existing nodes with their allocatable
// resources, the pods bound to them and the room left, and the pending pods
// the scheduler gave up on. A mutable snapshot so simulations (pending pods
// landing, a node's pods moving away) can place pods and take them back.
import { milliValue } from '../quantity.ts';
import { controllerOf } from './drainability.ts';
import type { NodePlanInput, Node, Pod } from './input.ts';
import {
  NODE_GROUP_LABEL,
  PROVISIONED_BY_ANNOTATION,
  PredicateCache,
  adjustExtended,
  extendedFits,
  extendedOf,
  toSchedulingPod,
  type NodeShape,
  type Resources,
  type SchedulingPod,
} from './scheduling.ts';
import { nodeTemplate, type NodeTemplate } from './template.ts';

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
  /** Asked of the provider but not registered yet: takes pending pods, is never removed nor a drain destination. */
  upcoming: boolean;
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
    extended: extendedOf(list),
  };
}

export class ClusterSnapshot {
  readonly nodes: ClusterNode[];
  readonly byName = new Map<string, ClusterNode>();
  readonly pending: SchedulingPod[] = [];
  readonly predicates = new PredicateCache();
  readonly templates: NodeTemplate[];

  constructor(input: NodePlanInput) {
    this.nodes = input.nodes.map((node): ClusterNode => {
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
        free: { ...allocatable, extended: allocatable.extended && { ...allocatable.extended } },
        group: node.metadata.labels[NODE_GROUP_LABEL],
        autoscalerAdded: node.metadata.annotations[PROVISIONED_BY_ANNOTATION] === 'autoscaler',
        scaleDownDisabled: node.metadata.annotations[SCALE_DOWN_DISABLED_ANNOTATION] === 'true',
        createdMs: Date.parse(node.metadata.creationTimestamp),
        ready,
        pods: [],
        upcoming: false,
      };
    });
    for (const n of this.nodes) this.byName.set(n.name, n);
    // One pod per DaemonSet stands for the DaemonSet on template nodes.
    const daemonSets = new Map<string, SchedulingPod>();
    for (const pod of input.pods) {
      if (pod.spec.nodeName) {
        const node = this.byName.get(pod.spec.nodeName);
        if (!node || isTerminal(pod)) continue;
        const sp = toSchedulingPod(pod);
        this.bind(sp, node);
        const owner = controllerOf(pod);
        if (owner?.kind === 'DaemonSet') {
          const key = `${pod.metadata.namespace}/${owner.name}`;
          if (!daemonSets.has(key)) daemonSets.set(key, sp);
        }
      } else if (isUnschedulablePending(pod)) {
        this.pending.push(toSchedulingPod(pod));
      }
    }
    this.templates = input.nodeGroups.map((g) => nodeTemplate(g, input.quotas.maxPodsPerNode, [...daemonSets.values()], this.predicates));
    const nowMs = Date.parse(input.now);
    for (const t of this.templates) {
      for (let i = 0; i < t.group.upcoming; i++) {
        const name = `upcoming:${t.group.name}:${i}`;
        const n: ClusterNode = {
          name,
          shape: { ...t.shape, name },
          allocatable: { ...t.capacity },
          free: { ...t.resources, extended: t.resources.extended && { ...t.resources.extended } },
          group: t.group.name,
          autoscalerAdded: true,
          scaleDownDisabled: false,
          createdMs: nowMs,
          ready: true,
          pods: [],
          upcoming: true,
        };
        this.nodes.push(n);
        this.byName.set(name, n);
      }
    }
  }

  bind(pod: SchedulingPod, node: ClusterNode): void {
    node.pods.push(pod);
    node.free.cpu -= pod.cpu;
    node.free.memory -= pod.memory;
    node.free.pods -= 1;
    node.free.extended = adjustExtended(node.free.extended, pod.extended, -1);
  }

  unbind(pod: SchedulingPod, node: ClusterNode): void {
    const i = node.pods.lastIndexOf(pod);
    if (i >= 0) node.pods.splice(i, 1);
    node.free.cpu += pod.cpu;
    node.free.memory += pod.memory;
    node.free.pods += 1;
    node.free.extended = adjustExtended(node.free.extended, pod.extended, 1);
  }

  /** Whether the pod could be bound to the node now: predicates and room. */
  accepts(node: ClusterNode, pod: SchedulingPod): boolean {
    return (
      node.ready &&
      node.free.pods >= 1 &&
      node.free.cpu >= pod.cpu &&
      node.free.memory >= pod.memory &&
      extendedFits(node.free.extended, pod.extended) &&
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
