import { describe, expect, it } from 'vitest';
import { ClusterObjects, parseLabelSelector, labelsMatch } from './cluster-objects.ts';
import { ClusterSimulator } from './simulator.ts';
import { evictionVerdict } from './disruption.ts';

function setup(): { sim: ClusterSimulator; objects: ClusterObjects } {
  const objects = new ClusterObjects();
  const sim = new ClusterSimulator(objects);
  return { sim, objects };
}

describe('ClusterSimulator', () => {
  it('creates pods for replicas, binds those that fit and marks the rest Unschedulable', () => {
    const { sim } = setup();
    sim.addNode({ name: 'n1', cpu: '2', memory: '4Gi' });
    sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 5, cpuRequest: '500m', memoryRequest: '256Mi' });
    const pods = sim.pods('shop');
    expect(pods).toHaveLength(5);
    expect(pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === 'n1')).toHaveLength(4);
    const pending = sim.pendingPods();
    expect(pending).toHaveLength(1);
    const cond = (pending[0]!.status as { conditions: { type: string; status: string; reason?: string }[] }).conditions;
    expect(cond).toContainEqual(expect.objectContaining({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }));
  });

  it('follows replica changes, schedules pending pods onto new nodes and recreates pods of removed nodes', () => {
    const { sim, objects } = setup();
    sim.addNode({ name: 'n1', cpu: '1', memory: '4Gi' });
    sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '256Mi' });
    const dep = objects.get(objects.resourceType('apps', 'v1', 'deployments')!, 'shop', 'web');
    objects.update(objects.resourceType('apps', 'v1', 'deployments')!, { ...dep, spec: { ...(dep.spec as object), replicas: 4 } });
    expect(sim.pods('shop')).toHaveLength(4);
    expect(sim.pendingPods()).toHaveLength(2);
    sim.addNode({ name: 'n2', cpu: '1', memory: '4Gi' });
    expect(sim.pendingPods()).toHaveLength(0);
    objects.delete(objects.resourceType('', 'v1', 'nodes')!, undefined, 'n1');
    expect(sim.pods('shop')).toHaveLength(4);
    expect(sim.pendingPods()).toHaveLength(2);
    const status = objects.get(objects.resourceType('apps', 'v1', 'deployments')!, 'shop', 'web').status as { replicas: number; readyReplicas: number };
    expect(status).toMatchObject({ replicas: 4, readyReplicas: 2 });
  });

  it('spreads a load curve over running pods', () => {
    const { sim } = setup();
    sim.addNode({ name: 'n1', cpu: '8', memory: '8Gi' });
    sim.addWorkload({ namespace: 'a', name: 'w', replicas: 4, cpuRequest: '100m', memoryRequest: '64Mi', load: () => 2, memoryUsage: 1000 });
    const usage = sim.usage();
    expect(usage).toHaveLength(4);
    expect(usage.every((u) => u.cpu === 0.5 && u.memory === 1000)).toBe(true);
  });
});

describe('label selectors and disruption budgets', () => {
  it('parses set-based and equality selectors', () => {
    const r = parseLabelSelector('app in (a, b),tier!=db,!canary,env');
    expect(labelsMatch(r, { app: 'a', env: 'prod' })).toBe(true);
    expect(labelsMatch(r, { app: 'a', env: 'prod', canary: 'y' })).toBe(false);
    expect(labelsMatch(r, { app: 'c', env: 'prod' })).toBe(false);
    expect(labelsMatch(r, { app: 'b', tier: 'db', env: 'x' })).toBe(false);
    expect(() => parseLabelSelector('a in b')).toThrow(/unable to parse/);
  });

  it('refuses an eviction that would take healthy pods below minAvailable or past maxUnavailable', () => {
    const pod = (name: string, ready = true) => ({ metadata: { name, labels: { app: 'x' } }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
    const pods = [pod('a'), pod('b'), pod('c')];
    const min = (v: number | string) => [{ metadata: { name: 'pdb' }, spec: { selector: { matchLabels: { app: 'x' } }, minAvailable: v } }];
    expect(evictionVerdict(pods[0]!, min(2), pods).allowed).toBe(true);
    expect(evictionVerdict(pods[0]!, min(3), pods).allowed).toBe(false);
    expect(evictionVerdict(pods[0]!, min('100%'), pods).allowed).toBe(false);
    const maxU = [{ metadata: { name: 'pdb' }, spec: { selector: { matchLabels: { app: 'x' } }, maxUnavailable: 0 } }];
    expect(evictionVerdict(pods[0]!, maxU, pods)).toMatchObject({ allowed: false, budget: 'pdb' });
    // An unready pod costs the budget nothing.
    expect(evictionVerdict(pod('d', false), maxU, [...pods, pod('d', false)]).allowed).toBe(true);
  });
});
