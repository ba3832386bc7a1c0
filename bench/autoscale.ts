// The autoscaler's control loop at scale: 10,000 PodAutoscalingPolicies over
// 100,000 pods, with pod metrics from an in-memory PodMetricsSource (the lead
// may switch it to the store), then a node round on a 1,000-node cluster with
// 5,000 pending pods.
//
// - recommend_p99_ms: one recommender call (parse + decide) on the inputs the
//   loop actually built, replayed from its decisions.
// - metric_to_decision_p99_s: from a sample landing (its timestamp) to the
//   first decision that used it, while samples land continuously (every pod
//   every 10 s, the kubelet's housekeeping interval, spread over 200 ms
//   batches) and the loop ticks every second.
// - node_plan_ms: the loop's node round (list, parse, plan; no actuator).
// The cluster is an in-memory ClusterAccess (no HTTP, no cloning): what is
// timed is the loop and the pure functions, not a fake API server.
// Bounded: BENCH_ROUNDS loop rounds (default 15) and BENCH_BUDGET_MS overall.
import { createAutoscaler, startAutoscaler } from '../autoscaler/controller.ts';
import type { AutoscalingDecision, PodMetricsJson } from '../autoscaler/ports.ts';
import { InMemoryDecisionLog, InMemoryPodMetrics } from '../test/kit/autoscaler-fakes.ts';
import { parseRecommendInput, recommendWithTrace, type RecommendRequest } from '../autoscaler/pods/recommend.ts';
import { StaticPolicySource } from '../autoscaler/kube/policy-watch.ts';
import type { ClusterAccess, KubeObjectJson, ScaleTargetRef, TargetScale } from '../autoscaler/kube/cluster-access.ts';
import type { NodeAutoscalingPolicy, PodAutoscalingPolicy } from '../autoscaler/kube/policies.ts';

const POLICIES = Number(process.env['BENCH_POLICIES'] ?? 10_000);
const PODS_PER_POLICY = Number(process.env['BENCH_PODS_PER_POLICY'] ?? 10);
const NODES = Number(process.env['BENCH_NODES'] ?? 1000);
const PENDING = Number(process.env['BENCH_PENDING'] ?? 5000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);
const BUDGET_MS = Number(process.env['BENCH_BUDGET_MS'] ?? 120_000);
const NAMESPACES = 100;
const started = Date.now();

let seed = 11;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** A cluster held in plain maps: pods by namespace/app, replicas by workload. */
class BenchCluster implements ClusterAccess {
  readonly pods = new Map<string, KubeObjectJson[]>();
  readonly replicas = new Map<string, number>();
  nodes: KubeObjectJson[] = [];
  allPods: KubeObjectJson[] = [];
  scaleCalls = 0;
  statusWrites = 0;
  async getScale(namespace: string, target: ScaleTargetRef): Promise<TargetScale> {
    const n = this.replicas.get(`${namespace}/${target.name}`);
    if (n === undefined) throw new Error('not found');
    return { replicas: n, statusReplicas: n, selector: `app=${target.name}` };
  }
  async setScale(namespace: string, target: ScaleTargetRef, replicas: number): Promise<void> {
    this.scaleCalls++;
    // The pods follow only on the next round, as a real Deployment's would; the bench keeps the pod set fixed.
    this.replicas.set(`${namespace}/${target.name}`, replicas);
  }
  async listPods(namespace: string, selector: string): Promise<KubeObjectJson[]> {
    return this.pods.get(`${namespace}/${selector.slice(4)}`) ?? [];
  }
  async listAllPods(): Promise<KubeObjectJson[]> {
    return this.allPods;
  }
  async listNodes(): Promise<KubeObjectJson[]> {
    return this.nodes;
  }
  async listPodDisruptionBudgets(): Promise<KubeObjectJson[]> {
    return [];
  }
  async patchPolicyStatus(): Promise<void> {
    this.statusWrites++;
  }
  async recordEvent(): Promise<void> {}
}

const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
const cluster = new BenchCluster();
const metrics = new InMemoryPodMetrics('30s');
const policies: PodAutoscalingPolicy[] = [];
const podNames: { namespace: string; name: string; policy: number }[] = [];
const cores: number[] = [];

