// Upstream replica-calculator tables (kubernetes/kubernetes
// pkg/controller/podautoscaler/replica_calculator_test.go), as data. Each case
// runs through the whole recommender (input parsing included) and checks the
// metric's proposal and reported usage; the HPA has wide bounds so that
// normalization does not hide the calculator's answer.
import { describe, expect, it } from 'vitest';
import { calculateRequests, groupPods, type CalculatorConfig, type PodSamples } from './calculator.ts';
import {
  NOW,
  cpuUtilization,
  externalMetric,
  levels,
  makePodMetrics,
  makePods,
  makeRequest,
  objectMetric,
  podCustomMetrics,
} from './fixtures.ts';
import { parseRecommendInput, type Pod, type RecommendRequest } from './input.ts';
import { recommend } from './recommend.ts';

type R = 'True' | 'False';
const T: R = 'True';
const F: R = 'False';
const one = (n: number) => Array.from({ length: n }, () => '1.0');

interface ResourceCase {
  test: string;
  current: number;
  expected: number | { error: string };
  requests: string[];
  levels: number[][];
  podNames?: string[];
  target: number;
  container?: string;
  utilization?: number;
  /** Average milli-value per pod. */
  value?: number;
  readiness?: R[];
  hot?: boolean[];
  phase?: ('Running' | 'Pending' | 'Failed')[];
  deleting?: boolean[];
}

