// The estimator answers "how many template nodes would these pending pods
// need?" and nothing else; which group to grow is the expander's question.
// Facts from the cluster-autoscaler's BinpackingNodeEstimator: first-fit
// decreasing over pod equivalence groups ordered by
// cpu/templateCpu + mem/templateMem; each group first tries the nodes already
// added in this estimate, then the last added node, then a fresh one; a limit
// on added nodes cuts the estimate short and the pods packed so far stand.
import { adjustExtended, extendedFits, type Resources, type SchedulingPod } from './scheduling.ts';

export interface NodeEstimate {
  nodeCount: number;
  /** The pods that found room, in the order they were placed. */
  scheduled: SchedulingPod[];
}

export interface NodeEstimator {
  /**
   * Pods must already pass the template's static predicates; `maxNodes`
   * bounds how many nodes the estimate may add.
   */
  estimate(pods: readonly SchedulingPod[], template: Resources, maxNodes: number): NodeEstimate;
}

function fits(bin: Resources, pod: SchedulingPod): boolean {
  return bin.pods >= 1 && bin.cpu >= pod.cpu && bin.memory >= pod.memory && extendedFits(bin.extended, pod.extended);
}

function place(bin: Resources, pod: SchedulingPod): void {
  bin.cpu -= pod.cpu;
  bin.memory -= pod.memory;
  bin.pods -= 1;
  adjustExtended(bin.extended, pod.extended, -1);
}

/** True when the pod fits an empty template node at all. */
export function fitsEmptyTemplate(pod: SchedulingPod, template: Resources): boolean {
  return fits(template, pod);
}

/** Groups pods that schedule identically, keeping first-seen order. */
export function equivalenceGroups(pods: readonly SchedulingPod[]): SchedulingPod[][] {
  const groups = new Map<string, SchedulingPod[]>();
  for (const p of pods) {
    let g = groups.get(p.equivalenceKey);
    if (!g) groups.set(p.equivalenceKey, (g = []));
    g.push(p);
  }
  return [...groups.values()];
}

export class BinpackingEstimator implements NodeEstimator {
  estimate(pods: readonly SchedulingPod[], template: Resources, maxNodes: number): NodeEstimate {
    const score = (p: SchedulingPod): number =>
      (template.cpu > 0 ? p.cpu / template.cpu : 0) + (template.memory > 0 ? p.memory / template.memory : 0);
    // Stable sort: equal scores keep input order, as Go's sort.Slice does not promise but tests assume.
    const groups = equivalenceGroups(pods)
      .map((g, i) => ({ g, i, s: score(g[0]!) }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((x) => x.g);

    const bins: Resources[] = [];
    const used: boolean[] = [];
    const scheduled: SchedulingPod[] = [];

    for (const group of groups) {
      let i = 0;
      // Equal pods: a bin that refused one refuses the next, so the scan resumes where it stopped.
      let cursor = 0;
      for (; i < group.length; i++) {
        const pod = group[i]!;
        while (cursor < bins.length && !fits(bins[cursor]!, pod)) cursor++;
        if (cursor === bins.length) break;
        place(bins[cursor]!, pod);
        used[cursor] = true;
        scheduled.push(pod);
      }
      for (; i < group.length; i++) {
        const pod = group[i]!;
        const last = bins.length - 1;
        if (last >= 0 && fits(bins[last]!, pod)) {
          place(bins[last]!, pod);
          used[last] = true;
          scheduled.push(pod);
          continue;
        }
        // An empty node that refused the pod means a fresh one would too.
        if (last >= 0 && !used[last]) break;
        if (bins.length >= maxNodes) break;
        bins.push({ cpu: template.cpu, memory: template.memory, pods: template.pods, extended: template.extended && { ...template.extended } });
        used.push(false);
        const fresh = bins[bins.length - 1]!;
        if (!fits(fresh, pod)) break;
        place(fresh, pod);
        used[bins.length - 1] = true;
        scheduled.push(pod);
      }
    }
    return { nodeCount: used.filter(Boolean).length, scheduled };
  }
}