for (let i = 0; i < POLICIES; i++) {
  const namespace = `ns-${i % NAMESPACES}`;
  const app = `app-${i}`;
  cluster.replicas.set(`${namespace}/${app}`, PODS_PER_POLICY);
  const pods: KubeObjectJson[] = [];
  for (let j = 0; j < PODS_PER_POLICY; j++) {
    const name = `${app}-${j}`;
    pods.push({
      metadata: { name, namespace, labels: { app } },
      spec: { containers: [{ name: 'app', resources: { requests: { cpu: '500m', memory: '256Mi' } } }] },
      status: { phase: 'Running', startTime: hourAgo, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: hourAgo }] },
    });
    podNames.push({ namespace, name, policy: i });
  }
  cluster.pods.set(`${namespace}/${app}`, pods);
  // Most workloads sit near their 60% target (within the 10% tolerance); one in twenty runs hot and scales.
  cores.push(i % 20 === 0 ? 0.45 + rand() * 0.15 : 0.29 + rand() * 0.02);
  policies.push({
    apiVersion: 'autoscaling.tidemark.io/v1alpha1',
    kind: 'PodAutoscalingPolicy',
    metadata: { name: app, namespace, generation: 1 },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app },
      minReplicas: 1,
      maxReplicas: 50,
      metrics:
        i % 4 === 0
          ? [
              { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
              { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '300Mi' } } },
            ]
          : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
      ...(i % 2 === 0 ? { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } : {}),
    },
  });
}

function land(fromIndex: number, count: number, at: Date): void {
  for (let k = 0; k < count; k++) {
    const p = podNames[(fromIndex + k) % podNames.length]!;
    metrics.set(p.namespace, p.name, [{ name: 'app', cpu: cores[p.policy]! * (0.98 + rand() * 0.04), memory: 200 * 2 ** 20 }], at);
  }
}
land(0, podNames.length, new Date());
const buildMs = Date.now() - started;
console.error(`built ${POLICIES} policies over ${podNames.length} pods in ${buildMs} ms`);

// ---- metric-to-decision latency under a ticking loop ----
const lastSeen = new Map<string, number>();
const latencies: number[] = [];
const decisionsSeen: AutoscalingDecision[] = [];
function onDecision(d: AutoscalingDecision): void {
  const req = d.input as RecommendRequest | undefined;
  if (!req || d.policy.kind !== 'PodAutoscalingPolicy') return;
  let newest = 0;
  for (const m of (req.podMetrics ?? []) as unknown as PodMetricsJson[]) newest = Math.max(newest, Date.parse(m.timestamp));
  const key = `${d.policy.namespace}/${d.policy.name}`;
  const before = lastSeen.get(key);
  // Steady state only: samples that landed while the first (cold, every-policy) round ran are not counted.
  if (before !== undefined && newest > before && newest >= warmAfter) latencies.push((Date.now() - newest) / 1000);
  lastSeen.set(key, newest);
  if (decisionsSeen.length < POLICIES) decisionsSeen.push(d);
}

let warmAfter = Infinity;
const decisions = new InMemoryDecisionLog(1);
const loop = startAutoscaler({ cluster, policies: new StaticPolicySource(policies), metrics, decisions, tickMs: 1000, staleAfterMs: 120_000, concurrency: 64, onDecision });
const batch = Math.ceil(podNames.length / 50);
let cursor = 0;
const lander = setInterval(() => {
  land(cursor, batch, new Date());
  cursor = (cursor + batch) % podNames.length;
}, 200);
while (loop.rounds < 1 && Date.now() - started < BUDGET_MS) await new Promise((r) => setTimeout(r, 50));
warmAfter = Date.now();
console.error(`first round (every policy, cold) done after ${warmAfter - started} ms`);
while (loop.rounds < ROUNDS && Date.now() - started < BUDGET_MS) await new Promise((r) => setTimeout(r, 100));
clearInterval(lander);
await loop.stop();
const rounds = loop.rounds;
console.error(`${rounds} rounds, ${latencies.length} metric-to-decision samples, ${cluster.scaleCalls} scale calls, ${cluster.statusWrites} status writes`);

