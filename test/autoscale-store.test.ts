// The autoscaler's store side in one process: cAdvisor samples through the
// ingester become PodMetrics (CPU as a rate, memory as the latest working
// set) and load history, and decisions are kept and found by time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTestStore, sampleBatch, type TestPoint, type TestStore } from './helpers/store.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import type { SampleBatch } from '../core/bus/samples.ts';
import { silentLogger } from '../core/log.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { StoreLoadHistory, StorePodMetrics, targetPodPattern } from '../autoscaler/store-metrics.ts';
import { StoreDecisionLog, autoscalerMigrations } from '../autoscaler/decision-log.ts';
import { explainDecision } from '../autoscaler/explain.ts';
import type { AutoscalingDecision } from '../autoscaler/ports.ts';
import type { PodAutoscalingPolicy } from '../autoscaler/kube/policies.ts';
import { recommend } from '../autoscaler/pods/recommend.ts';
import { cpuUtilization, levels, makePodMetrics, makePods, makeRequest } from '../autoscaler/pods/fixtures.ts';
import { parseRecommendInput } from '../autoscaler/pods/recommend.ts';
import type { RecommendRequest } from '../autoscaler/pods/input.ts';

let t: TestStore;
const bus = new MemoryBus({ capacity: 10_000, maxDelivery: 10_000 });
let token = 0;
// A fixed minute, so that windows and rollup buckets are predictable.
const T0 = Date.UTC(2026, 9, 1, 10, 0, 0);

type Point = TestPoint;
const batch = (points: Point[]): SampleBatch => sampleBatch(points);

async function ingest(points: Point[]): Promise<void> {
  const ingester = new Ingester(t.store, ingesterMetrics(new Registry(), bus), silentLogger);
  await ingester.handle({ topic: 'metrics', payloads: [batch(points)], token: `autoscale-store/${token++}` });
}

const cpu = (namespace: string, pod: string, container: string, id = `/${pod}/${container}`) => ({ __name__: 'container_cpu_usage_seconds_total', namespace, pod, container, id });
const mem = (namespace: string, pod: string, container: string) => ({ __name__: 'container_memory_working_set_bytes', namespace, pod, container, id: `/${pod}/${container}` });

beforeAll(async () => {
  t = await openTestStore('tidemark_autoscale');
  await migrate(t.store, schemaContext(t.store, { rawRetentionDays: 3650, rollupRetentionDays: 3650 }), autoscalerMigrations);
});
afterAll(async () => {
  await t?.close();
});

