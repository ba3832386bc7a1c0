// A cluster simulator over a ClusterObjects: a deployment controller that
// turns spec.replicas into pods, a scheduler that binds pending pods to nodes
// with room (and marks the rest PodScheduled=False, reason Unschedulable), node
// removal that orphans pods back to pending, and load curves that give every
// running pod its CPU usage. The objects are what a fake API server serves, so
// whatever the autoscaler writes through the API the simulator reacts to.
import { milliValue } from '../../../autoscaler/quantity.ts';
import {
  ClusterObjects,
  labelsMatch,
  selectorRequirements,
  type KubeObject,
  type LabelSelectorObject,
  type ResourceType,
  type ObjectChange,
} from './cluster-objects.ts';

/** Total CPU cores a workload demands at a moment; spread over its ready pods. */
export type LoadCurve = (now: Date) => number;

export interface SimNodeSpec {
  name: string;
  cpu: string;
  memory: string;
  pods?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: Date;
}

export interface SimWorkloadSpec {
  namespace: string;
  name: string;
  replicas: number;
  cpuRequest: string;
  memoryRequest: string;
  /** CPU cores the whole workload uses; defaults to none. */
  load?: LoadCurve;
  /** Working-set bytes per pod. */
  memoryUsage?: number;
  kind?: 'Deployment' | 'StatefulSet';
  nodeSelector?: Record<string, string>;
}

export interface ClusterSimulatorOptions {
  now?: () => Date;
  /** When pods that exist at start-up began running, so they are past the HPA's initialisation period. */
  initialStartTime?: Date;
}

interface PodSpecShape {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  containers: { name: string; resources?: { requests?: Record<string, string> } }[];
}

interface NodeShape {
  unschedulable?: boolean;
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface PodUsage {
  namespace: string;
  pod: string;
  container: string;
  /** CPU cores. */
  cpu: number;
  /** Working-set bytes. */
  memory: number;
}

export class ClusterSimulator {
  readonly objects: ClusterObjects;
  private readonly now: () => Date;
  private readonly loads = new Map<string, { load: LoadCurve; memory: number }>();
  private readonly podType: ResourceType;
  private readonly nodeType: ResourceType;
  private readonly deploymentType: ResourceType;
  private readonly statefulSetType: ResourceType;
  private reconciling = false;
  private dirty = false;
  private readonly unsubscribe: () => void;
  private initialStartTime: Date | undefined;
  private serial = 0;

  constructor(objects: ClusterObjects, options: ClusterSimulatorOptions = {}) {
    this.objects = objects;
    this.now = options.now ?? (() => new Date());
    this.initialStartTime = options.initialStartTime;
    this.podType = objects.resourceType('', 'v1', 'pods')!;
    this.nodeType = objects.resourceType('', 'v1', 'nodes')!;
    this.deploymentType = objects.resourceType('apps', 'v1', 'deployments')!;
    this.statefulSetType = objects.resourceType('apps', 'v1', 'statefulsets')!;
    this.unsubscribe = objects.onChange((c) => this.onChange(c));
  }

  close(): void {
    this.unsubscribe();
  }

  /** Pods created from now on start at the real time, not the seeded past. */
  endSeeding(): void {
    this.initialStartTime = undefined;
  }

  private onChange(c: ObjectChange): void {
    const k = c.resource.kind;
    const relevant =
      ((k === 'Deployment' || k === 'StatefulSet') && c.resource.group === 'apps') ||
      (c.resource === this.nodeType) ||
      (c.resource === this.podType && c.type === 'DELETED');
    if (relevant) this.reconcile();
  }

  addNode(spec: SimNodeSpec): KubeObject {
    return this.objects.create(this.nodeType, nodeObject(spec, spec.creationTimestamp ?? this.now()));
  }

  addWorkload(spec: SimWorkloadSpec): KubeObject {
    const type = spec.kind === 'StatefulSet' ? this.statefulSetType : this.deploymentType;
    this.loads.set(`${spec.namespace}/${spec.name}`, { load: spec.load ?? (() => 0), memory: spec.memoryUsage ?? 64 * 2 ** 20 });
    const labels = { app: spec.name };
    return this.objects.create(
      type,
      {
        metadata: { name: spec.name, namespace: spec.namespace, labels },
        spec: {
          replicas: spec.replicas,
          selector: { matchLabels: labels },
          ...(spec.kind === 'StatefulSet' ? { serviceName: spec.name } : {}),
          template: {
            metadata: { labels },
            spec: {
              ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
              containers: [{ name: 'app', image: 'app', resources: { requests: { cpu: spec.cpuRequest, memory: spec.memoryRequest } } }],
            },
          },
        },
      },
      spec.namespace,
    );
  }

