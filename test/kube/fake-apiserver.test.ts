// The fake API server, exercised through @kubernetes/client-node as the
// autoscaler uses it: typed APIs, custom objects, Watch and Informer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ApiextensionsV1Api,
  PolicyV1Api,
  EventsV1Api,
  Watch,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  ApiException,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.ts';

let server: FakeApiServer;
let kc: KubeConfig;

function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  };
}

function readyPod(name: string, labels: Record<string, string>): V1Pod {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function codeOf(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

beforeAll(async () => {
  server = await startFakeApiServer({ bookmarkIntervalMs: 100 });
  kc = server.kubeConfig();
});

afterAll(async () => {
  await server.close();
});

describe('core and apps resources', () => {
  it('creates, lists with resourceVersion and label selectors, gets, updates and deletes deployments', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const created = await apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('web', 2) });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.namespace).toBe('shop');
    await apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('api', 1) });
    const all = await apps.listNamespacedDeployment({ namespace: 'shop' });
    expect(all.items.map((d) => d.metadata?.name).sort()).toEqual(['api', 'web']);
    expect(Number(all.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata?.resourceVersion));
    const web = await apps.listNamespacedDeployment({ namespace: 'shop', labelSelector: 'app in (web,x)' });
    expect(web.items.map((d) => d.metadata?.name)).toEqual(['web']);
    const notWeb = await apps.listNamespacedDeployment({ namespace: 'shop', labelSelector: 'app!=web' });
    expect(notWeb.items.map((d) => d.metadata?.name)).toEqual(['api']);

    const got = await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' });
    got.spec!.replicas = 3;
    const updated = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'shop', body: got });
    expect(updated.spec?.replicas).toBe(3);
    expect(updated.metadata?.generation).toBe(2);
    // A stale resourceVersion is a conflict.
    await expect(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'shop', body: got })).rejects.toSatisfy((e) => codeOf(e) === 409);
    await apps.deleteNamespacedDeployment({ name: 'api', namespace: 'shop' });
    await expect(apps.readNamespacedDeployment({ name: 'api', namespace: 'shop' })).rejects.toSatisfy((e) => codeOf(e) === 404);
    await expect(apps.createNamespacedDeployment({ namespace: 'shop', body: deployment('web', 1) })).rejects.toSatisfy((e) => codeOf(e) === 409);
  });

  it('patches with JSON patch (the default), merge patch and strategic merge patch', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const j = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'shop', body: [{ op: 'replace', path: '/spec/replicas', value: 5 }, { op: 'add', path: '/metadata/labels/tier', value: 'front' }] });
    expect(j.spec?.replicas).toBe(5);
    expect(j.metadata?.labels).toEqual({ app: 'web', tier: 'front' });
    const m = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'shop', body: { metadata: { labels: { tier: null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(m.metadata?.labels).toEqual({ app: 'web' });
    const s = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'shop', body: { spec: { replicas: 6 } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(s.spec?.replicas).toBe(6);
    await expect(apps.patchNamespacedDeployment({ name: 'web', namespace: 'shop', body: [{ op: 'test', path: '/spec/replicas', value: 1 }] })).rejects.toSatisfy((e) => codeOf(e) === 422);
  });

  it('serves the scale subresource of deployments and statefulsets as autoscaling/v1 Scale', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' });
    expect(scale.kind).toBe('Scale');
    expect(scale.spec?.replicas).toBe(6);
    expect(scale.status?.selector).toBe('app=web');
    const patched = await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'shop', body: { spec: { replicas: 9 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(patched.spec?.replicas).toBe(9);
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' })).spec?.replicas).toBe(9);
    const replaced = await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: 'shop', body: { metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: 4 } } });
    expect(replaced.spec?.replicas).toBe(4);

    await apps.createNamespacedStatefulSet({
      namespace: 'shop',
      body: { metadata: { name: 'db' }, spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'pg' }] } } } },
    });
    const ss = await apps.patchNamespacedStatefulSetScale({ name: 'db', namespace: 'shop', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
    expect(ss.spec?.replicas).toBe(3);
    await expect(apps.patchNamespacedStatefulSetScale({ name: 'db', namespace: 'shop', body: [{ op: 'replace', path: '/spec/replicas', value: -1 }] })).rejects.toSatisfy((e) => codeOf(e) === 422);
  });

  it('serves nodes (cluster-scoped), pods across namespaces, field selectors and both kinds of events', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'n1', labels: { 'tidemark.io/node-group': 'g' } }, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } } } });
    const nodes = await core.listNode({ labelSelector: 'tidemark.io/node-group=g' });
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(['n1']);
    await core.createNamespacedPod({ namespace: 'a', body: { ...readyPod('p1', { app: 'x' }), spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } } });
    await core.createNamespacedPod({ namespace: 'b', body: readyPod('p2', { app: 'x' }) });
    const everywhere = await core.listPodForAllNamespaces({ labelSelector: 'app=x' });
    expect(everywhere.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort()).toEqual(['a/p1', 'b/p2']);
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
    expect(onNode.items.map((p) => p.metadata?.name)).toEqual(['p1']);

    const ev = await core.createNamespacedEvent({
      namespace: 'a',
      body: { metadata: { generateName: 'web.' }, involvedObject: { kind: 'Deployment', name: 'web', namespace: 'a' }, reason: 'SuccessfulRescale', message: 'New size: 3; reason: cpu', type: 'Normal' },
    });
    expect(ev.metadata?.name?.startsWith('web.')).toBe(true);
    const events = kc.makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({ namespace: 'a', body: { metadata: { name: 'e1' }, eventTime: new Date(), reason: 'SuccessfulRescale', action: 'Scale', reportingController: 'tidemark', reportingInstance: 'x', regarding: { kind: 'Deployment', name: 'web' } } });
    expect((await events.listNamespacedEvent({ namespace: 'a' })).items.map((e) => e.reason)).toEqual(['SuccessfulRescale']);
    expect((await core.listNamespacedEvent({ namespace: 'a' })).items).toHaveLength(1);
  });
});

