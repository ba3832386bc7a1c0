// Whether evicting a pod would break a PodDisruptionBudget, computed the way
// the disruption controller fills a budget's status (currentHealthy against
// desiredHealthy over the pods its selector matches).
import { labelsMatch, selectorRequirements, type KubeObject, type LabelSelectorObject } from './cluster-objects.ts';

interface PdbSpec {
  selector?: LabelSelectorObject;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

export interface EvictionVerdict {
  allowed: boolean;
  /** The budget that refuses, when one does. */
  budget?: string;
  message: string;
}

export function podHealthy(pod: KubeObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const status = pod.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  if (status?.phase !== 'Running') return false;
  return (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function scaled(value: number | string, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) return Number(value);
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** The verdict for evicting `pod`, given the budgets and pods of its namespace. */
export function evictionVerdict(pod: KubeObject, budgets: readonly KubeObject[], pods: readonly KubeObject[]): EvictionVerdict {
  for (const pdb of budgets) {
    const spec = (pdb.spec ?? {}) as PdbSpec;
    const requirements = selectorRequirements(spec.selector);
    if (!spec.selector || !labelsMatch(requirements, pod.metadata.labels)) continue;
    // An unhealthy pod never counted toward the budget, so removing it costs nothing.
    if (!podHealthy(pod)) continue;
    const covered = pods.filter((p) => labelsMatch(requirements, p.metadata.labels));
    const healthy = covered.filter(podHealthy).length;
    const expected = covered.length;
    let desired: number;
    if (spec.minAvailable !== undefined) desired = scaled(spec.minAvailable, expected, true);
    else if (spec.maxUnavailable !== undefined) desired = expected - scaled(spec.maxUnavailable, expected, true);
    else desired = expected;
    if (healthy - desired <= 0) {
      return { allowed: false, budget: pdb.metadata.name, message: "Cannot evict pod as it would violate the pod's disruption budget." };
    }
  }
  return { allowed: true, message: 'eviction allowed' };
}
