// The control loop over an in-process cluster (ClusterObjects + simulator +
// ObjectsClusterAccess): scaling, status conditions, events, decisions and their
// replay, and the bad inputs that must leave a reason and change nothing.
import { describe, expect, it } from 'vitest';
import { ClusterObjects, type KubeObject } from '../test/kit/cluster/cluster-objects.ts';
import { ClusterSimulator } from '../test/kit/cluster/simulator.ts';
import { SimulatedMetricsFeed } from '../test/kit/cluster/metrics-feed.ts';
import { ObjectsClusterAccess } from '../test/kit/cluster/objects-access.ts';
import { StaticPolicySource, type PolicySource } from './kube/policy-watch.ts';
import { policyCrd, type NodeAutoscalingPolicy, type PodAutoscalingPolicy, type PodAutoscalingPolicyStatus } from './kube/policies.ts';
import { createAutoscaler, startAutoscaler } from './controller.ts';
import { explainDecision } from './explain.ts';
import type { NodeActuator } from './ports.ts';
import { InMemoryDecisionLog, InMemoryPodMetrics } from '../test/kit/autoscaler-fakes.ts';

const T0 = new Date('2026-11-23T10:00:00Z');

function cluster() {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const objects = new ClusterObjects({ now });
  const crdType = objects.resourceType('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  objects.create(crdType, policyCrd('PodAutoscalingPolicy') as unknown as KubeObject);
  objects.create(crdType, policyCrd('NodeAutoscalingPolicy') as unknown as KubeObject);
  // Pods that exist at the start began long ago, past the HPA's CPU initialisation period.
  const sim = new ClusterSimulator(objects, { now, initialStartTime: new Date(T0.getTime() - 3_600_000) });
  const access = new ObjectsClusterAccess(objects);
  const feed = new SimulatedMetricsFeed(sim);
  return { objects, sim, access, feed, now, advance: (ms: number) => (clock += ms) };
}

function podPolicy(name: string, target: string, extra: Partial<PodAutoscalingPolicy['spec']> = {}): PodAutoscalingPolicy {
  return {
    apiVersion: 'autoscaling.tidemark.io/v1alpha1',
    kind: 'PodAutoscalingPolicy',
    metadata: { name, namespace: 'shop' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...extra,
    },
  };
}

function register(objects: ClusterObjects, p: PodAutoscalingPolicy): PodAutoscalingPolicy {
  const t = objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'podautoscalingpolicies')!;
  return objects.create(t, p as unknown as KubeObject) as unknown as PodAutoscalingPolicy;
}

function statusOf(objects: ClusterObjects, name: string): PodAutoscalingPolicyStatus {
  const t = objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'podautoscalingpolicies')!;
  return (objects.get(t, 'shop', name).status ?? {}) as PodAutoscalingPolicyStatus;
}

