// The autoscaler inside the engine, end to end through the store: cAdvisor
// samples pushed to POST /api/v1/push land in the embedded store, the engine's
// loop reads them back (StorePodMetrics) and scales a Deployment on the fake
// API server through /scale, keeps its decisions in the store, and
// `tidemark autoscale explain` (a separate process, over the API) prints them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, AppsV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './kube/fake-apiserver.ts';
import { ClusterSimulator } from './kit/cluster/simulator.ts';
import { policyCrd, type PodAutoscalingPolicyStatus } from '../autoscaler/kube/policies.ts';
import { loadConfig } from '../bin/config.ts';
import { createLogger, silentLogger } from '../core/log.ts';
import { startEngine, type Engine } from '../bin/engine.ts';
import type { DecisionAnswer } from '../autoscaler/routes.ts';
import { runExplain } from '../autoscaler/cli.ts';
import type { ReplicaRecommendation } from '../autoscaler/pods/recommend.ts';

const run = promisify(execFile);
const GROUP = 'autoscaling.tidemark.io';
const VERSION = 'v1alpha1';

let dir: string;
let server: FakeApiServer;
let sim: ClusterSimulator;
let engine: Engine;
let pusher: NodeJS.Timeout | undefined;
let webCores = 0.5;
const started = new Date();

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<{ value: T; elapsedMs: number }> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return { value, elapsedMs: Date.now() - start };
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// What the kubelet's cAdvisor would report: a CPU counter per container growing by its usage, and the working set.
const counters = new Map<string, number>();
let lastPush = Date.now();
async function pushSamples(): Promise<void> {
  const now = Date.now();
  const dt = (now - lastPush) / 1000;
  lastPush = now;
  const series = [];
  for (const u of sim.usage(new Date(now))) {
    const key = `${u.namespace}/${u.pod}/${u.container}`;
    const total = (counters.get(key) ?? 0) + u.cpu * dt;
    counters.set(key, total);
    const labels = { namespace: u.namespace, pod: u.pod, container: u.container, id: `/kubepods/${u.pod}/${u.container}` };
    series.push({ labels: { __name__: 'container_cpu_usage_seconds_total', ...labels }, samples: [[now / 1000, total]] });
    series.push({ labels: { __name__: 'container_memory_working_set_bytes', ...labels }, samples: [[now / 1000, 100 * 2 ** 20]] });
    // The pause container burns a lot in this test: counted, it would scale the Deployment far out.
    series.push({ labels: { __name__: 'container_cpu_usage_seconds_total', ...labels, container: 'POD' }, samples: [[now / 1000, (now / 1000) * 50]] });
  }
  if (series.length === 0) return;
  const r = await fetch(`${engine.url}/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ series }) });
  if (!r.ok) throw new Error(`push: ${r.status} ${await r.text()}`);
}

async function explain(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/tidemark.js', 'autoscale', 'explain', ...args, '--url', engine.url], { timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

async function replicas(): Promise<number | undefined> {
  return (await server.kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' })).spec?.replicas;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidemark-autoscale-engine-'));
  server = await startFakeApiServer();
  const kc = server.kubeConfig();
  for (const kind of ['PodAutoscalingPolicy', 'NodeAutoscalingPolicy'] as const) {
    await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: policyCrd(kind) as unknown as V1CustomResourceDefinition });
  }
  sim = new ClusterSimulator(server.objects, { initialStartTime: new Date(Date.now() - 3_600_000) });
  sim.addNode({ name: 'node-1', cpu: '8', memory: '32Gi' });
  sim.addWorkload({ namespace: 'shop', name: 'web', replicas: 2, cpuRequest: '500m', memoryRequest: '256Mi', load: () => webCores });
  sim.endSeeding();
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
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
      },
    },
  });
  // The engine reads a kubeconfig file, as it would a real cluster's.
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // The fake server speaks plain HTTP, which the client allows only with TLS verification off.
      clusters: [{ name: 'fake', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tester', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
      'current-context': 'fake',
    }),
  );
  const config = loadConfig({
    env: {},
    overrides: [
      { path: ['server', 'port'], value: 0 },
      { path: ['store', 'dataPath'], value: join(dir, 'store') },
      { path: ['collector', 'host', 'enabled'], value: false },
      { path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') },
      { path: ['ingester', 'maxWait'], value: '100ms' },
      { path: ['autoscaler'], value: { enabled: true, kubeconfig, tick: '250ms' } },
    ],
  });
  engine = await startEngine(config, process.env.DEBUG_AUTOSCALE ? createLogger() : silentLogger);
  await pushSamples();
  pusher = setInterval(() => void pushSamples().catch(() => undefined), 500);
}, 60_000);

afterAll(async () => {
  if (pusher) clearInterval(pusher);
  await engine?.close();
  sim?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe.sequential('the engine autoscales from the store', () => {
  it('reads the pushed cAdvisor samples back as pod metrics and holds a steady Deployment', async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    const { value: status } = await until(
      'web policy ValidMetricFound',
      async () => {
        const p = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'shop', plural: 'podautoscalingpolicies', name: 'web' })) as { status?: PodAutoscalingPolicyStatus };
        return p.status?.conditions?.find((c) => c.type === 'ScalingActive')?.reason === 'ValidMetricFound' ? p.status : undefined;
      },
      10_000,
    );
    // 0.25 cores per pod of a 500m request: 50%, on target (the POD container left out).
    expect(status.currentMetrics?.[0]).toMatchObject({ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 50 } } });
    expect(await replicas()).toBe(2);
  }, 20_000);

  it('scales the Deployment out within seconds of a load spike', async () => {
    webCores = 3;
    const { value, elapsedMs } = await until('web scaled out', async () => ((await replicas())! > 2 ? (await replicas())! : undefined), 10_000);
    expect(value).toBeGreaterThan(2);
    expect(elapsedMs).toBeLessThan(6000);
    expect(server.requests.some((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/shop/deployments/web/scale')).toBe(true);
  }, 20_000);

  it('`tidemark autoscale explain` prints the stored decision, replayed to the same count', async () => {
    // Two processes at once: each spends seconds loading TypeScript on a busy machine.
    const [latest, text] = await Promise.all([explain('shop/web', '--json'), explain('shop/web')]);
    expect(latest.code).toBe(0);
    const answer = JSON.parse(latest.stdout) as DecisionAnswer;
    expect(answer.decision.policy).toEqual({ kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' });
    expect(answer.decision.input).toBeDefined();
    expect(answer.reproducible).toBe(true);
    expect(answer.replayed?.desiredReplicas).toBe((answer.decision.output as ReplicaRecommendation).desiredReplicas);
    // As text: the replica change, the metric's proposal and the replay.
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/replicas {3}\d+ → \d+/);
    expect(text.stdout).toMatch(/Resource cpu: proposal \d+/);
    expect(text.stdout).toContain('replay     reproduces');
    // The decision just before the latest one is found with --at (the command's own code, without a process).
    const latestMs = Date.parse(answer.decision.time);
    const earlier = await runExplain('shop/web', { json: true, at: new Date(latestMs - 1).toISOString(), url: engine.url });
    expect(earlier.code).toBe(0);
    expect(Date.parse((JSON.parse(earlier.stdout) as DecisionAnswer).decision.time)).toBeLessThan(latestMs);
    // Before the engine started there was no decision: exit 1, the reason on stderr, nothing on stdout.
    const none = await runExplain('shop/web', { at: new Date(started.getTime() - 60_000).toISOString(), url: engine.url });
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain('no decision recorded');
  }, 60_000);

  it('finds the scale decision itself in the store', async () => {
    const r = await fetch(`${engine.url}/api/v1/autoscale/decisions?policy=shop/web`);
    expect(r.status).toBe(200);
    const rows = await engine.ctx.store.query<{ n: number }>(
      `SELECT toUInt32(count()) AS n FROM ${engine.ctx.store.table('autoscaler_decisions')} WHERE namespace = 'shop' AND name = 'web' AND action = 'scale' AND current_replicas = 2 AND desired_replicas > 2`,
    );
    expect(rows[0]?.n).toBeGreaterThanOrEqual(1);
  });

  it('answers a malformed policy or time with a JSON error naming the field', async () => {
    const bad = await fetch(`${engine.url}/api/v1/autoscale/decisions?policy=web`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_input', field: 'policy' });
    const badTime = await fetch(`${engine.url}/api/v1/autoscale/decisions?policy=shop/web&at=yesterday`);
    expect(badTime.status).toBe(400);
    expect(await badTime.json()).toMatchObject({ field: 'at' });
    const cli = await runExplain('web', { url: engine.url });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('policy');
  }, 30_000);
});
