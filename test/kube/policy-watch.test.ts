// The policy watcher and the client-node ClusterAccess against the fake API
// server: creates, updates and deletes of both kinds arrive, a dropped or
// compacted watch is recovered, and /scale, /status and Events go where the
// HPA's would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.ts';
import { PolicyWatcher, type PolicyChange } from '../../autoscaler/kube/policy-watch.ts';
import { KubeClusterAccess } from '../../autoscaler/kube/kube-access.ts';
import { InformerClusterAccess } from '../../autoscaler/kube/informer-access.ts';
import { TargetNotFoundError } from '../../autoscaler/kube/cluster-access.ts';
import { policyCrd } from '../../autoscaler/kube/policies.ts';

const GROUP = 'autoscaling.tidemark.io';
const VERSION = 'v1alpha1';
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let server: FakeApiServer;
let kc: KubeConfig;

async function until(check: () => boolean, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function podPolicy(name: string, maxReplicas: number) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'PodAutoscalingPolicy',
    metadata: { name, namespace: 'shop' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas },
  };
}

beforeAll(async () => {
  server = await startFakeApiServer();
  kc = server.kubeConfig();
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const kind of ['PodAutoscalingPolicy', 'NodeAutoscalingPolicy'] as const) {
    await ext.createCustomResourceDefinition({ body: policyCrd(kind) as unknown as V1CustomResourceDefinition });
  }
});

afterAll(async () => {
  await server.close();
});

describe('PolicyWatcher', () => {
  it('lists existing policies, then sees creates, updates and deletes of both kinds', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', body: podPolicy('before', 3) });
    const watcher = new PolicyWatcher(kc);
    const changes: PolicyChange[] = [];
    watcher.onChange((c) => changes.push(c));
    await watcher.start();
    try {
      await until(() => watcher.podPolicies().length === 1);
      expect(watcher.podPolicies()[0]!.metadata.name).toBe('before');

      await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', body: podPolicy('web', 5) });
      await custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'nodeautoscalingpolicies',
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeAutoscalingPolicy', metadata: { name: 'cluster' }, spec: { nodeGroups: [{ name: 'g', minSize: 0, maxSize: 3, template: { capacity: { cpu: '2', memory: '4Gi', pods: '110' } } }] } },
      });
      await until(() => watcher.podPolicies().length === 2 && watcher.nodePolicies().length === 1);
      await custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'web', body: { spec: { maxReplicas: 9 } } }, MERGE);
      await until(() => watcher.podPolicies().find((p) => p.metadata.name === 'web')?.spec.maxReplicas === 9);

      // The watch drops and its history is compacted: the informer relists and still sees the delete.
      server.objects.compact();
      server.dropWatches();
      await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'before' });
      await until(() => watcher.podPolicies().length === 1);
      expect(watcher.podPolicies()[0]!.metadata.name).toBe('web');
      await until(() => changes.some((c) => c.type === 'deleted'));
      expect(changes).toEqual(
        expect.arrayContaining([
          { type: 'added', kind: 'PodAutoscalingPolicy', key: 'shop/web' },
          { type: 'added', kind: 'NodeAutoscalingPolicy', key: 'cluster' },
          { type: 'updated', kind: 'PodAutoscalingPolicy', key: 'shop/web' },
          { type: 'deleted', kind: 'PodAutoscalingPolicy', key: 'shop/before' },
        ]),
      );
    } finally {
      await watcher.stop();
    }
  });
});

describe('KubeClusterAccess', () => {
  it('reads and patches /scale, lists pods by selector, and says when a target is missing', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'shop',
      body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } } },
    });
    await core.createNamespacedPod({ namespace: 'shop', body: { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x' }] }, status: { phase: 'Running', startTime: new Date('2026-11-23T09:00:00Z') } } });
    await core.createNamespacedPod({ namespace: 'shop', body: { metadata: { name: 'other', labels: { app: 'other' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } });
    const access = new KubeClusterAccess(kc);
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
    expect(await access.getScale('shop', target)).toEqual({ replicas: 2, statusReplicas: 0, selector: 'app=web' });
    await access.setScale('shop', target, 5);
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' })).spec?.replicas).toBe(5);
    const pods = await access.listPods('shop', 'app=web');
    expect(pods.map((p) => p.metadata?.name)).toEqual(['web-1']);
    // Plain JSON, as the pure functions take it: times are strings, not Dates.
    expect(typeof (pods[0]!.status as { startTime: unknown }).startTime).toBe('string');
    await expect(access.getScale('shop', { ...target, name: 'nope' })).rejects.toBeInstanceOf(TargetNotFoundError);
    await expect(access.getScale('shop', { apiVersion: 'example.io/v1', kind: 'Widget', name: 'w' })).rejects.toBeInstanceOf(TargetNotFoundError);
  });

  it('merge-patches only a policy\'s status and records Events on the policy', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', body: podPolicy('status-test', 4) });
    const access = new KubeClusterAccess(kc, 'test-instance');
    await access.patchPolicyStatus('podautoscalingpolicies', 'shop', 'status-test', { currentReplicas: 2, desiredReplicas: 3, conditions: [{ type: 'AbleToScale', status: 'True', reason: 'SucceededRescale' }] });
    const got = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'status-test' })) as { spec: { maxReplicas: number }; status: { desiredReplicas: number } };
    expect(got.status.desiredReplicas).toBe(3);
    expect(got.spec.maxReplicas).toBe(4);
    expect(server.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/podautoscalingpolicies/status-test/status') && r.contentType === 'application/merge-patch+json')).toBe(true);

    await access.recordEvent({ involvedObject: { apiVersion: `${GROUP}/${VERSION}`, kind: 'PodAutoscalingPolicy', name: 'status-test', namespace: 'shop' }, type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 3; reason: cpu resource utilization (percentage of request) above target' });
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'shop' });
    const e = events.items.find((x) => x.involvedObject.name === 'status-test')!;
    expect(e).toMatchObject({ reason: 'SuccessfulRescale', type: 'Normal', source: { component: 'tidemark-autoscaler' }, reportingInstance: 'test-instance', count: 1 });
    expect(e.metadata?.name?.startsWith('status-test.')).toBe(true);
  });
});

describe('InformerClusterAccess', () => {
  it('serves scale and pods from its caches, follows changes, and writes through the API', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'cache',
      body: { metadata: { name: 'api' }, spec: { replicas: 3, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'app', image: 'x' }] } } } },
    });
    await core.createNamespacedPod({ namespace: 'cache', body: { metadata: { name: 'api-1', labels: { app: 'api' } }, spec: { containers: [{ name: 'app', image: 'x' }] }, status: { startTime: new Date('2026-11-23T09:00:00Z') } } });
    const access = new InformerClusterAccess(kc);
    await access.start();
    try {
      const before = server.requests.length;
      const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' };
      expect(await access.getScale('cache', target)).toEqual({ replicas: 3, statusReplicas: 0, selector: 'app=api' });
      const pods = await access.listPods('cache', 'app=api');
      expect(pods.map((p) => p.metadata?.name)).toEqual(['api-1']);
      expect(typeof (pods[0]!.status as { startTime: unknown }).startTime).toBe('string');
      await expect(access.getScale('cache', { ...target, name: 'missing' })).rejects.toBeInstanceOf(TargetNotFoundError);
      // Reads cost the API server nothing.
      expect(server.requests.length).toBe(before);
      await access.setScale('cache', target, 7);
      const deadline = Date.now() + 3000;
      while ((await access.getScale('cache', target)).replicas !== 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((await access.getScale('cache', target)).replicas).toBe(7);
    } finally {
      await access.stop();
    }
  });
});
