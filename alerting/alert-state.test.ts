import { describe, expect, it } from 'vitest';
import { parseRuleFile, type AlertingRuleSpec } from './rule-file.ts';
import { alertsToSend, evalAlertingRule, generatorURL, needsSending, recordSeries, RESOLVED_RETENTION_MS, type Alert } from './alert-state.ts';

function rule(extra = ''): AlertingRuleSpec {
  const [g] = parseRuleFile(
    `groups:\n- name: g\n  rules:\n  - alert: High\n    expr: up == 0\n    for: 2m\n${extra}    labels:\n      severity: page\n      where: '{{ $labels.instance }}'\n    annotations:\n      summary: '{{ $labels.instance }} at {{ $value }}'\n`,
    'f.yml',
  );
  return g!.rules[0] as AlertingRuleSpec;
}

const M = 60_000;
const base = { externalLabels: {}, externalURL: 'http://x', limit: 0, restored: true };

function run(r: AlertingRuleSpec, steps: [number, number[]][]): { states: string[]; active: Map<string, Alert>; changes: string[] } {
  let active = new Map<string, Alert>();
  const states: string[] = [];
  const changes: string[] = [];
  for (const [t, values] of steps) {
    const out = evalAlertingRule({ ...base, rule: r, timeMs: t * M, active, vector: values.map((v) => ({ metric: { __name__: 'up', instance: 'a' }, value: v })) });
    active = out.active;
    states.push([...active.values()].map((a) => a.state).join(',') || '-');
    changes.push(...out.changes.map((c) => `${t}:${c.to}`));
  }
  return { states, active, changes };
}

describe('the alert state machine (Prometheus AlertingRule.Eval)', () => {
  it('goes pending, fires after `for`, resolves, and forgets the resolved alert after 15 minutes', () => {
    const { states, changes } = run(rule(), [[0, [0]], [1, [0]], [2, [0]], [3, []], [4, []], [3 + 16, []]]);
    expect(states).toEqual(['pending', 'pending', 'firing', 'inactive', 'inactive', '-']);
    expect(changes).toEqual(['0:pending', '2:firing', '3:resolved']);
  });

  it('drops a pending alert at once when it goes away, without firing', () => {
    const { states, changes } = run(rule(), [[0, [0]], [1, []]]);
    expect(states).toEqual(['pending', '-']);
    expect(changes).toEqual(['0:pending', '1:inactive']);
  });

  it('keeps firing for keep_firing_for after the expression stops returning it', () => {
    const { states } = run(rule('    keep_firing_for: 2m\n'), [[0, [0]], [2, [0]], [3, []], [4, []], [5, []]]);
    expect(states).toEqual(['pending', 'firing', 'firing', 'firing', 'inactive']);
  });

  it('expands labels and annotations with $labels and $value, and names the alert', () => {
    const { active } = run(rule(), [[0, [0.5]]]);
    const a = [...active.values()][0]!;
    expect(a.labels).toEqual({ alertname: 'High', instance: 'a', severity: 'page', where: 'a' });
    expect(a.annotations).toEqual({ summary: 'a at 0.5' });
  });

  it('writes ALERTS and ALERTS_FOR_STATE once restored', () => {
    const out = evalAlertingRule({ ...base, rule: rule(), timeMs: 5 * M, active: new Map(), vector: [{ metric: { instance: 'a' }, value: 1 }] });
    expect(out.series).toEqual([
      { labels: { alertname: 'High', instance: 'a', severity: 'page', where: 'a', __name__: 'ALERTS', alertstate: 'pending' }, value: 1 },
      { labels: { alertname: 'High', instance: 'a', severity: 'page', where: 'a', __name__: 'ALERTS_FOR_STATE' }, value: 300 },
    ]);
    expect(evalAlertingRule({ ...base, restored: false, rule: rule(), timeMs: 0, active: new Map(), vector: [{ metric: {}, value: 1 }] }).series).toEqual([]);
  });

  it('refuses more alerts than the group limit, and a label set twice', () => {
    const vector = [{ metric: { instance: 'a' }, value: 1 }, { metric: { instance: 'b' }, value: 1 }];
    const out = evalAlertingRule({ ...base, limit: 1, rule: rule(), timeMs: 0, active: new Map(), vector });
    expect(out.error).toBe('exceeded limit of 1 with 2 alerts');
    expect(out.active.size).toBe(0);
    const dup = evalAlertingRule({ ...base, rule: rule(), timeMs: 0, active: new Map(), vector: [{ metric: { __name__: 'x', instance: 'a' }, value: 1 }, { metric: { __name__: 'y', instance: 'a' }, value: 1 }] });
    expect(dup.error).toMatch(/same labelset/);
  });

  it('sends firing alerts with endsAt = now + 4 × max(interval, resend delay), re-sends after the resend delay, and sends the resolution', () => {
    const { active } = run(rule(), [[0, [0]], [2, [0]]]);
    const a = [...active.values()][0]!;
    expect(needsSending(a, 2 * M, M)).toBe(true);
    const sent = alertsToSend([a], 2 * M, M, 15_000, 'u');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.startsAt).toBe(2 * M);
    expect(sent[0]!.endsAt).toBe(2 * M + 4 * M);
    expect(alertsToSend([a], 2 * M + 30_000, M, 15_000, 'u')).toHaveLength(0);
    expect(alertsToSend([a], 3 * M + 1, M, 15_000, 'u')).toHaveLength(1);
    a.state = 'inactive';
    a.resolvedAt = 3 * M + 10_000;
    const resolved = alertsToSend([a], 3 * M + 10_000, M, 15_000, 'u');
    expect(resolved[0]!.endsAt).toBe(3 * M + 10_000);
    expect(RESOLVED_RETENTION_MS).toBe(15 * M);
  });

  it("builds generatorURL as Prometheus' TableLinkForExpression does", () => {
    expect(generatorURL('http://p:9090/', 'up == 0')).toBe('http://p:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1');
  });

  it('renames recorded series and applies the rule labels', () => {
    const [g] = parseRuleFile('groups:\n- name: g\n  limit: 1\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n    labels: {team: a}\n', 'f');
    const r = g!.rules[0]!;
    if (r.kind !== 'record') throw new Error('expected a recording rule');
    expect(recordSeries(r, [{ metric: { job: 'x' }, value: 2 }], 0).series).toEqual([{ labels: { job: 'x', __name__: 'job:up:sum', team: 'a' }, value: 2 }]);
    expect(recordSeries(r, [{ metric: { job: 'x' }, value: 2 }, { metric: { job: 'y' }, value: 2 }], 1).error).toBe('exceeded limit of 1 with 2 series');
  });
});
