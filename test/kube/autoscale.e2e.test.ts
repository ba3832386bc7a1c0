// End to end: the control loop against the fake API server (everything through
// @kubernetes/client-node: policy informers, /scale, /status, Events, node
// cordon and Eviction) with the cluster simulator behind it and the
// simulated cloud as the node provider. One cluster, three phases in order:
// a load spike scales a Deployment out within seconds; pending pods bring new
// nodes; quiet hours remove the nodes the autoscaler added and no others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.ts';
import { ClusterSimulator } from '../kit/cluster/simulator.ts';
import { SimulatedMetricsFeed } from '../kit/cluster/metrics-feed.ts';
import { SimulatedCloud } from '../../autoscaler/providers/simulated.ts';
import { runAutoscaler, type RunningAutoscaler } from '../../autoscaler/in-cluster.ts';
import { policyCrd, type PodAutoscalingPolicyStatus } from '../../autoscaler/kube/policies.ts';
import { InMemoryDecisionLog } from '../kit/autoscaler-fakes.ts';
import type { KubeObject } from '../kit/cluster/cluster-objects.ts';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const GROUP = 'autoscaling.tidemark.io';
const VERSION = 'v1alpha1';

let server: FakeApiServer;
let kc: KubeConfig;
let sim: ClusterSimulator;
let cloud: SimulatedCloud;
let feed: SimulatedMetricsFeed;
let running: RunningAutoscaler;
let sampler: NodeJS.Timeout;
let webCores = 0.5;
let originalNodes: string[] = [];
const decisions = new InMemoryDecisionLog();

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms: number): Promise<{ value: T; elapsedMs: number }> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return { value, elapsedMs: Date.now() - start };
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function nodeNames(): string[] {
  return sim.nodes().map((n) => n.metadata.name!).sort();
}

beforeAll(async () => {
  server = await startFakeApiServer();
  kc = server.kubeConfig();
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const kind of ['PodAutoscalingPolicy', 'NodeAutoscalingPolicy'] as const) {
    await ext.createCustomResourceDefinition({ body: policyCrd(kind) as unknown as V1CustomResourceDefinition });
  }
  sim = new ClusterSimulator(server.objects, { initialStartTime: new Date(Date.now() - 3_600_000) });
  const nodeType = server.objects.resourceType('', 'v1', 'nodes')!;
  // The cloud's instances register as Nodes the way kubelets would, and leave when deleted.
  cloud = new SimulatedCloud({
    groups: [{ id: 'general', minSize: 2, maxSize: 8, initialSize: 2, capacity: { cpu: '2', memory: '8Gi', pods: 110 }, labels: {} }],
    onEvent: (e) => {
      if (e.type === 'ready') {
        const node = cloud.nodeObjects().find((n) => n.metadata.name === e.instance.name);
        if (node) server.objects.create(nodeType, node as unknown as KubeObject);
      } else if (e.type === 'deleted' && server.objects.find(nodeType, undefined, e.instance.name)) {
        server.objects.delete(nodeType, undefined, e.instance.name);
      }
    },
  });
  for (const n of cloud.nodeObjects()) server.objects.create(nodeType, n as unknown as KubeObject);
  // A node added by hand, in the same group: never the autoscaler's to remove.
  sim.addNode({ name: 'manual-1', cpu: '2', memory: '8Gi', labels: { 'tidemark.io/node-group': 'general' } });
  originalNodes = nodeNames();

  sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '256Mi', load: () => webCores });
  sim.addWorkload({ namespace: 'shop', name: 'batch', replicas: 0, cpuRequest: '1500m', memoryRequest: '1Gi' });
  sim.endSeeding();

  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: 'shop',
    plural: 'podautoscalingpolicies',
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'PodAutoscalingPolicy',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        // Quiet hours come fast in a test: no downscale stabilization.
        behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } },
      },
    },
  });
  await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: 'nodeautoscalingpolicies',
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NodeAutoscalingPolicy',
      metadata: { name: 'cluster' },
      spec: {
        provider: { type: 'simulated' },
        nodeGroups: [{ name: 'general', minSize: 2, maxSize: 8, template: { capacity: { cpu: '2', memory: '8Gi', pods: '110' }, labels: { 'tidemark.io/node-group': 'general' } } }],
        expander: 'least-waste',
        scaleDownUtilizationThreshold: 0.5,
        scaleDownUnneededTime: '1s',
        quotas: { maxNodesPerCluster: 40, maxPodsPerNode: 256 },
      },
    },
  });

  feed = new SimulatedMetricsFeed(sim);
  feed.sample();
  // cAdvisor samples land every 200 ms.
  sampler = setInterval(() => feed.sample(), 200);
  running = await runAutoscaler({
    kubeConfig: kc,
    metrics: feed.metrics,
    decisions,
    provider: cloud,
    drainOptions: { initialBackoffMs: 50, maxBackoffMs: 200, podGonePollMs: 50, podGoneTimeoutMs: 5000 },
    tickMs: 250,
    staleAfterMs: 10_000,
  });
});

afterAll(async () => {
  clearInterval(sampler);
  await running?.stop();
  sim?.close();
  await server?.close();
});

