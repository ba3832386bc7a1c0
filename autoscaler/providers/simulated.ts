// A simulated cloud for tests, demos and benchmarks: node groups whose
// instances live in memory, take a configurable time to provision, and come
// with the v1 Node object a real cloud's kubelet would register. Nodes that
// exist from the start are the cluster's own; nodes added through
// increaseSize carry the autoscaler's annotation, as real ones would.
import { NODE_GROUP_LABEL, PROVISIONED_BY_ANNOTATION } from '../nodes/scheduling.ts';
import { checkDelete, checkIncrease, NodeProviderError, type NodeGroup, type NodeProvider } from './provider.ts';

export interface SimulatedGroupSpec {
  id: string;
  minSize: number;
  maxSize: number;
  /** Nodes the cluster was created with. */
  initialSize?: number;
  capacity?: { cpu: string; memory: string; pods: number };
  labels?: Record<string, string>;
}

export type InstanceState = 'provisioning' | 'running';

export interface SimulatedInstance {
  name: string;
  group: string;
  createdMs: number;
  readyMs: number;
  provisionedByAutoscaler: boolean;
  state: InstanceState;
}

export type CloudEvent = { type: 'created' | 'ready' | 'deleted'; instance: SimulatedInstance };

export interface SimulatedCloudOptions {
  groups: SimulatedGroupSpec[];
  /** How long a new instance takes to become a Ready node. */
  provisioningDelayMs?: number;
  /** Injected so tests and simulations run on their own clock. */
  now?: () => number;
  onEvent?: (event: CloudEvent) => void;
  /** Fails the next calls, to test callers' error handling. */
  failNext?: { increaseSize?: number; deleteNodes?: number };
}

/** The shape of the v1 Node a simulated instance registers as. */
export interface SimulatedNodeObject {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string>; creationTimestamp: string };
  spec: { unschedulable: boolean; taints: never[] };
  status: {
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
    conditions: Array<{ type: string; status: string }>;
  };
}

const DEFAULT_CAPACITY = { cpu: '4', memory: '16Gi', pods: 110 };

export class SimulatedCloud implements NodeProvider {
  readonly name = 'simulated';
  private readonly instances = new Map<string, SimulatedInstance>();
  private readonly specs = new Map<string, SimulatedGroupSpec>();
  private readonly target = new Map<string, number>();
  private readonly delay: number;
  private readonly now: () => number;
  private seq = 0;
  private readonly failures: { increaseSize: number; deleteNodes: number };

  constructor(private readonly options: SimulatedCloudOptions) {
    this.delay = options.provisioningDelayMs ?? 0;
    this.now = options.now ?? Date.now;
    this.failures = { increaseSize: options.failNext?.increaseSize ?? 0, deleteNodes: options.failNext?.deleteNodes ?? 0 };
    for (const g of options.groups) {
      if (this.specs.has(g.id)) throw new NodeProviderError(g.id, 'duplicate group id');
      this.specs.set(g.id, g);
      this.target.set(g.id, 0);
      for (let i = 0; i < (g.initialSize ?? 0); i++) this.launch(g.id, false, true);
    }
  }

  private launch(group: string, byAutoscaler: boolean, immediate: boolean): SimulatedInstance {
    const now = this.now();
    const instance: SimulatedInstance = {
      name: `${group}-${String(++this.seq).padStart(4, '0')}`,
      group,
      createdMs: now,
      readyMs: immediate ? now : now + this.delay,
      provisionedByAutoscaler: byAutoscaler,
      state: immediate || this.delay === 0 ? 'running' : 'provisioning',
    };
    this.instances.set(instance.name, instance);
    this.target.set(group, this.target.get(group)! + 1);
    this.options.onEvent?.({ type: 'created', instance });
    if (instance.state === 'running' && !immediate) this.options.onEvent?.({ type: 'ready', instance });
    return instance;
  }

  /** Promotes instances whose provisioning time has passed; every read calls it, so the clock alone drives readiness. */
  tick(): SimulatedInstance[] {
    const now = this.now();
    const ready: SimulatedInstance[] = [];
    for (const i of this.instances.values()) {
      if (i.state === 'provisioning' && now >= i.readyMs) {
        i.state = 'running';
        ready.push(i);
        this.options.onEvent?.({ type: 'ready', instance: i });
      }
    }
    return ready;
  }

  /** Every instance, provisioning or running, oldest first. */
  list(group?: string): SimulatedInstance[] {
    this.tick();
    return [...this.instances.values()].filter((i) => group === undefined || i.group === group);
  }

  /** The v1 Node each running instance registers as. */
  nodeObjects(): SimulatedNodeObject[] {
    return this.list()
      .filter((i) => i.state === 'running')
      .map((i): SimulatedNodeObject => {
        const spec = this.specs.get(i.group)!;
        const c = spec.capacity ?? DEFAULT_CAPACITY;
        const capacity = { cpu: c.cpu, memory: c.memory, pods: String(c.pods) };
        return {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name: i.name,
            labels: { ...spec.labels, 'kubernetes.io/hostname': i.name, [NODE_GROUP_LABEL]: i.group },
            annotations: i.provisionedByAutoscaler ? { [PROVISIONED_BY_ANNOTATION]: 'autoscaler' } : {},
            creationTimestamp: new Date(i.createdMs).toISOString(),
          },
          spec: { unschedulable: false, taints: [] },
          status: { capacity, allocatable: { ...capacity }, conditions: [{ type: 'Ready', status: 'True' }] },
        };
      });
  }

  async nodeGroups(): Promise<NodeGroup[]> {
    return [...this.specs.values()].map((spec) => this.group(spec));
  }

  private group(spec: SimulatedGroupSpec): NodeGroup {
    // The interface is async because real clouds are; the simulation answers at once.
    return {
      id: spec.id,
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      targetSize: async () => this.target.get(spec.id)!,
      nodes: async () => this.list(spec.id).map((i) => i.name),
      increaseSize: async (delta: number) => {
        checkIncrease(spec, this.target.get(spec.id)!, delta);
        if (this.failures.increaseSize > 0) {
          this.failures.increaseSize--;
          throw new NodeProviderError(spec.id, 'simulated cloud API failure on increaseSize');
        }
        for (let i = 0; i < delta; i++) this.launch(spec.id, true, false);
      },
      deleteNodes: async (nodes: readonly string[]) => {
        checkDelete(spec, this.target.get(spec.id)!, this.list(spec.id).map((i) => i.name), nodes);
        if (this.failures.deleteNodes > 0) {
          this.failures.deleteNodes--;
          throw new NodeProviderError(spec.id, 'simulated cloud API failure on deleteNodes');
        }
        for (const n of nodes) {
          const instance = this.instances.get(n)!;
          this.instances.delete(n);
          this.target.set(spec.id, this.target.get(spec.id)! - 1);
          this.options.onEvent?.({ type: 'deleted', instance });
        }
      },
    };
  }
}
