// What the control loop carries from round to round: its options with their
// defaults, each policy's memory (recommendation and scale-event history for
// the behaviour windows, the last status written, the unneeded-since times of
// nodes, the fitted load profile), the schema-check cache, the drains under
// way, and the one place decisions are handed to the DecisionLog. The rounds
// (pod-round.ts, node-round.ts) read and write it; nothing here decides.
import { fnv1a } from '../../core/hashing.ts';
import type { Logger } from '../../core/log.ts';
import type { LoadProfile } from '../pods/predictive.ts';
import { policyIssues, type NodeAutoscalingPolicyStatus, type PodAutoscalingPolicyStatus, type PolicyKind } from '../kube/policies.ts';
import type { KubeObjectJson } from '../kube/cluster-access.ts';
import type {
  AutoscalingDecision,
  ClusterAccess,
  CustomMetricsSource,
  DecisionLog,
  LoadHistorySource,
  NodeActuator,
  PodMetricsSource,
  PodRef,
  PolicySource,
} from '../ports.ts';

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

export interface PolicyMemory {
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

export interface LoopContext {
  readonly options: AutoscalerOptions;
  readonly now: () => Date;
  readonly staleAfterMs: number;
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly tickMs: number;
  readonly memories: Map<string, PolicyMemory>;
  /** Nodes being drained now, and the drains themselves (stop() waits for them). */
  readonly draining: Set<string>;
  readonly drains: Set<Promise<void>>;
  /** When an unchanged policy is due again: between half and all of resyncMs after its last evaluation. */
  resyncOf(key: string): number;
  issuesOf(kind: PolicyKind, policy: object): ReturnType<typeof policyIssues>;
  memoryOf(key: string): PolicyMemory;
  refOf(pod: KubeObjectJson, namespace: string): PodRef;
  /** Hands a decision to onDecision and the DecisionLog; a failed write is logged, never thrown. */
  decide(decision: AutoscalingDecision): Promise<void>;
}

export function createLoopContext(options: AutoscalerOptions): LoopContext {
  const resyncMs = options.resyncMs ?? 15_000;
  // Schema checks run once per policy object: the watcher hands the same object until it changes.
  const issueCache = new WeakMap<object, ReturnType<typeof policyIssues>>();
  // Pod objects stay the same between rounds until they change, and so can their refs.
  const refs = new WeakMap<object, PodRef>();
  const memories = new Map<string, PolicyMemory>();
  return {
    options,
    now: options.now ?? (() => new Date()),
    staleAfterMs: options.staleAfterMs ?? 120_000,
    concurrency: options.concurrency ?? 16,
    resyncMs,
    tickMs: options.tickMs ?? 1000,
    memories,
    draining: new Set(),
    drains: new Set(),
    // Spread by a hash of the key, so thousands of policies that started together do not all come due in the same round.
    resyncOf: (key) => resyncMs * (0.5 + (fnv1a(key) % 1000) / 2000),
    issuesOf(kind, policy) {
      let issues = issueCache.get(policy);
      if (!issues) {
        issues = policyIssues(kind, policy);
        issueCache.set(policy, issues);
      }
      return issues;
    },
    memoryOf(key) {
      let m = memories.get(key);
      if (!m) {
        m = { recommendations: [], scaleEvents: [], unneededSince: {} };
        memories.set(key, m);
      }
      return m;
    },
    refOf(pod, namespace) {
      let r = refs.get(pod);
      if (!r) {
        r = { namespace, name: pod.metadata?.name ?? '' };
        refs.set(pod, r);
      }
      return r;
    },
    async decide(decision) {
      options.onDecision?.(decision);
      try {
        await options.decisions.record(decision);
      } catch (e) {
        options.log?.warn({ err: e, policy: decision.policy }, 'decision log write failed');
      }
    },
  };
}

/** RFC 3339 without milliseconds, as Kubernetes writes status times. */
export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Runs fn over items, at most `concurrency` at a time. */
export async function inPool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  });
  await Promise.all(workers);
}
