// The HPA replica calculator's arithmetic (Kubernetes' replica_calculator.go
// and metrics/utilization.go, v1.33 semantics), over plain data. Values are
// integer milli-units and the divisions truncate where Kubernetes' int64
// arithmetic truncates, because a one-off rounding difference changes the
// replica count at the tolerance boundary.
import type { Pod } from './input.ts';

export interface Tolerances {
  /** Fraction below the target that still counts as on target (upstream default 0.1). */
  readonly scaleDown: number;
  /** Fraction above the target that still counts as on target (upstream default 0.1). */
  readonly scaleUp: number;
}

export const DEFAULT_TOLERANCE = 0.1;

export interface CalculatorConfig {
  readonly now: number;
  readonly tolerances: Tolerances;
  /** kube-controller-manager --horizontal-pod-autoscaler-cpu-initialization-period (5 min). */
  readonly cpuInitializationPeriodMs: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay (30 s). */
  readonly delayOfInitialReadinessMs: number;
}

export interface PodSample {
  /** Milli-units. */
  readonly value: number;
  readonly timestamp: number;
  readonly windowMs: number;
}

/** Samples by pod name; may hold pods the pod list does not (those are "superfluous"). */
export type PodSamples = Map<string, PodSample>;

export class CalculationError extends Error {}

export function isWithin(t: Tolerances, usageRatio: number): boolean {
  return 1 - t.scaleDown <= usageRatio && usageRatio <= 1 + t.scaleUp;
}

export interface PodGroups {
  readonly readyPodCount: number;
  readonly unready: ReadonlySet<string>;
  readonly missing: ReadonlySet<string>;
  readonly ignored: ReadonlySet<string>;
}

const NEVER = Number.NEGATIVE_INFINITY; // Go's zero time: before everything

function readyCondition(pod: Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

/**
 * Sorts pods as the controller does: deleted and failed pods are ignored,
 * pending pods are unready, pods without a sample are missing, and for CPU a
 * pod whose sample may still carry start-up noise is unready.
 */
export function groupPods(pods: readonly Pod[], samples: PodSamples, resource: string, cfg: CalculatorConfig): PodGroups {
  const unready = new Set<string>();
  const missing = new Set<string>();
  const ignored = new Set<string>();
  let readyPodCount = 0;
  for (const pod of pods) {
    const name = pod.metadata.name;
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp != null || phase === 'Failed') {
      ignored.add(name);
      continue;
    }
    if (phase === 'Pending') {
      unready.add(name);
      continue;
    }
    const sample = samples.get(name);
    if (!sample) {
      missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const cond = readyCondition(pod);
      const start = pod.status?.startTime;
      let isUnready: boolean;
      if (!cond || start == null) {
        isUnready = true;
      } else {
        const transition = cond.lastTransitionTime ?? NEVER;
        if (start + cfg.cpuInitializationPeriodMs > cfg.now) {
          // Still initialising: trust only a ready pod with a full window of samples since it became ready.
          isUnready = cond.status === 'False' || sample.timestamp < transition + sample.windowMs;
        } else {
          // Past initialisation: discount only a pod that has never become ready.
          isUnready = cond.status === 'False' && start + cfg.delayOfInitialReadinessMs > transition;
        }
      }
      if (isUnready) {
        unready.add(name);
        continue;
      }
    }
    readyPodCount++;
  }
  return { readyPodCount, unready, missing, ignored };
}

/**
 * Requests per pod in milli-units, summed over containers and restartable
 * init containers (sidecars), or of one container. Every pod in the list
 * counts, so one pod without a request fails the metric, as upstream.
 */