describe.sequential('autoscaling end to end', () => {
  it('holds a steady workload at its size and reports ValidMetricFound', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const { value: status } = await until(
      'web policy status',
      async () => {
        const p = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'web' })) as { status?: PodAutoscalingPolicyStatus };
        return p.status?.conditions?.length ? p.status : undefined;
      },
      5000,
    );
    expect(status.conditions?.find((c) => c.type === 'ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
    expect(status.desiredReplicas).toBe(2);
    const apps = kc.makeApiClient(AppsV1Api);
    expect((await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' })).spec?.replicas).toBe(2);
  });

  it('gives a policy the schema refuses and one whose target is missing a reason in their status, and goes on', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const base = { apiVersion: `${GROUP}/${VERSION}`, kind: 'PodAutoscalingPolicy' };
    // The fake API server does not validate custom resources, as a cluster without the schema would not.
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', body: { ...base, metadata: { name: 'broken' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 'ten' } } });
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', body: { ...base, metadata: { name: 'orphan' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gone' }, maxReplicas: 3 } } });
    const conditionOf = async (name: string, type: string) => {
      const p = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name })) as { status?: PodAutoscalingPolicyStatus };
      return p.status?.conditions?.find((c) => c.type === type);
    };
    const { value: invalid } = await until('broken policy status', () => conditionOf('broken', 'ScalingActive'), 3000);
    expect(invalid).toMatchObject({ status: 'False', reason: 'InvalidPolicy', message: expect.stringContaining('spec.maxReplicas') });
    const { value: missing } = await until('orphan policy status', () => conditionOf('orphan', 'AbleToScale'), 3000);
    expect(missing).toMatchObject({ status: 'False', reason: 'FailedGetScale' });
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'shop' });
    expect(events.items.some((e) => e.type === 'Warning' && e.reason === 'FailedGetScale' && e.involvedObject.name === 'orphan')).toBe(true);
    const d = await decisions.find({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'broken' });
    expect(d?.action).toBe('none');
  });

  it('scales the Deployment out within seconds of a load spike, with an Event and status', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    // 3 cores over 2 pods of 500m is 300% of request against a 50% target: 6 replicas.
    webCores = 3;
    const { elapsedMs } = await until(
      'web scaled to 6',
      async () => ((await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' })).spec?.replicas === 6 ? true : undefined),
      5000,
    );
    expect(elapsedMs).toBeLessThan(3000);
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'shop' });
    const rescale = events.items.find((e) => e.reason === 'SuccessfulRescale');
    expect(rescale?.message).toMatch(/^New size: 6; reason: cpu resource utilization \(percentage of request\) above target/);
    expect(rescale?.involvedObject).toMatchObject({ kind: 'PodAutoscalingPolicy', name: 'web' });
    const policy = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'web' })) as { status: PodAutoscalingPolicyStatus };
    // SucceededRescale on the rescaling round; the next round, seeing 6, writes ReadyForNewScale, as the HPA does.
    expect(policy.status.conditions?.find((c) => c.type === 'AbleToScale')).toMatchObject({ status: 'True', reason: expect.stringMatching(/^(SucceededRescale|ReadyForNewScale)$/) });
    expect(policy.status.desiredReplicas).toBe(6);
    const scaled = await decisions.find({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' });
    expect(scaled?.conditions.find((c) => c.type === 'AbleToScale')?.reason ?? 'ReadyForNewScale').toMatch(/^(SucceededRescale|ReadyForNewScale)$/);
    expect(policy.status.lastScaleTime).toBeDefined();
    // The scale went through the /scale subresource.
    expect(server.requests.some((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/shop/deployments/web/scale')).toBe(true);
    expect(sim.pods('shop').filter((p) => p.metadata.labels?.['app'] === 'web')).toHaveLength(6);
  });

  it('adds nodes for pods that cannot be scheduled, and schedules them', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.patchNamespacedDeploymentScale({ name: 'batch', namespace: 'shop', body: { spec: { replicas: 4 } } }, MERGE);
    expect(sim.pendingPods().length).toBeGreaterThan(0);
    const { elapsedMs } = await until('every pod scheduled', () => (sim.pendingPods().length === 0 ? true : undefined), 8000);
    expect(elapsedMs).toBeLessThan(6000);
    const added = sim.nodes().filter((n) => n.metadata.annotations?.['tidemark.io/provisioned-by'] === 'autoscaler');
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((n) => n.metadata.labels?.['tidemark.io/node-group'] === 'general')).toBe(true);
    // The status is written after the round's Events, a moment after the nodes arrive.
    await until(
      'lastScaleUpTime',
      async () => ((await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'nodeautoscalingpolicies', name: 'cluster' })) as { status?: { lastScaleUpTime?: string } }).status?.lastScaleUpTime,
      2000,
    );
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' });
    expect(events.items.some((e) => e.reason === 'TriggeredScaleUp' && e.involvedObject.kind === 'NodeAutoscalingPolicy')).toBe(true);
  });

  it('in quiet hours removes the nodes the autoscaler added and no others, and the Deployment scales back in', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    webCores = 0;
    await apps.patchNamespacedDeploymentScale({ name: 'batch', namespace: 'shop', body: { spec: { replicas: 0 } } }, MERGE);
    const added = sim.nodes().filter((n) => n.metadata.annotations?.['tidemark.io/provisioned-by'] === 'autoscaler').map((n) => n.metadata.name!);
    expect(added.length).toBeGreaterThan(0);
    await until('autoscaler-added nodes removed', () => (nodeNames().join() === originalNodes.join() ? true : undefined), 15_000);
    expect(nodeNames()).toEqual(originalNodes);
    expect(cloud.list().filter((i) => i.provisionedByAutoscaler)).toEqual([]);
    await until('web back to 2', async () => ((await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' })).spec?.replicas === 2 ? true : undefined), 10_000);
    // Nodes were cordoned before removal, through the API.
    expect(server.requests.some((r) => r.method === 'PATCH' && added.some((n) => r.path === `/api/v1/nodes/${n}`))).toBe(true);
    const d = await decisions.find({ kind: 'NodeAutoscalingPolicy', name: 'cluster' });
    expect(d).toBeDefined();
    await until('ScaleDown events', async () => {
      const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' });
      return events.items.filter((e) => e.reason === 'ScaleDown').length === added.length ? true : undefined;
    }, 3000);
  });
});
