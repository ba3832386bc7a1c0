// Builders for recommender inputs in the Kubernetes API's shapes, mirroring
// the harness of Kubernetes' replica_calculator_test.go (pods "test-pod-N"
// with two containers, one PodMetrics per level row), so that upstream test
// tables can be written down as data. Used by tests and the benchmark.
import type { RecommendRequest } from './input.ts';

export const NOW = Date.parse('2026-11-23T10:00:00Z');
export const iso = (ms: number): string => new Date(ms).toISOString();
export const ago = (seconds: number): string => iso(NOW - seconds * 1000);

type Readiness = 'True' | 'False';
type Phase = 'Running' | 'Pending' | 'Failed' | 'Succeeded';

export interface PodsSpec {
  count: number;
  /** Per pod, the request of EACH of its two containers (as upstream's harness does). */
  requests?: string[];
  resource?: string;
  readiness?: Readiness[];
  phase?: Phase[];
  deleting?: boolean[];
  /** "Hot" pods started 1 minute ago, inside the 5-minute CPU initialization period. */
  hot?: boolean[];
}

const podName = (i: number) => `test-pod-${i}`;

/** Pods as the upstream harness builds them, with Tidemark's production timings in place of the test ones. */
export function makePods(spec: PodsSpec): NonNullable<RecommendRequest['pods']> {
  const resource = spec.resource ?? 'cpu';
  return Array.from({ length: spec.count }, (_, i) => {
    const ready = spec.readiness?.[i] ?? 'True';
    const hot = spec.hot?.[i] ?? false;
    const start = hot ? 60 : 600;
    // A hot pod became ready 30 s ago, less than one metric window before its sample; a cold
    // unready pod has been unready since it started, i.e. it has never been ready.
    const transition = hot ? 30 : ready === 'True' ? start - 5 : start;
    const request = spec.requests?.[i];
    const resources = request === undefined ? {} : { requests: { [resource]: request } };
    return {
      metadata: { name: podName(i), ...(spec.deleting?.[i] ? { deletionTimestamp: ago(1) } : {}) },
      spec: {
        containers: [
          { name: 'container1', resources },
          { name: 'container2', resources },
        ],
      },
      status: {
        phase: spec.phase?.[i] ?? 'Running',
        startTime: ago(start),
        conditions: [{ type: 'Ready', status: ready, lastTransitionTime: ago(transition) }],
      },
    };
  });
}

/** upstream makePodMetricLevels: the same level in both containers of each pod. */
export const levels = (...perContainer: number[]): number[][] => perContainer.map((v) => [v, v]);

export function makePodMetrics(rows: number[][], resource = 'cpu', names?: string[]): NonNullable<RecommendRequest['podMetrics']> {
  return rows.map((row, i) => ({
    metadata: { name: names?.[i] ?? podName(i) },
    timestamp: ago(10),
    window: '1m0s',
    containers: row.map((v, j) => ({ name: `container${j + 1}`, usage: { [resource]: `${v}m` } })),
  }));
}

export function podCustomMetrics(name: string, values: number[]): NonNullable<RecommendRequest['customMetrics']> {
  return values.map((v, i) => ({
    describedObject: { kind: 'Pod', name: podName(i) },
    metric: { name },
    timestamp: ago(10),
    value: `${v}m`,
  }));
}

export function objectMetric(name: string, value: number): NonNullable<RecommendRequest['customMetrics']> {
  return [
    { describedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'some-deployment' }, metric: { name }, timestamp: ago(10), value: `${value}m` },
  ];
}

export function externalMetric(name: string, values: number[], labels: Record<string, string> = { label: 'value' }) {
  return values.map((v) => ({ metricName: name, metricLabels: labels, timestamp: ago(10), value: `${v}m` }));
}

type HpaSpec = Partial<NonNullable<RecommendRequest['hpa']>['spec']>;

/** An HPA with wide bounds so the metric's own proposal shows through. */
export function makeRequest(current: number, spec: HpaSpec, rest: Partial<RecommendRequest> = {}): RecommendRequest {
  return {
    now: iso(NOW),
    hpa: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'test-hpa', namespace: 'test-namespace' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'test-rc' },
        minReplicas: 1,
        maxReplicas: 1000,
        ...spec,
      },
      status: { currentReplicas: current },
    },
    ...rest,
  };
}

export const cpuUtilization = (target: number) => ({
  type: 'Resource' as const,
  resource: { name: 'cpu', target: { type: 'Utilization' as const, averageUtilization: target } },
});
