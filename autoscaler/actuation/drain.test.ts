import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCloud } from '../providers/simulated.ts';
import { findNodeGroup } from '../providers/provider.ts';
import { drainAndDelete, KubeDrainApi, type DrainApi, type DrainPod, type EvictionOutcome } from './drain.ts';

/** A node's pods in memory; evictions follow a script per pod, then succeed. */
class MemoryCluster implements DrainApi {
  calls: string[] = [];
  unschedulable = new Map<string, boolean>();
  /** Pods that linger this many polls after their eviction. */
  linger = new Map<string, number>();
  constructor(
    public pods: Map<string, DrainPod[]>,
    public script: Map<string, EvictionOutcome[]> = new Map(),
  ) {}
  async setUnschedulable(node: string, u: boolean) {
    this.calls.push(`${u ? 'cordon' : 'uncordon'} ${node}`);
    this.unschedulable.set(node, u);
  }
  async podsOnNode(node: string) {
    const pods = this.pods.get(node) ?? [];
    const visible = pods.filter((p) => !p.name.startsWith('evicted:') || (this.linger.get(p.name.slice(8)) ?? 0) > 0);
    // Each poll after its eviction brings a lingering pod closer to gone.
    for (const p of pods) {
      const id = p.name.slice(8);
      if (p.name.startsWith('evicted:') && (this.linger.get(id) ?? 0) > 0) this.linger.set(id, this.linger.get(id)! - 1);
    }
    return visible.map((p) => ({ ...p, name: p.name.replace('evicted:', '') }));
  }
  async evict(pod: { namespace: string; name: string }) {
    const id = `${pod.namespace}/${pod.name}`;
    this.calls.push(`evict ${id}`);
    const next = this.script.get(id)?.shift() ?? { kind: 'evicted' };
    if (next.kind === 'evicted') {
      for (const list of this.pods.values()) for (const p of list) if (p.namespace === pod.namespace && p.name === pod.name) p.name = `evicted:${p.name}`;
    }
    return next;
  }
}

const dp = (name: string, extra: Partial<DrainPod> = {}): DrainPod => ({ namespace: 'shop', name, controllerKind: 'ReplicaSet', mirror: false, terminal: false, ...extra });

async function fixture() {
  const cloud = new SimulatedCloud({ groups: [{ id: 'workers', minSize: 0, maxSize: 5, initialSize: 0 }] });
  const group = await findNodeGroup(cloud, 'workers');
  await group.increaseSize(2);
  return { cloud, group };
}

const sleeps: number[] = [];
const fakeSleep = async (ms: number) => void sleeps.push(ms);

describe('drainAndDelete', () => {
  it('cordons, evicts every pod but DaemonSet, mirror and finished ones, then deletes the node', async () => {
    const { cloud, group } = await fixture();
    const api = new MemoryCluster(
      new Map([['workers-0001', [dp('web-1'), dp('agent', { controllerKind: 'DaemonSet' }), dp('static', { mirror: true, controllerKind: undefined }), dp('done', { terminal: true })]]]),
    );
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep });
    expect(r).toEqual({ node: 'workers-0001', outcome: 'deleted', evicted: ['shop/web-1'] });
    expect(api.calls).toEqual(['cordon workers-0001', 'evict shop/web-1']);
    expect(cloud.list().map((i) => i.name)).toEqual(['workers-0002']);
  });

  it('retries 429s from a disruption budget with doubling backoff until accepted', async () => {
    sleeps.length = 0;
    const { group } = await fixture();
    const refused: EvictionOutcome = { kind: 'refused', message: 'Cannot evict pod as it would violate the pod\'s disruption budget.' };
    const api = new MemoryCluster(new Map([['workers-0001', [dp('web-1')]]]), new Map([['shop/web-1', [refused, refused, refused]]]));
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep, initialBackoffMs: 100, maxBackoffMs: 300 });
    expect(r.outcome).toBe('deleted');
    expect(api.calls.filter((c) => c.startsWith('evict'))).toHaveLength(4);
    expect(sleeps).toEqual([100, 200, 300]);
  });

  it('gives up after the bound, uncordons and keeps the node', async () => {
    const { cloud, group } = await fixture();
    const refused: EvictionOutcome = { kind: 'refused', message: 'budget' };
    const api = new MemoryCluster(new Map([['workers-0001', [dp('web-1'), dp('web-2')]]]), new Map([['shop/web-2', Array(10).fill(refused)]]));
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep, maxAttempts: 3 });
    expect(r.outcome).toBe('failed');
    expect(r.evicted).toEqual(['shop/web-1']);
    expect(r.reason).toBe('eviction of shop/web-2 still refused after 3 attempts (429 budget)');
    expect(api.calls.at(-1)).toBe('uncordon workers-0001');
    expect(api.unschedulable.get('workers-0001')).toBe(false);
    expect(cloud.list().map((i) => i.name)).toContain('workers-0001');
  });

  it('waits for evicted pods to leave before deleting, and fails when they never do', async () => {
    const { group } = await fixture();
    const api = new MemoryCluster(new Map([['workers-0001', [dp('web-1')]]]));
    api.linger.set('web-1', 2);
    let t = 0;
    const ok = await drainAndDelete('workers-0001', api, group, { sleep: async (ms) => void (t += ms), now: () => t, podGonePollMs: 10, podGoneTimeoutMs: 1000 });
    expect(ok.outcome).toBe('deleted');
    expect(t).toBe(20); // two polls still saw the pod

    const api2 = new MemoryCluster(new Map([['workers-0002', [dp('web-2')]]]));
    api2.linger.set('web-2', 1e9);
    t = 0;
    const stuck = await drainAndDelete('workers-0002', api2, group, { sleep: async (ms) => void (t += ms), now: () => t, podGonePollMs: 100, podGoneTimeoutMs: 300 });
    expect(stuck.outcome).toBe('failed');
    expect(stuck.reason).toContain('pods still on the node after 300 ms: shop/web-2');
  });

  it('uncordons when the API fails mid-drain instead of leaving the node cordoned', async () => {
    const { group } = await fixture();
    const api = new MemoryCluster(new Map([['workers-0001', [dp('web-1')]]]));
    api.evict = async () => {
      throw new Error('connection reset');
    };
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep });
    expect(r).toMatchObject({ outcome: 'failed', reason: 'drain failed: connection reset' });
    expect(api.unschedulable.get('workers-0001')).toBe(false);
  });

  it('reports a failed cordon without touching the pods', async () => {
    const { group } = await fixture();
    const api = new MemoryCluster(new Map([['workers-0001', [dp('web-1')]]]));
    api.setUnschedulable = async () => {
      throw new Error('nodes "workers-0001" not found');
    };
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep });
    expect(r).toEqual({ node: 'workers-0001', outcome: 'failed', evicted: [], reason: 'cordon failed: nodes "workers-0001" not found' });
    expect(api.calls).toEqual([]);
  });

  it('uncordons when the provider refuses the deletion', async () => {
    const cloud = new SimulatedCloud({ groups: [{ id: 'workers', minSize: 1, maxSize: 5, initialSize: 1 }] });
    const group = await findNodeGroup(cloud, 'workers');
    const api = new MemoryCluster(new Map());
    const r = await drainAndDelete('workers-0001', api, group, { sleep: fakeSleep });
    expect(r.outcome).toBe('failed');
    expect(r.reason).toContain('below minSize 1');
    expect(api.calls).toEqual(['cordon workers-0001', 'uncordon workers-0001']);
  });
});