const resourceCases: ResourceCase[] = [
  // TestReplicaCalcDisjointResourcesMetrics
  { test: 'TestReplicaCalcDisjointResourcesMetrics', current: 1, expected: { error: 'no metrics returned matched known pods' }, requests: ['1.0'], levels: levels(100), podNames: ['an-older-pod-name'], target: 100 },
  // TestReplicaCalcScaleUp
  { test: 'TestReplicaCalcScaleUp', current: 3, expected: 5, requests: one(3), levels: levels(300, 500, 700), target: 30, utilization: 50, value: 2 * 500 },
  // TestReplicaCalcContainerScaleUp
  { test: 'TestReplicaCalcContainerScaleUp', current: 3, expected: 5, requests: one(3), levels: [[1000, 300], [1000, 500], [1000, 700]], target: 30, container: 'container2', utilization: 50, value: 500 },
  // TestReplicaCalcScaleUpUnreadyLessScale
  { test: 'TestReplicaCalcScaleUpUnreadyLessScale', current: 3, expected: 4, readiness: [F, T, T], requests: one(3), levels: levels(300, 500, 700), target: 30, utilization: 60, value: 2 * 600 },
  // TestReplicaCalcScaleUpContainerHotCpuLessScale
  { test: 'TestReplicaCalcScaleUpContainerHotCpuLessScale', current: 3, expected: 4, hot: [true, false, false], requests: one(3), levels: [[0, 300], [0, 500], [0, 700]], target: 30, container: 'container2', utilization: 60, value: 600 },
  // TestReplicaCalcScaleUpHotCpuLessScale
  { test: 'TestReplicaCalcScaleUpHotCpuLessScale', current: 3, expected: 4, hot: [true, false, false], requests: one(3), levels: levels(300, 500, 700), target: 30, utilization: 60, value: 2 * 600 },
  // TestReplicaCalcScaleUpUnreadyNoScale
  { test: 'TestReplicaCalcScaleUpUnreadyNoScale', current: 3, expected: 3, readiness: [T, F, F], requests: one(3), levels: levels(400, 500, 700), target: 30, utilization: 40, value: 2 * 400 },
  // TestReplicaCalcScaleHotCpuNoScale
  { test: 'TestReplicaCalcScaleHotCpuNoScale', current: 3, expected: 3, readiness: [T, F, F], hot: [false, true, true], requests: one(3), levels: levels(400, 500, 700), target: 30, utilization: 40, value: 2 * 400 },
  // TestReplicaCalcScaleUpIgnoresFailedPods
  { test: 'TestReplicaCalcScaleUpIgnoresFailedPods', current: 2, expected: 4, readiness: [T, T, F, F], phase: ['Running', 'Running', 'Failed', 'Failed'], requests: one(4), levels: levels(500, 700), target: 30, utilization: 60, value: 2 * 600 },
  // TestReplicaCalcScaleUpContainerIgnoresFailedPods
  { test: 'TestReplicaCalcScaleUpContainerIgnoresFailedPods', current: 2, expected: 4, readiness: [T, T, F, F], phase: ['Running', 'Running', 'Failed', 'Failed'], requests: one(4), levels: [[1000, 500], [9000, 700]], target: 30, container: 'container2', utilization: 60, value: 600 },
  // TestReplicaCalcScaleUpIgnoresDeletionPods
  { test: 'TestReplicaCalcScaleUpIgnoresDeletionPods', current: 2, expected: 4, readiness: [T, T, F, F], deleting: [false, false, true, true], requests: one(4), levels: levels(500, 700), target: 30, utilization: 60, value: 2 * 600 },
  // TestReplicaCalcScaleDown
  { test: 'TestReplicaCalcScaleDown', current: 5, expected: 3, requests: one(5), levels: levels(100, 300, 500, 250, 250), target: 50, utilization: 28, value: 2 * 280 },
  // TestReplicaCalcContainerScaleDown
  { test: 'TestReplicaCalcContainerScaleDown', current: 5, expected: 3, requests: one(5), levels: [[1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]], target: 50, container: 'container2', utilization: 28, value: 280 },
  // TestReplicaCalcScaleDownExcludeUnreadyPods
  { test: 'TestReplicaCalcScaleDownExcludeUnreadyPods', current: 5, expected: 2, readiness: [T, T, T, F, F], requests: one(5), levels: levels(100, 300, 500, 250, 250), target: 50, utilization: 30, value: 2 * 300 },
  // TestReplicaCalcScaleDownContainerExcludeUnreadyPods
  { test: 'TestReplicaCalcScaleDownContainerExcludeUnreadyPods', current: 5, expected: 2, readiness: [T, T, T, F, F], requests: one(5), levels: [[1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]], target: 50, container: 'container2', utilization: 30, value: 300 },
  // TestReplicaCalcScaleDownExcludeUnscheduledPods
  { test: 'TestReplicaCalcScaleDownExcludeUnscheduledPods', current: 5, expected: 1, readiness: [T, F, F, F, F], phase: ['Running', 'Pending', 'Pending', 'Pending', 'Pending'], requests: one(5), levels: levels(100), target: 50, utilization: 10, value: 2 * 100 },
  // TestReplicaCalcScaleDownIgnoreHotCpuPods
  { test: 'TestReplicaCalcScaleDownIgnoreHotCpuPods', current: 5, expected: 2, hot: [false, false, false, true, true], requests: one(5), levels: levels(100, 300, 500, 250, 250), target: 50, utilization: 30, value: 2 * 300 },
  // TestReplicaCalcScaleDownContainerIgnoreHotCpuPods
  { test: 'TestReplicaCalcScaleDownContainerIgnoreHotCpuPods', current: 5, expected: 2, hot: [false, false, false, true, true], requests: one(5), levels: [[1000, 100], [1000, 300], [1000, 500], [1000, 1000], [1000, 1000]], target: 50, container: 'container2', utilization: 30, value: 300 },
  // TestReplicaCalcScaleDownIgnoresFailedPods
  { test: 'TestReplicaCalcScaleDownIgnoresFailedPods', current: 5, expected: 3, readiness: [T, T, T, T, T, F, F], phase: ['Running', 'Running', 'Running', 'Running', 'Running', 'Failed', 'Failed'], requests: one(7), levels: levels(100, 300, 500, 250, 250), target: 50, utilization: 28, value: 2 * 280 },
  // TestReplicaCalcScaleDownIgnoresDeletionPods
  { test: 'TestReplicaCalcScaleDownIgnoresDeletionPods', current: 5, expected: 3, readiness: [T, T, T, T, T, F, F], deleting: [false, false, false, false, false, true, true], requests: one(7), levels: levels(100, 300, 500, 250, 250), target: 50, utilization: 28, value: 2 * 280 },
  // TestReplicaCalcScaleDownIgnoresDeletionPods_StillRunning (regression for kubernetes#83561)
  { test: 'TestReplicaCalcScaleDownIgnoresDeletionPods_StillRunning', current: 5, expected: 3, readiness: [T, T, T, T, T, F, F], deleting: [false, false, false, false, false, true, true], requests: one(7), levels: [[1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]], target: 50, container: 'container2', utilization: 28, value: 280 },
  // TestReplicaCalcTolerance
  { test: 'TestReplicaCalcTolerance', current: 3, expected: 3, requests: ['0.9', '1.0', '1.1'], levels: levels(1010, 1030, 1020), target: 100, utilization: 102, value: 2 * 1020 },
  // TestReplicaCalcSuperfluousMetrics
  { test: 'TestReplicaCalcSuperfluousMetrics', current: 4, expected: 24, requests: one(4), levels: levels(4000, 9500, 3000, 7000, 3200, 2000), target: 100, utilization: 587, value: 2 * 5875 },
  // TestReplicaCalcMissingMetrics
  { test: 'TestReplicaCalcMissingMetrics', current: 4, expected: 3, requests: one(4), levels: levels(400, 95), target: 100, utilization: 24, value: 495 },
  // TestReplicaCalcEmptyMetrics
  { test: 'TestReplicaCalcEmptyMetrics', current: 4, expected: { error: 'unable to get metrics for resource cpu: no metrics returned from resource metrics API' }, requests: one(3), levels: [], target: 100 },
  // TestReplicaCalcEmptyCPURequest
  { test: 'TestReplicaCalcEmptyCPURequest', current: 1, expected: { error: 'missing request for' }, requests: [], levels: levels(200), target: 100 },
  // TestReplicaCalcMissingMetricsNoChangeEq
  { test: 'TestReplicaCalcMissingMetricsNoChangeEq', current: 2, expected: 2, requests: one(2), levels: levels(1000), target: 100, utilization: 100, value: 2 * 1000 },
  // TestReplicaCalcMissingMetricsNoChangeGt
  { test: 'TestReplicaCalcMissingMetricsNoChangeGt', current: 2, expected: 2, requests: one(2), levels: levels(1900), target: 100, utilization: 190, value: 2 * 1900 },
  // TestReplicaCalcMissingMetricsNoChangeLt
  { test: 'TestReplicaCalcMissingMetricsNoChangeLt', current: 2, expected: 2, requests: one(2), levels: levels(600), target: 100, utilization: 60, value: 2 * 600 },
  // TestReplicaCalcMissingMetricsUnreadyChange
  { test: 'TestReplicaCalcMissingMetricsUnreadyChange', current: 3, expected: 3, readiness: [F, T, T], requests: one(3), levels: levels(100, 450), target: 50, utilization: 45, value: 2 * 450 },
  // TestReplicaCalcMissingMetricsHotCpuNoChange
  { test: 'TestReplicaCalcMissingMetricsHotCpuNoChange', current: 3, expected: 3, hot: [true, false, false], requests: one(3), levels: levels(100, 450), target: 50, utilization: 45, value: 2 * 450 },
  // TestReplicaCalcMissingMetricsUnreadyScaleUp
  { test: 'TestReplicaCalcMissingMetricsUnreadyScaleUp', current: 3, expected: 4, readiness: [F, T, T], requests: one(3), levels: levels(100, 2000), target: 50, utilization: 200, value: 2 * 2000 },
  // TestReplicaCalcMissingMetricsHotCpuScaleUp
  { test: 'TestReplicaCalcMissingMetricsHotCpuScaleUp', current: 3, expected: 4, readiness: [F, T, T], hot: [true, false, false], requests: one(3), levels: levels(100, 2000), target: 50, utilization: 200, value: 2 * 2000 },
  // TestReplicaCalcMissingMetricsUnreadyScaleDown
  { test: 'TestReplicaCalcMissingMetricsUnreadyScaleDown', current: 4, expected: 3, readiness: [F, T, T, T], requests: one(4), levels: levels(100, 100, 100), target: 50, utilization: 10, value: 2 * 100 },
  // TestReplicaCalcMissingMetricsScaleDownTargetOver100
  { test: 'TestReplicaCalcMissingMetricsScaleDownTargetOver100', current: 4, expected: 2, readiness: [F, T, T, T], requests: ['1.0', '1.0', '2.0', '2.0'], levels: levels(200, 100, 100), target: 300, utilization: 6, value: 2 * 100 },
  // TestReplicaCalcDuringRollingUpdateWithMaxSurge
  { test: 'TestReplicaCalcDuringRollingUpdateWithMaxSurge', current: 2, expected: 2, phase: ['Running', 'Running', 'Running'], requests: one(3), levels: levels(100, 100), target: 50, utilization: 10, value: 2 * 100 },
  // TestReplicaCalcComputedToleranceAlgImplementation, first half: 10 pods at 50% of requests, target 56% -> 9
  { test: 'TestReplicaCalcComputedToleranceAlgImplementation (scale)', current: 10, expected: 9, requests: ['400m', '200m', '310m', '290m', '302m', '298m', '301m', '299m', '300m', '300m'], levels: levels(...Array.from({ length: 10 }, () => 150)), target: 56, utilization: 50, value: 2 * 150 },
  // TestReplicaCalcComputedToleranceAlgImplementation, second half: target 55% is within tolerance -> 10
  { test: 'TestReplicaCalcComputedToleranceAlgImplementation (hold)', current: 10, expected: 10, requests: ['400m', '200m', '310m', '290m', '302m', '298m', '301m', '299m', '300m', '300m'], levels: levels(...Array.from({ length: 10 }, () => 150)), target: 55, utilization: 50, value: 2 * 150 },
];

