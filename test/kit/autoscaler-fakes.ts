// In-memory implementations of the autoscaler's ports (autoscaler/ports.ts)
// for tests and benchmarks: a DecisionLog kept in a map and a
// PodMetricsSource fed by hand or by the cluster simulator's metrics feed.
// Product code never imports the test kit.
import type { AutoscalingDecision, DecisionLog, PodMetricsJson, PodMetricsSource, PodRef, PolicyRef } from '../../autoscaler/ports.ts';

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
