// A node group's template node: what a new node of the group would look like
// to the scheduler. As in the cluster-autoscaler, the DaemonSets that would
// run on it are already placed, so pending pods only get the room they leave.
import { milliValue } from '../quantity.ts';
import type { NodeGroupSpec } from './input.ts';
import { NODE_GROUP_LABEL, adjustExtended, extendedOf, type NodeShape, type PredicateCache, type Resources, type SchedulingPod } from './scheduling.ts';

export interface NodeTemplate {
  group: NodeGroupSpec;
  shape: NodeShape;
  /** The node's capacity, pods capped by the quota. */
  capacity: Resources;
  /** What is left for pending pods once the DaemonSets that match it are placed. */
  resources: Resources;
  daemonSetPods: number;
}

export function nodeTemplate(group: NodeGroupSpec, maxPodsPerNode: number, daemonSets: readonly SchedulingPod[], predicates: PredicateCache): NodeTemplate {
  const c = group.template.capacity;
  const pods = typeof c.pods === 'number' ? c.pods : Math.floor(milliValue(c.pods) / 1000);
  const shape: NodeShape = {
    name: `template-node-for-${group.name}`,
    // A new node carries its group's label, so pods may select the group by it.
    labels: { ...group.template.labels, [NODE_GROUP_LABEL]: group.name },
    taints: group.template.taints,
    unschedulable: false,
  };
  const { cpu: _cpu, memory: _memory, pods: _pods, ...others } = c;
  const capacity: Resources = {
    cpu: milliValue(c.cpu),
    memory: Math.ceil(milliValue(c.memory) / 1000),
    pods: Math.min(pods, maxPodsPerNode),
    extended: extendedOf(others),
  };
  const resources: Resources = { ...capacity, extended: capacity.extended && { ...capacity.extended } };
  let daemonSetPods = 0;
  for (const ds of daemonSets) {
    if (predicates.check(ds, shape) !== undefined) continue;
    resources.cpu -= ds.cpu;
    resources.memory -= ds.memory;
    resources.pods -= 1;
    resources.extended = adjustExtended(resources.extended, ds.extended, -1);
    daemonSetPods++;
  }
  return { group, shape, capacity, resources, daemonSetPods };
}
