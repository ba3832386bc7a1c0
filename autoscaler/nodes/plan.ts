// The node autoscaler's decision for one loop, a pure function of the
// cluster's state: which groups grow for which pending pods, which nodes the
// autoscaler added can go, why every other node stays, and which pods no
// node group can ever take. The control loop carries `unneededSince` from one
// plan into the next.
import { fnv1a } from '../../core/hashing.ts';
import { ClusterSnapshot } from './cluster.ts';
import { parseDuration } from '../../core/duration.ts';
import { BinpackingEstimator, type NodeEstimator } from './estimator.ts';
import { expanderFor, type Expander } from './expander.ts';
import type { NodePlanInput } from './input.ts';
import { planScaleDown, type KeptNode, type NodeRemoval } from './scale-down.ts';
import { planScaleUp, type PodOnExistingNode, type ScaleUpPlan, type UnschedulablePod } from './scale-up.ts';

export type { KeptNode, NodeRemoval, ScaleUpPlan, UnschedulablePod, PodOnExistingNode };

export interface NodePlan {
  scaleUp: ScaleUpPlan[];
  scaleDown: NodeRemoval[];
  kept: KeptNode[];
  unschedulable: UnschedulablePod[];
  /** Nodes under the threshold now, and since when: the next plan's input. */
  unneededSince: Record<string, string>;
  /** Pending pods that fit an existing node: left to the scheduler, no node added for them. */
  fitsExistingNodes: PodOnExistingNode[];
}

/** Strategies are replaceable, as the cluster-autoscaler's are; the defaults follow the input's options. */
export interface PlanStrategies {
  estimator?: NodeEstimator;
  expander?: Expander;
}

/** A stable seed from the loop's time when the input names none. */
const seedFrom = fnv1a;

export function planNodes(input: NodePlanInput, strategies: PlanStrategies = {}): NodePlan {
  const snapshot = new ClusterSnapshot(input);
  const { options, quotas } = input;
  const estimator = strategies.estimator ?? new BinpackingEstimator();
  const expander =
    strategies.expander ??
    expanderFor(options.expander, { priorities: options.priorities, seed: options.randomSeed ?? seedFrom(input.now) });

  const up = planScaleUp(snapshot, input.nodeGroups, { maxNodesPerCluster: quotas.maxNodesPerCluster }, estimator, expander);
  const down = planScaleDown(snapshot, input, {
    nowMs: Date.parse(input.now),
    now: input.now,
    threshold: options.scaleDownUtilizationThreshold,
    unneededMs: parseDuration(options.scaleDownUnneededTime, 'options.scaleDownUnneededTime', { dialect: 'go' }),
    scaleUpPlanned: up.scaleUp.length > 0,
  });
  return {
    scaleUp: up.scaleUp,
    scaleDown: down.scaleDown,
    kept: down.kept,
    unschedulable: up.unschedulable,
    unneededSince: down.unneededSince,
    fitsExistingNodes: up.fitsExistingNodes,
  };
}