describe('StorePodMetrics', () => {
  const NOW = new Date(T0 + 60_000);

  beforeAll(async () => {
    const points: Point[] = [];
    for (let s = 0; s <= 60; s += 10) {
      const ts = T0 + s * 1000;
      // web-1/app: a steady quarter of a core.
      points.push({ labels: cpu('shop', 'web-1', 'app'), ts, value: 100 + 0.25 * s });
      // The pod cgroup and the pause container are reported too, and must not count.
      points.push({ labels: cpu('shop', 'web-1', 'POD'), ts, value: 50 * s });
      points.push({ labels: { ...cpu('shop', 'web-1', 'x'), container: '' }, ts, value: 70 * s });
      points.push({ labels: mem('shop', 'web-1', 'app'), ts, value: 200 * 2 ** 20 + s * 1024 });
      // web-2/sidecar: memory only.
      points.push({ labels: mem('shop', 'web-2', 'sidecar'), ts, value: 64 * 2 ** 20 });
      // The same pod name in another namespace is another pod.
      points.push({ labels: cpu('other', 'web-1', 'app'), ts, value: 2 * s });
    }
    // web-2/app: the counter resets (the container restarted) between 30 s and 40 s.
    const resetting = [10, 15, 20, 2, 7, 12];
    resetting.forEach((v, i) => points.push({ labels: cpu('shop', 'web-2', 'app', 'new'), ts: T0 + (i + 1) * 10_000, value: v }));
    // web-3/app: an old container's series ended at 20 s; the current one is the answer.
    for (let s = 10; s <= 20; s += 10) points.push({ labels: cpu('shop', 'web-3', 'app', 'old'), ts: T0 + s * 1000, value: 5 * s });
    for (let s = 30; s <= 50; s += 10) points.push({ labels: cpu('shop', 'web-3', 'app', 'current'), ts: T0 + s * 1000, value: 0.1 * s });
    // web-4: only samples older than the window.
    points.push({ labels: mem('shop', 'web-4', 'app'), ts: T0 - 120_000, value: 1 });
    await ingest(points);
  });

  it('answers every pod asked about in one call: CPU as a rate in nano-cores, memory as the latest working set', async () => {
    const source = new StorePodMetrics(t.store, 'default');
    const [web1, web2, missing, other] = await source.podMetrics(
      [
        { namespace: 'shop', name: 'web-1' },
        { namespace: 'shop', name: 'web-2' },
        { namespace: 'shop', name: 'web-9' },
        { namespace: 'other', name: 'web-1' },
      ],
      NOW,
    );
    expect(web1).toEqual({
      metadata: { name: 'web-1', namespace: 'shop' },
      timestamp: new Date(T0 + 60_000).toISOString(),
      // Samples after the window's start: 10 s to 60 s.
      window: '50s',
      containers: [{ name: 'app', usage: { cpu: '250000000n', memory: String(200 * 2 ** 20 + 60 * 1024) } }],
    });
    // The reset counts the restarted counter's value as the increase: (5+5+2+5+5)/50 s.
    expect(web2?.containers).toEqual([
      { name: 'app', usage: { cpu: '440000000n' } },
      { name: 'sidecar', usage: { memory: String(64 * 2 ** 20) } },
    ]);
    expect(missing).toBeUndefined();
    expect(other?.containers).toEqual([{ name: 'app', usage: { cpu: '2000000000n' } }]);
  });

  it('takes a restarted container from its current series, and ignores samples older than the window', async () => {
    const source = new StorePodMetrics(t.store, 'default');
    const [web3, web4] = await source.podMetrics(
      [
        { namespace: 'shop', name: 'web-3' },
        { namespace: 'shop', name: 'web-4' },
      ],
      NOW,
    );
    expect(web3?.containers).toEqual([{ name: 'app', usage: { cpu: '100000000n' } }]);
    expect(web3?.timestamp).toBe(new Date(T0 + 50_000).toISOString());
    expect(web4).toBeUndefined();
  });

  it('keeps tenants apart and gives an empty answer to an empty question', async () => {
    const [web1] = await new StorePodMetrics(t.store, 'someone-else').podMetrics([{ namespace: 'shop', name: 'web-1' }], NOW);
    expect(web1).toBeUndefined();
    expect(await new StorePodMetrics(t.store, 'default').podMetrics([], NOW)).toEqual([]);
  });

  it('feeds the recommender: the PodMetrics parse and give the HPA count', async () => {
    const [web1] = await new StorePodMetrics(t.store, 'default').podMetrics([{ namespace: 'shop', name: 'web-1' }], NOW);
    const pod: NonNullable<RecommendRequest['pods']>[number] = {
      metadata: { name: 'web-1' },
      spec: { containers: [{ name: 'app', resources: { requests: { cpu: '1' } } }] },
      status: { phase: 'Running', startTime: new Date(T0 - 600_000).toISOString(), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(T0 - 595_000).toISOString() }] },
    };
    const request = makeRequest(1, { minReplicas: 1, maxReplicas: 10, metrics: [cpuUtilization(10)] }, { pods: [pod], podMetrics: [web1!] as unknown as NonNullable<RecommendRequest['podMetrics']> });
    request.now = NOW.toISOString();
    // 250m of a 1-core request is 25% against a 10% target: 3 replicas.
    expect(recommend(parseRecommendInput(request)).desiredReplicas).toBe(3);
  });
});

