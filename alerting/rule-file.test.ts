import { describe, expect, it } from 'vitest';
import { parseRuleFile, RuleFileError } from './rule-file.ts';

const refuse = (text: string) => {
  try {
    parseRuleFile(text, 'r.yml');
  } catch (e) {
    expect(e).toBeInstanceOf(RuleFileError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe("rule files in Prometheus' format", () => {
  it('reads groups, intervals, limits and both kinds of rule', () => {
    const [g] = parseRuleFile(
      'groups:\n- name: node\n  interval: 30s\n  limit: 10\n  rules:\n  - record: r:x\n    expr: sum(x)\n  - alert: A\n    expr: x > 1\n    for: 5m\n    keep_firing_for: 1m\n',
      'r.yml',
    );
    expect(g).toMatchObject({ file: 'r.yml', name: 'node', intervalMs: 30_000, limit: 10 });
    expect(g!.rules.map((r) => [r.kind, r.name])).toEqual([['record', 'r:x'], ['alert', 'A']]);
    expect(g!.rules[1]).toMatchObject({ forMs: 300_000, keepFiringForMs: 60_000 });
  });

  it('refuses bad files naming the file, the group and the rule', () => {
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n')).toMatch(/^r\.yml: 5:11: group "g", rule 1, "A": could not parse expression/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: x\n')).toMatch(/rule 1, "b": only one of 'record' and 'alert' must be set/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    annotations:\n      s: "{{ $labels.x"\n')).toMatch(/group "g", rule 1, "A": annotation "s": template: __alert_A:1: unclosed action/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - record: "bad name"\n    expr: x\n')).toMatch(/invalid recording rule name: bad name/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - record: r\n    expr: x\n    for: 1m\n')).toMatch(/invalid field 'for' in recording rule/);
    expect(refuse('groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n')).toMatch(/groupname: "g" is repeated in the same file/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    bogus: 1\n')).toMatch(/field bogus not found/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    for: 5 minutes\n')).toMatch(/rule 1, "A": for:/);
    expect(refuse('groups: [\n')).toMatch(/^r\.yml: yaml:/);
    expect(refuse('groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    labels:\n      __name__: y\n')).toMatch(/invalid label name: __name__/);
  });
});