function resourceRequest(c: ResourceCase): RecommendRequest {
  const count = Math.max(c.current, c.phase?.length ?? 0, c.readiness?.length ?? 0, c.deleting?.length ?? 0);
  const metric = c.container
    ? { type: 'ContainerResource' as const, containerResource: { name: 'cpu', container: c.container, target: { type: 'Utilization' as const, averageUtilization: c.target } } }
    : cpuUtilization(c.target);
  return makeRequest(
    c.current,
    { metrics: [metric] },
    {
      pods: makePods({ count, requests: c.requests, readiness: c.readiness, hot: c.hot, phase: c.phase, deleting: c.deleting }),
      podMetrics: makePodMetrics(c.levels, 'cpu', c.podNames),
    },
  );
}

describe('replica calculator: Resource and ContainerResource utilization (replica_calculator_test.go)', () => {
  it.each(resourceCases.map((c) => [c.test, c] as const))('%s', (_name, c) => {
    const out = recommend(parseRecommendInput(resourceRequest(c)));
    if (typeof c.expected === 'object') {
      expect(out.metrics).toEqual([]);
      expect(out.desiredReplicas).toBe(c.current);
      expect(out.reason).toContain(c.expected.error);
      return;
    }
    expect(out.metrics).toHaveLength(1);
    expect(out.metrics[0]!.proposal).toBe(c.expected);
    expect(out.metrics[0]!.currentAverageUtilization).toBe(c.utilization);
    expect(out.metrics[0]!.currentAverageValue).toBe(`${c.value! % 1000 === 0 ? c.value! / 1000 : `${c.value}m`}`);
  });
});

