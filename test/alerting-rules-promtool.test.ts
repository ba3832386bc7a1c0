// `tidemark rules check` and `tidemark rules test` against Debian's promtool
// (2.42) on the same files, passing and failing: the verdicts agree. Exit
// codes: both 0 on success and 1 on a failed test; on a file that does not
// parse Tidemark exits 2 as the issue asks, where promtool 2.42 exits 1
// (both refuse it). The ready-made rules of alerting/rules/ are checked by
// both, and their unit tests pass under both.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkRuleFiles, testRuleFiles } from '../alerting/cli.ts';
import { requireBinary } from './helpers/peers.ts';

const promtool = requireBinary('prometheus', 'promtool');
const FIXTURES = join(import.meta.dirname, 'fixtures', 'rules');
const READY = join(import.meta.dirname, '..', 'alerting', 'rules');

function promtoolRun(args: string[], cwd: string): number {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8' });
  return r.status ?? -1;
}

const verdict = (code: number) => (code === 0 ? 'pass' : code === 1 ? 'fail' : 'unparsable');

describe('tidemark rules test agrees with promtool test rules', () => {
  const cases: [string, 'pass' | 'fail' | 'unparsable'][] = [
    ['pass.test.yml', 'pass'],
    ['notation.test.yml', 'pass'],
    ['fail-value.test.yml', 'fail'],
    ['fail-alert.test.yml', 'fail'],
    ['bad-rules.test.yml', 'unparsable'],
    ['unparsable.test.yml', 'unparsable'],
  ];

  it('on passing, failing and unparsable test files', async () => {
    const ours = await testRuleFiles(cases.map(([f]) => join(FIXTURES, f)));
    for (const [i, [file, expected]] of cases.entries()) {
      const theirs = promtoolRun(['test', 'rules', file], FIXTURES);
      const mine = ours.files[i]!;
      expect({ file, promtool: theirs === 0 ? 'pass' : 'not pass' }).toEqual({ file, promtool: expected === 'pass' ? 'pass' : 'not pass' });
      expect({ file, tidemark: verdict(mine.code) }, mine.output).toEqual({ file, tidemark: expected });
      if (expected !== 'unparsable') expect(mine.code, file).toBe(theirs);
    }
    // The failure report names what differed, as promtool's does.
    expect(ours.files[2]!.output).toContain('exp: {__name__="job:up:sum", job="api"} 2E+00');
    expect(ours.files[2]!.output).toContain('got: {__name__="job:up:sum", job="api"} 1E+00');
    expect(ours.files[3]!.output).toMatch(/alertname: InstanceDown, time: 4m/);
    expect(ours.files[4]!.output).toContain('group "broken", rule 1, "Broken": could not parse expression');
    expect(ours.code).toBe(2);
  }, 300_000);
});

describe('tidemark rules check agrees with promtool check rules', () => {
  it('accepts what promtool accepts and refuses what it refuses, naming file, group and rule', async () => {
    const ready = readdirSync(READY).filter((f) => f.endsWith('.rules.yml')).map((f) => join(READY, f));
    for (const file of [...ready, join(FIXTURES, 'basic.rules.yml')]) {
      expect(promtoolRun(['check', 'rules', file], FIXTURES), file).toBe(0);
      expect((await checkRuleFiles([file])).code, file).toBe(0);
    }
    const broken = join(FIXTURES, 'broken.rules.yml');
    expect(promtoolRun(['check', 'rules', broken], FIXTURES)).toBe(1);
    const r = await checkRuleFiles([broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('broken.rules.yml: 5:11: group "broken", rule 1, "Broken": could not parse expression: 1:16: parse error: unclosed left parenthesis');
  });
});
