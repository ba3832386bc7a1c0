import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodesCommand, runPlan } from './cli.ts';
import { group, node, planInput, pod } from './test-fixtures.ts';

const workers = group('workers', 0, 10, { cpu: '4', memory: '16Gi', pods: 110 });

function withPod(mutate: (p: Record<string, any>) => void): string {
  const pods = [pod('a', { cpu: '1', memory: '1Gi' }), pod('b', { cpu: '1', memory: '1Gi' }), pod('c', { cpu: '1', memory: '1Gi' })];
  mutate(pods[2] as Record<string, any>);
  return JSON.stringify(planInput({ nodeGroups: [workers], pods }));
}

describe('tidemark nodes plan', () => {
  it('prints the plan as JSON with every output field', () => {
    const r = runPlan(JSON.stringify(planInput({ nodeGroups: [workers], nodes: [node('base')], pods: [pod('big', { cpu: '6', memory: '1Gi' })] })));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['fitsExistingNodes', 'kept', 'scaleDown', 'scaleUp', 'unneededSince', 'unschedulable']);
    expect(out.unschedulable).toEqual([{ pod: 'default/big', reason: "fits no node group's template (workers: requests cpu 6 > node 4)" }]);
    expect(out.kept).toEqual([{ node: 'base', code: 'not-autoscaler-added', reason: expect.stringContaining('not added by the autoscaler') }]);
  });

  const bad: Array<[string, string, string]> = [
    ['a memory request that is not a quantity', withPod((p) => (p.spec.containers[0].resources.requests.memory = '1 gig')), 'pods[2].spec.containers[0].resources.requests.memory'],
    ['a cpu request of the wrong type', withPod((p) => (p.spec.containers[0].resources.requests.cpu = true)), 'pods[2].spec.containers[0].resources.requests.cpu'],
    ['a pod without containers', withPod((p) => delete p.spec.containers), 'pods[2].spec.containers'],
    ['an unknown toleration operator', withPod((p) => (p.spec.tolerations = [{ key: 'k', operator: 'Matches' }])), 'pods[2].spec.tolerations[0].operator'],
    ['a bad time', JSON.stringify(planInput({ now: 'yesterday' })), 'now'],
    ['an unknown expander', JSON.stringify(planInput({ options: { expander: 'cheapest' } })), 'options.expander'],
    ['a bad unneeded time', JSON.stringify(planInput({ options: { scaleDownUnneededTime: 'ten minutes' } })), 'options.scaleDownUnneededTime'],
    ['priority without a table', JSON.stringify(planInput({ options: { expander: 'priority' } })), 'options.priorities'],
    ['minSize above maxSize', JSON.stringify(planInput({ nodeGroups: [group('g', 5, 2, { cpu: '1', memory: '1Gi', pods: 10 })] })), 'nodeGroups[0].minSize'],
    ['a template without memory', JSON.stringify(planInput({ nodeGroups: [{ name: 'g', minSize: 0, maxSize: 1, template: { capacity: { cpu: '1', pods: 10 } } }] })), 'nodeGroups[0].template.capacity.memory'],
    ['a node without cpu', JSON.stringify(planInput({ nodes: [{ ...node('n'), status: { capacity: { memory: '1Gi' } } }] })), 'nodes[0].status.allocatable.cpu'],
    ['a node without creationTimestamp', JSON.stringify(planInput({ nodes: [{ ...node('n'), metadata: { name: 'n' } }] })), 'nodes[0].metadata.creationTimestamp'],
    ['a percentage that is not one', JSON.stringify(planInput({ pdbs: [{ metadata: { name: 'p' }, spec: { maxUnavailable: 'half' } }] })), 'pdbs[0].spec.maxUnavailable'],
    ['a negative quota', JSON.stringify(planInput({ quotas: { maxNodesPerCluster: -1 } })), 'quotas.maxNodesPerCluster'],
  ];
  for (const [name, text, field] of bad) {
    it(`exits 2 naming the field for ${name}, with nothing on stdout`, () => {
      const r = runPlan(text);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith(`${field}: `)).toBe(true);
    });
  }

  it('exits 2 on text that is not JSON', () => {
    const r = runPlan('{"now":');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('not JSON');
  });
});

describe('nodesCommand', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  async function run(args: string[]): Promise<{ out: string; err: string; code: number | string | undefined }> {
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    await nodesCommand().parseAsync(['node', 'nodes', ...args]);
    return { out, err, code: process.exitCode };
  }

  it('plans from --input FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'node-plan-'));
    const file = join(dir, 'in.json');
    writeFileSync(file, JSON.stringify(planInput({ nodeGroups: [workers], pods: [pod('w-0', { cpu: '1', memory: '1Gi' })] })));
    const r = await run(['plan', '--input', file]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).scaleUp).toEqual([{ nodeGroup: 'workers', delta: 1, pods: ['default/w-0'] }]);
  });

  it('exits 2 naming --input when the file cannot be read', async () => {
    const r = await run(['plan', '--input', '/nonexistent/in.json']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.startsWith('--input: ')).toBe(true);
  });
});
