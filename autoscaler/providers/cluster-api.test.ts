import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterApiProvider,
  DELETE_MACHINE_ANNOTATION,
  KubeClusterApiClient,
  MAX_SIZE_ANNOTATION,
  MIN_SIZE_ANNOTATION,
  type ClusterApiClient,
  type Machine,
  type MachineDeployment,
} from './cluster-api.ts';
import { findNodeGroup } from './provider.ts';

/** An in-memory ClusterApiClient that records every write, in order. */
class MemoryClusterApi implements ClusterApiClient {
  writes: string[] = [];
  failSetReplicas = false;
  constructor(
    public deployments: MachineDeployment[],
    public machines: Machine[],
  ) {}
  async listMachineDeployments() {
    return structuredClone(this.deployments);
  }
  async getMachineDeployment(_ns: string, name: string) {
    return structuredClone(this.deployments.find((d) => d.metadata.name === name)!);
  }
  async setReplicas(_ns: string, name: string, replicas: number) {
    if (this.failSetReplicas) throw new Error('conflict');
    this.writes.push(`replicas ${name}=${replicas}`);
    this.deployments.find((d) => d.metadata.name === name)!.spec!.replicas = replicas;
  }
  async listMachines(_ns: string, selector: string) {
    const [k, v] = selector.split('=');
    return structuredClone(this.machines.filter((m) => m.metadata.labels?.[k!] === v));
  }
  async annotateMachine(_ns: string, name: string, annotations: Record<string, string | null>) {
    this.writes.push(`annotate ${name} ${JSON.stringify(annotations)}`);
  }
}

const md = (name: string, replicas: number, min?: number, max?: number, cluster = 'prod'): MachineDeployment => ({
  metadata: {
    name,
    namespace: 'capi',
    annotations: {
      ...(min !== undefined ? { [MIN_SIZE_ANNOTATION]: String(min) } : {}),
      ...(max !== undefined ? { [MAX_SIZE_ANNOTATION]: String(max) } : {}),
    },
  },
  spec: { replicas, clusterName: cluster },
});
const machine = (name: string, deployment: string, node?: string): Machine => ({
  metadata: { name, namespace: 'capi', labels: { 'cluster.x-k8s.io/deployment-name': deployment } },
  ...(node ? { status: { nodeRef: { name: node } } } : {}),
});

const fixedNow = () => new Date('2026-11-23T10:00:00Z');

describe('ClusterApiProvider', () => {
  const setup = () =>
    new MemoryClusterApi(
      [md('workers', 3, 1, 5), md('unmanaged', 2), md('other-cluster', 1, 0, 3, 'staging')],
      [machine('workers-a', 'workers', 'node-a'), machine('workers-b', 'workers', 'node-b'), machine('workers-c', 'workers'), machine('unmanaged-a', 'unmanaged', 'node-u')],
    );

  it('offers only annotated MachineDeployments of its cluster as node groups', async () => {
    const p = new ClusterApiProvider(setup(), { namespace: 'capi', clusterName: 'prod' });
    const groups = await p.nodeGroups();
    expect(groups.map((g) => [g.id, g.minSize, g.maxSize])).toEqual([['workers', 1, 5]]);
    expect(await groups[0]!.targetSize()).toBe(3);
    // A machine without a nodeRef has no node yet.
    expect(await groups[0]!.nodes()).toEqual(['node-a', 'node-b']);
  });

  it('grows by raising replicas, within maxSize', async () => {
    const api = setup();
    const g = await findNodeGroup(new ClusterApiProvider(api, { namespace: 'capi' }), 'workers');
    await g.increaseSize(2);
    expect(api.writes).toEqual(['replicas workers=5']);
    await expect(g.increaseSize(1)).rejects.toThrow(/exceeds maxSize 5/);
  });

  it('deletes a chosen node by marking its Machine, then lowering replicas', async () => {
    const api = setup();
    const g = await findNodeGroup(new ClusterApiProvider(api, { namespace: 'capi', now: fixedNow }), 'workers');
    await g.deleteNodes(['node-b']);
    expect(api.writes).toEqual([`annotate workers-b {"${DELETE_MACHINE_ANNOTATION}":"2026-11-23T10:00:00.000Z"}`, 'replicas workers=2']);
  });

  it('unmarks the machines again if replicas cannot be lowered', async () => {
    const api = setup();
    api.failSetReplicas = true;
    const g = await findNodeGroup(new ClusterApiProvider(api, { namespace: 'capi', now: fixedNow }), 'workers');
    await expect(g.deleteNodes(['node-a'])).rejects.toThrow(/deleting node-a failed: conflict/);
    expect(api.writes.at(-1)).toBe(`annotate workers-a {"${DELETE_MACHINE_ANNOTATION}":null}`);
  });

  it('refuses nodes of other groups and going under minSize', async () => {
    const g = await findNodeGroup(new ClusterApiProvider(setup(), { namespace: 'capi' }), 'workers');
    await expect(g.deleteNodes(['node-u'])).rejects.toThrow(/does not belong/);
    const api = setup();
    api.deployments[0]!.spec!.replicas = 1;
    const g1 = await findNodeGroup(new ClusterApiProvider(api, { namespace: 'capi' }), 'workers');
    await expect(g1.deleteNodes(['node-a'])).rejects.toThrow(/below minSize 1/);
  });
});

