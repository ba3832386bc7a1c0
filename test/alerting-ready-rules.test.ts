// The ready-made rules in alerting/rules/ (node down, CPU, memory and disk
// pressure, pod crash-looping, workload at its autoscaling maximum, pods
// pending with no node, ingest lag, SLA burn): each has a unit-test file,
// and it passes under `tidemark rules test` and under promtool alike.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { testRuleFiles } from '../alerting/cli.ts';
import { requireBinary } from './helpers/peers.ts';

const READY = join(import.meta.dirname, '..', 'alerting', 'rules');

describe('the ready-made rules', () => {
  it('each rule file has a test file that passes under tidemark and promtool', async () => {
    const rules = readdirSync(READY).filter((f) => f.endsWith('.rules.yml'));
    const tests = readdirSync(READY).filter((f) => f.endsWith('.test.yml'));
    expect(rules.map((f) => f.replace('.rules.yml', '')).sort()).toEqual(tests.map((f) => f.replace('.test.yml', '')).sort());
    const promtool = requireBinary('prometheus', 'promtool');
    for (const t of tests) expect(spawnSync(promtool, ['test', 'rules', t], { cwd: READY }).status, t).toBe(0);
    const ours = await testRuleFiles(tests.map((t) => join(READY, t)));
    for (const f of ours.files) expect(f.code, f.output).toBe(0);
  }, 600_000);
});