// ---- recommend() on the loop's own inputs ----
const recommendMs: number[] = [];
for (const d of decisionsSeen) {
  if (Date.now() - started > BUDGET_MS) break;
  const t0 = performance.now();
  recommendWithTrace(parseRecommendInput(d.input));
  recommendMs.push(performance.now() - t0);
}

// ---- one node round: 1,000 nodes, 5,000 pending pods ----
const nodeCluster = new BenchCluster();
const created = new Date(Date.now() - 86_400_000).toISOString();
for (let i = 0; i < NODES; i++) {
  const byAutoscaler = i >= NODES * 0.8;
  nodeCluster.nodes.push({
    metadata: { name: `node-${i}`, labels: { 'tidemark.io/node-group': 'general' }, annotations: byAutoscaler ? { 'tidemark.io/provisioned-by': 'autoscaler' } : {}, creationTimestamp: created },
    spec: {},
    status: { allocatable: { cpu: '8', memory: '32Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  for (let j = 0; j < 6; j++) {
    nodeCluster.allPods.push({
      metadata: { name: `bound-${i}-${j}`, namespace: `ns-${j}`, labels: { app: `b${j}` }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `b${j}`, controller: true }] },
      spec: { nodeName: `node-${i}`, containers: [{ name: 'app', resources: { requests: { cpu: '1', memory: '4Gi' } } }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
}
for (let i = 0; i < PENDING; i++) {
  nodeCluster.allPods.push({
    metadata: { name: `pending-${i}`, namespace: `ns-${i % 40}`, labels: { app: `p${i % 40}` }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `p${i % 40}`, controller: true }] },
    spec: { containers: [{ name: 'app', resources: { requests: { cpu: `${250 + (i % 4) * 250}m`, memory: `${512 + (i % 3) * 512}Mi` } } }] },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
  });
}
const nodePolicy: NodeAutoscalingPolicy = {
  apiVersion: 'autoscaling.tidemark.io/v1alpha1',
  kind: 'NodeAutoscalingPolicy',
  metadata: { name: 'cluster' },
  spec: {
    nodeGroups: [
      { name: 'general', minSize: 3, maxSize: 2000, template: { capacity: { cpu: '8', memory: '32Gi', pods: '110' }, labels: { 'tidemark.io/node-group': 'general' } } },
      { name: 'large', minSize: 0, maxSize: 500, template: { capacity: { cpu: '32', memory: '128Gi', pods: '250' }, labels: { 'tidemark.io/node-group': 'large' } } },
    ],
    quotas: { maxNodesPerCluster: 5000, maxPodsPerNode: 256 },
  },
};
let planSize = 0;
const nodeLoop = createAutoscaler({
  cluster: nodeCluster,
  policies: new StaticPolicySource([], [nodePolicy]),
  metrics,
  decisions: new InMemoryDecisionLog(1),
  onDecision: (d) => {
    const out = d.output as { scaleUp?: { delta: number }[] } | undefined;
    planSize = (out?.scaleUp ?? []).reduce((a, s) => a + s.delta, 0);
  },
});
const nodeRoundMs: number[] = [];
for (let i = 0; i < 3 && Date.now() - started < BUDGET_MS; i++) nodeRoundMs.push((await nodeLoop.runOnce()).durationMs);
console.error(`node rounds ${nodeRoundMs.join(', ')} ms; plan adds ${planSize} nodes`);

console.log(
  JSON.stringify({
    bench: 'autoscale',
    policies: POLICIES,
    pods: podNames.length,
    rounds,
    tick_ms: 1000,
    cold_round_ms: warmAfter - started - buildMs,
    recommend_p50_ms: Number(percentile(recommendMs, 50).toFixed(3)),
    recommend_p99_ms: Number(percentile(recommendMs, 99).toFixed(3)),
    metric_to_decision_p99_s: Number(percentile(latencies, 99).toFixed(3)),
    node_plan_ms: Math.round(percentile(nodeRoundMs, 50)),
  }),
);
process.exit(0);
