import { describe, expect, it } from 'vitest';
import { parseNodePlanInput } from './input.ts';
import { planNodes, type NodePlan } from './plan.ts';
import { group, node, planInput, pod } from './test-fixtures.ts';

const plan = (parts: Parameters<typeof planInput>[0]): NodePlan => planNodes(parseNodePlanInput(planInput(parts)));
const keptCode = (p: NodePlan, name: string): string | undefined => p.kept.find((k) => k.node === name)?.code;

const workers = group('workers', 0, 10, { cpu: '4', memory: '16Gi', pods: 110 });
const gpu = group('gpu', 0, 5, { cpu: '8', memory: '64Gi', pods: 110 }, {
  labels: { accelerator: 'nvidia' },
  taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
});
const gpuToleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

describe('scale-up', () => {
  it('adds the fewest template nodes that hold the pending pods', () => {
    // 10 pods of 1500m on 4-core nodes: two per node.
    const pods = Array.from({ length: 10 }, (_, i) => pod(`web-${i}`, { cpu: '1500m', memory: '1Gi' }));
    const p = plan({ nodeGroups: [workers], pods });
    expect(p.scaleUp).toEqual([{ nodeGroup: 'workers', delta: 5, pods: pods.map((_, i) => `default/web-${i}`) }]);
    expect(p.unschedulable).toEqual([]);
  });

  it('sums requests over containers and takes the largest init container when it is larger', () => {
    const pods = Array.from({ length: 2 }, (_, i) =>
      pod(`init-${i}`, {
        cpu: '500m',
        memory: '1Gi',
        initContainers: [{ name: 'migrate', resources: { requests: { cpu: '3', memory: '1Gi' } } }],
      }),
    );
    // Effective 3 cores each: only one per 4-core node.
    expect(plan({ nodeGroups: [workers], pods }).scaleUp[0]?.delta).toBe(2);
  });

  it('grows several groups at once when pods need different groups', () => {
    const pods = [
      pod('web-0', { cpu: '1', memory: '1Gi' }),
      pod('web-1', { cpu: '1', memory: '1Gi' }),
      pod('train-0', { cpu: '6', memory: '32Gi', nodeSelector: { accelerator: 'nvidia' }, tolerations: [gpuToleration] }),
    ];
    const p = plan({ nodeGroups: [workers, gpu], pods });
    const byGroup = Object.fromEntries(p.scaleUp.map((s) => [s.nodeGroup, s]));
    expect(byGroup['gpu']).toEqual({ nodeGroup: 'gpu', delta: 1, pods: ['default/train-0'] });
    expect(byGroup['workers']).toEqual({ nodeGroup: 'workers', delta: 1, pods: ['default/web-0', 'default/web-1'] });
  });

  it('spills into the next group when the expander\'s choice reaches its maxSize', () => {
    const spot = group('spot', 0, 2, { cpu: '4', memory: '16Gi', pods: 110 });
    const ondemand = group('ondemand', 0, 10, { cpu: '4', memory: '16Gi', pods: 110 });
    const pods = Array.from({ length: 10 }, (_, i) => pod(`w-${i}`, { cpu: '1500m', memory: '1Gi' }));
    const p = plan({ nodeGroups: [ondemand, spot], pods, options: { expander: 'priority', priorities: { '10': ['^spot$'], '1': ['.*'] } } });
    expect(p.scaleUp.map((s) => [s.nodeGroup, s.delta, s.pods.length])).toEqual([
      ['spot', 2, 4],
      ['ondemand', 3, 6],
    ]);
    expect(p.unschedulable).toEqual([]);
  });

  it('packs extended resources such as GPUs, and keeps GPU pods off groups without them', () => {
    const gpus = group('gpus', 0, 5, { cpu: '32', memory: '128Gi', pods: 110, 'nvidia.com/gpu': 4 });
    const gpuPod = (name: string) => {
      const p = pod(name, { cpu: '1', memory: '1Gi' }) as { spec: { containers: Array<{ resources: { requests: Record<string, string> } }> } };
      p.spec.containers[0]!.resources.requests['nvidia.com/gpu'] = '1';
      return p;
    };
    const pods = Array.from({ length: 6 }, (_, i) => gpuPod(`train-${i}`));
    const p = plan({ nodeGroups: [workers, gpus], pods });
    // cpu alone would fit all six on one 32-core node; four GPUs a node make it two.
    expect(p.scaleUp).toEqual([{ nodeGroup: 'gpus', delta: 2, pods: pods.map((_, i) => `default/train-${i}`) }]);

    const only = plan({ nodeGroups: [workers], pods: [gpuPod('train-x')] });
    expect(only.unschedulable[0]!.reason).toBe("fits no node group's template (workers: requests nvidia.com/gpu 1 > node 0)");

    // An existing node with a free GPU takes the pod; one whose GPUs are taken does not.
    const gpuNode = (name: string) => {
      const n = node(name, { cpu: '32', memory: '128Gi' }) as { status: { allocatable: Record<string, string>; capacity: Record<string, string> } };
      n.status.allocatable = { ...n.status.allocatable, 'nvidia.com/gpu': '1' };
      return n;
    };
    const busy = gpuPod('busy') as unknown as { spec: { nodeName?: string }; status: unknown };
    busy.spec.nodeName = 'g1';
    busy.status = { phase: 'Running', conditions: [] };
    const e = plan({ nodeGroups: [gpus], nodes: [gpuNode('g1'), gpuNode('g2')], pods: [busy, gpuPod('t-0')] });
    expect(e.fitsExistingNodes).toEqual([{ pod: 'default/t-0', node: 'g2' }]);
  });

  it('keeps pods off tainted templates they do not tolerate', () => {
    const p = plan({ nodeGroups: [gpu], pods: [pod('web-0', { cpu: '1', memory: '1Gi' })] });
    expect(p.scaleUp).toEqual([]);
    expect(p.unschedulable).toHaveLength(1);
    expect(p.unschedulable[0]!.reason).toContain('untolerated taint nvidia.com/gpu=true:NoSchedule');
  });

  it('honours required node affinity against template labels, including the group label', () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'tidemark.io/node-group', operator: 'In', values: ['big'] }] }],
        },
      },
    };
    const big = group('big', 0, 3, { cpu: '16', memory: '64Gi', pods: 110 });
    const p = plan({ nodeGroups: [workers, big], pods: [pod('db-0', { cpu: '1', memory: '1Gi', affinity })] });
    expect(p.scaleUp.map((s) => s.nodeGroup)).toEqual(['big']);
  });

  it('reports a pod no template can ever hold instead of retrying it', () => {
    const p = plan({ nodeGroups: [workers], pods: [pod('huge-0', { cpu: '64', memory: '1Gi' })] });
    expect(p.scaleUp).toEqual([]);
    expect(p.unschedulable).toEqual([{ pod: 'default/huge-0', reason: "fits no node group's template (workers: requests cpu 64 > node 4)" }]);
  });

  it("stops at the group's maxSize and names it for the pods left over", () => {
    const small = group('small', 0, 2, { cpu: '2', memory: '8Gi', pods: 110 });
    const pods = Array.from({ length: 6 }, (_, i) => pod(`w-${i}`, { cpu: '1', memory: '1Gi' }));
    const p = plan({ nodeGroups: [small], pods });
    expect(p.scaleUp).toEqual([{ nodeGroup: 'small', delta: 2, pods: ['default/w-0', 'default/w-1', 'default/w-2', 'default/w-3'] }]);
    expect(p.unschedulable.map((u) => u.pod)).toEqual(['default/w-4', 'default/w-5']);
    expect(p.unschedulable[0]!.reason).toBe('node group small at maxSize 2');
  });

  it('counts existing nodes against maxNodesPerCluster', () => {
    const nodes = Array.from({ length: 39 }, (_, i) => node(`base-${i}`, { cpu: '1', memory: '1Gi', pods: 1 }));
    const filler = nodes.map((_, i) => pod(`fill-${i}`, { cpu: '100m', memory: '100Mi', node: `base-${i}` }));
    const pending = Array.from({ length: 3 }, (_, i) => pod(`w-${i}`, { cpu: '3', memory: '1Gi' }));
    const p = plan({ nodeGroups: [workers], nodes, pods: [...filler, ...pending] });
    expect(p.scaleUp).toEqual([{ nodeGroup: 'workers', delta: 1, pods: ['default/w-0'] }]);
    expect(p.unschedulable).toHaveLength(2);
    expect(p.unschedulable[0]!.reason).toBe('quota maxNodesPerCluster 40 reached');
  });

  it('caps the template at maxPodsPerNode', () => {
    const pods = Array.from({ length: 5 }, (_, i) => pod(`t-${i}`, { cpu: '10m', memory: '10Mi' }));
    const p = plan({ nodeGroups: [workers], pods, quotas: { maxNodesPerCluster: 40, maxPodsPerNode: 2 } });
    expect(p.scaleUp[0]?.delta).toBe(3);
  });

  it('leaves pods that fit an existing node to the scheduler', () => {
    const p = plan({
      nodeGroups: [workers],
      nodes: [node('n1', { cpu: '4', memory: '16Gi' })],
      pods: [pod('w-0', { cpu: '1', memory: '1Gi' })],
    });
    expect(p.scaleUp).toEqual([]);
    expect(p.fitsExistingNodes).toEqual([{ pod: 'default/w-0', node: 'n1' }]);
  });

  it('reserves room on template nodes for the DaemonSets that would run there', () => {
    // A 4-core template holds two 1600m pods; with a 1-core DaemonSet on it, 3 cores are left: one.
    const nodes = [node('base', { cpu: '1', memory: '4Gi', pods: 1 })];
    const ds = pod('agent-base', { cpu: '1', memory: '1Gi', node: 'base', owner: 'DaemonSet' });
    const pending = Array.from({ length: 4 }, (_, i) => pod(`w-${i}`, { cpu: '1600m', memory: '1Gi' }));
    expect(plan({ nodeGroups: [workers], pods: pending }).scaleUp[0]?.delta).toBe(2);
    expect(plan({ nodeGroups: [workers], nodes, pods: [ds, ...pending] }).scaleUp[0]?.delta).toBe(4);
    const huge = plan({ nodeGroups: [workers], nodes, pods: [ds, pod('big', { cpu: '3500m', memory: '1Gi' })] });
    expect(huge.unschedulable[0]!.reason).toContain('requests cpu 3500m > node 3 after 1 DaemonSet pod(s)');
    // A DaemonSet that cannot run on the template (its taint is not tolerated) takes nothing there.
    expect(plan({ nodeGroups: [gpu], nodes, pods: [ds, pod('t', { cpu: '7500m', memory: '1Gi', tolerations: [gpuToleration] })] }).scaleUp[0]?.delta).toBe(1);
  });

  it('lets upcoming nodes take pending pods before asking for more, and counts them against maxSize', () => {
    const pods = Array.from({ length: 6 }, (_, i) => pod(`w-${i}`, { cpu: '1500m', memory: '1Gi' }));
    const withUpcoming = (upcoming: number, maxSize = 10) => [{ ...group('workers', 0, maxSize, { cpu: '4', memory: '16Gi', pods: 110 }), upcoming }];
    const p = plan({ nodeGroups: withUpcoming(2), pods });
    expect(p.scaleUp).toEqual([{ nodeGroup: 'workers', delta: 1, pods: ['default/w-4', 'default/w-5'] }]);
    expect(p.fitsExistingNodes.map((f) => f.node)).toEqual(['upcoming:workers:0', 'upcoming:workers:0', 'upcoming:workers:1', 'upcoming:workers:1']);
    expect(p.kept).toEqual([]);
    const capped = plan({ nodeGroups: withUpcoming(2, 2), pods });
    expect(capped.scaleUp).toEqual([]);
    expect(capped.unschedulable.map((u) => u.reason)).toEqual(['node group workers at maxSize 2', 'node group workers at maxSize 2']);
  });

  it('ignores pods the scheduler has not yet marked Unschedulable', () => {
    const fresh = pod('new-0', { cpu: '1', memory: '1Gi' }) as { status: unknown };
    fresh.status = { phase: 'Pending', conditions: [] };
    expect(plan({ nodeGroups: [workers], pods: [fresh] }).scaleUp).toEqual([]);
  });
});