  setLoad(namespace: string, name: string, load: LoadCurve): void {
    const entry = this.loads.get(`${namespace}/${name}`);
    if (entry) entry.load = load;
    else this.loads.set(`${namespace}/${name}`, { load, memory: 64 * 2 ** 20 });
  }

  /** Brings pods in line with every workload's replicas, then schedules; re-entrant calls coalesce. */
  reconcile(): void {
    if (this.reconciling) {
      this.dirty = true;
      return;
    }
    this.reconciling = true;
    try {
      do {
        this.dirty = false;
        this.collectOrphans();
        for (const t of [this.deploymentType, this.statefulSetType]) for (const w of this.objects.list(t)) this.reconcileWorkload(t, w);
        this.schedule();
      } while (this.dirty);
    } finally {
      this.reconciling = false;
    }
  }

  /** Pods bound to a node that no longer exists are deleted, as the pod garbage collector does. */
  private collectOrphans(): void {
    const nodes = new Set(this.objects.list(this.nodeType).map((n) => n.metadata.name));
    for (const p of this.objects.list(this.podType)) {
      const nodeName = (p.spec as PodSpecShape).nodeName;
      if (nodeName && !nodes.has(nodeName)) this.objects.delete(this.podType, p.metadata.namespace, p.metadata.name!);
    }
  }

  private reconcileWorkload(type: ResourceType, w: KubeObject): void {
    const spec = w.spec as { replicas?: number; selector?: LabelSelectorObject; template: { metadata?: { labels?: Record<string, string> }; spec: PodSpecShape } };
    const ns = w.metadata.namespace!;
    const want = spec.replicas ?? 1;
    const requirements = selectorRequirements(spec.selector);
    const pods = this.objects.list(this.podType, ns, (p) => labelsMatch(requirements, p.metadata.labels) && ownedBy(p, w));
    if (pods.length < want) {
      for (let i = pods.length; i < want; i++) {
        const start = this.initialStartTime;
        this.objects.create(
          this.podType,
          {
            metadata: {
              name: `${w.metadata.name}-${(++this.serial).toString(36).padStart(5, '0')}`,
              namespace: ns,
              labels: { ...(spec.template.metadata?.labels ?? {}) },
              ownerReferences: [{ apiVersion: w.apiVersion, kind: w.kind, name: w.metadata.name, uid: w.metadata.uid, controller: true }],
              ...(start ? { creationTimestamp: iso(start) } : {}),
            },
            spec: structuredClone(spec.template.spec),
            status: { phase: 'Pending', conditions: [] },
          },
          ns,
        );
      }
    } else if (pods.length > want) {
      // The controller removes unscheduled pods first, then the newest, as the ReplicaSet controller does.
      const victims = [...pods]
        .sort((a, b) => Number(Boolean((b.spec as PodSpecShape).nodeName === undefined)) - Number(Boolean((a.spec as PodSpecShape).nodeName === undefined)) || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? ''))
        .slice(0, pods.length - want);
      for (const p of victims) this.objects.delete(this.podType, ns, p.metadata.name!);
    }
    const after = this.objects.list(this.podType, ns, (p) => labelsMatch(requirements, p.metadata.labels) && ownedBy(p, w));
    const ready = after.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running').length;
    const status = (w.status ?? {}) as { replicas?: number; readyReplicas?: number; observedGeneration?: number };
    if (status.replicas !== after.length || status.readyReplicas !== ready || status.observedGeneration !== w.metadata.generation) {
      this.objects.update(type, { ...w, status: { ...status, replicas: after.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: w.metadata.generation } }, { subresource: 'status' });
    }
  }

