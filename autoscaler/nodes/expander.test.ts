import { describe, expect, it } from 'vitest';
import { RandomExpander, expanderFor, wasteScore, type ExpansionOption } from './expander.ts';
import type { Pod } from './input.ts';
import type { SchedulingPod } from './scheduling.ts';

const pods = (n: number, cpu: number, memory: number): SchedulingPod[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `default/p-${i}`,
    cpu,
    memory,
    extended: undefined,
    nodeSelector: {},
    requiredTerms: undefined,
    tolerations: [],
    equivalenceKey: 'k',
    pod: {} as Pod,
  }));

const option = (nodeGroup: string, nodeCount: number, p: SchedulingPod[], cpu: number, memory: number): ExpansionOption => ({
  nodeGroup,
  nodeCount,
  pods: p,
  template: { cpu, memory, pods: 100 },
});

describe('least-waste', () => {
  // Ported as data from kubernetes/autoscaler cluster-autoscaler/expander/waste/waste_test.go, TestLeastWaste.
  const cpuPerPod = 500;
  const memoryPerPod = 1000 * 1024 * 1024;
  const one = pods(1, cpuPerPod, memoryPerPod);
  const balanced = option('balanced', 1, one, 16 * cpuPerPod, 16 * memoryPerPod);
  const highmem = option('highmem', 1, one, 16 * cpuPerPod, 32 * memoryPerPod);
  const lowcpu = option('lowcpu', 1, one, 8 * cpuPerPod, 16 * memoryPerPod);
  const e = expanderFor('least-waste', { seed: 1 });

  it('TestLeastWaste: one option is the answer', () => {
    expect(e.bestOption([balanced])?.nodeGroup).toBe('balanced');
  });
  it('TestLeastWaste: balanced beats high memory', () => {
    expect(e.bestOption([balanced, highmem])?.nodeGroup).toBe('balanced');
  });
  it('TestLeastWaste: low cpu beats both', () => {
    expect(e.bestOption([balanced, highmem, lowcpu])?.nodeGroup).toBe('lowcpu');
    expect(wasteScore(lowcpu)).toBeLessThan(wasteScore(balanced));
  });
});

describe('most-pods', () => {
  it('takes the option that schedules the most pods', () => {
    const e = expanderFor('most-pods', { seed: 1 });
    const best = e.bestOption([option('a', 1, pods(3, 1, 1), 10, 10), option('b', 4, pods(5, 1, 1), 10, 10)]);
    expect(best?.nodeGroup).toBe('b');
  });
});

describe('priority', () => {
  const options = [option('spot-a', 1, pods(1, 1, 1), 10, 10), option('ondemand', 1, pods(1, 1, 1), 10, 10), option('gpu', 1, pods(1, 1, 1), 10, 10)];
  it('takes the highest priority whose pattern matches (unanchored, as upstream)', () => {
    const e = expanderFor('priority', { seed: 1, priorities: { '10': ['spot'], '50': ['^ondemand$'], '1': ['.*'] } });
    expect(e.bestOption(options)?.nodeGroup).toBe('ondemand');
  });
  it('keeps every option when no pattern matches any group', () => {
    const e = expanderFor('priority', { seed: 1, priorities: { '10': ['^nothing$'] } });
    expect(options.map((o) => o.nodeGroup)).toContain(e.bestOption(options)?.nodeGroup);
  });
});

describe('random', () => {
  const options = ['a', 'b', 'c', 'd'].map((g) => option(g, 1, pods(1, 1, 1), 10, 10));
  it('is reproducible for a seed and independent of option order', () => {
    const first = new RandomExpander(42).bestOption(options)?.nodeGroup;
    expect(new RandomExpander(42).bestOption([...options].reverse())?.nodeGroup).toBe(first);
  });
  it('reaches every option over many seeds', () => {
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++) seen.add(new RandomExpander(s).bestOption(options)!.nodeGroup);
    expect(seen.size).toBe(4);
  });
  it('has nothing to pick from no options', () => {
    expect(new RandomExpander(1).bestOption([])).toBeUndefined();
  });
});
