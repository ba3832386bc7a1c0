// Scale-up: which node groups grow, by how many nodes, for which pending pods.
// Pending pods that fit an existing node are left to the scheduler (upstream's
// filter-out-schedulable); pods that fit no template at all are reported
// once, not retried; the rest are estimated per group and the expander picks
// a group, repeatedly, so pods that need different groups grow several groups
// in one plan. Group maxSize and the cluster's node quota bound every step.
import type { ClusterSnapshot } from './cluster.ts';
import { fitsEmptyTemplate, type NodeEstimator } from './estimator.ts';
import type { Expander, ExpansionOption } from './expander.ts';
import type { NodeGroupSpec } from './input.ts';
import { formatCpu, formatMemory, type SchedulingPod } from './scheduling.ts';
import type { NodeTemplate } from './template.ts';

export interface ScaleUpPlan {
  nodeGroup: string;
  delta: number;
  pods: string[];
}

export interface UnschedulablePod {
  pod: string;
  reason: string;
}

export interface PodOnExistingNode {
  pod: string;
  node: string;
}

export interface ScaleUpResult {
  scaleUp: ScaleUpPlan[];
  unschedulable: UnschedulablePod[];
  /** Pending pods an existing or upcoming node has room for: the scheduler's job, not a reason to add nodes. */
  fitsExistingNodes: PodOnExistingNode[];
}

function templateMismatch(snapshot: ClusterSnapshot, pod: SchedulingPod, t: NodeTemplate): string | undefined {
  const s = snapshot.predicates.check(pod, t.shape);
  if (s) return s;
  if (fitsEmptyTemplate(pod, t.resources)) return undefined;
  const r = t.resources;
  const ds = t.daemonSetPods > 0 ? ` after ${t.daemonSetPods} DaemonSet pod(s)` : '';
  if (r.pods < 1) return `template allows no more pods${ds}`;
  if (pod.cpu > r.cpu) return `requests cpu ${formatCpu(pod.cpu)} > node ${formatCpu(Math.max(0, r.cpu))}${ds}`;
  for (const [k, v] of Object.entries(pod.extended ?? {})) {
    const have = r.extended?.[k] ?? 0;
    if (v > have) return `requests ${k} ${v} > node ${Math.max(0, have)}${ds}`;
  }
  return `requests memory ${formatMemory(pod.memory)} > node ${formatMemory(Math.max(0, r.memory))}${ds}`;
}

/** Binds the pending pods existing nodes have room for; returns the rest. */
function placeOnExistingNodes(snapshot: ClusterSnapshot, placed: PodOnExistingNode[]): SchedulingPod[] {
  const remaining: SchedulingPod[] = [];
  // Free room only shrinks here, so a node that refused one pod refuses its equals too.
  const cursor = new Map<string, number>();
  const nodes = snapshot.nodes;
  for (const pod of snapshot.pending) {
    let i = cursor.get(pod.equivalenceKey) ?? 0;
    while (i < nodes.length && !snapshot.accepts(nodes[i]!, pod)) i++;
    cursor.set(pod.equivalenceKey, i);
    if (i < nodes.length) {
      snapshot.bind(pod, nodes[i]!);
      placed.push({ pod: pod.id, node: nodes[i]!.name });
    } else {
      remaining.push(pod);
    }
  }
  return remaining;
}

export interface ScaleUpLimits {
  maxNodesPerCluster: number | undefined;
}

export function planScaleUp(
  snapshot: ClusterSnapshot,
  groups: readonly NodeGroupSpec[],
  limits: ScaleUpLimits,
  estimator: NodeEstimator,
  expander: Expander,
): ScaleUpResult {
  const fitsExistingNodes: PodOnExistingNode[] = [];
  const unschedulable: UnschedulablePod[] = [];
  const candidates = placeOnExistingNodes(snapshot, fitsExistingNodes);
  const templates = snapshot.templates;

  const size = new Map<string, number>(groups.map((g) => [g.name, 0]));
  for (const n of snapshot.nodes) if (n.group !== undefined && size.has(n.group)) size.set(n.group, size.get(n.group)! + 1);
  const groupRoom = new Map<string, number>(groups.map((g) => [g.name, Math.max(0, g.maxSize - size.get(g.name)!)]));
  let clusterRoom = limits.maxNodesPerCluster === undefined ? Infinity : Math.max(0, limits.maxNodesPerCluster - snapshot.nodes.length);

  const fitting = new Map<SchedulingPod, NodeTemplate[]>();
  const reasonsByKey = new Map<string, { fits: NodeTemplate[]; why: string[] }>();
  const waiting: SchedulingPod[] = [];
  for (const pod of candidates) {
    let r = reasonsByKey.get(pod.equivalenceKey);
    if (!r) {
      r = { fits: [], why: [] };
      for (const t of templates) {
        const why = templateMismatch(snapshot, pod, t);
        if (why) r.why.push(`${t.group.name}: ${why}`);
        else r.fits.push(t);
      }
      reasonsByKey.set(pod.equivalenceKey, r);
    }
    if (r.fits.length === 0) {
      unschedulable.push({
        pod: pod.id,
        reason: templates.length === 0 ? 'no node groups' : `fits no node group's template (${r.why.join('; ')})`,
      });
    } else {
      fitting.set(pod, r.fits);
      waiting.push(pod);
    }
  }

  const planned = new Map<string, ScaleUpPlan>();
  let remaining = waiting;
  while (remaining.length > 0 && clusterRoom > 0) {
    const options: ExpansionOption[] = [];
    for (const t of templates) {
      const limit = Math.min(groupRoom.get(t.group.name)!, clusterRoom);
      if (limit <= 0) continue;
      const pods = remaining.filter((p) => fitting.get(p)!.includes(t));
      if (pods.length === 0) continue;
      const est = estimator.estimate(pods, t.resources, limit);
      if (est.nodeCount > 0) options.push({ nodeGroup: t.group.name, nodeCount: est.nodeCount, pods: est.scheduled, template: t.resources });
    }
    const best = expander.bestOption(options);
    if (!best) break;
    const plan = planned.get(best.nodeGroup) ?? { nodeGroup: best.nodeGroup, delta: 0, pods: [] };
    plan.delta += best.nodeCount;
    plan.pods.push(...best.pods.map((p) => p.id));
    planned.set(best.nodeGroup, plan);
    groupRoom.set(best.nodeGroup, groupRoom.get(best.nodeGroup)! - best.nodeCount);
    clusterRoom -= best.nodeCount;
    const taken = new Set(best.pods);
    remaining = remaining.filter((p) => !taken.has(p));
  }

  const left = new Set(remaining);
  for (const pod of waiting) {
    if (!left.has(pod)) continue;
    const full = fitting
      .get(pod)!
      .filter((t) => groupRoom.get(t.group.name)! <= 0)
      .map((t) => `${t.group.name} at maxSize ${t.group.maxSize}`);
    const reason =
      clusterRoom <= 0
        ? `quota maxNodesPerCluster ${limits.maxNodesPerCluster} reached${full.length ? `; ${full.join(', ')}` : ''}`
        : full.length
          ? `node group ${full.join(', ')}`
          : 'no node group had room for it';
    unschedulable.push({ pod: pod.id, reason });
  }

  // Unschedulable in the pods' input order, so a reader can match them to the input.
  const order = new Map(snapshot.pending.map((p, i) => [p.id, i]));
  unschedulable.sort((a, b) => order.get(a.pod)! - order.get(b.pod)!);
  return { scaleUp: [...planned.values()], unschedulable, fitsExistingNodes };
}
