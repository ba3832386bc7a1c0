// The `autoscale recommend` I/O shell, called without spawning a process.
import { describe, expect, it } from 'vitest';
import { autoscaleCommand, runRecommend } from '../cli.ts';
import { cpuUtilization, levels, makePodMetrics, makePods, makeRequest } from './fixtures.ts';

const valid = makeRequest(
  3,
  { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(30)] },
  { pods: makePods({ count: 3, requests: ['1', '1', '1'] }), podMetrics: makePodMetrics(levels(300, 500, 700)) },
);

describe('autoscale recommend', () => {
  it('prints the recommendation as JSON and exits 0', () => {
    const out = runRecommend(JSON.stringify(valid));
    expect(out.code).toBe(0);
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toMatchObject({ desiredReplicas: 5, currentReplicas: 3, limitedBy: null });
  });

  it('bad input: exit 2, the field on stderr, nothing on stdout', () => {
    const bad = structuredClone(valid);
    bad.pods![1]!.spec.containers[1]!.resources = { requests: { cpu: '1.5 cores' } };
    const out = runRecommend(JSON.stringify(bad));
    expect(out).toMatchObject({ code: 2, stdout: '' });
    expect(out.stderr).toContain('pods[1].spec.containers[1].resources.requests.cpu');
  });

  it('text that is not JSON: exit 2, nothing on stdout', () => {
    const out = runRecommend('{"now": ');
    expect(out).toMatchObject({ code: 2, stdout: '' });
    expect(out.stderr).toContain('not JSON');
  });

  it('the command tree has autoscale recommend with --input', () => {
    const cmd = autoscaleCommand();
    expect(cmd.name()).toBe('autoscale');
    const rec = cmd.commands.find((c) => c.name() === 'recommend');
    expect(rec?.options.map((o) => o.long)).toContain('--input');
  });
});