describe('eviction', () => {
  it('evicts while the disruption budget allows and answers 429 when it would be violated', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    for (const n of ['q1', 'q2', 'q3']) await core.createNamespacedPod({ namespace: 'pdb', body: readyPod(n, { app: 'q' }) });
    await policy.createNamespacedPodDisruptionBudget({ namespace: 'pdb', body: { metadata: { name: 'q' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'q' } } } } });
    await core.createNamespacedPodEviction({ name: 'q1', namespace: 'pdb', body: { metadata: { name: 'q1', namespace: 'pdb' } } });
    expect((await core.listNamespacedPod({ namespace: 'pdb' })).items).toHaveLength(2);
    await expect(core.createNamespacedPodEviction({ name: 'q2', namespace: 'pdb', body: { metadata: { name: 'q2', namespace: 'pdb' } } })).rejects.toSatisfy((e) => codeOf(e) === 429);
    expect((await core.listNamespacedPod({ namespace: 'pdb' })).items).toHaveLength(2);
    // A pod no budget covers goes at once.
    await core.createNamespacedPod({ namespace: 'pdb', body: readyPod('free', { app: 'other' }) });
    await core.createNamespacedPodEviction({ name: 'free', namespace: 'pdb', body: { metadata: { name: 'free', namespace: 'pdb' } } });
    await expect(core.readNamespacedPod({ name: 'free', namespace: 'pdb' })).rejects.toSatisfy((e) => codeOf(e) === 404);
  });
});

