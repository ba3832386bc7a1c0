// Scale-down: which nodes go, and for every node that stays, why. Only nodes
// the autoscaler itself added are ever removed, newest first; a node goes once
// both its cpu and memory requests have stayed under the threshold for the
// unneeded time, its group stays at or above its minimum, and every pod on it
// can move to a remaining node without breaking a disruption budget. Moves
// are simulated on the shared snapshot, so later candidates see the pods
// earlier removals pushed onto them.
import type { ClusterNode, ClusterSnapshot } from './cluster.ts';
import { DisruptionBudgets, drainOutcome } from './drainability.ts';
import { formatDuration } from '../../core/duration.ts';
import type { NodeGroupSpec, NodePlanInput, Pod } from './input.ts';
import type { SchedulingPod } from './scheduling.ts';

export type KeptCode =
  | 'not-autoscaler-added'
  | 'scale-down-disabled'
  | 'above-threshold'
  | 'unneeded-too-short'
  | 'scale-up-planned'
  | 'unknown-node-group'
  | 'group-minimum'
  | 'pod-cannot-move'
  | 'disruption-budget';

export interface NodeRemoval {
  node: string;
  reason: string;
}

export interface KeptNode {
  node: string;
  /** Stable, for programs; `reason` is for people. */
  code: KeptCode;
  reason: string;
}

export interface ScaleDownResult {
  scaleDown: NodeRemoval[];
  kept: KeptNode[];
  unneededSince: Record<string, string>;
}

export interface ScaleDownSettings {
  nowMs: number;
  now: string;
  threshold: number;
  unneededMs: number;
  /** A plan that adds nodes removes none, as upstream holds scale-down after a scale-up. */
  scaleUpPlanned: boolean;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** Places each pod on the first remaining node with room; undoes everything if one has nowhere to go. */
function simulateMoves(snapshot: ClusterSnapshot, from: ClusterNode, pods: readonly SchedulingPod[], gone: ReadonlySet<ClusterNode>): string | undefined {
  const done: Array<[SchedulingPod, ClusterNode]> = [];
  for (const pod of pods) {
    const dest = snapshot.nodes.find((n) => n !== from && !n.upcoming && !gone.has(n) && snapshot.accepts(n, pod));
    if (!dest) {
      for (const [p, n] of done) snapshot.unbind(p, n);
      return pod.id;
    }
    snapshot.bind(pod, dest);
    done.push([pod, dest]);
  }
  return undefined;
}

export function planScaleDown(snapshot: ClusterSnapshot, input: NodePlanInput, settings: ScaleDownSettings): ScaleDownResult {
  const { nowMs, threshold, unneededMs } = settings;
  const groups = new Map<string, NodeGroupSpec>(input.nodeGroups.map((g) => [g.name, g]));
  const groupSize = new Map<string, number>();
  for (const n of snapshot.nodes) if (n.group !== undefined) groupSize.set(n.group, (groupSize.get(n.group) ?? 0) + 1);

  const kept: KeptNode[] = [];
  const keep = (n: ClusterNode, code: KeptCode, reason: string): void => void kept.push({ node: n.name, code, reason });
  const unneededSince: Record<string, string> = {};
  const candidates: Array<{ node: ClusterNode; reason: string }> = [];

  for (const n of snapshot.nodes) {
    if (n.upcoming) continue;
    if (!n.autoscalerAdded) {
      keep(n, 'not-autoscaler-added', 'not added by the autoscaler (created with the cluster or by hand); never removed');
      continue;
    }
    if (n.scaleDownDisabled) {
      keep(n, 'scale-down-disabled', 'annotated cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"');
      continue;
    }
    const u = snapshot.utilization(n);
    const usage = `cpu ${pct(u.cpu)}, memory ${pct(u.memory)} of allocatable requested`;
    if (u.cpu >= threshold || u.memory >= threshold) {
      keep(n, 'above-threshold', `${usage}; threshold ${pct(threshold)}`);
      continue;
    }
    const previous = input.unneededSince[n.name];
    const since = previous !== undefined && Date.parse(previous) <= nowMs ? previous : settings.now;
    unneededSince[n.name] = since;
    const idle = nowMs - Date.parse(since);
    if (idle < unneededMs) {
      keep(n, 'unneeded-too-short', `${usage}, under ${pct(threshold)} for ${formatDuration(idle)} of the ${formatDuration(unneededMs)} required`);
      continue;
    }
    candidates.push({ node: n, reason: `${usage}, under ${pct(threshold)} for ${formatDuration(idle)} (at least ${formatDuration(unneededMs)})` });
  }

  // Newest first; the name settles equal timestamps so the order never depends on input order.
  candidates.sort((a, b) => b.node.createdMs - a.node.createdMs || (a.node.name < b.node.name ? -1 : 1));

  const budgets = new DisruptionBudgets(input.pdbs, input.pods);
  const gone = new Set<ClusterNode>();
  const scaleDown: NodeRemoval[] = [];
  for (const { node, reason } of candidates) {
    if (settings.scaleUpPlanned) {
      keep(node, 'scale-up-planned', 'this plan adds nodes; scale-down waits for the next one');
      continue;
    }
    const group = node.group === undefined ? undefined : groups.get(node.group);
    if (!group) {
      keep(node, 'unknown-node-group', `its node group ${node.group === undefined ? '(no tidemark.io/node-group label)' : `"${node.group}"`} is not configured`);
      continue;
    }
    const size = groupSize.get(group.name)!;
    if (size <= group.minSize) {
      keep(node, 'group-minimum', `node group ${group.name} is at its minimum size ${group.minSize}`);
      continue;
    }
    const toMove: SchedulingPod[] = [];
    let blocked: string | undefined;
    for (const p of node.pods) {
      const outcome = drainOutcome(p.pod, nowMs, budgets);
      if (outcome.kind === 'blocks') {
        blocked = outcome.why;
        break;
      }
      if (outcome.kind === 'moves') toMove.push(p);
    }
    if (blocked) {
      keep(node, 'pod-cannot-move', blocked);
      continue;
    }
    const movingPods: Pod[] = toMove.map((p) => p.pod);
    const broken = budgets.wouldBreak(movingPods);
    if (broken) {
      keep(node, 'disruption-budget', broken);
      continue;
    }
    const stuck = simulateMoves(snapshot, node, toMove, gone);
    if (stuck) {
      keep(node, 'pod-cannot-move', `pod ${stuck} fits on no remaining node`);
      continue;
    }
    budgets.spend(movingPods);
    gone.add(node);
    groupSize.set(group.name, size - 1);
    delete unneededSince[node.name];
    const moves = toMove.length === 0 ? 'no pods to move' : `${toMove.length} pod(s) can move to remaining nodes`;
    scaleDown.push({ node: node.name, reason: `${reason}; ${moves}` });
  }

  kept.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { scaleDown, kept, unneededSince };
}
