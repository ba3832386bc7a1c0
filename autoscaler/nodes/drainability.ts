// Whether a pod lets its node go, and the disruption budgets that bound how
// many pods may leave at once. Facts from the cluster-autoscaler's
// drainability rules, in their order: mirror pods, pods terminating past
// their grace period and DaemonSet pods stay behind and never block; a
// "safe-to-evict: true" annotation makes any pod movable; otherwise a pod with
// no controller, a kube-system pod no budget covers, a "safe-to-evict: false"
// annotation, or local storage (hostPath, or an emptyDir not in memory and not
// listed in safe-to-evict-local-volumes) blocks the node; and every pod that
// moves must leave its budgets at least one disruption to spend.
import { selectorMatches } from '../label-selector.ts';
import type { Pod, PodDisruptionBudget } from './input.ts';

export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
export const SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** Upstream's PodLongTerminatingExtraThreshold. */
const LONG_TERMINATING_EXTRA_MS = 30_000;
const DEFAULT_GRACE_SECONDS = 30;

export type DrainOutcome = { kind: 'stays'; why: string } | { kind: 'moves' } | { kind: 'blocks'; why: string };

export function controllerOf(pod: Pod): { kind: string; name: string } | undefined {
  return pod.metadata.ownerReferences.find((r) => r.controller === true);
}

export function isMirrorPod(pod: Pod): boolean {
  return pod.metadata.annotations[MIRROR_ANNOTATION] !== undefined;
}

export function isDaemonSetPod(pod: Pod): boolean {
  return controllerOf(pod)?.kind === 'DaemonSet';
}

function isLongTerminating(pod: Pod, nowMs: number): boolean {
  if (!pod.metadata.deletionTimestamp) return false;
  const grace = (pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
  return Date.parse(pod.metadata.deletionTimestamp) + grace + LONG_TERMINATING_EXTRA_MS < nowMs;
}

function blockingLocalVolume(pod: Pod): string | undefined {
  const allowed = new Set((pod.metadata.annotations[SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION] ?? '').split(',').filter(Boolean));
  for (const v of pod.spec.volumes) {
    const local = v.hostPath !== undefined || (v.emptyDir !== undefined && v.emptyDir.medium !== 'Memory');
    if (local && !allowed.has(v.name)) return v.name;
  }
  return undefined;
}

/** policy/v1: a budget without a selector selects no pods; an empty one selects all in its namespace. */
function budgetSelects(pdb: PodDisruptionBudget, labels: Record<string, string>): boolean {
  return pdb.spec.selector !== undefined && selectorMatches(pdb.spec.selector, labels);
}

function budgetName(pdb: PodDisruptionBudget): string {
  return `${pdb.metadata.namespace}/${pdb.metadata.name}`;
}

/** What each budget still allows in this plan; moving pods spends it. */
export class DisruptionBudgets {
  private readonly remaining = new Map<PodDisruptionBudget, number>();

  constructor(
    private readonly pdbs: readonly PodDisruptionBudget[],
    private readonly allPods: readonly Pod[],
  ) {}

  /** Computed on first use: most plans never touch most budgets, and counting covered pods is the costly part. */
  private left(pdb: PodDisruptionBudget): number {
    let n = this.remaining.get(pdb);
    if (n === undefined) {
      n = pdb.status?.disruptionsAllowed ?? allowedFromSpec(pdb, this.allPods);
      this.remaining.set(pdb, n);
    }
    return n;
  }

  matching(pod: Pod): PodDisruptionBudget[] {
    return this.pdbs.filter((b) => b.metadata.namespace === pod.metadata.namespace && budgetSelects(b, pod.metadata.labels));
  }

  /** The budget that moving all these pods together would break, if any. */
  wouldBreak(pods: readonly Pod[]): string | undefined {
    const spend = new Map<PodDisruptionBudget, number>();
    for (const pod of pods) {
      for (const b of this.matching(pod)) {
        const n = (spend.get(b) ?? 0) + 1;
        spend.set(b, n);
        if (n > this.left(b)) {
          return `disruption budget ${budgetName(b)} allows ${Math.max(0, this.left(b))} more disruption(s), pod ${pod.metadata.namespace}/${pod.metadata.name} would exceed it`;
        }
      }
    }
    return undefined;
  }

  spend(pods: readonly Pod[]): void {
    for (const pod of pods) for (const b of this.matching(pod)) this.remaining.set(b, this.left(b) - 1);
  }
}

function percentOf(v: number | string, total: number): number {
  // The disruption controller rounds percentages up.
  return typeof v === 'number' ? v : Math.ceil((Number(v.slice(0, -1)) * total) / 100);
}

/** disruptionsAllowed as the disruption controller would compute it, for budgets given without status. */
function allowedFromSpec(pdb: PodDisruptionBudget, pods: readonly Pod[]): number {
  const covered = pods.filter(
    (p) =>
      p.metadata.namespace === pdb.metadata.namespace &&
      budgetSelects(pdb, p.metadata.labels) &&
      p.status.phase !== 'Succeeded' &&
      p.status.phase !== 'Failed',
  );
  const expected = covered.length;
  const healthy = covered.filter((p) => p.spec.nodeName && !p.metadata.deletionTimestamp).length;
  let desired = 0;
  if (pdb.spec.minAvailable !== undefined) desired = percentOf(pdb.spec.minAvailable, expected);
  else if (pdb.spec.maxUnavailable !== undefined) desired = expected - percentOf(pdb.spec.maxUnavailable, expected);
  return Math.max(0, healthy - desired);
}

/** How one pod on a node being removed behaves, by the rules above. */
export function drainOutcome(pod: Pod, nowMs: number, budgets: DisruptionBudgets): DrainOutcome {
  const id = `${pod.metadata.namespace}/${pod.metadata.name}`;
  if (isMirrorPod(pod)) return { kind: 'stays', why: 'mirror pod' };
  if (isLongTerminating(pod, nowMs)) return { kind: 'stays', why: 'terminating past its grace period' };
  if (isDaemonSetPod(pod)) return { kind: 'stays', why: 'DaemonSet pod' };
  const safeToEvict = pod.metadata.annotations[SAFE_TO_EVICT_ANNOTATION];
  if (safeToEvict === 'true') return { kind: 'moves' };
  if (!controllerOf(pod)) return { kind: 'blocks', why: `pod ${id} has no controller and would not be recreated` };
  if (pod.metadata.namespace === 'kube-system' && budgets.matching(pod).length === 0) {
    return { kind: 'blocks', why: `kube-system pod ${id} has no disruption budget` };
  }
  if (safeToEvict === 'false') return { kind: 'blocks', why: `pod ${id} is annotated ${SAFE_TO_EVICT_ANNOTATION}: "false"` };
  const volume = blockingLocalVolume(pod);
  if (volume) return { kind: 'blocks', why: `pod ${id} has local storage (volume ${volume})` };
  return { kind: 'moves' };
}