export function calculateRequests(pods: readonly Pod[], container: string | undefined, resource: string): Map<string, number> {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    const containers = [
      ...pod.spec.containers,
      ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
    ];
    let request = 0;
    let found = false;
    for (const c of containers) {
      if (container !== undefined && c.name !== container) continue;
      const r = c.resources?.requests?.[resource];
      if (r === undefined) {
        throw new CalculationError(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name}`);
      }
      request += r;
      found = true;
      if (container !== undefined) break;
    }
    if (container !== undefined && !found) {
      throw new CalculationError(`container ${container} not found in Pod ${pod.metadata.name}`);
    }
    requests.set(pod.metadata.name, request);
  }
  return requests;
}

interface UtilizationRatio {
  ratio: number;
  utilization: number;
  rawAverage: number;
}

function resourceUtilizationRatio(samples: PodSamples, requests: Map<string, number>, targetUtilization: number): UtilizationRatio {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let entries = 0;
  for (const [name, s] of samples) {
    const request = requests.get(name);
    if (request === undefined) continue; // a sample for a pod we do not know
    metricsTotal += s.value;
    requestsTotal += request;
    entries++;
  }
  if (requestsTotal === 0) throw new CalculationError('no metrics returned matched known pods');
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / entries) };
}

function metricUsageRatio(samples: PodSamples, targetUsage: number): { ratio: number; usage: number } {
  let total = 0;
  for (const s of samples.values()) total += s.value;
  const usage = Math.trunc(total / samples.size);
  return { ratio: usage / targetUsage, usage };
}

export interface ResourceProposal {
  replicas: number;
  /** Integer percent of the summed requests. */
  utilization: number;
  /** Average milli-value per pod. */
  rawAverage: number;
}

/** The samples of ready, counted pods, and the grouping that decided it; errors as upstream when none remain. */
function readySamples(pods: readonly Pod[], samplesIn: PodSamples, resource: string, cfg: CalculatorConfig): { samples: PodSamples; groups: ReturnType<typeof groupPods> } {
  if (pods.length === 0) throw new CalculationError('no pods returned by selector while calculating replica count');
  const samples = new Map(samplesIn);
  const groups = groupPods(pods, samples, resource, cfg);
  for (const name of groups.ignored) samples.delete(name);
  for (const name of groups.unready) samples.delete(name);
  if (samples.size === 0) throw new CalculationError('did not receive metrics for targeted pods (pods might be unready)');
  return { samples, groups };
}

/** GetResourceReplicas: a Resource or ContainerResource metric with a Utilization target. */
export function resourceUtilizationReplicas(
  currentReplicas: number,
  targetUtilization: number,
  resource: string,
  container: string | undefined,
  pods: readonly Pod[],
  samplesIn: PodSamples,
  cfg: CalculatorConfig,
): ResourceProposal {
  const { samples, groups } = readySamples(pods, samplesIn, resource, cfg);

  const requests = calculateRequests(pods, container, resource);
  const first = resourceUtilizationRatio(samples, requests, targetUtilization);
  const { ratio, utilization, rawAverage } = first;

  const scaleUpWithUnready = groups.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && groups.missing.size === 0) {
    if (isWithin(cfg.tolerances, ratio)) return { replicas: currentReplicas, utilization, rawAverage };
    return { replicas: Math.ceil(ratio * groups.readyPodCount), utilization, rawAverage };
  }

  if (groups.missing.size > 0) {
    if (ratio < 1) {
      // Scale-down: assume a pod without a sample uses its whole request (or the target, when above 100%).
      const fallback = Math.max(100, targetUtilization);
      for (const name of groups.missing) {
        samples.set(name, { value: Math.trunc(((requests.get(name) ?? 0) * fallback) / 100), timestamp: cfg.now, windowMs: 0 });
      }
    } else if (ratio > 1) {
      for (const name of groups.missing) samples.set(name, { value: 0, timestamp: cfg.now, windowMs: 0 });
    }
  }
  if (scaleUpWithUnready) {
    for (const name of groups.unready) samples.set(name, { value: 0, timestamp: cfg.now, windowMs: 0 });
  }

  const newRatio = resourceUtilizationRatio(samples, requests, targetUtilization).ratio;
  if (isWithin(cfg.tolerances, newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return { replicas: currentReplicas, utilization, rawAverage };
  }
  const newReplicas = Math.ceil(newRatio * samples.size);
  if ((newRatio < 1 && newReplicas > currentReplicas) || (newRatio > 1 && newReplicas < currentReplicas)) {
    return { replicas: currentReplicas, utilization, rawAverage };
  }
  return { replicas: newReplicas, utilization, rawAverage };
}

export interface UsageProposal {
  replicas: number;
  /** Milli-units: the per-pod average, or the object's/external total for Value targets. */
  usage: number;
}

/**
 * calcPlainMetricReplicas: a per-pod average target (Pods metrics, and
 * Resource metrics with an AverageValue target, where `resource` is the
 * resource name so that CPU readiness rules apply).
 */
export function averageValueReplicas(
  currentReplicas: number,
  targetUsage: number,
  resource: string,
  pods: readonly Pod[],
  samplesIn: PodSamples,
  cfg: CalculatorConfig,
): UsageProposal {
  const { samples, groups } = readySamples(pods, samplesIn, resource, cfg);

  const { ratio, usage } = metricUsageRatio(samples, targetUsage);
  const scaleUpWithUnready = groups.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && groups.missing.size === 0) {
    if (isWithin(cfg.tolerances, ratio)) return { replicas: currentReplicas, usage };
    return { replicas: Math.ceil(ratio * groups.readyPodCount), usage };
  }
  if (groups.missing.size > 0) {
    const assumed = ratio < 1 ? targetUsage : ratio > 1 ? 0 : undefined;
    if (assumed !== undefined) {
      for (const name of groups.missing) samples.set(name, { value: assumed, timestamp: cfg.now, windowMs: 0 });
    }
  }
  if (scaleUpWithUnready) {
    for (const name of groups.unready) samples.set(name, { value: 0, timestamp: cfg.now, windowMs: 0 });
  }
  const newRatio = metricUsageRatio(samples, targetUsage).ratio;
  if (isWithin(cfg.tolerances, newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return { replicas: currentReplicas, usage };
  }
  const newReplicas = Math.ceil(newRatio * samples.size);
  if ((newRatio < 1 && newReplicas > currentReplicas) || (newRatio > 1 && newReplicas < currentReplicas)) {
    return { replicas: currentReplicas, usage };
  }
  return { replicas: newReplicas, usage };
}

function readyPodCount(pods: readonly Pod[]): number {
  if (pods.length === 0) throw new CalculationError('no pods returned by selector while calculating replica count');
  return pods.filter((p) => p.status?.phase === 'Running' && readyCondition(p)?.status === 'True').length;
}

/**
 * getUsageRatioReplicaCount: a whole-workload value (Object or External with
 * a Value target) scales the ready pods by the ratio; from zero replicas the
 * ratio alone decides, which is what lets a workload come back from zero.
 */
export function valueReplicas(
  currentReplicas: number,
  usage: number,
  targetUsage: number,
  pods: readonly Pod[],
  cfg: CalculatorConfig,
): UsageProposal {
  const ratio = usage / targetUsage;
  if (currentReplicas === 0) return { replicas: Math.ceil(ratio), usage };
  if (isWithin(cfg.tolerances, ratio)) return { replicas: currentReplicas, usage };
  return { replicas: Math.min(Math.ceil(ratio * readyPodCount(pods)), 2 ** 31 - 1), usage };
}

/** GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas: total divided by a per-pod target. */
export function perPodValueReplicas(statusReplicas: number, total: number, targetPerPod: number, cfg: CalculatorConfig): UsageProposal {
  let replicas = statusReplicas;
  const ratio = total / (targetPerPod * statusReplicas);
  if (!isWithin(cfg.tolerances, ratio)) replicas = Math.min(Math.ceil(total / targetPerPod), 2 ** 31 - 1);
  // From zero replicas there is no per-pod average; report the total.
  const usage = statusReplicas === 0 ? total : Math.ceil(total / statusReplicas);
  return { replicas, usage };
}