describe('KubeDrainApi over HTTP', () => {
  const seen: Array<{ method: string; url: string; contentType?: string | undefined; body: unknown }> = [];
  let evictions = 0;
  let server: Server;
  let kc: KubeConfig;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], body: body ? JSON.parse(body) : undefined });
        res.setHeader('content-type', 'application/json');
        if (req.method === 'PATCH' && req.url === '/api/v1/nodes/n1') return res.end(JSON.stringify({ metadata: { name: 'n1' } }));
        if (req.method === 'GET' && req.url!.startsWith('/api/v1/pods')) {
          return res.end(
            JSON.stringify({
              items: [
                { metadata: { name: 'web-1', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u', controller: true }] }, status: { phase: 'Running' } },
                { metadata: { name: 'kube-proxy', namespace: 'kube-system', annotations: { 'kubernetes.io/config.mirror': 'x' } }, status: { phase: 'Running' } },
              ],
            }),
          );
        }
        if (req.method === 'POST' && req.url === '/api/v1/namespaces/shop/pods/web-1/eviction') {
          evictions++;
          if (evictions === 1) {
            res.statusCode = 429;
            return res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429, message: "Cannot evict pod as it would violate the pod's disruption budget." }));
          }
          res.statusCode = 201;
          return res.end(JSON.stringify({ kind: 'Status', status: 'Success', code: 201 }));
        }
        if (req.method === 'POST' && req.url === '/api/v1/namespaces/shop/pods/gone/eviction') {
          res.statusCode = 404;
          return res.end(JSON.stringify({ kind: 'Status', code: 404 }));
        }
        res.statusCode = 500;
        res.end(JSON.stringify({ kind: 'Status', code: 500, message: 'unexpected' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 't', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 't' }],
      contexts: [{ name: 't', cluster: 't', user: 't' }],
      currentContext: 't',
    });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('cordons with a merge patch, lists the node\'s pods by field selector, posts policy/v1 Evictions', async () => {
    const api = new KubeDrainApi(kc);
    await api.setUnschedulable('n1', true);
    const pods = await api.podsOnNode('n1');
    expect(pods).toEqual([
      { namespace: 'shop', name: 'web-1', controllerKind: 'ReplicaSet', mirror: false, terminal: false },
      { namespace: 'kube-system', name: 'kube-proxy', controllerKind: undefined, mirror: true, terminal: false },
    ]);
    const first = await api.evict({ namespace: 'shop', name: 'web-1' });
    expect(first.kind).toBe('refused');
    expect(await api.evict({ namespace: 'shop', name: 'web-1' })).toEqual({ kind: 'evicted' });
    expect(await api.evict({ namespace: 'shop', name: 'gone' })).toEqual({ kind: 'gone' });

    expect(seen[0]).toEqual({ method: 'PATCH', url: '/api/v1/nodes/n1', contentType: 'application/merge-patch+json', body: { spec: { unschedulable: true } } });
    expect(decodeURIComponent(seen[1]!.url)).toContain('fieldSelector=spec.nodeName=n1');
    expect(seen[2]!.body).toEqual({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1', namespace: 'shop' } });
  });
});