describe('StoreLoadHistory', () => {
  const start = T0 + 3_600_000;
  const policy = (kind: string, metrics?: Record<string, unknown>[]): PodAutoscalingPolicy =>
    ({
      apiVersion: 'autoscaling.tidemark.io/v1alpha1',
      kind: 'PodAutoscalingPolicy',
      metadata: { name: 'api', namespace: 'shop' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind, name: 'api' }, maxReplicas: 5, ...(metrics ? { metrics } : {}) },
    }) as PodAutoscalingPolicy;

  beforeAll(async () => {
    const points: Point[] = [];
    // Five minutes, a sample every 15 s: two pods of Deployment api at one core each, one pod of Deployment api-gateway that is not api's.
    for (let s = 0; s < 300; s += 15) {
      const ts = start + s * 1000;
      points.push({ labels: cpu('shop', 'api-7d9f8b6c5d-abcde', 'app'), ts, value: s });
      points.push({ labels: cpu('shop', 'api-7d9f8b6c5d-fghij', 'app'), ts, value: 1000 + s });
      points.push({ labels: cpu('shop', 'api-gateway-5c4b-klmno', 'app'), ts, value: 10 * s });
      points.push({ labels: mem('shop', 'api-7d9f8b6c5d-abcde', 'app'), ts, value: 100 });
      points.push({ labels: mem('shop', 'api-7d9f8b6c5d-fghij', 'app'), ts, value: 300 });
    }
    await ingest(points);
  });

  it('sums the target\'s CPU per minute from the 1-minute rollup, and only the target\'s pods', async () => {
    const history = await new StoreLoadHistory(t.store, 'default').loadHistory(policy('Deployment'), new Date(start), new Date(start + 300_000));
    // The first minute has no earlier minute to take a rate from.
    expect(history).toEqual([1, 2, 3, 4].map((m) => ({ time: start + m * 60_000, value: 2 })));
  });

  it('follows memory when that is the first metric, and nothing for a non-Resource metric', async () => {
    const memory = await new StoreLoadHistory(t.store, 'default').loadHistory(
      policy('Deployment', [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100' } } }]),
      new Date(start),
      new Date(start + 120_000),
    );
    expect(memory).toEqual([0, 1].map((m) => ({ time: start + m * 60_000, value: 400 })));
    const none = await new StoreLoadHistory(t.store, 'default').loadHistory(policy('Deployment', [{ type: 'External', external: { metric: { name: 'q' }, target: { type: 'Value', value: '1' } } }]), new Date(start), new Date(start + 300_000));
    expect(none).toEqual([]);
  });

  it('names a target\'s pods as their controllers do', () => {
    const re = (kind: string) => new RegExp(`^(?:${targetPodPattern({ kind, name: 'api' })})$`);
    expect(re('Deployment').test('api-7d9f8b6c5d-abcde')).toBe(true);
    expect(re('Deployment').test('api-gateway-5c4b-klmno')).toBe(false);
    expect(re('StatefulSet').test('api-0')).toBe(true);
    expect(re('StatefulSet').test('api-x')).toBe(false);
  });
});

describe('StoreDecisionLog', () => {
  const ref = { kind: 'PodAutoscalingPolicy' as const, namespace: 'shop', name: 'web' };
  const request = makeRequest(3, { minReplicas: 2, maxReplicas: 6, metrics: [cpuUtilization(30)] }, { pods: makePods({ count: 3, requests: ['1', '1', '1'] }), podMetrics: makePodMetrics(levels(300, 500, 700)) });
  const decision = (time: number, to: number, extra: Partial<AutoscalingDecision> = {}): AutoscalingDecision => ({
    policy: ref,
    time: new Date(time).toISOString(),
    action: to === 3 ? 'none' : 'scale',
    fromReplicas: 3,
    toReplicas: to,
    reason: `to ${to}`,
    conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'ok' }],
    ...extra,
  });

  it('finds the newest decision at or before a time, per policy', async () => {
    const log = new StoreDecisionLog(t.store, 'default', { lingerMs: 10_000 });
    await log.record(decision(T0 + 1000, 3));
    await log.record(decision(T0 + 2000, 4));
    await log.record(decision(T0 + 3000, 5));
    await log.record({ ...decision(T0 + 2500, 6), policy: { ...ref, name: 'api' } });
    // find() writes what is queued first, even when the linger has not passed.
    expect((await log.find(ref))?.reason).toBe('to 5');
    expect((await log.find(ref, new Date(T0 + 2999)))?.reason).toBe('to 4');
    expect((await log.find(ref, new Date(T0 + 2000)))?.reason).toBe('to 4');
    expect(await log.find(ref, new Date(T0 + 999))).toBeUndefined();
    expect((await log.find({ ...ref, name: 'api' }))?.toReplicas).toBe(6);
    expect(await new StoreDecisionLog(t.store, 'someone-else').find(ref)).toBeUndefined();
    const rows = await t.store.query<{ n: number }>(`SELECT toUInt32(count()) AS n FROM ${t.store.table('autoscaler_decisions')} WHERE name = 'web' AND desired_replicas = 5 AND current_replicas = 3`);
    expect(rows[0]?.n).toBe(1);
  });

  it('keeps the inputs whole, so that explainDecision replays them to the same count', async () => {
    const log = new StoreDecisionLog(t.store, 'default');
    const output = recommend(parseRecommendInput(request));
    expect(output.desiredReplicas).toBe(5);
    await log.record(decision(T0 + 10_000, 5, { input: request, output }));
    const explained = await explainDecision(log, ref, new Date(T0 + 10_000));
    expect(explained?.decision.input).toEqual(request);
    expect(explained?.replayed?.desiredReplicas).toBe(5);
    expect(explained?.reproducible).toBe(true);
    // A stored output the inputs do not give is reported as not reproducible.
    await log.record(decision(T0 + 11_000, 6, { input: request, output: { ...output, desiredReplicas: 6 } }));
    expect((await explainDecision(log, ref))?.reproducible).toBe(false);
  });

  it('stores an unchanged "no change" decision at most once per interval, and every changed one', async () => {
    const log = new StoreDecisionLog(t.store, 'default', { unchangedEveryMs: 10_000 });
    const thin = { ...ref, name: 'thin' };
    const steady = (ms: number, extra: Partial<AutoscalingDecision> = {}) => log.record({ ...decision(T0 + ms, 3, extra), policy: thin });
    await steady(0);
    await steady(1000);
    await steady(2000, { reason: 'something else' });
    await steady(3000, { reason: 'something else' });
    await steady(12_500, { reason: 'something else' });
    expect((await log.find(thin, new Date(T0 + 1500)))?.time).toBe(new Date(T0).toISOString());
    expect((await log.find(thin, new Date(T0 + 5000)))?.time).toBe(new Date(T0 + 2000).toISOString());
    expect((await log.find(thin))?.time).toBe(new Date(T0 + 12_500).toISOString());
    const rows = await t.store.query<{ n: number }>(`SELECT toUInt32(count()) AS n FROM ${t.store.table('autoscaler_decisions')} WHERE name = 'thin'`);
    expect(rows[0]?.n).toBe(3);
  });

  it('writes queued decisions after the linger, without a find', async () => {
    const log = new StoreDecisionLog(t.store, 'default', { lingerMs: 20 });
    await log.record({ ...decision(T0 + 5000, 2), policy: { ...ref, name: 'lingering' } });
    await new Promise((r) => setTimeout(r, 300));
    const rows = await t.store.query<{ n: number }>(`SELECT toUInt32(count()) AS n FROM ${t.store.table('autoscaler_decisions')} WHERE name = 'lingering'`);
    expect(rows[0]?.n).toBe(1);
  });
});