type Kind = 'pods' | 'object' | 'objectPerPod' | 'external' | 'externalPerPod';
interface MetricCase {
  test: string;
  kind: Kind;
  current: number;
  expected: number;
  levels: number[];
  /** Milli-units; per pod for the *PerPod kinds and for pods. */
  target: number;
  usage?: number;
  readiness?: R[];
  hot?: boolean[];
  pods?: number;
}

const metricCases: MetricCase[] = [
  // TestReplicaCalcScaleUpCM
  { test: 'TestReplicaCalcScaleUpCM', kind: 'pods', current: 3, expected: 4, levels: [20000, 10000, 30000], target: 15000, usage: 20000 },
  // TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale: readiness does not matter for non-CPU metrics
  { test: 'TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale', kind: 'pods', current: 3, expected: 6, readiness: [T, T, F], hot: [false, false, true], levels: [50000, 10000, 30000], target: 15000, usage: 30000 },
  // TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown
  { test: 'TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown', kind: 'pods', current: 3, expected: 7, readiness: [F, T, F], hot: [true, false, true], levels: [50000, 15000, 30000], target: 15000, usage: 31666 },
  // TestReplicaCalcScaleUpCMObject
  { test: 'TestReplicaCalcScaleUpCMObject', kind: 'object', current: 3, expected: 4, levels: [20000], target: 15000 },
  // TestReplicaCalcScaleUpCMPerPodObject
  { test: 'TestReplicaCalcScaleUpCMPerPodObject', kind: 'objectPerPod', current: 3, expected: 4, levels: [20000], target: 5000, usage: 6667 },
  // TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods
  { test: 'TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods', kind: 'object', current: 3, expected: 5, readiness: [F, T, F], levels: [50000], target: 10000 },
  // TestReplicaCalcScaleUpCMExternal (upstream runs it as a per-pod metric)
  { test: 'TestReplicaCalcScaleUpCMExternal', kind: 'pods', current: 1, expected: 2, levels: [8600], target: 4400, usage: 8600 },
  // TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods
  { test: 'TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods', kind: 'external', current: 3, expected: 2, readiness: [F, T, F], levels: [8600], target: 4400 },
  // TestReplicaCalcScaleUpPerPodCMExternal
  { test: 'TestReplicaCalcScaleUpPerPodCMExternal', kind: 'externalPerPod', current: 3, expected: 4, levels: [8600], target: 2150, usage: 2867 },
  // TestReplicaCalcScaleDownCM
  { test: 'TestReplicaCalcScaleDownCM', kind: 'pods', current: 5, expected: 3, levels: [12000, 12000, 12000, 12000, 12000], target: 20000, usage: 12000 },
  // TestReplicaCalcScaleDownPerPodCMObject
  { test: 'TestReplicaCalcScaleDownPerPodCMObject', kind: 'objectPerPod', current: 5, expected: 3, levels: [6000], target: 2000, usage: 1200 },
  // TestReplicaCalcScaleDownCMObject
  { test: 'TestReplicaCalcScaleDownCMObject', kind: 'object', current: 5, expected: 3, levels: [12000], target: 20000 },
  // TestReplicaCalcScaleDownCMExternal
  { test: 'TestReplicaCalcScaleDownCMExternal', kind: 'external', current: 5, expected: 3, levels: [8600], target: 14334 },
  // TestReplicaCalcScaleDownPerPodCMExternal
  { test: 'TestReplicaCalcScaleDownPerPodCMExternal', kind: 'externalPerPod', current: 5, expected: 3, levels: [8600], target: 2867, usage: 1720 },
  // TestReplicaCalcToleranceCM
  { test: 'TestReplicaCalcToleranceCM', kind: 'pods', current: 3, expected: 3, levels: [20000, 21000, 21000], target: 20000, usage: 20666 },
  // TestReplicaCalcToleranceCMObject
  { test: 'TestReplicaCalcToleranceCMObject', kind: 'object', current: 3, expected: 3, levels: [20666], target: 20000 },
  // TestReplicaCalcTolerancePerPodCMObject
  { test: 'TestReplicaCalcTolerancePerPodCMObject', kind: 'objectPerPod', current: 4, expected: 4, levels: [20166], target: 5000, usage: 5042 },
  // TestReplicaCalcToleranceCMExternal
  { test: 'TestReplicaCalcToleranceCMExternal', kind: 'external', current: 3, expected: 3, levels: [8600], target: 8888 },
  // TestReplicaCalcTolerancePerPodCMExternal
  { test: 'TestReplicaCalcTolerancePerPodCMExternal', kind: 'externalPerPod', current: 3, expected: 3, levels: [8600], target: 2900, usage: 2867 },
  // TestPlainMetricReplicaCalcMissingMetricsNoChangeEq
  { test: 'TestPlainMetricReplicaCalcMissingMetricsNoChangeEq', kind: 'pods', current: 5, expected: 5, levels: [20000, 19000, 21000], target: 20000, usage: 20000 },
  // TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM
  { test: 'TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM', kind: 'pods', current: 2, expected: 2, pods: 3, levels: [10000, 10000], target: 17000, usage: 10000 },
];