function conditionOf(status: PodAutoscalingPolicyStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

describe('pod policies', () => {
  it('scales out on CPU above target, writes HPA conditions, emits SuccessfulRescale and logs a replayable decision', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '16', memory: '32Gi' });
    // 2 pods of 500m at 1 core total = 100% utilisation against a 50% target: 4 replicas.
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '128Mi', load: () => 1 });
    const policy = register(c.objects, podPolicy('web', 'web'));
    c.feed.sample(c.now());
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([policy]), metrics: c.feed.metrics, decisions, now: c.now });
    const report = await loop.runOnce();
    expect(report).toMatchObject({ podPolicies: 1, scaled: 1, failed: 0 });
    const dep = c.objects.get(c.objects.resourceType('apps', 'v1', 'deployments')!, 'shop', 'web');
    expect((dep.spec as { replicas: number }).replicas).toBe(4);
    expect(c.sim.pods('shop')).toHaveLength(4);

    const status = statusOf(c.objects, 'web');
    expect(status).toMatchObject({ currentReplicas: 2, desiredReplicas: 4, lastScaleTime: '2026-11-23T10:00:00Z' });
    expect(status.currentMetrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', current: expect.objectContaining({ averageUtilization: 100 }) } }]);
    expect(conditionOf(status, 'AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 4' });
    expect(conditionOf(status, 'ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' });
    expect(conditionOf(status, 'ScalingLimited')).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });

    expect(c.access.events).toHaveLength(1);
    expect(c.access.events[0]).toMatchObject({ type: 'Normal', reason: 'SuccessfulRescale', involvedObject: { kind: 'PodAutoscalingPolicy', name: 'web', namespace: 'shop' } });
    expect(c.access.events[0]!.message).toMatch(/^New size: 4; reason: .*above target/);

    const explained = await explainDecision(decisions, { kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' });
    expect(explained?.decision).toMatchObject({ action: 'scale', fromReplicas: 2, toReplicas: 4 });
    expect(explained?.reproducible).toBe(true);
    expect(explained?.replayed?.desiredReplicas).toBe(4);
    // Before the decision there was none.
    expect(await explainDecision(decisions, { kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' }, new Date(T0.getTime() - 1000))).toBeUndefined();
  });

  it('caps at maxReplicas with ScalingLimited TooManyReplicas, and holds steady without writing status again', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '64', memory: '64Gi' });
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '128Mi', load: () => 10 });
    const policy = register(c.objects, podPolicy('web', 'web', { maxReplicas: 3 }));
    c.feed.sample(c.now());
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([policy]), metrics: c.feed.metrics, decisions: new InMemoryDecisionLog(), now: c.now });
    await loop.runOnce();
    expect(conditionOf(statusOf(c.objects, 'web'), 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
    expect(c.sim.pods('shop')).toHaveLength(3);
    c.advance(1000);
    c.feed.sample(c.now());
    const rv = c.objects.resourceVersion;
    await loop.runOnce();
    // At max, nothing to do: no scale, no event, no status write beyond what changed.
    expect(c.access.events.filter((e) => e.reason === 'SuccessfulRescale')).toHaveLength(1);
    const t = c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'podautoscalingpolicies')!;
    const writes = c.objects.changesSince(rv).filter((ch) => ch.resource === t);
    expect(writes.length).toBeLessThanOrEqual(1);
    expect(conditionOf(statusOf(c.objects, 'web'), 'AbleToScale')).toMatchObject({ reason: 'ReadyForNewScale' });
  });

  it('gives every bad policy a reason and no change, while a good policy in the same round still scales', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '64', memory: '64Gi' });
    for (const name of ['good', 'nometrics', 'stale', 'badquantity']) {
      c.sim.addWorkload({ namespace: 'shop', name, replicas: 2, cpuRequest: '500m', memoryRequest: '128Mi', load: () => 1 });
    }
    // A pod whose request does not parse as a quantity.
    const podType = c.objects.resourceType('', 'v1', 'pods')!;
    const bad = c.objects.list(podType, 'shop').find((p) => p.metadata.labels?.['app'] === 'badquantity')!;
    c.objects.update(podType, { ...bad, spec: { ...(bad.spec as object), containers: [{ name: 'app', resources: { requests: { cpu: 'lots' } } }] } });

    const invalid = podPolicy('invalid', 'good');
    (invalid.spec as unknown as Record<string, unknown>)['maxReplicas'] = 'ten';
    const policies = [
      register(c.objects, podPolicy('good', 'good')),
      register(c.objects, invalid),
      register(c.objects, podPolicy('missing', 'does-not-exist')),
      register(c.objects, podPolicy('nometrics', 'nometrics')),
      register(c.objects, podPolicy('stale', 'stale')),
      register(c.objects, podPolicy('badquantity', 'badquantity')),
    ];
    const metrics = new InMemoryPodMetrics();
    const feed = new SimulatedMetricsFeed(c.sim, metrics);
    // Stale samples: two hours old.
    feed.sample(new Date(c.now().getTime() - 7_200_000));
    const usage = c.sim.usage(c.now());
    for (const u of usage) {
      if (u.pod.startsWith('nometrics')) metrics.delete(u.namespace, u.pod);
      else if (!u.pod.startsWith('stale')) metrics.set(u.namespace, u.pod, [{ name: u.container, cpu: u.cpu, memory: u.memory }], c.now());
    }
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource(policies), metrics, decisions, now: c.now, staleAfterMs: 60_000 });
    const report = await loop.runOnce();
    expect(report.scaled).toBe(1);

    const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
    const replicas = (name: string) => (c.objects.get(deployments, 'shop', name).spec as { replicas: number }).replicas;
    expect(replicas('good')).toBe(4);
    for (const name of ['nometrics', 'stale', 'badquantity']) expect(replicas(name)).toBe(2);

    expect(conditionOf(statusOf(c.objects, 'invalid'), 'ScalingActive')).toMatchObject({ status: 'False', reason: 'InvalidPolicy', message: expect.stringContaining('spec.maxReplicas') });
    expect(conditionOf(statusOf(c.objects, 'missing'), 'AbleToScale')).toMatchObject({ status: 'False', reason: 'FailedGetScale', message: expect.stringContaining('does-not-exist') });
    expect(conditionOf(statusOf(c.objects, 'nometrics'), 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
    expect(conditionOf(statusOf(c.objects, 'stale'), 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric', message: expect.stringContaining('stale') });
    expect(conditionOf(statusOf(c.objects, 'badquantity'), 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric', message: expect.stringContaining('pods[') });

    for (const name of ['invalid', 'missing', 'nometrics', 'stale', 'badquantity']) {
      const d = await decisions.find({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name });
      expect(d?.action, name).toBe('none');
    }
    // Failures are announced once as Warning events, not every round.
    const warnings = c.access.events.filter((e) => e.type === 'Warning').length;
    expect(warnings).toBeGreaterThanOrEqual(5);
    c.advance(1000);
    await loop.runOnce();
    expect(c.access.events.filter((e) => e.type === 'Warning').length).toBe(warnings);
  });
});

describe('node policies', () => {
  const nodePolicy: NodeAutoscalingPolicy = {
    apiVersion: 'autoscaling.tidemark.io/v1alpha1',
    kind: 'NodeAutoscalingPolicy',
    metadata: { name: 'cluster' },
    spec: {
      nodeGroups: [{ name: 'general', minSize: 0, maxSize: 5, template: { capacity: { cpu: '2', memory: '4Gi', pods: '110' }, labels: { 'tidemark.io/node-group': 'general' } } }],
      scaleDownUnneededTime: '10m',
    },
  };

  it('asks the actuator for the nodes pending pods need, once while they are on their way', async () => {
    const c = cluster();
    c.objects.create(c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!, nodePolicy as unknown as KubeObject);
    c.sim.addNode({ name: 'base', cpu: '2', memory: '4Gi', labels: { 'tidemark.io/node-group': 'general' } });
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 6, cpuRequest: '900m', memoryRequest: '128Mi' });
    expect(c.sim.pendingPods()).toHaveLength(4);
    const calls: string[] = [];
    let upcoming = 0;
    const actuator: NodeActuator = {
      upcoming: async () => upcoming,
      increase: async (group, delta) => {
        calls.push(`${group}+${delta}`);
        upcoming += delta;
      },
      remove: async () => false,
    };
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([], [nodePolicy]), metrics: new InMemoryPodMetrics(), decisions, nodes: actuator, now: c.now });
    await loop.runOnce();
    expect(calls).toEqual(['general+2']);
    await loop.runOnce();
    expect(calls).toEqual(['general+2']);
    expect(c.access.events.filter((e) => e.reason === 'TriggeredScaleUp')).toEqual([
      expect.objectContaining({ type: 'Normal', involvedObject: expect.objectContaining({ kind: 'NodeAutoscalingPolicy', name: 'cluster' }), message: 'node group general +2 for 4 pending pod(s)' }),
    ]);
    const status = c.objects.get(c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!, undefined, 'cluster').status as { lastScaleUpTime?: string; conditions: { reason: string }[] };
    expect(status.lastScaleUpTime).toBe('2026-11-23T10:00:00Z');
    const d = await decisions.find({ kind: 'NodeAutoscalingPolicy', name: 'cluster' });
    expect(d?.input).toBeDefined();
  });

  it('plans with the nodes on their way: asks only for the pods they cannot hold', async () => {
    const c = cluster();
    c.objects.create(c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!, nodePolicy as unknown as KubeObject);
    c.sim.addNode({ name: 'base', cpu: '2', memory: '4Gi', labels: { 'tidemark.io/node-group': 'general' } });
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 6, cpuRequest: '900m', memoryRequest: '128Mi' });
    const calls: string[] = [];
    const asked: string[] = [];
    let upcoming = 0;
    const actuator: NodeActuator = {
      upcoming: async (group) => {
        asked.push(group);
        return upcoming;
      },
      increase: async (group, delta) => {
        calls.push(`${group}+${delta}`);
        upcoming += delta;
      },
      remove: async () => false,
    };
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([], [nodePolicy]), metrics: new InMemoryPodMetrics(), decisions, nodes: actuator, now: c.now });
    await loop.runOnce();
    expect(calls).toEqual(['general+2']);
    // Four more pods while the two nodes are still on their way: they hold four of the eight pending, so two more nodes.
    const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
    const dep = c.objects.get(deployments, 'shop', 'web');
    c.objects.update(deployments, { ...dep, spec: { ...(dep.spec as object), replicas: 10 } });
    expect(c.sim.pendingPods()).toHaveLength(8);
    c.advance(1000);
    await loop.runOnce();
    expect(calls).toEqual(['general+2', 'general+2']);
    const d = await decisions.find({ kind: 'NodeAutoscalingPolicy', name: 'cluster' });
    expect((d?.input as { nodeGroups: { name: string; upcoming?: number }[] }).nodeGroups[0]).toMatchObject({ name: 'general', upcoming: 2 });
    // Once the nodes registered nothing waits for a node, and the actuator is not asked.
    upcoming = 0;
    for (let i = 0; i < 4; i++) c.sim.addNode({ name: `new-${i}`, cpu: '2', memory: '4Gi', labels: { 'tidemark.io/node-group': 'general' } });
    expect(c.sim.pendingPods()).toHaveLength(0);
    const before = asked.length;
    c.advance(1000);
    await loop.runOnce();
    expect(asked.length).toBe(before);
    expect(calls).toHaveLength(2);
  });
});

