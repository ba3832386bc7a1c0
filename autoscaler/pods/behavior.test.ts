// Upstream normalization tables (kubernetes/kubernetes
// pkg/controller/podautoscaler/horizontal_test.go), as data.
import { describe, expect, it } from 'vitest';
import {
  limitLegacy,
  limitWithBehavior,
  replicasChangedInPeriod,
  scaleDownLimit,
  scaleDownRules,
  scaleUpLimit,
  scaleUpRules,
  stabilizeLegacy,
  stabilizeWithBehavior,
  type ScaleEvent,
  type ScalingRules,
  type TimedRecommendation,
} from './behavior.ts';
import type { ScalingRulesSpec } from './input.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const minutesAgo = (m: number) => NOW - m * 60_000;
const secondsAgo = (s: number) => NOW - s * 1000;

/** upstream generateScalingRules: selectPolicy Max, only the non-zero policies. */
function rules(pods: number, podsPeriod: number, percent: number, percentPeriod: number, window: number): ScalingRulesSpec {
  const policies: NonNullable<ScalingRulesSpec['policies']> = [];
  if (pods !== 0) policies.push({ type: 'Pods', value: pods, periodSeconds: podsPeriod });
  if (percent !== 0) policies.push({ type: 'Percent', value: percent, periodSeconds: percentPeriod });
  return { stabilizationWindowSeconds: window, selectPolicy: 'Max', policies };
}

/** upstream generateEventsUniformDistribution: events centred in equal slices of the last `period` seconds. */
function uniform(changes: number[], period: number, sign: 1 | -1): ScaleEvent[] {
  const slice = period / changes.length;
  return changes.map((c, i) => ({ time: secondsAgo(Math.trunc(period - slice * (i + 1) + slice / 2)), replicaChange: sign * c }));
}

interface RulesCase {
  name: string;
  up?: ScaleEvent[];
  down?: ScaleEvent[];
  min: number;
  max: number;
  upRules?: ScalingRulesSpec;
  downRules?: ScalingRulesSpec;
  current: number;
  desired: number;
  expected: number;
  condition: string;
}