const milli = (v: number) => `${v}m`;

function metricRequest(c: MetricCase): RecommendRequest {
  const selector = { matchLabels: { label: 'value' } };
  const describedObject = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'some-deployment' };
  const metric = {
    pods: { type: 'Pods' as const, pods: { metric: { name: 'qps' }, target: { type: 'AverageValue' as const, averageValue: milli(c.target) } } },
    object: { type: 'Object' as const, object: { describedObject, metric: { name: 'qps' }, target: { type: 'Value' as const, value: milli(c.target) } } },
    objectPerPod: { type: 'Object' as const, object: { describedObject, metric: { name: 'qps' }, target: { type: 'AverageValue' as const, averageValue: milli(c.target) } } },
    external: { type: 'External' as const, external: { metric: { name: 'qps', selector }, target: { type: 'Value' as const, value: milli(c.target) } } },
    externalPerPod: { type: 'External' as const, external: { metric: { name: 'qps', selector }, target: { type: 'AverageValue' as const, averageValue: milli(c.target) } } },
  }[c.kind];
  const sources =
    c.kind === 'pods'
      ? { customMetrics: podCustomMetrics('qps', c.levels) }
      : c.kind.startsWith('object')
        ? { customMetrics: objectMetric('qps', c.levels[0]!) }
        : { externalMetrics: externalMetric('qps', c.levels) };
  return makeRequest(c.current, { metrics: [metric] }, {
    pods: makePods({ count: c.pods ?? c.current, requests: one(c.pods ?? c.current), readiness: c.readiness, hot: c.hot }),
    ...sources,
  });
}

