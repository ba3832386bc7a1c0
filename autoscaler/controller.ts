// The autoscaler's control loop: every tick (1 s by default, and at once on a
// policy change) it evaluates every PodAutoscalingPolicy and
// NodeAutoscalingPolicy. A pod round reads each target's /scale and pods,
// fetches all pods' metrics in one PodMetricsSource call, asks the pure
// recommender, scales through /scale, writes the policy's status and Events,
// and stores the decision with its inputs in a DecisionLog so that it can be
// explained and replayed. A node round plans with the pure node planner and
// hands the plan to a NodeActuator. Bad input in one policy (schema, missing
// target, missing or stale metrics, an unparsable quantity) becomes a
// condition on that policy and a "no change" decision; the others go on.
import { fnv1a } from '../core/hashing.ts';
import { InputError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { parseRecommendInput, recommendWithTrace, type RecommendRequest, type ReplicaRecommendation } from './pods/recommend.ts';
import { buildLoadProfile, predictReplicas, type LoadPoint, type LoadProfile, type PredictiveRecommendation } from './pods/predictive.ts';
import { milliValue } from './quantity.ts';
import { planNodes, type NodePlan } from './nodes/plan.ts';
import { parseNodePlanInput, type NodePlanInputJson } from './nodes/input.ts';
import { TargetNotFoundError, type ClusterAccess, type KubeObjectJson } from './kube/cluster-access.ts';
import {
  NODE_POLICY_PLURAL,
  POD_POLICY_PLURAL,
  POLICY_GROUP,
  POLICY_VERSION,
  policyIssues,
  policyKey,
  type NodeAutoscalingPolicy,
  type NodeAutoscalingPolicyStatus,
  type PodAutoscalingPolicy,
  type PodAutoscalingPolicyStatus,
  type PolicyCondition,
  type PolicyKind,
} from './kube/policies.ts';
import type { PolicySource } from './kube/policy-watch.ts';
import { condition, mergeConditions, metricStatus, scalingLimited, type ConditionType, type ConditionValue } from './kube/status.ts';

// ---- the interfaces the loop reads and writes through ----

export interface PodRef {
  namespace: string;
  name: string;
}

/** A metrics.k8s.io/v1beta1 PodMetrics, as the recommender takes it. */
export interface PodMetricsJson {
  metadata: { name: string; namespace: string };
  /** When the usage was measured (the newest sample's time). */
  timestamp: string;
  /** The rate window, as a Go duration ("30s"). */
  window: string;
  containers: { name: string; usage: Record<string, string> }[];
}

/**
 * Pod usage as the metrics-server would report it, read instead from the
 * store's cAdvisor series (container_cpu_usage_seconds_total as a rate,
 * container_memory_working_set_bytes). One call per round with every pod the
 * policies select, so a store-backed source can answer with one query. The
 * answer is aligned with the question: entry i is pod i's metrics, or
 * undefined when the pod has no samples.
 */
export interface PodMetricsSource {
  podMetrics(pods: readonly PodRef[], now: Date): Promise<readonly (PodMetricsJson | undefined)[]>;
}

/**
 * Values for Pods, Object and External metrics, in the custom.metrics.k8s.io
 * (MetricValue) and external.metrics.k8s.io (ExternalMetricValue) shapes.
 * Asked only for policies that have such metrics; without a source they count
 * as missing, and the policy says so in its ScalingActive condition.
 */
export interface CustomMetricsSource {
  metricsFor(
    policy: PodAutoscalingPolicy,
    pods: readonly PodRef[],
    now: Date,
  ): Promise<{ customMetrics: NonNullable<RecommendRequest['customMetrics']>; externalMetrics: NonNullable<RecommendRequest['externalMetrics']> }>;
}

/**
 * The history of a workload's total load, for policies with
 * `spec.tidemark.predictive.enabled`: the policy's first Resource metric
 * summed over the workload's pods (CPU cores or memory bytes), from the store.
 */
export interface LoadHistorySource {
  loadHistory(policy: PodAutoscalingPolicy, since: Date, now: Date): Promise<LoadPoint[]>;
}

export interface PolicyRef {
  kind: PolicyKind;
  namespace?: string;
  name: string;
}

/** One decision of the loop, with everything needed to explain and replay it. */
export interface AutoscalingDecision {
  policy: PolicyRef;
  /** RFC 3339 time of the decision. */
  time: string;
  /** 'scale' changed a target's replicas; 'nodes' acted on a node plan; 'none' changed nothing. */
  action: 'scale' | 'nodes' | 'none';
  fromReplicas?: number;
  toReplicas?: number;
  reason: string;
  /** The recommender's request (RecommendRequest) or the node planner's input (NodePlanInputJson); absent when the loop stopped before building it. */
  input?: RecommendRequest | NodePlanInputJson;
  /** recommend()'s ReplicaRecommendation or planNodes()' NodePlan. */
  output?: ReplicaRecommendation | NodePlan;
  /** The forecast, when predictive scale-out was asked for; toReplicas then includes it. */
  predictive?: PredictiveRecommendation;
  conditions: PolicyCondition[];
}

/** Where decisions are kept; the engine's is store-backed, InMemoryDecisionLog serves tests and benchmarks. */
export interface DecisionLog {
  record(decision: AutoscalingDecision): Promise<void>;
  /** The policy's latest decision at or before `at` (now when absent). */
  find(policy: PolicyRef, at?: Date): Promise<AutoscalingDecision | undefined>;
}

/** Carries out node plans: the node provider and the drain executor behind one face. */
export interface NodeActuator {
  /** Nodes asked for but not yet registered in a group, so a round does not ask twice. */
  upcoming(group: string): Promise<number>;
  increase(group: string, delta: number): Promise<void>;
  /** Cordons, drains through the Eviction API (respecting budgets) and deletes; false when the drain could not finish. */
  remove(node: string, group: string): Promise<boolean>;
}

export interface AutoscalerOptions {
  cluster: ClusterAccess;
  policies: PolicySource;
  metrics: PodMetricsSource;
  customMetrics?: CustomMetricsSource;
  /** Needed by policies that enable predictive scale-out; without it they decide reactively. */
  loadHistory?: LoadHistorySource;
  decisions: DecisionLog;
  /** Without one, node plans are made, logged and written to status, but not carried out. */
  nodes?: NodeActuator;
  now?: () => Date;
  /** Round interval; samples are acted on within one interval plus a round's duration. */
  tickMs?: number;
  /** PodMetrics older than this are stale and ignored (the metric then counts as missing). */
  staleAfterMs?: number;
  /** Policies evaluated at once. */
  concurrency?: number;
  /**
   * A policy whose inputs (samples, replicas, pods, spec) have not changed
   * since its last evaluation is re-evaluated only after this long (15 s, the
   * HPA's own sync period), which is when windows and policies can release.
   */
  resyncMs?: number;
  log?: Logger;
  /** Called with every decision as it is made (benchmarks measure latency with it). */
  onDecision?: (decision: AutoscalingDecision) => void;
}

export interface RoundReport {
  podPolicies: number;
  nodePolicies: number;
  scaled: number;
  failed: number;
  durationMs: number;
}

export interface Autoscaler {
  /** One round over every policy; rounds never overlap (a call during a round waits for the next). */
  runOnce(): Promise<RoundReport>;
  stop(): Promise<void>;
  readonly rounds: number;
}

// ---- in-memory implementations ----

export class InMemoryDecisionLog implements DecisionLog {
  private readonly byPolicy = new Map<string, AutoscalingDecision[]>();
  constructor(private readonly perPolicyLimit = 1000) {}

  private static key(p: PolicyRef): string {
    return `${p.kind}/${p.namespace ?? ''}/${p.name}`;
  }

  async record(decision: AutoscalingDecision): Promise<void> {
    const k = InMemoryDecisionLog.key(decision.policy);
    const list = this.byPolicy.get(k) ?? [];
    list.push(decision);
    if (list.length > this.perPolicyLimit) list.splice(0, list.length - this.perPolicyLimit);
    this.byPolicy.set(k, list);
  }

  async find(policy: PolicyRef, at?: Date): Promise<AutoscalingDecision | undefined> {
    const list = this.byPolicy.get(InMemoryDecisionLog.key(policy)) ?? [];
    const limit = at ? at.getTime() : Infinity;
    for (let i = list.length - 1; i >= 0; i--) if (Date.parse(list[i]!.time) <= limit) return list[i];
    return undefined;
  }

  all(policy: PolicyRef): AutoscalingDecision[] {
    return [...(this.byPolicy.get(InMemoryDecisionLog.key(policy)) ?? [])];
  }
}

export interface ContainerUsage {
  name: string;
  /** CPU cores. */
  cpu: number;
  /** Working-set bytes. */
  memory: number;
}

/** Pod metrics held in memory, as a store-backed source would return them. */
export class InMemoryPodMetrics implements PodMetricsSource {
  // By namespace, then pod: no key strings built per lookup on a 100,000-pod round.
  private readonly byNamespace = new Map<string, Map<string, PodMetricsJson>>();
  constructor(private readonly window = '30s') {}

  set(namespace: string, pod: string, containers: readonly ContainerUsage[], timestamp: Date): void {
    let ns = this.byNamespace.get(namespace);
    if (!ns) {
      ns = new Map();
      this.byNamespace.set(namespace, ns);
    }
    ns.set(pod, {
      metadata: { name: pod, namespace },
      timestamp: timestamp.toISOString(),
      window: this.window,
      containers: containers.map((c) => ({ name: c.name, usage: { cpu: `${Math.round(c.cpu * 1e9)}n`, memory: `${Math.round(c.memory / 1024)}Ki` } })),
    });
  }

  delete(namespace: string, pod: string): void {
    this.byNamespace.get(namespace)?.delete(pod);
  }

  async podMetrics(pods: readonly PodRef[]): Promise<(PodMetricsJson | undefined)[]> {
    const out = new Array<PodMetricsJson | undefined>(pods.length);
    for (let i = 0; i < pods.length; i++) out[i] = this.byNamespace.get(pods[i]!.namespace)?.get(pods[i]!.name);
    return out;
  }
}

// ---- explain ----

export interface DecisionExplanation {
  decision: AutoscalingDecision;
  /** The recommender run again on the stored input. */
  replayed?: ReplicaRecommendation;
  /** Whether the replay gives the stored desired replica count. */
  reproducible?: boolean;
}

/** The decision in force at `at`, replayed through the recommender (what `tidemark autoscale explain` prints). */
export async function explainDecision(log: DecisionLog, policy: PolicyRef, at?: Date): Promise<DecisionExplanation | undefined> {
  const decision = await log.find(policy, at);
  if (!decision) return undefined;
  if (policy.kind !== 'PodAutoscalingPolicy' || !decision.input || !decision.output) return { decision };
  const replayed = recommendWithTrace(parseRecommendInput(decision.input)).recommendation;
  return { decision, replayed, reproducible: replayed.desiredReplicas === (decision.output as ReplicaRecommendation).desiredReplicas };
}

// ---- the loop ----

interface PolicyMemory {
  recommendations: { time: string; replicas: number }[];
  scaleEvents: { time: string; replicaChange: number }[];
  lastStatus?: PodAutoscalingPolicyStatus | NodeAutoscalingPolicyStatus;
  lastScaleTime?: string;
  unneededSince: Record<string, string>;
  /** What the last evaluation saw, and when: unchanged inputs need no new decision before the resync. */
  fingerprint?: string;
  evaluatedAt?: number;
  statusWrittenAt?: number;
  /** The fitted load profile and when: refitted every PROFILE_REFIT_MS, not every round. */
  profile?: LoadProfile;
  profileAt?: number;
}

const PROFILE_REFIT_MS = 15 * 60_000;

interface PredictiveSpec {
  enabled?: boolean;
  lookbackDays?: number;
  leadTimeSeconds?: number;
  minHistoryDays?: number;
  bucketMinutes?: number;
  quantile?: number;
}

/** The load one replica should carry at the target, in the units of the load history; undefined when the first metric is not a Resource one. */
export function perReplicaTarget(policy: PodAutoscalingPolicy, pods: readonly KubeObjectJson[]): number | undefined {
  const metric = (policy.spec.metrics ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }])[0] as
    | { type?: string; resource?: { name: string; target: { type: string; averageUtilization?: number; averageValue?: string | number } } }
    | undefined;
  if (metric?.type !== 'Resource' || !metric.resource) return undefined;
  const { name, target } = metric.resource;
  try {
    if (target.type === 'AverageValue' && target.averageValue !== undefined) return milliValue(target.averageValue) / 1000;
    if (target.type !== 'Utilization' || target.averageUtilization === undefined || pods.length === 0) return undefined;
    let requested = 0;
    for (const pod of pods) {
      for (const c of (pod.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] } | undefined)?.containers ?? []) {
        const q = c.resources?.requests?.[name];
        if (q !== undefined) requested += milliValue(q) / 1000;
      }
    }
    return requested > 0 ? (requested / pods.length) * (target.averageUtilization / 100) : undefined;
  } catch {
    return undefined;
  }
}

