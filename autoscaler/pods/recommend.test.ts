import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.ts';
import {
  NOW,
  ago,
  cpuUtilization,
  externalMetric,
  levels,
  makePodMetrics,
  makePods,
  makeRequest,
  podCustomMetrics,
} from './fixtures.ts';
import { parseRecommendInput, type RecommendRequest } from './input.ts';
import { recommend, recommendWithTrace } from './recommend.ts';

const one = (n: number) => Array.from({ length: n }, () => '1.0');
const run = (req: RecommendRequest) => recommend(parseRecommendInput(req));

/** CPU-only workload: `usage` is each container's millicores, 1 core requested per container. */
function cpuWorkload(current: number, usage: number[], spec: Parameters<typeof makeRequest>[1], rest: Partial<RecommendRequest> = {}) {
  return makeRequest(current, spec, {
    pods: makePods({ count: current, requests: one(current) }),
    podMetrics: makePodMetrics(levels(...usage)),
    ...rest,
  });
}

const qpsExternal = (value: string, activationThreshold?: string) => ({
  type: 'External' as const,
  external: { metric: { name: 'queue_depth' }, target: { type: 'Value' as const, value } },
  ...(activationThreshold ? { tidemark: { activationThreshold } } : {}),
});

describe('whole-controller cases (horizontal_test.go)', () => {
  it('TestScaleUp: 3 pods at 50% of a 30% target -> 5', () => {
    const out = run(cpuWorkload(3, [300, 500, 700], { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(30)] }));
    expect(out).toMatchObject({ desiredReplicas: 5, currentReplicas: 3, limitedBy: null });
    expect(out.metrics).toEqual([{ type: 'Resource', name: 'cpu', proposal: 5, currentAverageUtilization: 50, currentAverageValue: '1' }]);
    expect(out.reason).toContain('cpu resource utilization (percentage of request) above target');
  });

  it('TestScaleDown: 5 pods at 28% of a 50% target -> 3', () => {
    const out = run(cpuWorkload(5, [100, 300, 500, 250, 250], { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(50)] }));
    expect(out).toMatchObject({ desiredReplicas: 3, limitedBy: null });
    expect(out.reason).toContain('All metrics below target');
  });

  it('TestScaleUpRCImmediately: below minReplicas scales to the minimum without reading metrics', () => {
    const out = run(cpuWorkload(1, [0], { minReplicas: 2, maxReplicas: 6 }));
    expect(out).toMatchObject({ desiredReplicas: 2, limitedBy: 'minReplicas', metrics: [] });
  });

  it('TestScaleDownRCImmediately: above maxReplicas scales to the maximum', () => {
    const out = run(cpuWorkload(6, [8000, 9500, 1000], { minReplicas: 2, maxReplicas: 5, metrics: [cpuUtilization(50)] }));
    expect(out).toMatchObject({ desiredReplicas: 5, limitedBy: 'maxReplicas' });
  });

  it('TestScaleUpOneMetricEmpty: one unreadable metric does not block a scale-up', () => {
    const out = run(cpuWorkload(3, [300, 400, 500], { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(30), qpsExternal('100m')] }));
    expect(out.desiredReplicas).toBe(4);
    expect(out.metrics.map((m) => m.name)).toEqual(['cpu']);
  });

  it('TestNoScaleDownOneMetricEmpty: one unreadable metric blocks a scale-down', () => {
    const { recommendation, failures } = recommendWithTrace(
      parseRecommendInput(cpuWorkload(5, [100, 300, 500, 250, 250], { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(50), qpsExternal('1')] })),
    );
    expect(recommendation.desiredReplicas).toBe(5);
    expect(recommendation.reason).toContain('invalid metrics (1 invalid out of 2)');
    expect(failures[0]?.reason).toBe('FailedGetExternalMetric');
  });

  it('the largest proposal over several metrics wins', () => {
    const req = cpuWorkload(4, [600, 600, 600, 600], {
      metrics: [cpuUtilization(50), { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } } }],
    });
    req.customMetrics = podCustomMetrics('qps', [20000, 20000, 15000, 15000]);
    const out = run(req);
    expect(out.metrics.map((m) => m.proposal)).toEqual([5, 7]);
    expect(out.desiredReplicas).toBe(7);
    expect(out.reason).toContain('pods metric qps above target');
  });

  it('an HPA without metrics is defaulted to 80% CPU, as the API server does', () => {
    const out = run(cpuWorkload(2, [1600, 1600], {}));
    expect(out.metrics[0]).toMatchObject({ name: 'cpu', currentAverageUtilization: 160, proposal: 4 });
  });
});

describe('autoscaling disabled at zero replicas', () => {
  it('current 0 with minReplicas > 0 recommends 0 and does not scale', () => {
    const out = run(makeRequest(0, { minReplicas: 1, metrics: [cpuUtilization(50)] }));
    expect(out).toEqual({
      desiredReplicas: 0,
      currentReplicas: 0,
      metrics: [],
      limitedBy: null,
      reason: 'scaling is disabled since the replica count of the target is zero',
    });
  });
});