describe('replica calculator: Pods, Object and External metrics (replica_calculator_test.go)', () => {
  it.each(metricCases.map((c) => [c.test, c] as const))('%s', (_name, c) => {
    const out = recommend(parseRecommendInput(metricRequest(c)));
    expect(out.metrics).toHaveLength(1);
    expect(out.metrics[0]!.proposal).toBe(c.expected);
    if (c.usage !== undefined) expect(out.metrics[0]!.currentAverageValue).toBe(`${c.usage % 1000 === 0 ? c.usage / 1000 : `${c.usage}m`}`);
  });

  it('external metric values are summed over the items the selector matches', () => {
    const req = metricRequest({ test: 'selector', kind: 'external', current: 2, expected: 0, levels: [], target: 1000 });
    req.externalMetrics = [
      ...externalMetric('qps', [3000]),
      ...externalMetric('qps', [2500], { label: 'value', zone: 'b' }),
      ...externalMetric('qps', [99000], { label: 'other' }),
    ];
    const out = recommend(parseRecommendInput(req));
    // (3000 + 2500) / 1000 = 5.5 × 2 ready pods -> 11
    expect(out.metrics[0]!.proposal).toBe(11);
  });
});

// TestGroupPods runs with the upstream test timings: 2-minute CPU initialization, 10 s readiness delay.
const testingConfig: CalculatorConfig = {
  now: NOW,
  tolerances: { scaleUp: 0.1, scaleDown: 0.1 },
  cpuInitializationPeriodMs: 2 * 60_000,
  delayOfInitialReadinessMs: 10_000,
};
const ms = (secondsAgo: number) => NOW - secondsAgo * 1000;

function pod(name: string, status: Pod['status'], deletionTimestamp?: number): Pod {
  return { metadata: { name, deletionTimestamp }, spec: { containers: [] }, status };
}
const sample = (timestamp = NOW, windowMs = 60_000) => ({ value: 1, timestamp, windowMs });