// TestScalingWithRules (convertDesiredReplicasWithBehaviorRate)
const scalingWithRules: RulesCase[] = [
  { name: 'prenormalized desired replicas within range', current: 5, desired: 7, min: 3, max: 8, expected: 7, condition: 'DesiredWithinRange' },
  { name: 'prenormalized desired replicas < minReplicas', current: 3, desired: 1, min: 2, max: 8, expected: 2, condition: 'TooFewReplicas' },
  { name: 'prenormalized desired replicas within range when minReplicas is 0', current: 1, desired: 0, min: 0, max: 10, expected: 0, condition: 'DesiredWithinRange' },
  { name: 'maxReplicas is the limit because maxReplicas < scaleUpLimit', current: 20, desired: 1000, min: 1, max: 10, expected: 10, condition: 'TooManyReplicas' },
  { name: 'desired replica count is more than the maximum replica count', current: 100, desired: 1000, min: 100, max: 150, expected: 150, condition: 'TooManyReplicas' },
  { name: 'scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies', current: 3, desired: 1000, min: 1, max: 2000, upRules: rules(0, 0, 1, 60, 0), expected: 4, condition: 'ScaleUpLimit' },
  { name: 'scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies', current: 1000, desired: 3, min: 3, max: 2000, downRules: rules(20, 60, 0, 0, 0), expected: 980, condition: 'ScaleDownLimit' },
  { name: 'scaleUp with default behavior', current: 10, desired: 50, min: 1, max: 1000, expected: 20, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with pods policy larger than percent policy', current: 10, desired: 500, min: 1, max: 1000, upRules: rules(100, 60, 100, 60, 0), expected: 110, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with percent policy larger than pods policy', current: 10, desired: 500, min: 1, max: 1000, upRules: rules(2, 60, 100, 60, 0), expected: 20, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with spec MaxReplicas limitation with large pod policy', current: 10, desired: 50, min: 1, max: 1000, upRules: rules(100, 60, 0, 0, 0), expected: 50, condition: 'DesiredWithinRange' },
  { name: 'scaleUp with spec MaxReplicas limitation with large percent policy', current: 10, desired: 50, min: 1, max: 1000, upRules: rules(10000, 60, 0, 0, 0), expected: 50, condition: 'DesiredWithinRange' },
  { name: 'scaleUp with pod policy limitation', current: 10, desired: 50, min: 1, max: 1000, upRules: rules(30, 60, 0, 0, 0), expected: 40, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with percent policy limitation', current: 10, desired: 50, min: 1, max: 1000, upRules: rules(0, 0, 200, 60, 0), expected: 30, condition: 'ScaleUpLimit' },
  { name: 'scaleDown with percent policy larger than pod policy', current: 100, desired: 2, min: 1, max: 1000, downRules: rules(20, 60, 1, 60, 300), expected: 80, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with pod policy larger than percent policy', current: 100, desired: 2, min: 1, max: 1000, downRules: rules(2, 60, 1, 60, 300), expected: 98, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with spec MinReplicas=nil limitation with large pod policy', current: 10, desired: 0, min: 1, max: 1000, downRules: rules(100, 60, 0, 0, 300), expected: 1, condition: 'TooFewReplicas' },
  { name: 'scaleDown with spec MinReplicas limitation with large percent policy', current: 10, desired: 2, min: 5, max: 1000, downRules: rules(0, 0, 100, 60, 300), expected: 5, condition: 'TooFewReplicas' },
  { name: 'scaleDown with pod policy limitation', current: 10, desired: 2, min: 1, max: 1000, downRules: rules(5, 60, 0, 0, 300), expected: 5, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with percent policy limitation', current: 10, desired: 5, min: 1, max: 1000, downRules: rules(0, 0, 50, 60, 300), expected: 5, condition: 'DesiredWithinRange' },
  { name: 'scaleUp with spec MaxReplicas limitation with large pod policy and events', up: uniform([1, 5, 9], 120, 1), current: 100, desired: 500, min: 1, max: 200, upRules: rules(300, 60, 0, 0, 0), expected: 200, condition: 'TooManyReplicas' },
  { name: 'scaleUp with spec MaxReplicas limitation with large percent policy and events', up: uniform([1, 5, 9], 120, 1), current: 100, desired: 500, min: 1, max: 200, upRules: rules(0, 0, 10000, 60, 0), expected: 200, condition: 'TooManyReplicas' },
  { name: 'scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events', up: uniform([1, 5, 9], 120, 1), current: 100, desired: 500, min: 1, max: 1000, upRules: rules(5, 120, 0, 0, 0), expected: 100, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with pod policy and previous scale up events', up: uniform([1, 5, 9], 120, 1), current: 100, desired: 500, min: 1, max: 1000, upRules: rules(150, 120, 0, 0, 0), expected: 235, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with percent policy and previous scale up events', up: uniform([1, 5, 9], 120, 1), current: 100, desired: 500, min: 1, max: 1000, upRules: rules(0, 0, 200, 120, 0), expected: 255, condition: 'ScaleUpLimit' },
  { name: 'scaleUp with percent policy and previous scale up and down events', up: uniform([4], 120, 1), down: uniform([2], 120, -1), current: 6, desired: 24, min: 1, max: 1000, upRules: rules(0, 0, 300, 300, 0), expected: 16, condition: 'ScaleUpLimit' },
  { name: 'scaleDown with default policy and previous events', down: uniform([1, 5, 9], 120, -1), current: 10, desired: 5, min: 1, max: 1000, expected: 5, condition: 'DesiredWithinRange' },
  { name: 'scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events', down: uniform([1, 5, 9], 120, -1), current: 100, desired: 0, min: 1, max: 1000, downRules: rules(115, 120, 0, 0, 300), expected: 1, condition: 'TooFewReplicas' },
  { name: 'scaleDown with spec MinReplicas limitation with large pod policy and previous events', down: uniform([1, 5, 9], 120, -1), current: 100, desired: 0, min: 5, max: 1000, downRules: rules(130, 120, 0, 0, 300), expected: 5, condition: 'TooFewReplicas' },
  { name: 'scaleDown with spec MinReplicas limitation with large percent policy and previous events', down: uniform([1, 5, 9], 120, -1), current: 100, desired: 2, min: 5, max: 1000, downRules: rules(0, 0, 100, 120, 300), expected: 5, condition: 'TooFewReplicas' },
  { name: 'scaleDown with pod policy limitation and previous events', down: uniform([1, 5, 9], 120, -1), current: 100, desired: 2, min: 1, max: 1000, downRules: rules(5, 120, 0, 0, 300), expected: 100, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with percent policy limitation and previous events', down: uniform([2, 4, 6], 120, -1), current: 100, desired: 0, min: 1, max: 1000, downRules: rules(0, 0, 50, 120, 300), expected: 56, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with percent policy and previous scale up and down events', up: uniform([2], 120, 1), down: uniform([4], 120, -1), current: 10, desired: 1, min: 1, max: 1000, downRules: rules(0, 0, 50, 180, 0), expected: 6, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with previous events preventing further scale down', down: uniform([10, 10, 10], 120, -1), current: 100, desired: 0, min: 1, max: 1000, downRules: rules(0, 0, 10, 120, 300), expected: 100, condition: 'ScaleDownLimit' },
  { name: 'scaleDown with with previous events still allowing more scale down', down: uniform([10, 10, 10], 120, -1), current: 10, desired: 5, min: 1, max: 1000, downRules: rules(0, 0, 1000, 120, 300), expected: 5, condition: 'DesiredWithinRange' },
  { name: "check 'outdated' flag for events for one behavior for up", up: uniform([8, 12, 9, 11], 120, 1), current: 100, desired: 200, min: 1, max: 1000, upRules: rules(1000, 60, 0, 0, 0), expected: 200, condition: 'DesiredWithinRange' },
  { name: "check that events were marked 'outdated' for two different policies in the behavior for down", down: uniform([8, 12, 9, 11], 120, -1), current: 100, desired: 5, min: 1, max: 1000, downRules: rules(1000, 30, 100, 60, 300), expected: 5, condition: 'DesiredWithinRange' },
];

describe('policies and clamps with behavior (TestScalingWithRules)', () => {
  it.each(scalingWithRules.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const events = [...(c.up ?? []), ...(c.down ?? [])];
    const out = limitWithBehavior(c.current, c.desired, c.min, c.max, events, scaleUpRules(c.upRules), scaleDownRules(c.downRules), NOW);
    expect(out.replicas).toBe(c.expected);
    expect(out.reason).toBe(c.condition);
  });
});

describe('select policy Min (TestCalculateScaleUpLimitWithScalingRules, TestCalculateScaleDownLimitWithBehaviors)', () => {
  const minRules: ScalingRules = {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Min',
    policies: [
      { type: 'Pods', value: 2, periodSeconds: 60 },
      { type: 'Percent', value: 50, periodSeconds: 60 },
    ],
  };
  it('scale-up limit from 1 replica is the smaller change: 2', () => expect(scaleUpLimit(1, [], minRules, NOW)).toBe(2));
  it('scale-down limit from 5 replicas is the smaller change: 3', () => expect(scaleDownLimit(5, [], minRules, NOW)).toBe(3));
  it('selectPolicy Disabled freezes the direction', () => {
    const disabled: ScalingRules = { ...minRules, selectPolicy: 'Disabled' };
    expect(limitWithBehavior(5, 9, 1, 10, [], disabled, scaleDownRules(undefined), NOW)).toEqual({ replicas: 5, reason: 'ScaleUpLimit' });
  });
});

describe('replicas changed per period (TestStoreScaleEvents, getReplicasChangePerPeriod over 60 s)', () => {
  const cases: { name: string; events: [number, number][]; expected: number }[] = [
    { name: 'empty entries with default behavior', events: [], expected: 0 },
    { name: 'one outdated entry to be replaced with behavior', events: [[7, 61]], expected: 0 },
    { name: 'one actual entry to be not touched with behavior', events: [[7, 58]], expected: 7 },
    { name: 'two entries, one of them to be replaced', events: [[7, 61], [6, 59]], expected: 6 },
    { name: 'replace one entry, use policies with different periods', events: [[8, 29], [6, 59], [7, 61], [9, 61]], expected: 14 },
    { name: 'two entries, both actual', events: [[7, 58], [6, 59]], expected: 13 },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const events = c.events.map(([change, s]) => ({ time: secondsAgo(s), replicaChange: change }));
    expect(replicasChangedInPeriod(60, events, NOW).added).toBe(c.expected);
    const downs = events.map((e) => ({ ...e, replicaChange: -e.replicaChange }));
    expect(replicasChangedInPeriod(60, downs, NOW).deleted).toBe(c.expected);
  });
});

interface StabilizeCase {
  name: string;
  recommendations: TimedRecommendation[];
  current: number;
  desired: number;
  expected: number;
  upWindow?: number;
  downWindow?: number;
}

// TestNormalizeDesiredReplicasWithBehavior (stabilizeRecommendationWithBehaviors). The upstream test passes an
// explicit 0 for a window it does not set.
const stabilizeCases: StabilizeCase[] = [
  { name: 'empty recommendations for scaling down', recommendations: [], current: 100, desired: 5, expected: 5 },
  { name: 'simple scale down stabilization', recommendations: [{ replicas: 4, time: minutesAgo(2) }, { replicas: 5, time: minutesAgo(1) }], current: 100, desired: 3, expected: 5, downWindow: 180 },
  { name: 'simple scale up stabilization', recommendations: [{ replicas: 4, time: minutesAgo(2) }, { replicas: 5, time: minutesAgo(1) }], current: 1, desired: 7, expected: 4, upWindow: 300 },
  { name: 'no scale down stabilization', recommendations: [{ replicas: 1, time: minutesAgo(2) }, { replicas: 2, time: minutesAgo(1) }], current: 100, desired: 3, expected: 3, upWindow: 300 },
  { name: 'no scale up stabilization', recommendations: [{ replicas: 4, time: minutesAgo(2) }, { replicas: 5, time: minutesAgo(1) }], current: 1, desired: 3, expected: 3, downWindow: 300 },
  { name: 'no scale down stabilization, reuse recommendation element', recommendations: [{ replicas: 10, time: minutesAgo(10) }, { replicas: 9, time: minutesAgo(9) }], current: 100, desired: 3, expected: 3 },
  { name: 'no scale up stabilization, reuse recommendation element', recommendations: [{ replicas: 10, time: minutesAgo(10) }, { replicas: 9, time: minutesAgo(9) }], current: 1, desired: 100, expected: 100 },
  {
    name: 'scale down stabilization, reuse one of obsolete recommendation element',
    recommendations: [{ replicas: 10, time: minutesAgo(10) }, { replicas: 4, time: minutesAgo(1) }, { replicas: 5, time: minutesAgo(2) }, { replicas: 9, time: minutesAgo(9) }],
    current: 100, desired: 3, expected: 5, downWindow: 180,
  },
  {
    name: 'scale up stabilization, reuse one of obsolete recommendation element',
    recommendations: [{ replicas: 10, time: minutesAgo(100) }, { replicas: 6, time: minutesAgo(1) }, { replicas: 5, time: minutesAgo(2) }, { replicas: 9, time: minutesAgo(3) }],
    current: 1, desired: 100, expected: 5, upWindow: 300,
  },
  {
    name: 'scale up and down stabilization, do not scale up when prenormalized rec goes down',
    recommendations: [{ replicas: 2, time: minutesAgo(100) }, { replicas: 3, time: minutesAgo(3) }],
    current: 2, desired: 1, expected: 2, upWindow: 300, downWindow: 300,
  },
  {
    name: 'scale up and down stabilization, do not scale down when prenormalized rec goes up',
    recommendations: [{ replicas: 2, time: minutesAgo(100) }, { replicas: 1, time: minutesAgo(3) }],
    current: 2, desired: 3, expected: 2, upWindow: 300, downWindow: 300,
  },
];

describe('stabilization windows with behavior (TestNormalizeDesiredReplicasWithBehavior)', () => {
  it.each(stabilizeCases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const up = scaleUpRules({ stabilizationWindowSeconds: c.upWindow ?? 0 });
    const down = scaleDownRules({ stabilizationWindowSeconds: c.downWindow ?? 0 });
    expect(stabilizeWithBehavior(c.current, c.desired, c.recommendations, up, down, NOW)).toBe(c.expected);
  });
});

describe('legacy 5-minute downscale stabilization (TestNormalizeDesiredReplicas)', () => {
  const cases: { name: string; recs: [number, number][]; desired: number; expected: number }[] = [
    { name: 'empty log', recs: [], desired: 5, expected: 5 },
    { name: 'stabilize', recs: [[4, 2], [5, 1]], desired: 3, expected: 5 },
    { name: 'no stabilize', recs: [[1, 2], [2, 1]], desired: 3, expected: 3 },
    { name: 'no stabilize - old recommendations', recs: [[10, 10], [9, 9]], desired: 3, expected: 3 },
    { name: 'stabilize - old recommendations', recs: [[10, 10], [4, 1], [5, 2], [9, 9]], desired: 3, expected: 5 },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const recs = c.recs.map(([replicas, m]) => ({ replicas, time: minutesAgo(m) }));
    expect(stabilizeLegacy(c.desired, recs, NOW)).toBe(c.expected);
  });
});