describe('custom and external metrics, and node removal', () => {
  it('scales on an External metric from the CustomMetricsSource, and says why when it is missing', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '64', memory: '64Gi' });
    c.sim.addWorkload({ namespace: 'shop', name: 'worker', replicas: 2, cpuRequest: '100m', memoryRequest: '64Mi' });
    c.sim.addWorkload({ namespace: 'shop', name: 'idle', replicas: 2, cpuRequest: '100m', memoryRequest: '64Mi' });
    const external = [{ type: 'External', external: { metric: { name: 'queue_messages_ready' }, target: { type: 'AverageValue', averageValue: '30' } } }];
    const worker = register(c.objects, podPolicy('worker', 'worker', { metrics: external }));
    const idle = register(c.objects, podPolicy('idle', 'idle', { metrics: [{ type: 'External', external: { metric: { name: 'unknown_queue' }, target: { type: 'AverageValue', averageValue: '30' } } }] }));
    const asked: string[] = [];
    const loop = createAutoscaler({
      cluster: c.access,
      policies: new StaticPolicySource([worker, idle]),
      metrics: new InMemoryPodMetrics(),
      customMetrics: {
        metricsFor: async (policy) => {
          asked.push(policy.metadata.name);
          return policy.metadata.name === 'worker'
            ? { customMetrics: [], externalMetrics: [{ metricName: 'queue_messages_ready', metricLabels: {}, timestamp: c.now().toISOString(), value: '180' }] }
            : { customMetrics: [], externalMetrics: [] };
        },
      },
      decisions: new InMemoryDecisionLog(),
      now: c.now,
    });
    await loop.runOnce();
    expect(asked.sort()).toEqual(['idle', 'worker']);
    // 180 messages at 30 per pod asks for 6; without a behavior the HPA's older rule allows max(2 x 2, 4) = 4.
    const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
    expect((c.objects.get(deployments, 'shop', 'worker').spec as { replicas: number }).replicas).toBe(4);
    expect(conditionOf(statusOf(c.objects, 'worker'), 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
    expect((c.objects.get(deployments, 'shop', 'idle').spec as { replicas: number }).replicas).toBe(2);
    expect(conditionOf(statusOf(c.objects, 'idle'), 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetExternalMetric' });
  });

  it('drains unneeded autoscaler-added nodes beside the rounds and records the removal', async () => {
    const c = cluster();
    const policy: NodeAutoscalingPolicy = {
      apiVersion: 'autoscaling.tidemark.io/v1alpha1',
      kind: 'NodeAutoscalingPolicy',
      metadata: { name: 'cluster' },
      spec: { nodeGroups: [{ name: 'general', minSize: 1, maxSize: 5, template: { capacity: { cpu: '2', memory: '4Gi', pods: '110' } } }], scaleDownUnneededTime: '1s' },
    };
    c.objects.create(c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!, policy as unknown as KubeObject);
    const old = new Date(T0.getTime() - 86_400_000);
    c.sim.addNode({ name: 'base', cpu: '2', memory: '4Gi', labels: { 'tidemark.io/node-group': 'general' }, creationTimestamp: old });
    c.sim.addNode({ name: 'added', cpu: '2', memory: '4Gi', labels: { 'tidemark.io/node-group': 'general' }, annotations: { 'tidemark.io/provisioned-by': 'autoscaler' }, creationTimestamp: old });
    let release: () => void = () => undefined;
    const removed: string[] = [];
    const actuator: NodeActuator = {
      upcoming: async () => 0,
      increase: async () => undefined,
      // A drain that takes as long as the test says.
      remove: (node) =>
        new Promise<boolean>((resolve) => {
          release = () => {
            removed.push(node);
            resolve(true);
          };
        }),
    };
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([], [policy]), metrics: new InMemoryPodMetrics(), decisions, nodes: actuator, now: c.now });
    await loop.runOnce();
    c.advance(2000);
    // The round that starts the drain finishes without waiting for it, and the next one does not start it twice.
    await loop.runOnce();
    c.advance(1000);
    await loop.runOnce();
    expect(removed).toEqual([]);
    release();
    await loop.stop();
    expect(removed).toEqual(['added']);
    const status = c.objects.get(c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!, undefined, 'cluster').status as { lastScaleDownTime?: string };
    expect(status.lastScaleDownTime).toBeDefined();
    expect((await decisions.find({ kind: 'NodeAutoscalingPolicy', name: 'cluster' }))?.reason).toMatch(/^removed node added/);
    expect(c.access.events.map((e) => e.reason)).toContain('ScaleDown');
  });

  it('refuses a node policy the schema would refuse, and reports a provider that will not grow', async () => {
    const c = cluster();
    const napType = c.objects.resourceType('autoscaling.tidemark.io', 'v1alpha1', 'nodeautoscalingpolicies')!;
    const bad = { apiVersion: 'autoscaling.tidemark.io/v1alpha1', kind: 'NodeAutoscalingPolicy', metadata: { name: 'bad' }, spec: { nodeGroups: [] } } as unknown as NodeAutoscalingPolicy;
    const good: NodeAutoscalingPolicy = {
      apiVersion: 'autoscaling.tidemark.io/v1alpha1',
      kind: 'NodeAutoscalingPolicy',
      metadata: { name: 'good' },
      spec: { nodeGroups: [{ name: 'general', minSize: 0, maxSize: 5, template: { capacity: { cpu: '2', memory: '4Gi', pods: '110' } } }] },
    };
    for (const p of [bad, good]) c.objects.create(napType, p as unknown as KubeObject);
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 1, cpuRequest: '1', memoryRequest: '64Mi' });
    const actuator: NodeActuator = {
      upcoming: async () => 0,
      increase: async () => {
        throw new Error('quota exceeded in the cloud account');
      },
      remove: async () => false,
    };
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([], [bad, good]), metrics: new InMemoryPodMetrics(), decisions: new InMemoryDecisionLog(), nodes: actuator, now: c.now });
    const report = await loop.runOnce();
    expect(report.failed).toBe(0);
    const badStatus = c.objects.get(napType, undefined, 'bad').status as { conditions: { reason: string; message: string }[] };
    expect(badStatus.conditions[0]).toMatchObject({ reason: 'InvalidPolicy', message: expect.stringContaining('spec.nodeGroups') });
    expect(c.access.events.find((e) => e.reason === 'FailedScaleUp')?.message).toMatch(/quota exceeded/);
  });
});

