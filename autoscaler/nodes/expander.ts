// Expanders choose which node group grows when several could take the pending
// pods. Facts from the cluster-autoscaler's expander strategies: least-waste
// scores (idle cpu fraction + idle memory fraction) over the added nodes,
// most-pods counts the pods an option schedules, priority takes the highest
// priority whose name patterns (unanchored regular expressions) match a group,
// and every one of them settles ties with random. Random here is seeded so
// that a plan is reproducible from its input.
import { mulberry32 } from '../../core/hashing.ts';
import type { ExpanderName } from './input.ts';
import type { Resources, SchedulingPod } from './scheduling.ts';

export interface ExpansionOption {
  nodeGroup: string;
  nodeCount: number;
  pods: SchedulingPod[];
  template: Resources;
}

export interface Expander {
  bestOption(options: readonly ExpansionOption[]): ExpansionOption | undefined;
}

/** Narrows the options to the best-scoring ones; undefined scores drop an option. */
type Filter = (options: readonly ExpansionOption[]) => ExpansionOption[];

export class RandomExpander implements Expander {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  bestOption(options: readonly ExpansionOption[]): ExpansionOption | undefined {
    if (options.length === 0) return undefined;
    // Sorting first makes the pick independent of the order groups were listed in.
    const sorted = [...options].sort((a, b) => (a.nodeGroup < b.nodeGroup ? -1 : a.nodeGroup > b.nodeGroup ? 1 : 0));
    return sorted[Math.floor(this.next() * sorted.length)];
  }
}

function keepBest(options: readonly ExpansionOption[], score: (o: ExpansionOption) => number | undefined, lowerIsBetter: boolean): ExpansionOption[] {
  let best: number | undefined;
  let out: ExpansionOption[] = [];
  for (const o of options) {
    const s = score(o);
    if (s === undefined) continue;
    if (best === undefined || (lowerIsBetter ? s < best : s > best)) {
      best = s;
      out = [o];
    } else if (s === best) {
      out.push(o);
    }
  }
  return out;
}

export function wasteScore(o: ExpansionOption): number {
  let cpu = 0;
  let memory = 0;
  for (const p of o.pods) {
    cpu += p.cpu;
    memory += p.memory;
  }
  const availCpu = o.template.cpu * o.nodeCount;
  const availMem = o.template.memory * o.nodeCount;
  const wastedCpu = availCpu > 0 ? (availCpu - cpu) / availCpu : 0;
  const wastedMem = availMem > 0 ? (availMem - memory) / availMem : 0;
  return wastedCpu + wastedMem;
}

export const leastWaste: Filter = (options) => keepBest(options, wasteScore, true);
export const mostPods: Filter = (options) => keepBest(options, (o) => o.pods.length, false);

export function byPriority(priorities: Record<string, readonly string[]>): Filter {
  const table = Object.entries(priorities).map(([p, patterns]) => ({ priority: Number(p), patterns: patterns.map((s) => new RegExp(s)) }));
  const priorityOf = (group: string): number | undefined => {
    let best: number | undefined;
    for (const row of table) {
      if (row.patterns.some((re) => re.test(group)) && (best === undefined || row.priority > best)) best = row.priority;
    }
    return best;
  };
  // No group listed at all: every option stays in the running, as upstream does.
  return (options) => {
    const kept = keepBest(options, (o) => priorityOf(o.nodeGroup), false);
    return kept.length > 0 ? kept : [...options];
  };
}

class FilterThenRandom implements Expander {
  constructor(
    private readonly filter: Filter,
    private readonly fallback: Expander,
  ) {}
  bestOption(options: readonly ExpansionOption[]): ExpansionOption | undefined {
    const best = this.filter(options);
    return best.length === 1 ? best[0] : this.fallback.bestOption(best);
  }
}

export interface ExpanderConfig {
  priorities?: Record<string, readonly string[]> | undefined;
  seed: number;
}

export function expanderFor(name: ExpanderName, config: ExpanderConfig): Expander {
  const random = new RandomExpander(config.seed);
  switch (name) {
    case 'random':
      return random;
    case 'least-waste':
      return new FilterThenRandom(leastWaste, random);
    case 'most-pods':
      return new FilterThenRandom(mostPods, random);
    case 'priority':
      return new FilterThenRandom(byPriority(config.priorities ?? {}), random);
  }
}
