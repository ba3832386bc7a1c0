import { describe, expect, it } from 'vitest';
import { parseNodePlanInput } from '../nodes/input.ts';
import { planNodes } from '../nodes/plan.ts';
import { pod } from '../nodes/test-fixtures.ts';
import { findNodeGroup, NodeProviderError } from './provider.ts';
import { SimulatedCloud, type CloudEvent } from './simulated.ts';

function cloud(delay = 0) {
  let t = Date.parse('2026-11-23T10:00:00Z');
  const events: CloudEvent[] = [];
  const c = new SimulatedCloud({
    groups: [{ id: 'workers', minSize: 1, maxSize: 4, initialSize: 2, capacity: { cpu: '4', memory: '16Gi', pods: 110 } }],
    provisioningDelayMs: delay,
    now: () => t,
    onEvent: (e) => events.push(e),
  });
  return { c, events, advance: (ms: number) => (t += ms) };
}

describe('SimulatedCloud', () => {
  it('starts with the cluster\'s own nodes, which carry no autoscaler annotation', async () => {
    const { c } = cloud();
    const g = await findNodeGroup(c, 'workers');
    expect(await g.targetSize()).toBe(2);
    expect(await g.nodes()).toEqual(['workers-0001', 'workers-0002']);
    expect(c.nodeObjects().every((n) => n.metadata.annotations['tidemark.io/provisioned-by'] === undefined)).toBe(true);
  });

  it('provisions after the delay, and counts provisioning nodes in the target size', async () => {
    const { c, events, advance } = cloud(30_000);
    const g = await findNodeGroup(c, 'workers');
    await g.increaseSize(2);
    expect(await g.targetSize()).toBe(4);
    expect(c.list().filter((i) => i.state === 'provisioning')).toHaveLength(2);
    expect(c.nodeObjects()).toHaveLength(2);
    advance(30_000);
    expect(c.nodeObjects()).toHaveLength(4);
    expect(events.filter((e) => e.type === 'ready').map((e) => e.instance.name)).toEqual(['workers-0003', 'workers-0004']);
    expect(c.nodeObjects().filter((n) => n.metadata.annotations['tidemark.io/provisioned-by'] === 'autoscaler')).toHaveLength(2);
  });

  it('refuses to pass maxSize or minSize, or to delete a node of another group', async () => {
    const { c } = cloud();
    const g = await findNodeGroup(c, 'workers');
    await expect(g.increaseSize(3)).rejects.toThrow(/exceeds maxSize 4/);
    await expect(g.increaseSize(0)).rejects.toBeInstanceOf(NodeProviderError);
    await expect(g.deleteNodes(['workers-0001', 'workers-0002'])).rejects.toThrow(/below minSize 1/);
    await expect(g.deleteNodes(['elsewhere-1'])).rejects.toThrow(/does not belong/);
    await g.deleteNodes(['workers-0002']);
    expect(await g.nodes()).toEqual(['workers-0001']);
    expect(await g.targetSize()).toBe(1);
  });

  it('can fail on request, for callers\' error paths', async () => {
    const c = new SimulatedCloud({ groups: [{ id: 'g', minSize: 0, maxSize: 3 }], failNext: { increaseSize: 1 } });
    const g = await findNodeGroup(c, 'g');
    await expect(g.increaseSize(1)).rejects.toThrow(/simulated cloud API failure/);
    await g.increaseSize(1);
    expect(await g.targetSize()).toBe(1);
  });

  it('feeds the planner: nodes it adds are the ones a quiet plan removes', async () => {
    const { c } = cloud();
    const g = await findNodeGroup(c, 'workers');
    await g.increaseSize(1);
    const input = parseNodePlanInput({
      now: '2026-11-23T11:00:00Z',
      nodeGroups: [{ name: 'workers', minSize: 1, maxSize: 4, template: { capacity: { cpu: '4', memory: '16Gi', pods: 110 } } }],
      nodes: c.nodeObjects(),
      pods: [pod('web-0', { cpu: '500m', memory: '1Gi', node: 'workers-0001' })],
      unneededSince: { 'workers-0001': '2026-11-23T10:00:00Z', 'workers-0002': '2026-11-23T10:00:00Z', 'workers-0003': '2026-11-23T10:00:00Z' },
    });
    const plan = planNodes(input);
    expect(plan.scaleDown.map((s) => s.node)).toEqual(['workers-0003']);
    await g.deleteNodes(plan.scaleDown.map((s) => s.node));
    expect(await g.nodes()).toEqual(['workers-0001', 'workers-0002']);
  });
});