describe('predictive scale-out', () => {
  it('scales ahead of a recurring daily peak when the policy asks for it, and only then', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '64', memory: '64Gi' });
    // 0.5 cores over 2 pods of 500m is 50%: at target, the reactive recommender holds 2.
    for (const name of ['shop-front', 'plain']) c.sim.addWorkload({ namespace: 'shop', name, replicas: 2, cpuRequest: '500m', memoryRequest: '64Mi', load: () => 0.5 });
    const predictive = register(c.objects, podPolicy('shop-front', 'shop-front', { tidemark: { predictive: { enabled: true, leadTimeSeconds: 1800 } } }));
    const plain = register(c.objects, podPolicy('plain', 'plain'));
    // Three days of history: 0.5 cores, and 2 cores every day from 10:15 to 10:45 UTC.
    const history: { time: number; value: number }[] = [];
    for (let t = T0.getTime() - 3 * 86_400_000; t < T0.getTime(); t += 5 * 60_000) {
      const minute = (t % 86_400_000) / 60_000;
      history.push({ time: t, value: minute >= 615 && minute < 645 ? 2 : 0.5 });
    }
    const asked: string[] = [];
    c.feed.sample(c.now());
    const decisions = new InMemoryDecisionLog();
    const loop = createAutoscaler({
      cluster: c.access,
      policies: new StaticPolicySource([predictive, plain]),
      metrics: c.feed.metrics,
      loadHistory: {
        loadHistory: async (policy) => {
          asked.push(policy.metadata.name);
          return history;
        },
      },
      decisions,
      now: c.now,
    });
    await loop.runOnce();
    expect(asked).toEqual(['shop-front']);
    const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
    // 2 cores at 0.25 cores per replica (500m x 50%) is 8.
    expect((c.objects.get(deployments, 'shop', 'shop-front').spec as { replicas: number }).replicas).toBe(8);
    expect((c.objects.get(deployments, 'shop', 'plain').spec as { replicas: number }).replicas).toBe(2);
    const d = await decisions.find({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'shop-front' });
    expect(d).toMatchObject({ action: 'scale', toReplicas: 8, predictive: { source: 'predictive', desiredReplicas: 8 } });
    expect(d?.reason).toMatch(/^predictive: forecast peak/);
    // The reactive part of the decision still replays exactly.
    expect((await explainDecision(decisions, { kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'shop-front' }))?.reproducible).toBe(true);
  });
});