describe('groupPods (TestGroupPods)', () => {
  const cases: { name: string; pods: Pod[]; samples: PodSamples; resource: string; ready: number; unready: string[]; missing: string[]; ignored: string[] }[] = [
    { name: 'void', pods: [], samples: new Map(), resource: 'cpu', ready: 0, unready: [], missing: [], ignored: [] },
    { name: 'count in a ready pod - memory', pods: [pod('bentham', { phase: 'Succeeded' })], samples: new Map([['bentham', sample()]]), resource: 'memory', ready: 1, unready: [], missing: [], ignored: [] },
    { name: 'unready a pod without ready condition - CPU', pods: [pod('lucretius', { phase: 'Succeeded', startTime: NOW })], samples: new Map([['lucretius', sample(0, 0)]]), resource: 'cpu', ready: 0, unready: ['lucretius'], missing: [], ignored: [] },
    {
      name: 'count in a ready pod with fresh metrics during initialization period - CPU',
      pods: [pod('bentham', { phase: 'Succeeded', startTime: ms(60), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ms(30) }] })],
      samples: new Map([['bentham', sample(NOW, 30_000)]]),
      resource: 'cpu', ready: 1, unready: [], missing: [], ignored: [],
    },
    {
      name: 'unready a ready pod without fresh metrics during initialization period - CPU',
      pods: [pod('bentham', { phase: 'Succeeded', startTime: ms(60), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ms(30) }] })],
      samples: new Map([['bentham', sample(NOW, 60_000)]]),
      resource: 'cpu', ready: 0, unready: ['bentham'], missing: [], ignored: [],
    },
    {
      name: 'unready an unready pod during initialization period - CPU',
      pods: [pod('lucretius', { phase: 'Succeeded', startTime: ms(600), conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: ms(594) }] })],
      samples: new Map([['lucretius', sample(0, 0)]]),
      resource: 'cpu', ready: 0, unready: ['lucretius'], missing: [], ignored: [],
    },
    {
      name: 'count in a ready pod without fresh metrics after initialization period - CPU',
      pods: [pod('bentham', { phase: 'Succeeded', startTime: ms(180), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ms(180) }] })],
      samples: new Map([['bentham', sample(ms(120), 60_000)]]),
      resource: 'cpu', ready: 1, unready: [], missing: [], ignored: [],
    },
    {
      name: 'count in an unready pod that was ready after initialization period - CPU',
      pods: [pod('lucretius', { phase: 'Succeeded', startTime: ms(600), conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: ms(540) }] })],
      samples: new Map([['lucretius', sample(0, 0)]]),
      resource: 'cpu', ready: 1, unready: [], missing: [], ignored: [],
    },
    {
      name: 'unready pod that has never been ready after initialization period - CPU',
      pods: [pod('lucretius', { phase: 'Succeeded', startTime: ms(600), conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: ms(590) }] })],
      samples: new Map([['lucretius', sample(0, 0)]]),
      resource: 'cpu', ready: 1, unready: [], missing: [], ignored: [],
    },
    { name: 'a missing pod', pods: [pod('epicurus', { phase: 'Succeeded', startTime: ms(180) })], samples: new Map(), resource: 'cpu', ready: 0, unready: [], missing: ['epicurus'], ignored: [] },
    { name: 'pending pods are unreadied', pods: [pod('unscheduled', { phase: 'Pending' })], samples: new Map(), resource: 'cpu', ready: 0, unready: ['unscheduled'], missing: [], ignored: [] },
    { name: 'ignore pods with deletion timestamps', pods: [pod('deleted', { phase: 'Pending' }, 1000)], samples: new Map([['deleted', sample()]]), resource: 'cpu', ready: 0, unready: [], missing: [], ignored: ['deleted'] },
    { name: 'ignore pods in a failed state', pods: [pod('failed', { phase: 'Failed' })], samples: new Map([['failed', sample()]]), resource: 'cpu', ready: 0, unready: [], missing: [], ignored: ['failed'] },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const g = groupPods(c.pods, c.samples, c.resource, testingConfig);
    expect(g.readyPodCount).toBe(c.ready);
    expect([...g.unready].sort()).toEqual(c.unready);
    expect([...g.missing].sort()).toEqual(c.missing);
    expect([...g.ignored].sort()).toEqual(c.ignored);
  });
});

describe('calculateRequests (TestCalculatePodRequests)', () => {
  const twoContainers: Pod = {
    metadata: { name: 'test-pod' },
    spec: {
      containers: [
        { name: 'container1', resources: { requests: { cpu: 100 } } },
        { name: 'container2', resources: { requests: { cpu: 50 } } },
      ],
    },
  };
  it('pod with regular containers', () => {
    expect(calculateRequests([twoContainers], undefined, 'cpu')).toEqual(new Map([['test-pod', 150]]));
  });
  it('calculate requests with special container', () => {
    expect(calculateRequests([twoContainers], 'container1', 'cpu')).toEqual(new Map([['test-pod', 100]]));
  });
  it('container missing requests', () => {
    const p: Pod = { metadata: { name: 'test-pod' }, spec: { containers: [{ name: 'container1' }] } };
    expect(() => calculateRequests([p], undefined, 'cpu')).toThrow('missing request for cpu in container container1 of Pod test-pod');
  });
  it('pod with restartable init containers', () => {
    const p: Pod = {
      metadata: { name: 'test-pod' },
      spec: {
        containers: [{ name: 'container1', resources: { requests: { cpu: 100 } } }],
        initContainers: [
          { name: 'init-container1', resources: { requests: { cpu: 20 } } },
          { name: 'restartable-container1', restartPolicy: 'Always', resources: { requests: { cpu: 50 } } },
        ],
      },
    };
    expect(calculateRequests([p], undefined, 'cpu')).toEqual(new Map([['test-pod', 150]]));
  });
});