describe('legacy clamps (TestConvertDesiredReplicasWithRules)', () => {
  const cases: { name: string; current: number; desired: number; min: number; max: number; expected: number; condition: string }[] = [
    { name: 'prenormalized desired replicas within range', current: 5, desired: 7, min: 3, max: 8, expected: 7, condition: 'DesiredWithinRange' },
    { name: 'prenormalized desired replicas < minReplicas', current: 3, desired: 1, min: 2, max: 8, expected: 2, condition: 'TooFewReplicas' },
    { name: 'prenormalized desired zeroed replicas within range', current: 1, desired: 0, min: 0, max: 10, expected: 0, condition: 'DesiredWithinRange' },
    { name: 'maxReplicas is the limit because maxReplicas < scaleUpLimit', current: 20, desired: 1000, min: 1, max: 10, expected: 10, condition: 'TooManyReplicas' },
    { name: 'scaleUpLimit is the limit because scaleUpLimit < maxReplicas', current: 3, desired: 1000, min: 1, max: 2000, expected: 6, condition: 'ScaleUpLimit' },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    expect(limitLegacy(c.current, c.desired, c.min, c.max)).toEqual({ replicas: c.expected, reason: c.condition });
  });
  it('the legacy scale-up floor is 4 replicas for small workloads', () => {
    expect(limitLegacy(1, 10, 1, 100)).toEqual({ replicas: 4, reason: 'ScaleUpLimit' });
  });
});