describe('normalization inside the recommender', () => {
  it('without behavior: the highest recommendation of the last 5 minutes holds a scale-down', () => {
    const out = run(
      cpuWorkload(5, [100, 300, 500, 250, 250], { minReplicas: 1, metrics: [cpuUtilization(50)] }, {
        history: { recommendations: [{ time: ago(240), replicas: 5 }, { time: ago(400), replicas: 9 }], scaleEvents: [] },
      }),
    );
    expect(out).toMatchObject({ desiredReplicas: 5, limitedBy: 'stabilizationWindow' });
  });

  it('without behavior: scale-up is capped at max(2 x current, 4)', () => {
    const out = run(cpuWorkload(3, [2000, 2000, 2000], { maxReplicas: 100, metrics: [cpuUtilization(20)] }));
    expect(out.metrics[0]!.proposal).toBe(30);
    expect(out).toMatchObject({ desiredReplicas: 6, limitedBy: 'scaleUpPolicy' });
  });

  it('with behavior {}: API defaults allow +100% or +4 pods per 15 s', () => {
    const out = run(cpuWorkload(10, Array.from({ length: 10 }, () => 2500), { metrics: [cpuUtilization(50)], behavior: {} }));
    expect(out.metrics[0]!.proposal).toBe(50);
    expect(out).toMatchObject({ desiredReplicas: 20, limitedBy: 'scaleUpPolicy' });
  });

  it('with behavior: recent scale events count against the policy period', () => {
    const out = run(
      cpuWorkload(10, Array.from({ length: 10 }, () => 2500), { metrics: [cpuUtilization(50)], behavior: {} }, {
        history: { recommendations: [], scaleEvents: [{ time: ago(10), replicaChange: 5 }] },
      }),
    );
    // The period began at 5 replicas: max(5 + 4, 5 × 2) = 10.
    expect(out).toMatchObject({ desiredReplicas: 10, limitedBy: 'scaleUpPolicy' });
  });

  it('with behavior: the default 300 s scale-down window holds the recent maximum', () => {
    const out = run(
      cpuWorkload(5, [100, 300, 500, 250, 250], { metrics: [cpuUtilization(50)], behavior: { scaleUp: { stabilizationWindowSeconds: 0 } } }, {
        history: { recommendations: [{ time: ago(200), replicas: 4 }], scaleEvents: [] },
      }),
    );
    expect(out).toMatchObject({ desiredReplicas: 4, limitedBy: 'stabilizationWindow' });
  });

  it('with behavior: minReplicas clamps a scale-down', () => {
    const out = run(
      cpuWorkload(5, [10, 10, 10, 10, 10], { minReplicas: 2, metrics: [cpuUtilization(50)], behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } }),
    );
    expect(out).toMatchObject({ desiredReplicas: 2, limitedBy: 'minReplicas' });
  });
});

