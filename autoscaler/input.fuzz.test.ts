// Property tests of the autoscaler's input parsers and CRD policy checks:
// valid inputs with parts replaced by edge values (and arbitrary JSON) are
// either parsed or refused with an InputError naming the field, never
// crashing; what parses also runs through the decision without a crash.
// policyIssues answers a list for any object and never throws. Fixed seed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../core/errors.ts';
import { parseRecommendInput } from './pods/input.ts';
import { recommend } from './pods/recommend.ts';
import { parseNodePlanInput } from './nodes/input.ts';
import { planNodes } from './nodes/plan.ts';
import { policyIssues, type PolicyKind } from './kube/policies.ts';
import { cpuUtilization, levels, makePodMetrics, makePods, makeRequest } from './pods/fixtures.ts';
import { group, node, planInput, pod } from './nodes/test-fixtures.ts';
import { FUZZ_SEED, anyJson, mutatedJson } from '../test/helpers/fuzz-requests.ts';

/** Runs a parser on generated input: a value or an InputError, nothing else; counts which. */
function parsesOrRefuses<T>(parse: (raw: unknown) => T, then: (parsed: T) => unknown, input: unknown, counts: { parsed: number; refused: number }): void {
  let parsed: T;
  try {
    parsed = parse(input);
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`${(e as Error).stack}\ninput: ${JSON.stringify(input)?.slice(0, 400)}`);
    expect(e.field).toBeTruthy();
    counts.refused++;
    return;
  }
  counts.parsed++;
  try {
    then(parsed);
  } catch (e) {
    // A decision may refuse input that parses (e.g. a metric it cannot compute), but only as an InputError.
    if (!(e instanceof InputError)) throw new Error(`${(e as Error).stack}\ninput: ${JSON.stringify(input)?.slice(0, 400)}`);
  }
}

const recommendBase = makeRequest(3, { metrics: [cpuUtilization(50)] }, { pods: makePods({ count: 3, requests: ['1.0', '1.0', '1.0'] }), podMetrics: makePodMetrics(levels(400, 500, 600)) });
const nodePlanBase = planInput({
  nodeGroups: [group('pool-a', 1, 5, { cpu: '4', memory: '16Gi', pods: 110 })],
  nodes: [node('n1', { group: 'pool-a' })],
  pods: [pod('p1', { cpu: '500m', memory: '1Gi', node: 'n1' }), pod('pending', { cpu: '3', memory: '2Gi' })],
});

describe('autoscaler inputs under generated input', () => {
  it('the pod recommender input: parsed or refused naming the field, never a crash', () => {
    const counts = { parsed: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutatedJson(recommendBase) }, { weight: 1, arbitrary: anyJson }), (input) => parsesOrRefuses(parseRecommendInput, recommend, input, counts)),
      { seed: FUZZ_SEED, numRuns: 300 },
    );
    expect(counts.parsed).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  });

  it('the node plan input: parsed or refused naming the field, never a crash', () => {
    const counts = { parsed: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutatedJson(nodePlanBase) }, { weight: 1, arbitrary: anyJson }), (input) => parsesOrRefuses(parseNodePlanInput, (p) => planNodes(p), input, counts)),
      { seed: FUZZ_SEED, numRuns: 300 },
    );
    expect(counts.parsed).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
  });

  it.each([
    ['PodAutoscalingPolicy', 'deploy/examples/web-cpu.yaml'],
    ['NodeAutoscalingPolicy', 'deploy/examples/cluster-nodes.yaml'],
  ] as [PolicyKind, string][])('%s CRD checks: a list of issues for any object, never a throw', (kind, file) => {
    const example = parseYaml(readFileSync(file, 'utf8')) as unknown;
    expect(policyIssues(kind, example)).toEqual([]);
    let flagged = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutatedJson(example) }, { weight: 1, arbitrary: anyJson }), (obj) => {
        const issues = policyIssues(kind, obj);
        expect(Array.isArray(issues)).toBe(true);
        for (const i of issues) expect(typeof i.field === 'string' && typeof i.message === 'string').toBe(true);
        if (issues.length > 0) flagged++;
      }),
      { seed: FUZZ_SEED, numRuns: 300 },
    );
    expect(flagged).toBeGreaterThan(0);
  });
});
