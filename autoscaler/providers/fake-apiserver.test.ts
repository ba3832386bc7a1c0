// The Cluster API provider and the drain executor against the project's fake
// API server (test/kube/fake-apiserver.ts), which speaks the real REST
// protocol and answers evictions against PodDisruptionBudgets, so
// @kubernetes/client-node and the server's semantics are both exercised.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../test/kit/cluster/cluster-objects.ts';
import { startFakeApiServer, type FakeApiServer } from '../../test/kube/fake-apiserver.ts';
import { drainAndDelete, KubeDrainApi } from '../actuation/drain.ts';
import { ClusterApiProvider, DELETE_MACHINE_ANNOTATION, KubeClusterApiClient, MAX_SIZE_ANNOTATION, MIN_SIZE_ANNOTATION } from './cluster-api.ts';
import { findNodeGroup } from './provider.ts';

let server: FakeApiServer;

const crd = (plural: string, kind: string): KubeObject =>
  ({
    metadata: { name: `${plural}.cluster.x-k8s.io` },
    spec: {
      group: 'cluster.x-k8s.io',
      names: { plural, kind, singular: kind.toLowerCase() },
      scope: 'Namespaced',
      versions: [{ name: 'v1beta1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  }) as unknown as KubeObject;

function type(group: string, version: string, plural: string) {
  const t = server.objects.resourceType(group, version, plural);
  if (!t) throw new Error(`fake API server does not serve ${group}/${version} ${plural}`);
  return t;
}

beforeAll(async () => {
  server = await startFakeApiServer();
  const crdType = type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
  server.objects.create(crdType, crd('machinedeployments', 'MachineDeployment'));
  server.objects.create(crdType, crd('machines', 'Machine'));
  server.objects.create(
    type('cluster.x-k8s.io', 'v1beta1', 'machinedeployments'),
    { metadata: { name: 'workers', namespace: 'capi', annotations: { [MIN_SIZE_ANNOTATION]: '1', [MAX_SIZE_ANNOTATION]: '5' } }, spec: { clusterName: 'prod', replicas: 2 } } as unknown as KubeObject,
  );
  for (const [machine, node] of [['workers-abc', 'node-a'], ['workers-def', 'node-b']] as const) {
    server.objects.create(
      type('cluster.x-k8s.io', 'v1beta1', 'machines'),
      { metadata: { name: machine, namespace: 'capi', labels: { 'cluster.x-k8s.io/deployment-name': 'workers' } }, status: { nodeRef: { name: node } } } as unknown as KubeObject,
    );
  }
});
afterAll(async () => server?.close());

describe('ClusterApiProvider against the fake API server', () => {
  it('scales the MachineDeployment and marks the chosen Machine for deletion', async () => {
    const provider = new ClusterApiProvider(new KubeClusterApiClient(server.kubeConfig()), { namespace: 'capi', clusterName: 'prod' });
    const group = await findNodeGroup(provider, 'workers');
    expect(await group.targetSize()).toBe(2);
    expect((await group.nodes()).sort()).toEqual(['node-a', 'node-b']);

    await group.increaseSize(2);
    const md = () => server.objects.get(type('cluster.x-k8s.io', 'v1beta1', 'machinedeployments'), 'capi', 'workers') as unknown as { spec: { replicas: number } };
    expect(md().spec.replicas).toBe(4);

    await group.deleteNodes(['node-b']);
    expect(md().spec.replicas).toBe(3);
    const machine = server.objects.get(type('cluster.x-k8s.io', 'v1beta1', 'machines'), 'capi', 'workers-def') as unknown as { metadata: { annotations?: Record<string, string> } };
    expect(machine.metadata.annotations?.[DELETE_MACHINE_ANNOTATION]).toMatch(/^\d{4}-\d\d-\d\dT/);
    const other = server.objects.get(type('cluster.x-k8s.io', 'v1beta1', 'machines'), 'capi', 'workers-abc') as unknown as { metadata: { annotations?: Record<string, string> } };
    expect(other.metadata.annotations?.[DELETE_MACHINE_ANNOTATION]).toBeUndefined();
  });
});

describe('drainAndDelete against the fake API server', () => {
  it('cordons, evicts within the disruption budget, and keeps the node when the budget holds', async () => {
    const nodes = type('', 'v1', 'nodes');
    const pods = type('', 'v1', 'pods');
    const pdbs = type('policy', 'v1', 'poddisruptionbudgets');
    for (const n of ['n1', 'n2']) {
      server.objects.create(nodes, { metadata: { name: n }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } } as unknown as KubeObject);
    }
    const webPod = (name: string, node: string) =>
      ({
        metadata: { name, namespace: 'shop', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs', controller: true }] },
        spec: { nodeName: node, containers: [{ name: 'app', image: 'web' }] },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      }) as unknown as KubeObject;
    server.objects.create(pods, webPod('web-1', 'n1'));
    server.objects.create(pods, webPod('web-2', 'n2'));
    server.objects.create(pods, webPod('web-3', 'n2'));
    server.objects.create(pdbs, { metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, minAvailable: 2 } } as unknown as KubeObject);

    const deleted: string[] = [];
    const group = { id: 'workers', deleteNodes: async (n: readonly string[]) => void deleted.push(...n) };
    const api = new KubeDrainApi(server.kubeConfig());

    // Three healthy, two must stay: evicting web-1 is allowed.
    const first = await drainAndDelete('n1', api, group, { sleep: async () => undefined, podGonePollMs: 1, podGoneTimeoutMs: 5_000, now: Date.now });
    expect(first).toMatchObject({ node: 'n1', outcome: 'deleted', evicted: ['shop/web-1'] });
    expect(deleted).toEqual(['n1']);
    expect((server.objects.get(nodes, undefined, 'n1') as unknown as { spec: { unschedulable?: boolean } }).spec.unschedulable).toBe(true);

    // Two left, two must stay: every eviction answers 429 until the bound, and n2 is uncordoned.
    const second = await drainAndDelete('n2', api, group, { sleep: async () => undefined, maxAttempts: 3 });
    expect(second.outcome).toBe('failed');
    expect(second.reason).toMatch(/still refused after 3 attempts \(429/);
    expect(deleted).toEqual(['n1']);
    expect((server.objects.get(nodes, undefined, 'n2') as unknown as { spec: { unschedulable?: boolean } }).spec.unschedulable).toBe(false);
    const evictions = server.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction'));
    expect(evictions.length).toBeGreaterThanOrEqual(1 + 3);
  });
});