describe('Tidemark extensions (opt-in)', () => {
  it('per-direction tolerance: a 5% scale-up tolerance reacts to 108% of target where the default does not', () => {
    const spec = { metrics: [cpuUtilization(100)] };
    const usage = [1080, 1080, 1080];
    expect(run(cpuWorkload(3, usage, { ...spec, behavior: {} })).desiredReplicas).toBe(3);
    expect(run(cpuWorkload(3, usage, { ...spec, behavior: { scaleUp: { tolerance: '0.05' } } })).desiredReplicas).toBe(4);
  });

  it('per-direction tolerance: a 20% scale-down tolerance holds at 85% of target', () => {
    const usage = Array.from({ length: 10 }, () => 850);
    const down = { stabilizationWindowSeconds: 0 };
    expect(run(cpuWorkload(10, usage, { metrics: [cpuUtilization(100)], behavior: { scaleDown: down } })).desiredReplicas).toBe(9);
    expect(run(cpuWorkload(10, usage, { metrics: [cpuUtilization(100)], behavior: { scaleDown: { ...down, tolerance: '200m' } } })).desiredReplicas).toBe(10);
  });

  const zeroSpec = (extra: object = {}) => ({
    minReplicas: 1,
    metrics: [qpsExternal('10', '0')],
    tidemark: { minReplicas: 0 as const },
    behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    ...extra,
  });

  it('scale to zero: an idle activation metric takes the workload to 0', () => {
    const req = makeRequest(3, zeroSpec(), { pods: makePods({ count: 3 }), externalMetrics: externalMetric('queue_depth', [0], {}) });
    const out = run(req);
    expect(out.desiredReplicas).toBe(0);
    expect(out.reason).toContain('inactive');
  });

  it('scale to zero is off by default: the same HPA without spec.tidemark stays at minReplicas', () => {
    const { tidemark: _omit, ...plain } = zeroSpec();
    const metrics = [qpsExternal('10')];
    const req = makeRequest(3, { ...plain, metrics }, { pods: makePods({ count: 3 }), externalMetrics: externalMetric('queue_depth', [0], {}) });
    expect(run(req)).toMatchObject({ desiredReplicas: 1, limitedBy: 'minReplicas' });
  });

  it('scale to zero: the scale-down stabilization window delays going to zero', () => {
    const req = makeRequest(3, zeroSpec({ behavior: {} }), {
      pods: makePods({ count: 3 }),
      externalMetrics: externalMetric('queue_depth', [0], {}),
      history: { recommendations: [{ time: ago(120), replicas: 3 }], scaleEvents: [] },
    });
    expect(run(req)).toMatchObject({ desiredReplicas: 3, limitedBy: 'stabilizationWindow' });
  });

  it('scale from zero: an active metric brings the workload back to ceil(value / target)', () => {
    const req = makeRequest(0, zeroSpec(), { externalMetrics: externalMetric('queue_depth', [25000], {}) });
    const out = run(req);
    expect(out.desiredReplicas).toBe(3);
    expect(out.reason).toContain('scaling from zero');
  });

  it('scale from zero: at least minReplicas once active', () => {
    const req = makeRequest(0, zeroSpec({ minReplicas: 2 }), { externalMetrics: externalMetric('queue_depth', [1000], {}) });
    expect(run(req)).toMatchObject({ desiredReplicas: 2, limitedBy: 'minReplicas' });
  });

  it('scale from zero: stays at zero while inactive', () => {
    const req = makeRequest(0, zeroSpec(), { externalMetrics: externalMetric('queue_depth', [0], {}) });
    expect(run(req)).toMatchObject({ desiredReplicas: 0, currentReplicas: 0 });
  });

  it('an unreadable activation metric keeps the workload up', () => {
    const req = makeRequest(3, zeroSpec(), { pods: makePods({ count: 3 }) });
    expect(run(req).desiredReplicas).toBe(3);
  });

  it('cooldown: holds a scale-up within scaleUpSeconds of the last scale event', () => {
    const spec = { metrics: [cpuUtilization(50)], tidemark: { cooldown: { scaleUpSeconds: 120 } } };
    const history = { recommendations: [], scaleEvents: [{ time: ago(30), replicaChange: -1 }] };
    const held = run(cpuWorkload(3, [1000, 1000, 1000], spec, { history }));
    expect(held).toMatchObject({ desiredReplicas: 3, limitedBy: 'scaleUpPolicy' });
    expect(held.reason).toContain('cooldown');
    const later = { recommendations: [], scaleEvents: [{ time: ago(200), replicaChange: -1 }] };
    expect(run(cpuWorkload(3, [1000, 1000, 1000], spec, { history: later })).desiredReplicas).toBe(6);
  });
});

describe('input errors name the field', () => {
  const base = () => cpuWorkload(3, [300, 500, 700], { metrics: [cpuUtilization(30)] });
  const fieldOf = (req: unknown): string => {
    try {
      parseRecommendInput(req);
    } catch (err) {
      if (err instanceof InputError) return err.field;
      throw err;
    }
    return '(no error)';
  };

  it('a quantity that does not parse', () => {
    const req = base();
    req.pods = makePods({ count: 4, requests: one(4) });
    req.pods[3]!.spec.containers[0]!.resources = { requests: { cpu: 'lots' } };
    expect(fieldOf(req)).toBe('pods[3].spec.containers[0].resources.requests.cpu');
  });

  it('a missing maxReplicas', () => {
    const req = base() as { hpa: { spec: Record<string, unknown> } };
    delete req.hpa.spec.maxReplicas;
    expect(fieldOf(req)).toBe('hpa.spec.maxReplicas');
  });

  it('a Utilization target without averageUtilization', () => {
    const req = base();
    req.hpa.spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } }];
    expect(fieldOf(req)).toBe('hpa.spec.metrics[0].resource.target.averageUtilization');
  });

  it('a bad time', () => {
    expect(fieldOf({ ...base(), now: 'yesterday' })).toBe('now');
  });

  it('scale to zero without an activation metric', () => {
    const req = base();
    req.hpa.spec.tidemark = { minReplicas: 0 };
    expect(fieldOf(req)).toBe('hpa.spec.tidemark.minReplicas');
  });

  it('a PodMetrics window that is not a duration', () => {
    const req = base();
    req.podMetrics![1]!.window = 'a minute';
    expect(fieldOf(req)).toBe('podMetrics[1].window');
  });

  it('valid input parses to milli-units and epoch milliseconds', () => {
    const input = parseRecommendInput(base());
    expect(input.now).toBe(NOW);
    expect(input.pods[0]!.spec.containers[0]!.resources?.requests?.cpu).toBe(1000);
    expect(input.podMetrics[0]!.window).toBe(60_000);
  });
});
