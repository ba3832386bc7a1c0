// `autoscale explain`'s pure parts: the policy reference it asks about and
// the text it prints for a decision.
import { describe, expect, it } from 'vitest';
import { autoscaleCommand, formatExplanation } from './cli.ts';
import { parsePolicyRef } from './routes.ts';
import type { DecisionAnswer } from './routes.ts';

const answer: DecisionAnswer = {
  decision: {
    policy: { kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' },
    time: '2026-11-23T10:00:00.250Z',
    action: 'scale',
    fromReplicas: 2,
    toReplicas: 6,
    reason: 'cpu resource utilization (percentage of request) above target',
    output: { desiredReplicas: 6, currentReplicas: 2, limitedBy: null, reason: 'cpu resource utilization (percentage of request) above target', metrics: [{ type: 'Resource', name: 'cpu', proposal: 6, currentAverageUtilization: 300 }] },
    conditions: [{ type: 'AbleToScale', status: 'True', reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 6' }],
  },
  replayed: { desiredReplicas: 6, currentReplicas: 2, limitedBy: null, reason: 'same', metrics: [] },
  reproducible: true,
};

describe('autoscale explain', () => {
  it('prints time, current → desired, limitedBy, reason, each proposal and the replay', () => {
    const text = formatExplanation(answer);
    expect(text).toContain('PodAutoscalingPolicy shop/web');
    expect(text).toContain('time       2026-11-23T10:00:00.250Z');
    expect(text).toContain('replicas   2 → 6');
    expect(text).toContain('limitedBy  none');
    expect(text).toContain('Resource cpu: proposal 6, current 300% of request');
    expect(text).toContain('replay     reproduces 6 replicas');
  });

  it('says so when the replay differs or is impossible', () => {
    expect(formatExplanation({ ...answer, reproducible: false, replayed: { ...answer.replayed!, desiredReplicas: 4 } })).toContain('DIFFERS: the stored inputs now give 4 replicas');
    expect(formatExplanation({ decision: answer.decision, reproducible: false, replayError: 'pods[0]: bad' })).toContain('replay     impossible: pods[0]: bad');
  });

  it('takes namespace/name for pod policies and a bare name for node policies, naming the field otherwise', () => {
    expect(parsePolicyRef('shop/web', 'PodAutoscalingPolicy')).toEqual({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' });
    expect(parsePolicyRef('cluster', 'NodeAutoscalingPolicy')).toEqual({ kind: 'NodeAutoscalingPolicy', name: 'cluster' });
    expect(() => parsePolicyRef('web', 'PodAutoscalingPolicy')).toThrow(/^policy: "web" is not namespace\/name/);
    expect(() => parsePolicyRef('a/b/c', 'PodAutoscalingPolicy')).toThrow(/policy/);
    expect(() => parsePolicyRef('x/cluster', 'NodeAutoscalingPolicy')).toThrow(/cluster-scoped/);
  });

  it('is a subcommand with --at, --url and --json', () => {
    const explain = autoscaleCommand().commands.find((c) => c.name() === 'explain');
    expect(explain?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--at', '--url', '--json']));
  });
});