  /** Binds pending pods first-fit onto schedulable nodes with room; the rest are marked Unschedulable. */
  schedule(): void {
    const nodes = this.objects.list(this.nodeType).filter((n) => !(n.spec as NodeShape | undefined)?.unschedulable);
    const used = new Map<string, { cpu: number; memory: number; pods: number }>();
    const allPods = this.objects.list(this.podType);
    for (const p of allPods) {
      const nodeName = (p.spec as PodSpecShape).nodeName;
      if (!nodeName) continue;
      const u = used.get(nodeName) ?? { cpu: 0, memory: 0, pods: 0 };
      const r = requestsOf(p);
      u.cpu += r.cpu;
      u.memory += r.memory;
      u.pods += 1;
      used.set(nodeName, u);
    }
    const now = this.now();
    for (const p of allPods) {
      const spec = p.spec as PodSpecShape;
      if (spec.nodeName || p.metadata.deletionTimestamp) continue;
      const r = requestsOf(p);
      const target = nodes.find((n) => {
        const cap = allocatable(n);
        const u = used.get(n.metadata.name!) ?? { cpu: 0, memory: 0, pods: 0 };
        return labelsMatch(selectorRequirements({ matchLabels: spec.nodeSelector ?? {} }), n.metadata.labels) && u.cpu + r.cpu <= cap.cpu && u.memory + r.memory <= cap.memory && u.pods + 1 <= cap.pods;
      });
      const conditions = ((p.status as { conditions?: PodCondition[] } | undefined)?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
      if (target) {
        const u = used.get(target.metadata.name!) ?? { cpu: 0, memory: 0, pods: 0 };
        used.set(target.metadata.name!, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
        const start = p.metadata.creationTimestamp && this.initialStartTime ? p.metadata.creationTimestamp : iso(now);
        this.objects.update(this.podType, { ...p, spec: { ...spec, nodeName: target.metadata.name } });
        const bound = this.objects.get(this.podType, p.metadata.namespace, p.metadata.name!);
        this.objects.update(
          this.podType,
          {
            ...bound,
            status: {
              phase: 'Running',
              startTime: start,
              conditions: [
                { type: 'PodScheduled', status: 'True', lastTransitionTime: start },
                { type: 'Ready', status: 'True', lastTransitionTime: start },
              ],
            },
          },
          { subresource: 'status' },
        );
      } else {
        const already = ((p.status as { conditions?: PodCondition[] } | undefined)?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
        if (already) continue;
        this.objects.update(
          this.podType,
          {
            ...p,
            status: {
              phase: 'Pending',
              conditions: [...conditions, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${nodes.length} nodes are available: insufficient resources.`, lastTransitionTime: iso(now) }],
            },
          },
          { subresource: 'status' },
        );
      }
    }
  }

  /** What every running container uses now: the workload's load spread evenly over its running pods. */
  usage(now: Date = this.now()): PodUsage[] {
    const out: PodUsage[] = [];
    const byWorkload = new Map<string, KubeObject[]>();
    for (const p of this.objects.peek(this.podType)) {
      if ((p.status as { phase?: string } | undefined)?.phase !== 'Running') continue;
      const owner = (p.metadata.ownerReferences as { name: string }[] | undefined)?.[0]?.name;
      if (!owner) continue;
      const key = `${p.metadata.namespace}/${owner}`;
      const list = byWorkload.get(key) ?? [];
      list.push(p);
      byWorkload.set(key, list);
    }
    for (const [key, pods] of byWorkload) {
      const load = this.loads.get(key);
      const cores = load ? Math.max(0, load.load(now)) : 0;
      for (const p of pods) {
        out.push({ namespace: p.metadata.namespace!, pod: p.metadata.name!, container: (p.spec as PodSpecShape).containers[0]?.name ?? 'app', cpu: cores / pods.length, memory: load?.memory ?? 0 });
      }
    }
    return out;
  }

  nodes(): KubeObject[] {
    return this.objects.list(this.nodeType);
  }

  pods(namespace?: string): KubeObject[] {
    return this.objects.list(this.podType, namespace);
  }

  pendingPods(): KubeObject[] {
    return this.pods().filter((p) => !(p.spec as PodSpecShape).nodeName);
  }
}

function ownedBy(pod: KubeObject, owner: KubeObject): boolean {
  const refs = pod.metadata.ownerReferences as { uid?: string; name: string; kind: string }[] | undefined;
  return (refs ?? []).some((r) => r.kind === owner.kind && r.name === owner.metadata.name);
}

export function requestsOf(pod: KubeObject): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of (pod.spec as PodSpecShape).containers) {
    const req = c.resources?.requests ?? {};
    // The API server would refuse a malformed request; tests inject them, and the scheduler counts them as nothing.
    if (req['cpu'] !== undefined) cpu += lenientMilli(req['cpu']);
    if (req['memory'] !== undefined) memory += lenientMilli(req['memory']) / 1000;
  }
  return { cpu, memory };
}

function lenientMilli(q: string): number {
  try {
    return milliValue(q);
  } catch {
    return 0;
  }
}

/** A node's allocatable CPU (milli), memory (bytes) and pod slots. */
export function allocatable(node: KubeObject): { cpu: number; memory: number; pods: number } {
  const a = ((node.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {}) as Record<string, string>;
  return { cpu: milliValue(a['cpu'] ?? '0'), memory: milliValue(a['memory'] ?? '0') / 1000, pods: Number(a['pods'] ?? 110) };
}

export function nodeObject(spec: SimNodeSpec, created: Date): KubeObject {
  const resources = { cpu: spec.cpu, memory: spec.memory, pods: String(spec.pods ?? 110) };
  return {
    metadata: { name: spec.name, labels: { 'kubernetes.io/hostname': spec.name, ...(spec.labels ?? {}) }, annotations: spec.annotations ?? {}, creationTimestamp: iso(created) },
    spec: {},
    status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}