describe('KubeClusterApiClient over HTTP', () => {
  const requests: Array<{ method: string; url: string; contentType: string | undefined; body: unknown }> = [];
  let server: Server;
  let kc: KubeConfig;

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c: Buffer) => (s += c.toString()));
      req.on('end', () => resolve(s));
    });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = await readBody(req);
      requests.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], body: body ? JSON.parse(body) : undefined });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url!.startsWith('/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machinedeployments/workers')) {
        res.end(JSON.stringify(md('workers', 3, 1, 5)));
      } else if (req.method === 'GET' && req.url!.startsWith('/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machinedeployments')) {
        res.end(JSON.stringify({ apiVersion: 'cluster.x-k8s.io/v1beta1', kind: 'MachineDeploymentList', items: [md('workers', 3, 1, 5)] }));
      } else if (req.method === 'GET' && req.url!.startsWith('/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machines')) {
        res.end(JSON.stringify({ items: [machine('workers-a', 'workers', 'node-a')] }));
      } else if (req.method === 'PATCH') {
        res.end(JSON.stringify({ metadata: { name: 'x' } }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ kind: 'Status', code: 404 }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('speaks the Cluster API REST paths with JSON merge patches', async () => {
    const provider = new ClusterApiProvider(new KubeClusterApiClient(kc), { namespace: 'capi', now: fixedNow });
    const g = await findNodeGroup(provider, 'workers');
    await g.increaseSize(1);
    await g.deleteNodes(['node-a']);
    const writes = requests.filter((r) => r.method === 'PATCH');
    expect(writes).toEqual([
      { method: 'PATCH', url: '/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machinedeployments/workers', contentType: 'application/merge-patch+json', body: { spec: { replicas: 4 } } },
      {
        method: 'PATCH',
        url: '/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machines/workers-a',
        contentType: 'application/merge-patch+json',
        body: { metadata: { annotations: { [DELETE_MACHINE_ANNOTATION]: '2026-11-23T10:00:00.000Z' } } },
      },
      { method: 'PATCH', url: '/apis/cluster.x-k8s.io/v1beta1/namespaces/capi/machinedeployments/workers', contentType: 'application/merge-patch+json', body: { spec: { replicas: 2 } } },
    ]);
    const machineList = requests.find((r) => r.url.includes('/machines?'));
    expect(decodeURIComponent(machineList!.url)).toContain('labelSelector=cluster.x-k8s.io/deployment-name=workers');
  });
});