describe('scale-down', () => {
  const old = '2026-11-23T09:00:00Z';
  const added = (name: string, created: string, extra: Parameters<typeof node>[1] = {}) =>
    node(name, { group: 'workers', autoscaler: true, created, ...extra });
  const since = (names: string[], t = '2026-11-23T09:30:00Z') => Object.fromEntries(names.map((n) => [n, t]));

  it('never removes nodes created with the cluster or added by hand, however idle', () => {
    const p = plan({ nodeGroups: [workers], nodes: [node('base-0', { group: 'workers', created: old }), node('manual', { created: old })], unneededSince: since(['base-0', 'manual']) });
    expect(p.scaleDown).toEqual([]);
    expect(keptCode(p, 'base-0')).toBe('not-autoscaler-added');
    expect(keptCode(p, 'manual')).toBe('not-autoscaler-added');
  });

  it('removes idle autoscaler-added nodes newest first, down to the group minimum', () => {
    const min2 = group('workers', 2, 10, { cpu: '4', memory: '16Gi', pods: 110 });
    const nodes = [added('a1', '2026-11-20T00:00:00Z'), added('a3', '2026-11-22T00:00:00Z'), added('a2', '2026-11-21T00:00:00Z'), added('a0', '2026-11-19T00:00:00Z')];
    const p = plan({ nodeGroups: [min2], nodes, unneededSince: since(['a0', 'a1', 'a2', 'a3']) });
    expect(p.scaleDown.map((s) => s.node)).toEqual(['a3', 'a2']);
    expect(keptCode(p, 'a1')).toBe('group-minimum');
    expect(keptCode(p, 'a0')).toBe('group-minimum');
  });

  it('keeps a node whose cpu or memory requests are at or above the threshold', () => {
    const nodes = [added('busy-cpu', old), added('busy-mem', old), node('base', { created: old, cpu: '32', memory: '128Gi' })];
    const pods = [pod('c', { cpu: '2', memory: '1Gi', node: 'busy-cpu' }), pod('m', { cpu: '100m', memory: '9Gi', node: 'busy-mem' })];
    const p = plan({ nodeGroups: [workers], nodes, pods, unneededSince: since(['busy-cpu', 'busy-mem']) });
    expect(p.scaleDown).toEqual([]);
    expect(keptCode(p, 'busy-cpu')).toBe('above-threshold');
    expect(keptCode(p, 'busy-mem')).toBe('above-threshold');
    expect(p.unneededSince).toEqual({});
  });

  it('waits the unneeded time, and hands the control loop the time each node became unneeded', () => {
    const nodes = [added('fresh', old), added('waiting', old), added('due', old)];
    const p = plan({ nodeGroups: [workers], nodes, unneededSince: { waiting: '2026-11-23T09:55:00Z', due: '2026-11-23T09:50:00Z' } });
    expect(p.scaleDown.map((s) => s.node)).toEqual(['due']);
    expect(keptCode(p, 'fresh')).toBe('unneeded-too-short');
    expect(keptCode(p, 'waiting')).toBe('unneeded-too-short');
    expect(p.kept.find((k) => k.node === 'waiting')!.reason).toContain('for 5m of the 10m required');
    expect(p.unneededSince).toEqual({ fresh: '2026-11-23T10:00:00Z', waiting: '2026-11-23T09:55:00Z' });
  });

  it('removes a node only if its pods fit on the remaining nodes', () => {
    const nodes = [node('base', { created: old, cpu: '2', memory: '8Gi' }), added('idle', old)];
    const pods = [pod('base-load', { cpu: '1500m', memory: '1Gi', node: 'base' }), pod('w', { cpu: '1', memory: '1Gi', node: 'idle' })];
    const p = plan({ nodeGroups: [workers], nodes, pods, unneededSince: since(['idle']) });
    expect(p.scaleDown).toEqual([]);
    expect(keptCode(p, 'idle')).toBe('pod-cannot-move');
    expect(p.kept.find((k) => k.node === 'idle')!.reason).toBe('pod default/w fits on no remaining node');

    const roomy = plan({ nodeGroups: [workers], nodes: [node('base', { created: old }), added('idle', old)], pods, unneededSince: since(['idle']) });
    expect(roomy.scaleDown.map((s) => s.node)).toEqual(['idle']);
  });

  it('does not move two nodes of pods onto room for one', () => {
    const nodes = [node('base', { created: old, cpu: '2', memory: '8Gi' }), added('i1', '2026-11-20T00:00:00Z'), added('i2', '2026-11-21T00:00:00Z')];
    const pods = [pod('a', { cpu: '1500m', memory: '1Gi', node: 'i1' }), pod('b', { cpu: '1500m', memory: '1Gi', node: 'i2' })];
    const p = plan({ nodeGroups: [workers], nodes, pods, unneededSince: since(['i1', 'i2']) });
    // i2 is newer, so its pod takes base's room; i1 then has nowhere to send its pod.
    expect(p.scaleDown.map((s) => s.node)).toEqual(['i2']);
    expect(keptCode(p, 'i1')).toBe('pod-cannot-move');
  });

  it('lets DaemonSet and mirror pods stay behind; bare pods and local storage block, as upstream drain rules', () => {
    const nodes = [node('base', { created: old }), added('ds', old), added('bare', old), added('local', old), added('tmpfs', old)];
    const pods = [
      pod('agent', { cpu: '100m', memory: '100Mi', node: 'ds', owner: 'DaemonSet' }),
      pod('static', { cpu: '100m', memory: '100Mi', node: 'ds', owner: null, annotations: { 'kubernetes.io/config.mirror': 'x' } }),
      pod('lonely', { cpu: '100m', memory: '100Mi', node: 'bare', owner: null }),
      pod('cache', { cpu: '100m', memory: '100Mi', node: 'local', volumes: [{ name: 'scratch', emptyDir: {} }] }),
      pod('ram', { cpu: '100m', memory: '100Mi', node: 'tmpfs', volumes: [{ name: 'shm', emptyDir: { medium: 'Memory' } }] }),
    ];
    const p = plan({ nodeGroups: [workers], nodes, pods, unneededSince: since(['ds', 'bare', 'local', 'tmpfs']) });
    expect(p.scaleDown.map((s) => s.node).sort()).toEqual(['ds', 'tmpfs']);
    expect(p.kept.find((k) => k.node === 'bare')).toMatchObject({ code: 'pod-cannot-move', reason: 'pod default/lonely has no controller and would not be recreated' });
    expect(p.kept.find((k) => k.node === 'local')).toMatchObject({ code: 'pod-cannot-move', reason: 'pod default/cache has local storage (volume scratch)' });
  });

  it('respects disruption budgets across the nodes of one plan', () => {
    const nodes = [node('base', { created: old }), added('i1', '2026-11-20T00:00:00Z'), added('i2', '2026-11-21T00:00:00Z')];
    const pods = [
      pod('web-1', { cpu: '100m', memory: '100Mi', node: 'i1', labels: { app: 'web' } }),
      pod('web-2', { cpu: '100m', memory: '100Mi', node: 'i2', labels: { app: 'web' } }),
      pod('web-3', { cpu: '100m', memory: '100Mi', node: 'base', labels: { app: 'web' } }),
    ];
    const pdb = { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 } };
    const p = plan({ nodeGroups: [workers], nodes, pods, pdbs: [pdb], unneededSince: since(['i1', 'i2']) });
    expect(p.scaleDown.map((s) => s.node)).toEqual(['i2']);
    expect(keptCode(p, 'i1')).toBe('disruption-budget');

    const exhausted = { ...pdb, status: { disruptionsAllowed: 0 } };
    const none = plan({ nodeGroups: [workers], nodes, pods, pdbs: [exhausted], unneededSince: since(['i1', 'i2']) });
    expect(none.scaleDown).toEqual([]);
  });

  it('holds scale-down in a plan that adds nodes', () => {
    const p = plan({
      nodeGroups: [workers],
      nodes: [added('idle', old, { cpu: '1', memory: '1Gi' })],
      pods: [pod('big', { cpu: '3', memory: '1Gi' })],
      unneededSince: since(['idle']),
    });
    expect(p.scaleUp).toHaveLength(1);
    expect(keptCode(p, 'idle')).toBe('scale-up-planned');
  });

  it('keeps autoscaler-added nodes of an unconfigured group', () => {
    const p = plan({ nodeGroups: [workers], nodes: [node('x', { group: 'gone', autoscaler: true, created: old })], unneededSince: since(['x']) });
    expect(keptCode(p, 'x')).toBe('unknown-node-group');
  });

  it('says why for every node it keeps', () => {
    const nodes = [node('base', { created: old }), added('a', old), added('b', old, { annotations: { 'cluster-autoscaler.kubernetes.io/scale-down-disabled': 'true' } })];
    const p = plan({ nodeGroups: [workers], nodes });
    expect([...p.kept.map((k) => k.node), ...p.scaleDown.map((s) => s.node)].sort()).toEqual(['a', 'b', 'base']);
    expect(keptCode(p, 'b')).toBe('scale-down-disabled');
    for (const k of p.kept) expect(k.reason.length).toBeGreaterThan(10);
  });
});
