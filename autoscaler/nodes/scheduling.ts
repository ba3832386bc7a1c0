// What the planner needs of the scheduler: a pod's effective requests and the
// static predicates (node selector, required node affinity, taints and
// tolerations, cordoned nodes) that decide whether a pod may land on a node
// shape at all. Resources are checked separately by whoever holds the bins.
import { milliValue } from '../quantity.ts';
import type { NodeSelectorRequirement, NodeSelectorTerm, Pod, Quantity, Taint, Toleration } from './input.ts';

/** A node group's label on its nodes. */
export const NODE_GROUP_LABEL = 'tidemark.io/node-group';
/** Set on nodes the autoscaler itself provisioned; only these are ever removed. */
export const PROVISIONED_BY_ANNOTATION = 'tidemark.io/provisioned-by';

/** cpu in millicores, memory in bytes, pods as a count. */
export interface Resources {
  cpu: number;
  memory: number;
  pods: number;
  /** Extended resources (nvidia.com/gpu, hugepages-2Mi, …) as counts; absent when there are none. */
  extended?: Record<string, number> | undefined;
}

/** Requested but not modelled: the scheduler's ephemeral-storage check needs disk figures the input does not carry. */
const UNMODELLED = new Set(['cpu', 'memory', 'pods', 'ephemeral-storage']);

/** The extended resources of a resource list, as counts; undefined when there are none. */
export function extendedOf(list: Record<string, Quantity> | undefined): Record<string, number> | undefined {
  let out: Record<string, number> | undefined;
  for (const [k, q] of Object.entries(list ?? {})) {
    if (UNMODELLED.has(k)) continue;
    (out ??= {})[k] = Math.ceil(milliValue(q) / 1000);
  }
  return out;
}

/** Whether `free` holds `need`; a resource the node lacks counts as zero. */
export function extendedFits(free: Record<string, number> | undefined, need: Record<string, number> | undefined): boolean {
  if (!need) return true;
  for (const k in need) if ((free?.[k] ?? 0) < need[k]!) return false;
  return true;
}

/** Adds `sign` × `need` to `free` in place. */
export function adjustExtended(free: Record<string, number> | undefined, need: Record<string, number> | undefined, sign: 1 | -1): Record<string, number> | undefined {
  if (!need) return free;
  const out = free ?? {};
  for (const k in need) out[k] = (out[k] ?? 0) + sign * need[k]!;
  return out;
}

export interface SchedulingPod {
  /** namespace/name */
  id: string;
  cpu: number;
  memory: number;
  extended: Record<string, number> | undefined;
  nodeSelector: Record<string, string>;
  requiredTerms: NodeSelectorTerm[] | undefined;
  tolerations: Toleration[];
  /** Pods with equal keys schedule identically (upstream's pod equivalence groups). */
  equivalenceKey: string;
  pod: Pod;
}

/** The scheduling-relevant face of a node, real or a group's template. */
export interface NodeShape {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  unschedulable: boolean;
}

function request(requests: Record<string, Quantity> | undefined, limits: Record<string, Quantity> | undefined, r: string): number {
  // The API server defaults a missing request to the limit; raw manifests may not have been defaulted yet.
  const q = requests?.[r] ?? limits?.[r];
  if (q === undefined) return 0;
  return r === 'cpu' ? milliValue(q) : Math.ceil(milliValue(q) / 1000);
}

/**
 * Effective requests as the scheduler computes them (k8s PodRequests): app
 * containers plus restartable (sidecar) init containers run together, each
 * plain init container runs alone after the sidecars before it, and the pod
 * needs the larger of the two, plus its overhead. cpu in millicores, every
 * other resource in whole units.
 */