describe('stabilization', () => {
  it('holds a scale-down inside the window and says ScaleDownStabilized, as the HPA does', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '64', memory: '64Gi' });
    let cores = 2;
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 4, cpuRequest: '500m', memoryRequest: '64Mi', load: () => cores });
    const policy = register(c.objects, podPolicy('web', 'web', { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } }));
    const loop = createAutoscaler({ cluster: c.access, policies: new StaticPolicySource([policy]), metrics: c.feed.metrics, decisions: new InMemoryDecisionLog(), now: c.now });
    c.feed.sample(c.now());
    await loop.runOnce();
    expect(c.access.events).toHaveLength(1);
    // Load falls by three quarters: the recommender wants fewer, the window keeps the recent peak.
    cores = 0.5;
    c.advance(30_000);
    c.feed.sample(c.now());
    await loop.runOnce();
    const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
    const replicas = (c.objects.get(deployments, 'shop', 'web').spec as { replicas: number }).replicas;
    expect(replicas).toBe(8);
    expect(conditionOf(statusOf(c.objects, 'web'), 'AbleToScale')).toMatchObject({ status: 'True', reason: 'ScaleDownStabilized' });
  });
});

describe('startAutoscaler', () => {
  it('runs a round at once when a policy changes, without waiting for the tick', async () => {
    const c = cluster();
    c.sim.addNode({ name: 'n1', cpu: '16', memory: '16Gi' });
    c.sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '64Mi', load: () => 1 });
    c.feed.sample(c.now());
    let listener: (() => void) | undefined;
    const policies: PodAutoscalingPolicy[] = [];
    const source: PolicySource = {
      podPolicies: () => policies,
      nodePolicies: () => [],
      onChange: (l) => {
        listener = () => l({ type: 'added', kind: 'PodAutoscalingPolicy', key: 'shop/web' });
        return () => {
          listener = undefined;
        };
      },
    };
    // A tick far longer than the test: only the change can trigger the round that scales.
    const loop = startAutoscaler({ cluster: c.access, policies: source, metrics: c.feed.metrics, decisions: new InMemoryDecisionLog(), now: c.now, tickMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const roundsBefore = loop.rounds;
      policies.push(register(c.objects, podPolicy('web', 'web')));
      listener?.();
      const deployments = c.objects.resourceType('apps', 'v1', 'deployments')!;
      const deadline = Date.now() + 2000;
      while ((c.objects.get(deployments, 'shop', 'web').spec as { replicas: number }).replicas !== 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect((c.objects.get(deployments, 'shop', 'web').spec as { replicas: number }).replicas).toBe(4);
      expect(loop.rounds).toBeGreaterThan(roundsBefore);
    } finally {
      await loop.stop();
    }
    expect(listener).toBeUndefined();
  });
});
