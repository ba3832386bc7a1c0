import { describe, expect, it } from 'vitest';
import { BinpackingEstimator } from './estimator.ts';
import type { Pod } from './input.ts';
import type { Resources, SchedulingPod } from './scheduling.ts';

const MiB = 2 ** 20;

/** `count` equal pods (one equivalence group), like upstream's makePodEquivalenceGroup. */
function podGroup(prefix: string, cpu: number, memory: number, count: number): SchedulingPod[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `universe/${prefix}-${i}`,
    cpu,
    memory,
    extended: undefined,
    nodeSelector: {},
    requiredTerms: undefined,
    tolerations: [],
    equivalenceKey: `${prefix}:${cpu}:${memory}`,
    pod: {} as Pod,
  }));
}

/** Upstream's makeNode: cpu in millicores, memory in MiB. */
const template = (cpu: number, memMiB: number, pods: number): Resources => ({ cpu, memory: memMiB * MiB, pods });

// Ported as data from kubernetes/autoscaler cluster-autoscaler/estimator/binpacking_estimator_test.go,
// TestBinpackingEstimate. A maxNodes of 0 there means "no limit". The host-port and
// topology-spreading cases are left out: the planner does not model those predicates.
const upstreamCases = [
  {
    name: 'simple resource-based binpacking',
    template: template(350 * 3 - 50, 2 * 1000, 10),
    pods: () => podGroup('estimatee', 350, 1000, 10),
    maxNodes: 0,
    nodes: 5,
    scheduled: 10,
  },
  {
    name: 'pods-per-node bound binpacking',
    template: template(10000, 20000, 10),
    pods: () => podGroup('estimatee', 10, 100, 20),
    maxNodes: 0,
    nodes: 2,
    scheduled: 20,
  },
  {
    name: 'limiter cuts binpacking',
    template: template(1000, 5000, 10),
    pods: () => podGroup('estimatee', 500, 1000, 20),
    maxNodes: 5,
    nodes: 5,
    scheduled: 10,
  },
  {
    name: 'decreasing ordered pods are processed first',
    template: template(1000, 5000, 10),
    pods: () => [...podGroup('small', 50, 1000, 10), ...podGroup('high', 500, 1000, 10)],
    maxNodes: 5,
    nodes: 5,
    scheduled: 10,
    scheduledPrefix: 'universe/high-',
  },
];

describe('BinpackingEstimator (upstream TestBinpackingEstimate cases)', () => {
  for (const tc of upstreamCases) {
    it(tc.name, () => {
      const est = new BinpackingEstimator().estimate(tc.pods(), tc.template, tc.maxNodes || Infinity);
      expect(est.nodeCount).toBe(tc.nodes);
      expect(est.scheduled).toHaveLength(tc.scheduled);
      if (tc.scheduledPrefix) for (const p of est.scheduled) expect(p.id.startsWith(tc.scheduledPrefix)).toBe(true);
    });
  }

  // Ported from the same file's BenchmarkBinpackingEstimate: 1,000 larger pods first fill
  // 100 nodes (10 each, 50m left over), one small pod tops up each, the other 49,900 small
  // pods need 2,495 more nodes at 20 a node.
  it('BenchmarkBinpackingEstimate: 51,000 pods on 2,595 nodes', () => {
    const pods = [...podGroup('small', 50, 100, 50000), ...podGroup('large', 95, 190, 1000)];
    const started = performance.now();
    const est = new BinpackingEstimator().estimate(pods, template(1000, 5000, 100), 3000);
    expect(est.nodeCount).toBe(2595);
    expect(est.scheduled).toHaveLength(51000);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('BinpackingEstimator', () => {
  it('packs a second equivalence group into the room the first left before adding nodes', () => {
    // 3 nodes of 1000m: big pods 600m take one each, small 400m pods fill the 400m left on each.
    const pods = [...podGroup('big', 600, 1, 3), ...podGroup('small', 400, 1, 3)];
    const est = new BinpackingEstimator().estimate(pods, template(1000, 100, 10), Infinity);
    expect(est.nodeCount).toBe(3);
    expect(est.scheduled).toHaveLength(6);
  });

  it('stops rather than adding empty nodes for a pod bigger than the template', () => {
    const est = new BinpackingEstimator().estimate(podGroup('huge', 5000, 1, 4), template(1000, 100, 10), Infinity);
    expect(est.nodeCount).toBe(0);
    expect(est.scheduled).toHaveLength(0);
  });

  it('counts pods-per-node as a dimension of its own', () => {
    const est = new BinpackingEstimator().estimate(podGroup('tiny', 1, 1, 7), template(1000, 100, 3), Infinity);
    expect(est.nodeCount).toBe(3);
  });
});
