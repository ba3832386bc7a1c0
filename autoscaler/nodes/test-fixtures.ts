// Builders for planner tests and the benchmark: v1 Node and Pod objects in the
// API's JSON shape, small enough to read in a test table.
import type { NodePlanInputJson } from './input.ts';
import { NODE_GROUP_LABEL, PROVISIONED_BY_ANNOTATION } from './scheduling.ts';

type Json = Record<string, unknown>;

export interface NodeOptions {
  cpu?: string;
  memory?: string;
  pods?: number;
  group?: string;
  autoscaler?: boolean;
  created?: string;
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }>;
  unschedulable?: boolean;
  annotations?: Record<string, string>;
}

export function node(name: string, o: NodeOptions = {}): Json {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name, ...o.labels };
  if (o.group) labels[NODE_GROUP_LABEL] = o.group;
  const annotations: Record<string, string> = { ...o.annotations };
  if (o.autoscaler) annotations[PROVISIONED_BY_ANNOTATION] = 'autoscaler';
  const capacity = { cpu: o.cpu ?? '4', memory: o.memory ?? '16Gi', pods: String(o.pods ?? 110) };
  return {
    metadata: { name, labels, annotations, creationTimestamp: o.created ?? '2026-11-01T00:00:00Z' },
    spec: { unschedulable: o.unschedulable ?? false, taints: o.taints ?? [] },
    status: { capacity, allocatable: capacity, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodOptions {
  namespace?: string;
  cpu?: string;
  memory?: string;
  /** Bound to this node; pending (Unschedulable) when absent. */
  node?: string;
  /** Controller kind; ReplicaSet unless null (a bare pod). */
  owner?: string | null;
  /** The controller's name; `<pod>-owner` by default. */
  ownerName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: Json[];
  affinity?: Json;
  volumes?: Json[];
  initContainers?: Json[];
  phase?: string;
}

export function pod(name: string, o: PodOptions = {}): Json {
  const requests: Record<string, string> = {};
  if (o.cpu) requests['cpu'] = o.cpu;
  if (o.memory) requests['memory'] = o.memory;
  const owner = o.owner === undefined ? 'ReplicaSet' : o.owner;
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      labels: o.labels ?? { app: name.replace(/-\d+$/, '') },
      annotations: o.annotations ?? {},
      ownerReferences: owner ? [{ apiVersion: owner === 'DaemonSet' || owner === 'ReplicaSet' ? 'apps/v1' : 'v1', kind: owner, name: o.ownerName ?? `${name}-owner`, controller: true }] : [],
    },
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      containers: [{ name: 'app', resources: { requests } }],
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.volumes ? { volumes: o.volumes } : {}),
    },
    status: o.node
      ? { phase: o.phase ?? 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }] }
      : { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
  };
}

export function group(name: string, minSize: number, maxSize: number, capacity: { cpu: string; memory: string; pods: number; [extended: string]: string | number }, extra: Json = {}): Json {
  return { name, minSize, maxSize, template: { capacity, labels: {}, taints: [], ...extra } };
}

export function planInput(parts: Partial<Record<keyof NodePlanInputJson, unknown>>): Json {
  return {
    now: '2026-11-23T10:00:00Z',
    nodeGroups: [],
    nodes: [],
    pods: [],
    pdbs: [],
    quotas: { maxNodesPerCluster: 40, maxPodsPerNode: 256 },
    options: { expander: 'least-waste', scaleDownUtilizationThreshold: 0.5, scaleDownUnneededTime: '10m' },
    unneededSince: {},
    ...parts,
  };
}