describe('custom resources', () => {
  const crd = {
    metadata: { name: 'widgets.example.io' },
    spec: {
      group: 'example.io',
      scope: 'Namespaced' as const,
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };

  it('serves a group once its CRD is created, in discovery too, with a status subresource', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await expect(custom.listNamespacedCustomObject({ group: 'example.io', version: 'v1', namespace: 'x', plural: 'widgets' })).rejects.toSatisfy((e) => codeOf(e) === 404);
    await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd });
    const groups = (await (await fetch(`${server.url}/apis`)).json()) as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).toContain('example.io');
    const resources = (await (await fetch(`${server.url}/apis/example.io/v1`)).json()) as { resources: { name: string }[] };
    expect(resources.resources.map((r) => r.name)).toEqual(['widgets', 'widgets/status']);

    await custom.createNamespacedCustomObject({ group: 'example.io', version: 'v1', namespace: 'x', plural: 'widgets', body: { apiVersion: 'example.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 }, status: { ignored: true } } });
    const w = (await custom.getNamespacedCustomObject({ group: 'example.io', version: 'v1', namespace: 'x', plural: 'widgets', name: 'w' })) as KubernetesObject & { status?: unknown; spec: { size: number } };
    // Status is the status subresource's alone.
    expect(w.status).toBeUndefined();
    await custom.patchNamespacedCustomObjectStatus({ group: 'example.io', version: 'v1', namespace: 'x', plural: 'widgets', name: 'w', body: { status: { ready: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const patched = (await custom.patchNamespacedCustomObject({ group: 'example.io', version: 'v1', namespace: 'x', plural: 'widgets', name: 'w', body: { spec: { size: 2 }, status: { ready: false } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as { spec: { size: number }; status: { ready: boolean }; metadata: { generation: number } };
    expect(patched.spec.size).toBe(2);
    expect(patched.status).toEqual({ ready: true });
    expect(patched.metadata.generation).toBe(2);
  });
});

describe('watch and informer', () => {
  it('streams ADDED, MODIFIED, DELETED and BOOKMARK events from a resourceVersion', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const start = await core.listNamespacedPod({ namespace: 'w' });
    const seen: string[] = [];
    const done: unknown[] = [];
    const req = await new Watch(kc).watch(
      '/api/v1/namespaces/w/pods',
      { resourceVersion: start.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type, obj: KubernetesObject) => seen.push(`${type}:${type === 'BOOKMARK' ? '' : obj.metadata?.name}`),
      (err) => done.push(err),
    );
    await core.createNamespacedPod({ namespace: 'w', body: readyPod('a', { app: 'w' }) });
    await core.patchNamespacedPod({ name: 'a', namespace: 'w', body: { metadata: { labels: { app: 'w', v: '2' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await core.deleteNamespacedPod({ name: 'a', namespace: 'w' });
    await core.createNamespacedPod({ namespace: 'elsewhere', body: readyPod('b', { app: 'w' }) });
    await until(() => seen.includes('DELETED:a') && seen.includes('BOOKMARK:'));
    expect(seen.filter((s) => s !== 'BOOKMARK:')).toEqual(['ADDED:a', 'MODIFIED:a', 'DELETED:a']);
    req.abort();
  });

  it('with a label selector, reports objects entering the selector as ADDED and leaving it as DELETED', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({ namespace: 'sel', body: readyPod('s1', { app: 'other' }) });
    const start = (await core.listNamespacedPod({ namespace: 'sel', labelSelector: 'app=chosen' })).metadata!.resourceVersion!;
    const seen: string[] = [];
    const req = await new Watch(kc).watch('/api/v1/namespaces/sel/pods', { resourceVersion: start, labelSelector: 'app=chosen' }, (type, obj: KubernetesObject) => seen.push(`${type}:${obj.metadata?.name}`), () => undefined);
    const relabel = (app: string) => core.patchNamespacedPod({ name: 's1', namespace: 'sel', body: { metadata: { labels: { app } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await relabel('chosen');
    await core.patchNamespacedPod({ name: 's1', namespace: 'sel', body: { metadata: { annotations: { touched: 'yes' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await relabel('other');
    await until(() => seen.length === 3);
    expect(seen).toEqual(['ADDED:s1', 'MODIFIED:s1', 'DELETED:s1']);
    req.abort();
  });

  it('replays missed events when resuming and answers 410 Gone for a compacted resourceVersion', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const before = (await core.listNamespacedPod({ namespace: 'r' })).metadata!.resourceVersion!;
    await core.createNamespacedPod({ namespace: 'r', body: readyPod('r1', { app: 'r' }) });
    const replayed: string[] = [];
    const req = await new Watch(kc).watch('/api/v1/namespaces/r/pods', { resourceVersion: before }, (type, obj: KubernetesObject) => replayed.push(`${type}:${obj.metadata?.name}`), () => undefined);
    await until(() => replayed.length === 1);
    expect(replayed).toEqual(['ADDED:r1']);
    req.abort();

    server.objects.compact();
    const errors: { type: string; code?: number }[] = [];
    let ended = false;
    await new Watch(kc).watch('/api/v1/namespaces/r/pods', { resourceVersion: before }, (type, obj: { code?: number }) => errors.push({ type, code: obj.code }), () => {
      ended = true;
    });
    await until(() => ended);
    expect(errors).toEqual([{ type: 'ERROR', code: 410 }]);
  });

  it('feeds an Informer that lists, watches, relists after 410 and survives dropped watches', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: 'inf', body: deployment('one', 1) });
    const informer = makeInformer(kc, '/apis/apps/v1/namespaces/inf/deployments', () => apps.listNamespacedDeployment({ namespace: 'inf' }));
    const log: string[] = [];
    informer.on('add', (d) => log.push(`add:${d.metadata?.name}`));
    informer.on('update', (d) => log.push(`update:${d.metadata?.name}:${d.spec?.replicas}`));
    informer.on('delete', (d) => log.push(`delete:${d.metadata?.name}`));
    await informer.start();
    await until(() => log.includes('add:one'));
    await apps.createNamespacedDeployment({ namespace: 'inf', body: deployment('two', 1) });
    await apps.patchNamespacedDeploymentScale({ name: 'one', namespace: 'inf', body: { spec: { replicas: 7 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await until(() => log.includes('add:two') && log.includes('update:one:7'));

    // A dropped watch is resumed from the last resourceVersion; a compacted one relists.
    server.objects.compact();
    server.dropWatches();
    await apps.deleteNamespacedDeployment({ name: 'two', namespace: 'inf' });
    await until(() => log.includes('delete:two'), 5000);
    expect(informer.list('inf').map((d) => d.metadata?.name)).toEqual(['one']);
    await informer.stop();
  });
});
