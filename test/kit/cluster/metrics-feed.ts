// Turns the simulator's load into pod metrics, as the kubelet's cAdvisor
// scrape would land them: each sample() writes every running pod's
// current usage with the sample's timestamp into an InMemoryPodMetrics.
import { InMemoryPodMetrics } from '../autoscaler-fakes.ts';
import type { ClusterSimulator } from './simulator.ts';

export class SimulatedMetricsFeed {
  readonly metrics: InMemoryPodMetrics;
  private known = new Set<string>();

  constructor(
    private readonly sim: ClusterSimulator,
    metrics?: InMemoryPodMetrics,
  ) {
    this.metrics = metrics ?? new InMemoryPodMetrics();
  }

  /** Lands one sample per running container; returns how many pods were sampled. */
  sample(now: Date = new Date()): number {
    const seen = new Set<string>();
    const byPod = new Map<string, { namespace: string; pod: string; containers: { name: string; cpu: number; memory: number }[] }>();
    for (const u of this.sim.usage(now)) {
      const key = `${u.namespace}/${u.pod}`;
      const entry = byPod.get(key) ?? { namespace: u.namespace, pod: u.pod, containers: [] };
      entry.containers.push({ name: u.container, cpu: u.cpu, memory: u.memory });
      byPod.set(key, entry);
    }
    for (const [key, e] of byPod) {
      this.metrics.set(e.namespace, e.pod, e.containers, now);
      seen.add(key);
    }
    // Pods that went away stop reporting, as their series would go stale.
    for (const key of this.known) {
      if (!seen.has(key)) {
        const [ns, pod] = key.split('/') as [string, string];
        this.metrics.delete(ns, pod);
      }
    }
    this.known = seen;
    return byPod.size;
  }
}
