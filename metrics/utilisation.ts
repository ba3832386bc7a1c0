// Utilisation views for nodes, pods and workloads over a recent window,
// from node_exporter and cAdvisor/kubelet series. Each figure is one bucket
// of a range query over the raw samples, so it is exact for short windows.
import type { Store } from '../core/store.ts';
import { runRangeQuery } from './query.ts';
import type { LabelMatcher } from './range-query.ts';
import type { Aggregation } from './aggregations.ts';

export interface NodeUtilisation {
  instance: string;
  cpuCores: number | null;
  cpuUtilisation: number | null;
  memoryTotalBytes: number | null;
  memoryAvailableBytes: number | null;
  memoryUtilisation: number | null;
}

export interface PodUtilisation {
  namespace: string;
  pod: string;
  workload: string;
  cpuCores: number | null;
  memoryBytes: number | null;
  cpuRequestCores: number | null;
  memoryRequestBytes: number | null;
  cpuUtilisation: number | null;
  memoryUtilisation: number | null;
}

export interface WorkloadUtilisation {
  namespace: string;
  workload: string;
  pods: number;
  cpuCores: number;
  memoryBytes: number;
  cpuUtilisation: number | null;
  memoryUtilisation: number | null;
}

const REAL_CONTAINERS: LabelMatcher[] = [
  { name: 'container', op: '!=', value: '' },
  { name: 'container', op: '!=', value: 'POD' },
];

/** One value per group over [now − window, now). */
async function latest(store: Store, tenant: string, metric: string, fn: Aggregation, by: string[], matchers: LabelMatcher[], windowSeconds: number, now: number): Promise<Map<string, number | null>> {
  const start = Math.floor(now - windowSeconds);
  const end = Math.ceil(now) + 1;
  const r = await runRangeQuery(store, tenant, { metric, matchers, fn, by, start, end, step: end - start, table: 'samples' });
  const out = new Map<string, number | null>();
  for (const s of r.series) {
    const key = by.map((b) => s.labels[b] ?? '').join('\u0000');
    const last = s.points[s.points.length - 1];
    out.set(key, last ? last[1] : null);
  }
  return out;
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

export async function nodeUtilisation(store: Store, tenant: string, windowSeconds: number, now = Date.now() / 1000): Promise<NodeUtilisation[]> {
  const [idle, all, total, avail] = await Promise.all([
    latest(store, tenant, 'node_cpu_seconds_total', 'rate', ['instance'], [{ name: 'mode', op: '=', value: 'idle' }], windowSeconds, now),
    latest(store, tenant, 'node_cpu_seconds_total', 'rate', ['instance'], [], windowSeconds, now),
    latest(store, tenant, 'node_memory_MemTotal_bytes', 'last', ['instance'], [], windowSeconds, now),
    latest(store, tenant, 'node_memory_MemAvailable_bytes', 'last', ['instance'], [], windowSeconds, now),
  ]);
  const instances = new Set([...all.keys(), ...total.keys()]);
  return [...instances].sort().map((instance) => {
    const cores = all.get(instance) ?? null;
    const idleCores = idle.get(instance) ?? null;
    const t = total.get(instance) ?? null;
    const a = avail.get(instance) ?? null;
    return {
      instance,
      cpuCores: cores,
      cpuUtilisation: cores !== null && idleCores !== null && cores > 0 ? 1 - idleCores / cores : null,
      memoryTotalBytes: t,
      memoryAvailableBytes: a,
      memoryUtilisation: t !== null && a !== null && t > 0 ? 1 - a / t : null,
    };
  });
}

/** The workload a pod belongs to, from its name: web-5d8f7c9b6-x2k4p → web, db-0 → db. */
export function workloadOf(pod: string): string {
  const deployment = /^(.+)-[a-f0-9]{6,10}-[a-z0-9]{5}$/.exec(pod);
  if (deployment) return deployment[1]!;
  const statefulSet = /^(.+)-\d+$/.exec(pod);
  if (statefulSet) return statefulSet[1]!;
  const daemonSet = /^(.+)-[a-z0-9]{5}$/.exec(pod);
  if (daemonSet) return daemonSet[1]!;
  return pod;
}

export async function podUtilisation(store: Store, tenant: string, windowSeconds: number, namespace?: string, now = Date.now() / 1000): Promise<PodUtilisation[]> {
  const ns: LabelMatcher[] = namespace ? [{ name: 'namespace', op: '=', value: namespace }] : [];
  const by = ['namespace', 'pod'];
  const [cpu, mem, cpuReq, memReq] = await Promise.all([
    latest(store, tenant, 'container_cpu_usage_seconds_total', 'rate', by, [...REAL_CONTAINERS, ...ns], windowSeconds, now),
    latest(store, tenant, 'container_memory_working_set_bytes', 'sum', by, [...REAL_CONTAINERS, ...ns], windowSeconds, now),
    latest(store, tenant, 'kube_pod_container_resource_requests', 'sum', by, [{ name: 'resource', op: '=', value: 'cpu' }, ...ns], windowSeconds, now),
    latest(store, tenant, 'kube_pod_container_resource_requests', 'sum', by, [{ name: 'resource', op: '=', value: 'memory' }, ...ns], windowSeconds, now),
  ]);
  const keys = new Set([...cpu.keys(), ...mem.keys()]);
  return [...keys].sort().map((key) => {
    const [namespace, pod] = key.split('\u0000') as [string, string];
    const c = cpu.get(key) ?? null;
    const m = mem.get(key) ?? null;
    const cr = cpuReq.get(key) ?? null;
    const mr = memReq.get(key) ?? null;
    return {
      namespace,
      pod,
      workload: workloadOf(pod),
      cpuCores: c,
      memoryBytes: m,
      cpuRequestCores: cr,
      memoryRequestBytes: mr,
      cpuUtilisation: ratio(c, cr),
      memoryUtilisation: ratio(m, mr),
    };
  });
}

export function workloadUtilisation(pods: readonly PodUtilisation[]): WorkloadUtilisation[] {
  const groups = new Map<string, { namespace: string; workload: string; pods: number; cpu: number; mem: number; cpuReq: number; memReq: number; reqKnown: boolean }>();
  for (const p of pods) {
    const key = `${p.namespace}/${p.workload}`;
    const g = groups.get(key) ?? { namespace: p.namespace, workload: p.workload, pods: 0, cpu: 0, mem: 0, cpuReq: 0, memReq: 0, reqKnown: true };
    g.pods++;
    g.cpu += p.cpuCores ?? 0;
    g.mem += p.memoryBytes ?? 0;
    if (p.cpuRequestCores === null || p.memoryRequestBytes === null) g.reqKnown = false;
    g.cpuReq += p.cpuRequestCores ?? 0;
    g.memReq += p.memoryRequestBytes ?? 0;
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({
    namespace: g.namespace,
    workload: g.workload,
    pods: g.pods,
    cpuCores: g.cpu,
    memoryBytes: g.mem,
    cpuUtilisation: g.reqKnown ? ratio(g.cpu, g.cpuReq) : null,
    memoryUtilisation: g.reqKnown ? ratio(g.mem, g.memReq) : null,
  }));
}
