import { describe, expect, it } from 'vitest';
import { condition, mergeConditions, metricStatus, scalingLimited } from './status.ts';

const T1 = new Date('2026-11-23T10:00:00Z');
const T2 = new Date('2026-11-23T10:05:00Z');

describe('policy status', () => {
  it('keeps lastTransitionTime while a condition keeps its status, and moves it when the status flips', () => {
    const first = mergeConditions(undefined, { AbleToScale: condition.readyForNewScale(), ScalingActive: condition.validMetricFound('cpu') }, T1);
    expect(first.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['AbleToScale', '2026-11-23T10:00:00Z'],
      ['ScalingActive', '2026-11-23T10:00:00Z'],
    ]);
    const second = mergeConditions(first, { AbleToScale: condition.succeededRescale(4), ScalingActive: condition.metricFailure('FailedGetResourceMetric', 'no metrics') }, T2);
    // AbleToScale stays True (reason changes, time does not); ScalingActive flips to False.
    expect(second.find((c) => c.type === 'AbleToScale')).toMatchObject({ reason: 'SucceededRescale', lastTransitionTime: '2026-11-23T10:00:00Z' });
    expect(second.find((c) => c.type === 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric', lastTransitionTime: '2026-11-23T10:05:00Z' });
    // Conditions not mentioned are kept as they were.
    const third = mergeConditions(second, { ScalingLimited: condition.withinRange() }, T2);
    expect(third.map((c) => c.type)).toEqual(['AbleToScale', 'ScalingActive', 'ScalingLimited']);
  });

  it('maps the recommender\'s limit onto the HPA\'s ScalingLimited reasons', () => {
    expect(scalingLimited('maxReplicas')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
    expect(scalingLimited('minReplicas')).toMatchObject({ status: 'True', reason: 'TooFewReplicas' });
    expect(scalingLimited('scaleUpPolicy')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
    expect(scalingLimited('scaleDownPolicy')).toMatchObject({ status: 'True', reason: 'ScaleDownLimit' });
    expect(scalingLimited('stabilizationWindow')).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });
    expect(scalingLimited(null)).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });
  });

  it('writes metric proposals as autoscaling/v2 MetricStatus', () => {
    expect(metricStatus({ type: 'Resource', name: 'cpu', proposal: 3, currentAverageUtilization: 80, currentAverageValue: '400m' } as never)).toEqual({
      type: 'Resource',
      resource: { name: 'cpu', current: { averageUtilization: 80, averageValue: '400m' } },
    });
    expect(metricStatus({ type: 'ContainerResource', name: 'app/cpu', currentAverageUtilization: 50 })).toEqual({
      type: 'ContainerResource',
      containerResource: { name: 'cpu', container: 'app', current: { averageUtilization: 50 } },
    });
    expect(metricStatus({ type: 'External', name: 'queue', currentAverageValue: '30' })).toEqual({ type: 'External', external: { metric: { name: 'queue' }, current: { averageValue: '30' } } });
  });
});