/** Longest any history matters: stabilization windows reach 3600 s, policy periods 1800 s. */
const HISTORY_MS = 3_600_000;

/** How the HPA controller describes a metric in its ValidMetricFound message. */
function metricDescription(m: { type: string; name: string; currentAverageUtilization?: number }): string {
  switch (m.type) {
    case 'Resource':
      return m.currentAverageUtilization !== undefined ? `${m.name} resource utilization (percentage of request)` : `${m.name} resource`;
    case 'ContainerResource':
      return m.currentAverageUtilization !== undefined ? `${m.name} container resource utilization (percentage of request)` : `${m.name} container resource`;
    case 'Pods':
      return `pods metric ${m.name}`;
    case 'Object':
      return `object metric ${m.name}`;
    default:
      return `external metric ${m.name}`;
  }
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function inPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  });
  await Promise.all(workers);
}

interface PreparedPodPolicy {
  policy: PodAutoscalingPolicy;
  key: string;
  memory: PolicyMemory;
  currentReplicas: number;
  pods: KubeObjectJson[];
}

type PodPolicyConditions = Partial<Record<ConditionType, ConditionValue>>;

/** Creates the loop without starting its timer (tests and benchmarks drive runOnce). */
export function createAutoscaler(options: AutoscalerOptions): Autoscaler {
  const now = options.now ?? (() => new Date());
  const staleAfterMs = options.staleAfterMs ?? 120_000;
  const concurrency = options.concurrency ?? 16;
  const resyncMs = options.resyncMs ?? 15_000;
  const tickMs = options.tickMs ?? 1000;
  // Each policy resyncs between half and all of resyncMs after its last evaluation, so thousands of
  // policies that started together do not all come due in the same round.
  const resyncOf = (key: string): number => resyncMs * (0.5 + (fnv1a(key) % 1000) / 2000);
  const draining = new Set<string>();
  const drains = new Set<Promise<void>>();
  // Schema checks run once per policy object: the watcher hands the same object until it changes.
  const issueCache = new WeakMap<object, ReturnType<typeof policyIssues>>();
  const issuesOf = (kind: PolicyKind, policy: object): ReturnType<typeof policyIssues> => {
    let issues = issueCache.get(policy);
    if (!issues) {
      issues = policyIssues(kind, policy);
      issueCache.set(policy, issues);
    }
    return issues;
  };
  const memories = new Map<string, PolicyMemory>();
  let rounds = 0;

  // Pod objects stay the same between rounds until they change, and so can their refs.
  const refs = new WeakMap<object, PodRef>();
  const refOf = (pod: KubeObjectJson, namespace: string): PodRef => {
    let r = refs.get(pod);
    if (!r) {
      r = { namespace, name: pod.metadata?.name ?? '' };
      refs.set(pod, r);
    }
    return r;
  };

  const memoryOf = (key: string): PolicyMemory => {
    let m = memories.get(key);
    if (!m) {
      m = { recommendations: [], scaleEvents: [], unneededSince: {} };
      memories.set(key, m);
    }
    return m;
  };

  async function decide(decision: AutoscalingDecision): Promise<void> {
    options.onDecision?.(decision);
    try {
      await options.decisions.record(decision);
    } catch (e) {
      options.log?.warn({ err: e, policy: decision.policy }, 'decision log write failed');
    }
  }

  /** Writes the status when it changed, and a Warning event when a failing condition's reason is new. */
  async function finishPodPolicy(
    policy: PodAutoscalingPolicy,
    memory: PolicyMemory,
    at: Date,
    conditions: PodPolicyConditions,
    fields: Omit<PodAutoscalingPolicyStatus, 'conditions'>,
    decision: Omit<AutoscalingDecision, 'policy' | 'time' | 'conditions'>,
  ): Promise<void> {
    const previous = (memory.lastStatus ?? policy.status) as PodAutoscalingPolicyStatus | undefined;
    const status: PodAutoscalingPolicyStatus = {
      ...(previous ?? {}),
      ...fields,
      ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}),
      conditions: mergeConditions(previous?.conditions, conditions, at),
    };
    if (memory.lastScaleTime) status.lastScaleTime = memory.lastScaleTime;
    const ref: PolicyRef = { kind: 'PodAutoscalingPolicy', namespace: policy.metadata.namespace ?? 'default', name: policy.metadata.name };
    for (const [type, value] of Object.entries(conditions) as [ConditionType, ConditionValue][]) {
      const before = previous?.conditions?.find((c) => c.type === type);
      if (value.status === 'False' && type !== 'ScalingLimited' && before?.reason !== value.reason) {
        await options.cluster
          .recordEvent({
            involvedObject: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'PodAutoscalingPolicy', name: policy.metadata.name, namespace: ref.namespace!, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) },
            type: 'Warning',
            reason: value.reason,
            message: value.message,
          })
          .catch((e: unknown) => options.log?.warn({ err: e }, 'event write failed'));
      }
    }
    // Usage figures move every round; alone they are written once per resync, anything else at once.
    const { currentMetrics: _before, ...restBefore } = previous ?? {};
    const { currentMetrics: _after, ...restAfter } = status;
    const significant = JSON.stringify(restBefore) !== JSON.stringify(restAfter);
    const metricsOnly = !significant && JSON.stringify(_before) !== JSON.stringify(_after);
    if (significant || (metricsOnly && at.getTime() - (memory.statusWrittenAt ?? 0) >= resyncMs)) {
      try {
        await options.cluster.patchPolicyStatus(POD_POLICY_PLURAL, ref.namespace, policy.metadata.name, status);
        memory.lastStatus = status;
        memory.statusWrittenAt = at.getTime();
      } catch (e) {
        options.log?.warn({ err: e, policy: ref }, 'status write failed');
      }
    }
    await decide({ policy: ref, time: at.toISOString(), conditions: status.conditions ?? [], ...decision });
  }

  async function prepare(policy: PodAutoscalingPolicy, at: Date): Promise<PreparedPodPolicy | undefined> {
    const key = `pod/${policyKey(policy)}`;
    const memory = memoryOf(key);
    const namespace = policy.metadata.namespace ?? 'default';
    const issues = issuesOf('PodAutoscalingPolicy', policy);
    if (issues.length > 0) {
      const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
      await finishPodPolicy(policy, memory, at, { ScalingActive: condition.invalidPolicy(message) }, {}, { action: 'none', reason: `invalid policy: ${message}` });
      return undefined;
    }
    let scale;
    try {
      scale = await options.cluster.getScale(namespace, policy.spec.scaleTargetRef);
    } catch (e) {
      const detail = e instanceof TargetNotFoundError ? e.message : (e as Error).message;
      await finishPodPolicy(policy, memory, at, { AbleToScale: condition.failedGetScale(detail) }, {}, { action: 'none', reason: `failed to get scale: ${detail}` });
      return undefined;
    }
    if (!scale.selector) {
      const c: ConditionValue = { status: 'False', reason: 'InvalidSelector', message: 'the HPA target\'s scale is missing a selector' };
      await finishPodPolicy(policy, memory, at, { AbleToScale: condition.readyForNewScale(), ScalingActive: c }, { currentReplicas: scale.statusReplicas }, { action: 'none', reason: c.message });
      return undefined;
    }
    const pods = await options.cluster.listPods(namespace, scale.selector);
    return { policy, key, memory, currentReplicas: scale.replicas, pods };
  }

  /** Whether a policy needs deciding this round: its inputs changed, it is due for a resync, or neither. */
  function urgency(p: PreparedPodPolicy, all: readonly PodMetricsJson[], at: Date): { kind: 'changed' | 'resync' | 'skip'; fingerprint: string } {
    const { policy, memory } = p;
    let newest = '';
    for (const m of all) if (m.timestamp > newest) newest = m.timestamp;
    let podsSeen = '';
    for (const pod of p.pods) podsSeen += `${pod.metadata?.['resourceVersion'] ?? pod.metadata?.name},`;
    const fingerprint = `${policy.metadata.resourceVersion ?? ''}|${policy.metadata.generation ?? ''}|${p.currentReplicas}|${newest}|${podsSeen}`;
    if (memory.fingerprint !== fingerprint || memory.evaluatedAt === undefined) return { kind: 'changed', fingerprint };
    return { kind: at.getTime() - memory.evaluatedAt >= resyncOf(p.key) ? 'resync' : 'skip', fingerprint };
  }

  async function evaluate(p: PreparedPodPolicy, all: PodMetricsJson[], fingerprint: string, at: Date): Promise<boolean> {
    const { policy, memory } = p;
    const namespace = policy.metadata.namespace ?? 'default';
    const cutoff = at.getTime() - HISTORY_MS;
    memory.recommendations = memory.recommendations.filter((r) => Date.parse(r.time) >= cutoff);
    memory.scaleEvents = memory.scaleEvents.filter((r) => Date.parse(r.time) >= cutoff);
    memory.fingerprint = fingerprint;
    memory.evaluatedAt = at.getTime();
    const fresh = all.filter((m) => at.getTime() - Date.parse(m.timestamp) <= staleAfterMs);
    const stale = all.length - fresh.length;
    let custom: Awaited<ReturnType<CustomMetricsSource['metricsFor']>> = { customMetrics: [], externalMetrics: [] };
    if (options.customMetrics && (policy.spec.metrics ?? []).some((m) => m['type'] === 'Pods' || m['type'] === 'Object' || m['type'] === 'External')) {
      try {
        custom = await options.customMetrics.metricsFor(policy, p.pods.map((pod) => ({ namespace, name: pod.metadata?.name ?? '' })), at);
      } catch (e) {
        options.log?.warn({ err: e, policy: policy.metadata }, 'custom metrics unavailable');
      }
    }
    const request: RecommendRequest = {
      now: at.toISOString(),
      hpa: {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: policy.metadata.name, namespace },
        spec: policy.spec as RecommendRequest['hpa']['spec'],
        status: { currentReplicas: p.currentReplicas },
      },
      pods: p.pods as RecommendRequest['pods'],
      podMetrics: fresh as unknown as RecommendRequest['podMetrics'],
      customMetrics: custom.customMetrics,
      externalMetrics: custom.externalMetrics,
      history: { recommendations: memory.recommendations, scaleEvents: memory.scaleEvents },
    };
    let trace;
    try {
      trace = recommendWithTrace(parseRecommendInput(request));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const c = condition.metricFailure('FailedGetResourceMetric', `invalid input at ${e.field}: ${e.message}`);
      await finishPodPolicy(policy, memory, at, { AbleToScale: condition.readyForNewScale(), ScalingActive: c }, { currentReplicas: p.currentReplicas, desiredReplicas: p.currentReplicas }, { action: 'none', reason: c.message, input: request });
      return false;
    }
    const rec = trace.recommendation;
    if (trace.prenormalizedReplicas !== undefined) memory.recommendations.push({ time: iso(at), replicas: trace.prenormalizedReplicas });
    const conditions: PodPolicyConditions = {};
    if (trace.failures.length > 0) {
      const f = trace.failures[0]!;
      const staleNote = stale > 0 ? ` (${stale} pod metrics older than ${Math.round(staleAfterMs / 1000)}s ignored as stale)` : '';
      conditions.ScalingActive = condition.metricFailure(f.reason, `${f.message}${staleNote}`);
    } else if (p.currentReplicas === 0 && rec.desiredReplicas === 0 && rec.reason.startsWith('scaling is disabled')) {
      conditions.ScalingActive = condition.scalingDisabled();
    } else {
      // Upstream names the metric that set the count.
      const top = rec.metrics.reduce<(typeof rec.metrics)[number] | undefined>((best, m) => (!best || m.proposal > best.proposal ? m : best), undefined);
      conditions.ScalingActive = condition.validMetricFound(top ? metricDescription(top) : 'its metrics');
    }
    conditions.ScalingLimited = scalingLimited(rec.limitedBy);
    let desired = rec.desiredReplicas;
    let reason = rec.reason;
    let predicted: PredictiveRecommendation | undefined;
    const predictive = (policy.spec.tidemark as { predictive?: PredictiveSpec } | undefined)?.predictive;
    if (predictive?.enabled && options.loadHistory && trace.failures.length === 0 && p.currentReplicas > 0) {
      predicted = await predict(policy, p, predictive, rec.desiredReplicas, at);
      if (predicted?.source === 'predictive' && predicted.desiredReplicas > desired) {
        desired = predicted.desiredReplicas;
        reason = `predictive: ${predicted.reason}`;
      }
    }
    let action: AutoscalingDecision['action'] = 'none';
    if (desired !== p.currentReplicas) {
      try {
        await options.cluster.setScale(namespace, policy.spec.scaleTargetRef, desired);
        action = 'scale';
        memory.scaleEvents.push({ time: iso(at), replicaChange: desired - p.currentReplicas });
        memory.lastScaleTime = iso(at);
        conditions.AbleToScale = condition.succeededRescale(desired);
        await options.cluster
          .recordEvent({
            involvedObject: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'PodAutoscalingPolicy', name: policy.metadata.name, namespace, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) },
            type: 'Normal',
            reason: 'SuccessfulRescale',
            message: `New size: ${desired}; reason: ${reason}`,
          })
          .catch((e: unknown) => options.log?.warn({ err: e }, 'event write failed'));
      } catch (e) {
        conditions.AbleToScale = condition.failedUpdateScale((e as Error).message);
      }
    } else if (rec.limitedBy === 'stabilizationWindow' && trace.prenormalizedReplicas !== undefined) {
      conditions.AbleToScale = trace.prenormalizedReplicas < rec.desiredReplicas ? condition.scaleDownStabilized() : condition.scaleUpStabilized();
    } else {
      conditions.AbleToScale = condition.readyForNewScale();
    }
    await finishPodPolicy(
      policy,
      memory,
      at,
      conditions,
      { currentReplicas: p.currentReplicas, desiredReplicas: desired, currentMetrics: rec.metrics.map(metricStatus) },
      { action, fromReplicas: p.currentReplicas, toReplicas: action === 'scale' ? desired : p.currentReplicas, reason, input: request, output: rec, ...(predicted ? { predictive: predicted } : {}) },
    );
    return action === 'scale';
  }

  /** The forecast for a policy, refitting its profile from the load history when it is missing or old. */
  async function predict(policy: PodAutoscalingPolicy, p: PreparedPodPolicy, spec: PredictiveSpec, reactive: number, at: Date): Promise<PredictiveRecommendation | undefined> {
    const target = perReplicaTarget(policy, p.pods);
    if (target === undefined) return undefined;
    const { memory } = p;
    const options2 = { ...(spec.bucketMinutes !== undefined ? { bucketMinutes: spec.bucketMinutes } : {}), ...(spec.quantile !== undefined ? { quantile: spec.quantile } : {}) };
    if (!memory.profile || memory.profileAt === undefined || at.getTime() - memory.profileAt > PROFILE_REFIT_MS) {
      try {
        const since = new Date(at.getTime() - (spec.lookbackDays ?? 7) * 86_400_000);
        const history = await options.loadHistory!.loadHistory(policy, since, at);
        const profile = buildLoadProfile(history, options2);
        if (profile) memory.profile = profile;
        else delete memory.profile;
        memory.profileAt = at.getTime();
      } catch (e) {
        options.log?.warn({ err: e, policy: policy.metadata }, 'load history unavailable; deciding reactively');
        return undefined;
      }
    }
    if (!memory.profile) return undefined;
    return predictReplicas({
      now: at.getTime(),
      history: [],
      profile: memory.profile,
      perReplicaTarget: target,
      leadTimeSeconds: spec.leadTimeSeconds ?? 300,
      reactiveReplicas: reactive,
      maxReplicas: policy.spec.maxReplicas,
      ...(spec.minHistoryDays !== undefined ? { minHistoryDays: spec.minHistoryDays } : {}),
      ...options2,
    });
  }

  async function podRound(at: Date): Promise<{ scaled: number; failed: number; count: number }> {
    const policies = options.policies.podPolicies();
    // A deleted policy's history goes with it; a policy recreated under the same name starts afresh.
    const live = new Set(policies.map((p) => `pod/${policyKey(p)}`));
    for (const p of options.policies.nodePolicies()) live.add(`node/${policyKey(p)}`);
    for (const key of memories.keys()) if (!live.has(key)) memories.delete(key);
    const prepared: PreparedPodPolicy[] = [];
    let failed = 0;
    await inPool(policies, concurrency, async (policy) => {
      try {
        const p = await prepare(policy, at);
        if (p) prepared.push(p);
        else failed++;
      } catch (e) {
        failed++;
        options.log?.warn({ err: e, policy: policy.metadata }, 'policy preparation failed');
      }
    });
    // Each policy's pods occupy a slice of one request; the answer is aligned with it.
    const refs: PodRef[] = [];
    const offsets: number[] = [];
    for (const p of prepared) {
      offsets.push(refs.length);
      const namespace = p.policy.metadata.namespace ?? 'default';
      for (const pod of p.pods) refs.push(refOf(pod, namespace));
    }
    let metrics: readonly (PodMetricsJson | undefined)[] = [];
    try {
      metrics = await options.metrics.podMetrics(refs, at);
    } catch (e) {
      // Metrics unavailable: every policy sees missing metrics and holds still.
      options.log?.warn({ err: e }, 'pod metrics unavailable');
    }
    let scaled = 0;
    // Fresh samples are decided first; resyncs follow, at most a fair share per round, so a wave of
    // them (after a cold start) cannot delay the next round's fresh samples.
    type Work = { p: PreparedPodPolicy; own: PodMetricsJson[]; fingerprint: string };
    const changed: Work[] = [];
    const due: Work[] = [];
    prepared.forEach((p, k) => {
      const start = offsets[k]!;
      const own: PodMetricsJson[] = [];
      for (let i = start; i < start + p.pods.length; i++) if (metrics[i]) own.push(metrics[i]!);
      const u = urgency(p, own, at);
      if (u.kind === 'changed') changed.push({ p, own, fingerprint: u.fingerprint });
      else if (u.kind === 'resync') due.push({ p, own, fingerprint: u.fingerprint });
    });
    const resyncShare = Math.max(1, Math.ceil((2 * prepared.length * tickMs) / resyncMs));
    const work = [...changed, ...due.slice(0, resyncShare)];
    await inPool(work, concurrency, async ({ p, own, fingerprint }) => {
      try {
        if (await evaluate(p, own, fingerprint, at)) scaled++;
      } catch (e) {
        failed++;
        options.log?.warn({ err: e, policy: p.policy.metadata }, 'policy evaluation failed');
      }
    });
    return { scaled, failed, count: policies.length };
  }

  async function nodeRound(policy: NodeAutoscalingPolicy, at: Date): Promise<boolean> {
    const key = `node/${policyKey(policy)}`;
    const memory = memoryOf(key);
    const ref: PolicyRef = { kind: 'NodeAutoscalingPolicy', name: policy.metadata.name };
    const previous = (memory.lastStatus ?? policy.status) as NodeAutoscalingPolicyStatus | undefined;
    const finish = async (c: { status: 'True' | 'False'; reason: string; message: string }, extra: Partial<NodeAutoscalingPolicyStatus>, decision: Omit<AutoscalingDecision, 'policy' | 'time' | 'conditions'>): Promise<void> => {
      const time = iso(at);
      const before = previous?.conditions?.find((x) => x.type === 'ScalingActive');
      const conditions: PolicyCondition[] = [
        { type: 'ScalingActive', status: c.status, reason: c.reason, message: c.message, lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : time },
      ];
      const status: NodeAutoscalingPolicyStatus = { ...(previous ?? {}), ...extra, conditions, ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}) };
      if (JSON.stringify(previous ?? {}) !== JSON.stringify(status)) {
        try {
          await options.cluster.patchPolicyStatus(NODE_POLICY_PLURAL, undefined, policy.metadata.name, status);
          memory.lastStatus = status;
        } catch (e) {
          options.log?.warn({ err: e, policy: ref }, 'status write failed');
        }
      }
      await decide({ policy: ref, time: at.toISOString(), conditions, ...decision });
    };
    const issues = issuesOf('NodeAutoscalingPolicy', policy);
    if (issues.length > 0) {
      const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
      await finish({ status: 'False', reason: 'InvalidPolicy', message }, {}, { action: 'none', reason: `invalid policy: ${message}` });
      return false;
    }
    const [nodes, pods, pdbs] = await Promise.all([options.cluster.listNodes(), options.cluster.listAllPods(), options.cluster.listPodDisruptionBudgets()]);
    const spec = policy.spec;
    const priorities: Record<string, string[]> = {};
    for (const g of spec.nodeGroups) if (g.priority !== undefined) (priorities[String(g.priority)] ??= []).push(`^${g.name.replace(/[.]/g, '\\.')}$`);
    const input = {
      now: at.toISOString(),
      nodeGroups: spec.nodeGroups.map((g) => ({ name: g.name, minSize: g.minSize, maxSize: g.maxSize, template: { capacity: g.template.capacity, labels: g.template.labels ?? {}, taints: g.template.taints ?? [] } })),
      nodes,
      // Finished pods hold no resources and the planner need not see them.
      pods: pods.filter((p) => !['Succeeded', 'Failed'].includes(String((p.status as { phase?: string } | undefined)?.phase))),
      pdbs,
      quotas: { ...(spec.quotas?.maxNodesPerCluster !== undefined ? { maxNodesPerCluster: spec.quotas.maxNodesPerCluster } : {}), maxPodsPerNode: spec.quotas?.maxPodsPerNode ?? 256 },
      options: {
        expander: spec.expander ?? 'least-waste',
        scaleDownUtilizationThreshold: spec.scaleDownUtilizationThreshold ?? 0.5,
        scaleDownUnneededTime: spec.scaleDownUnneededTime ?? '10m',
        ...(Object.keys(priorities).length > 0 ? { priorities } : {}),
      },
      unneededSince: memory.unneededSince,
    } as unknown as NodePlanInputJson;
    let plan: NodePlan;
    try {
      plan = planNodes(parseNodePlanInput(input));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      await finish({ status: 'False', reason: 'InvalidInput', message: `the node planner refused its input at ${e.field}: ${e.message}` }, {}, { action: 'none', reason: e.message, input });
      return false;
    }
    memory.unneededSince = plan.unneededSince;
    const acted: string[] = [];
    if (options.nodes) {
      for (const up of plan.scaleUp) {
        // Nodes already on their way may take these pods: asking again would overshoot.
        if ((await options.nodes.upcoming(up.nodeGroup)) > 0) continue;
        try {
          await options.nodes.increase(up.nodeGroup, up.delta);
        } catch (e) {
          await nodeEvent(policy, 'Warning', 'FailedScaleUp', `node group ${up.nodeGroup} could not grow by ${up.delta}: ${(e as Error).message}`);
          continue;
        }
        acted.push(`+${up.delta} ${up.nodeGroup}`);
        await nodeEvent(policy, 'Normal', 'TriggeredScaleUp', `node group ${up.nodeGroup} +${up.delta} for ${up.pods.length} pending pod(s)`);
      }
      if (spec.scaleDownEnabled !== false) {
        const groupOf = new Map(nodes.map((n) => [n.metadata?.name ?? '', n.metadata?.labels?.['tidemark.io/node-group'] ?? '']));
        for (const down of plan.scaleDown) {
          if (draining.has(down.node)) continue;
          acted.push(`drain ${down.node}`);
          startDrain(policy, memory, down.node, groupOf.get(down.node) ?? '', down.reason);
        }
      }
    }
    const extra: Partial<NodeAutoscalingPolicyStatus> = { unschedulablePods: plan.unschedulable.length };
    if (acted.some((a) => a.startsWith('+'))) extra.lastScaleUpTime = iso(at);
    const reason = acted.length > 0 ? acted.join(', ') : plan.scaleUp.length + plan.scaleDown.length > 0 ? 'planned, waiting for upcoming nodes or no actuator' : 'no change needed';
    await finish({ status: 'True', reason: acted.length > 0 ? 'SucceededRescale' : 'ValidPlan', message: reason }, extra, { action: acted.length > 0 ? 'nodes' : 'none', reason, input, output: plan });
    return acted.length > 0;
  }

  /** An Event on a NodeAutoscalingPolicy, as the cluster-autoscaler records TriggeredScaleUp and ScaleDown. */
  async function nodeEvent(policy: NodeAutoscalingPolicy, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await options.cluster
      .recordEvent({ involvedObject: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind: 'NodeAutoscalingPolicy', name: policy.metadata.name, ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}) }, type, reason, message })
      .catch((e: unknown) => options.log?.warn({ err: e }, 'event write failed'));
  }

  /**
   * A drain waits on evictions and disruption budgets for as long as its
   * retries allow; it runs beside the rounds so that pod decisions never wait for it.
   */
  function startDrain(policy: NodeAutoscalingPolicy, memory: PolicyMemory, node: string, group: string, why: string): void {
    const actuator = options.nodes!;
    draining.add(node);
    const ref: PolicyRef = { kind: 'NodeAutoscalingPolicy', name: policy.metadata.name };
    const work = (async () => {
      const removed = await actuator.remove(node, group);
      const at = now();
      await nodeEvent(policy, removed ? 'Normal' : 'Warning', removed ? 'ScaleDown' : 'ScaleDownFailed', removed ? `node ${node} removed: ${why}` : `node ${node} kept: its drain did not finish`);
      if (removed) {
        delete memory.unneededSince[node];
        await options.cluster.patchPolicyStatus(NODE_POLICY_PLURAL, undefined, policy.metadata.name, { lastScaleDownTime: iso(at) }).catch((e: unknown) => options.log?.warn({ err: e }, 'status write failed'));
      }
      await decide({ policy: ref, time: at.toISOString(), action: removed ? 'nodes' : 'none', reason: removed ? `removed node ${node}: ${why}` : `drain of node ${node} did not finish; node kept`, conditions: [] });
    })()
      .catch((e: unknown) => options.log?.warn({ err: e, node }, 'node removal failed'))
      .finally(() => {
        draining.delete(node);
        drains.delete(work);
      });
    drains.add(work);
  }

  async function round(): Promise<RoundReport> {
    const started = Date.now();
    const at = now();
    const pods = await podRound(at);
    let scaled = pods.scaled;
    let failed = pods.failed;
    const nodePolicies = options.policies.nodePolicies();
    for (const policy of nodePolicies) {
      try {
        if (await nodeRound(policy, at)) scaled++;
      } catch (e) {
        failed++;
        options.log?.warn({ err: e, policy: policy.metadata }, 'node policy evaluation failed');
      }
    }
    rounds++;
    return { podPolicies: pods.count, nodePolicies: nodePolicies.length, scaled, failed, durationMs: Date.now() - started };
  }

  // Rounds are chained so that they never overlap.
  let chain: Promise<unknown> = Promise.resolve();
  function runOnce(): Promise<RoundReport> {
    const next = chain.then(() => round());
    chain = next.catch(() => undefined);
    return next;
  }

  return {
    runOnce,
    async stop() {
      await chain;
      await Promise.all([...drains]);
    },
    get rounds() {
      return rounds;
    },
  };
}

/**
 * Starts the loop: a round every `tickMs` (1 s by default) and one at once on
 * any policy change, never two at a time. Needs a ClusterAccess (KubeClusterAccess
 * for a real cluster), a PolicySource (PolicyWatcher), a PodMetricsSource, a
 * DecisionLog and, to act on node plans, a NodeActuator.
 */
export function startAutoscaler(options: AutoscalerOptions): Autoscaler {
  const loop = createAutoscaler(options);
  const tickMs = options.tickMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pending = false;
  let inRound = false;

  const kick = (): void => {
    if (stopped) return;
    if (inRound) {
      pending = true;
      return;
    }
    inRound = true;
    loop
      .runOnce()
      .catch((e: unknown) => options.log?.error({ err: e }, 'autoscaler round failed'))
      .finally(() => {
        inRound = false;
        if (pending && !stopped) {
          pending = false;
          kick();
        }
      });
  };
  timer = setInterval(kick, tickMs);
  const unsubscribe = options.policies.onChange(() => kick());
  kick();
  return {
    runOnce: () => loop.runOnce(),
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      unsubscribe();
      await loop.stop();
    },
    get rounds() {
      return loop.rounds;
    },
  };
}
