// Pod metrics and load history from the store instead of the metrics-server:
// the kubelet's cAdvisor series (container_cpu_usage_seconds_total as a rate,
// container_memory_working_set_bytes as its latest value) become
// metrics.k8s.io PodMetrics, with one ClickHouse query per round for every
// pod the policies select (metrics/pod-usage.ts puts the question; this
// module maps its rows to the Kubernetes shapes the recommender reads).
import type { Store } from '../core/store.ts';
import { queryPodUsage, queryWorkloadLoad, type PodUsageRow } from '../metrics/pod-usage.ts';
import type { LoadPoint } from './pods/predictive.ts';
import type { PodAutoscalingPolicy } from './kube/policies.ts';
import type { LoadHistorySource, PodMetricsJson, PodMetricsSource, PodRef } from './ports.ts';

export interface StorePodMetricsOptions {
  /** The CPU rate is taken over this many seconds before `now` (the metrics-server's window is about as long). */
  windowSeconds?: number;
}

/** Seconds as a Go duration, as metrics.k8s.io writes the window ("30s", "59.5s"). */
function goDuration(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}

export class StorePodMetrics implements PodMetricsSource {
  private readonly windowSeconds: number;

  constructor(
    private readonly store: Store,
    private readonly tenant: string,
    options: StorePodMetricsOptions = {},
  ) {
    this.windowSeconds = options.windowSeconds ?? 60;
  }

  async podMetrics(pods: readonly PodRef[], now: Date): Promise<(PodMetricsJson | undefined)[]> {
    const out = new Array<PodMetricsJson | undefined>(pods.length);
    if (pods.length === 0) return out;
    // The question is put by namespace, not by pod: 100,000 pod names would not fit in a
    // request's parameters, and a namespace's recent series are close to the pods asked about.
    const namespaces = [...new Set(pods.map((p) => p.namespace))];
    const rows = await queryPodUsage(this.store, this.tenant, namespaces, now.getTime() / 1000, this.windowSeconds);
    const byNamespace = new Map<string, Map<string, PodUsageRow>>();
    for (const row of rows) {
      let ns = byNamespace.get(row.namespace);
      if (!ns) byNamespace.set(row.namespace, (ns = new Map()));
      ns.set(row.pod, row);
    }
    for (let i = 0; i < pods.length; i++) {
      const row = byNamespace.get(pods[i]!.namespace)?.get(pods[i]!.name);
      if (row) out[i] = podMetricsOf(row, this.windowSeconds);
    }
    return out;
  }
}

function podMetricsOf(row: PodUsageRow, windowSeconds: number): PodMetricsJson {
  return {
    metadata: { name: row.pod, namespace: row.namespace },
    timestamp: new Date(row.newest).toISOString(),
    window: goDuration(row.span > 0 ? row.span : windowSeconds * 1000),
    containers: [...row.containers]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, cpu, memory]) => {
        const usage: Record<string, string> = {};
        if (cpu !== null) usage['cpu'] = `${cpu}n`;
        if (memory !== null) usage['memory'] = String(memory);
        return { name, usage };
      }),
  };
}

/** The Resource a policy's load history follows: its first metric, when that is a Resource one (80% CPU when it has none, as the API server defaults). */
export function loadResourceOf(policy: PodAutoscalingPolicy): 'cpu' | 'memory' | undefined {
  const first = (policy.spec.metrics ?? [{ type: 'Resource', resource: { name: 'cpu' } }])[0] as { type?: string; resource?: { name?: string } } | undefined;
  if (first?.type !== 'Resource') return undefined;
  const name = first.resource?.name;
  return name === 'cpu' || name === 'memory' ? name : undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The names a target's pods get from their controller: a Deployment's pods are
 * `<name>-<replicaset hash>-<suffix>`, a StatefulSet's `<name>-<ordinal>`. The
 * cAdvisor series carry no owner, so the pod name is what ties them to the target.
 */
export function targetPodPattern(target: { kind: string; name: string }): string {
  const name = escapeRegex(target.name);
  switch (target.kind) {
    case 'Deployment':
      return `${name}-[a-z0-9]{1,10}-[a-z0-9]{5}`;
    case 'StatefulSet':
      return `${name}-[0-9]+`;
    case 'ReplicaSet':
      return `${name}-[a-z0-9]{5}`;
    default:
      return `${name}-.+`;
  }
}

/** A workload's load per minute (metrics/pod-usage.ts), for the predictive recommender. */
export class StoreLoadHistory implements LoadHistorySource {
  constructor(
    private readonly store: Store,
    private readonly tenant: string,
  ) {}

  async loadHistory(policy: PodAutoscalingPolicy, since: Date, now: Date): Promise<LoadPoint[]> {
    const resource = loadResourceOf(policy);
    if (!resource) return [];
    return queryWorkloadLoad(this.store, {
      tenant: this.tenant,
      resource,
      namespace: policy.metadata.namespace ?? 'default',
      podPattern: targetPodPattern(policy.spec.scaleTargetRef),
      since: Math.floor(since.getTime() / 1000),
      now: Math.floor(now.getTime() / 1000),
    });
  }
}