export function podRequests(pod: Pod): Record<string, number> {
  const names = new Set<string>(['cpu', 'memory']);
  for (const c of [...pod.spec.containers, ...pod.spec.initContainers]) {
    for (const k of Object.keys(c.resources?.requests ?? {})) names.add(k);
    for (const k of Object.keys(c.resources?.limits ?? {})) names.add(k);
  }
  for (const k of Object.keys(pod.spec.overhead ?? {})) names.add(k);
  const out: Record<string, number> = {};
  for (const r of names) {
    let app = 0;
    for (const c of pod.spec.containers) app += request(c.resources?.requests, c.resources?.limits, r);
    let sidecars = 0;
    let initPeak = 0;
    for (const c of pod.spec.initContainers) {
      const v = request(c.resources?.requests, c.resources?.limits, r);
      if (c.restartPolicy === 'Always') {
        sidecars += v;
        initPeak = Math.max(initPeak, sidecars);
      } else {
        initPeak = Math.max(initPeak, sidecars + v);
      }
    }
    out[r] = Math.max(app + sidecars, initPeak) + request(pod.spec.overhead, undefined, r);
  }
  return out;
}

export function podId(pod: Pod): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}

export function toSchedulingPod(pod: Pod): SchedulingPod {
  const requests = podRequests(pod);
  const cpu = requests['cpu']!;
  const memory = requests['memory']!;
  let extended: Record<string, number> | undefined;
  for (const [k, v] of Object.entries(requests)) if (!UNMODELLED.has(k) && v > 0) (extended ??= {})[k] = v;
  const requiredTerms = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return {
    id: podId(pod),
    cpu,
    memory,
    extended,
    nodeSelector: pod.spec.nodeSelector,
    requiredTerms,
    tolerations: pod.spec.tolerations,
    equivalenceKey: JSON.stringify([cpu, memory, extended ?? null, pod.spec.nodeSelector, requiredTerms ?? null, pod.spec.tolerations]),
    pod,
  };
}

function requirementMatches(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1) return false;
      const have = Number.parseInt(value, 10);
      const want = Number.parseInt(values[0]!, 10);
      if (Number.isNaN(have) || Number.isNaN(want)) return false;
      return req.operator === 'Gt' ? have > want : have < want;
    }
  }
}

function termMatches(term: NodeSelectorTerm, node: NodeShape): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  // An empty term selects nothing, as in the scheduler.
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const e of exprs) if (!requirementMatches(e, node.labels[e.key])) return false;
  for (const f of fields) {
    if (f.key !== 'metadata.name' || !requirementMatches(f, node.name)) return false;
  }
  return true;
}

export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

function formatTaint(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

/** Why the pod may not land on the node shape regardless of free resources, or undefined if it may. */
export function staticMismatch(pod: SchedulingPod, node: NodeShape): string | undefined {
  for (const [k, v] of Object.entries(pod.nodeSelector)) {
    if (node.labels[k] !== v) return `node selector ${k}=${v} does not match`;
  }
  if (pod.requiredTerms && !pod.requiredTerms.some((t) => termMatches(t, node))) {
    return 'required node affinity does not match';
  }
  if (node.unschedulable && !tolerates(pod.tolerations, UNSCHEDULABLE_TAINT)) return 'node is cordoned';
  for (const t of node.taints) {
    // PreferNoSchedule only steers the scheduler; it never keeps a pod off.
    if (t.effect !== 'PreferNoSchedule' && !tolerates(pod.tolerations, t)) return `untolerated taint ${formatTaint(t)}`;
  }
  return undefined;
}

/** Memoises staticMismatch per (equivalence key, shape) since thousands of pods share a handful of shapes. */
export class PredicateCache {
  private readonly cache = new Map<string, string | null>();
  check(pod: SchedulingPod, node: NodeShape, shapeKey = node.name): string | undefined {
    const key = `${shapeKey}\u0000${pod.equivalenceKey}`;
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = staticMismatch(pod, node) ?? null;
      this.cache.set(key, hit);
    }
    return hit ?? undefined;
  }
}

export function formatCpu(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export function formatMemory(bytes: number): string {
  for (const [unit, size] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)}Mi` : String(bytes);
}
