// Cluster API as a node provider: each MachineDeployment (cluster.x-k8s.io/v1beta1)
// that carries the autoscaler's min/max-size annotations is a node group; its
// spec.replicas is the target size; its Machines (label
// cluster.x-k8s.io/deployment-name) map to Nodes through status.nodeRef.
// Removing a chosen node marks its Machine with cluster.x-k8s.io/delete-machine,
// which the MachineSet controller deletes first, and then lowers replicas,
// so the controller removes that machine rather than one of its own choosing.
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { checkDelete, checkIncrease, NodeProviderError, type NodeGroup, type NodeProvider } from './provider.ts';

export const CAPI_GROUP = 'cluster.x-k8s.io';
export const CAPI_VERSION = 'v1beta1';
export const MIN_SIZE_ANNOTATION = 'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size';
export const MAX_SIZE_ANNOTATION = 'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size';
export const DELETE_MACHINE_ANNOTATION = 'cluster.x-k8s.io/delete-machine';
export const DEPLOYMENT_NAME_LABEL = 'cluster.x-k8s.io/deployment-name';
export const CLUSTER_NAME_LABEL = 'cluster.x-k8s.io/cluster-name';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface MachineDeployment {
  metadata: ObjectMeta;
  spec?: { replicas?: number; clusterName?: string };
}

export interface Machine {
  metadata: ObjectMeta;
  status?: { nodeRef?: { name: string } };
}

/** The few Kubernetes calls the provider makes, kept behind an interface so it is testable without a cluster. */
export interface ClusterApiClient {
  listMachineDeployments(namespace: string): Promise<MachineDeployment[]>;
  getMachineDeployment(namespace: string, name: string): Promise<MachineDeployment>;
  setReplicas(namespace: string, name: string, replicas: number): Promise<void>;
  listMachines(namespace: string, labelSelector: string): Promise<Machine[]>;
  /** A null value removes the annotation. */
  annotateMachine(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void>;
}

interface ListResponse<T> {
  items?: T[];
}

/** ClusterApiClient over @kubernetes/client-node's CustomObjectsApi, with JSON merge patches. */
export class KubeClusterApiClient implements ClusterApiClient {
  private readonly api: CustomObjectsApi;
  private readonly mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async listMachineDeployments(namespace: string): Promise<MachineDeployment[]> {
    const list = (await this.api.listNamespacedCustomObject({ group: CAPI_GROUP, version: CAPI_VERSION, namespace, plural: 'machinedeployments' })) as ListResponse<MachineDeployment>;
    return list.items ?? [];
  }

  async getMachineDeployment(namespace: string, name: string): Promise<MachineDeployment> {
    return (await this.api.getNamespacedCustomObject({ group: CAPI_GROUP, version: CAPI_VERSION, namespace, plural: 'machinedeployments', name })) as MachineDeployment;
  }

  async setReplicas(namespace: string, name: string, replicas: number): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      { group: CAPI_GROUP, version: CAPI_VERSION, namespace, plural: 'machinedeployments', name, body: { spec: { replicas } } },
      this.mergePatch,
    );
  }

  async listMachines(namespace: string, labelSelector: string): Promise<Machine[]> {
    const list = (await this.api.listNamespacedCustomObject({ group: CAPI_GROUP, version: CAPI_VERSION, namespace, plural: 'machines', labelSelector })) as ListResponse<Machine>;
    return list.items ?? [];
  }

  async annotateMachine(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      { group: CAPI_GROUP, version: CAPI_VERSION, namespace, plural: 'machines', name, body: { metadata: { annotations } } },
      this.mergePatch,
    );
  }
}

export interface ClusterApiProviderOptions {
  namespace: string;
  /** Only MachineDeployments of this cluster; all in the namespace when absent. */
  clusterName?: string;
  /** Injected for a stable delete-machine annotation value in tests. */
  now?: () => Date;
}

function sizeAnnotation(md: MachineDeployment, key: string): number | undefined {
  const v = md.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new NodeProviderError(md.metadata.name, `annotation ${key} is not a non-negative integer: "${v}"`);
  return n;
}

export class ClusterApiProvider implements NodeProvider {
  readonly name = 'cluster-api';
  private readonly now: () => Date;

  constructor(
    private readonly client: ClusterApiClient,
    private readonly options: ClusterApiProviderOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async nodeGroups(): Promise<NodeGroup[]> {
    const groups: NodeGroup[] = [];
    for (const md of await this.client.listMachineDeployments(this.options.namespace)) {
      const cluster = md.spec?.clusterName ?? md.metadata.labels?.[CLUSTER_NAME_LABEL];
      if (this.options.clusterName !== undefined && cluster !== this.options.clusterName) continue;
      const minSize = sizeAnnotation(md, MIN_SIZE_ANNOTATION);
      const maxSize = sizeAnnotation(md, MAX_SIZE_ANNOTATION);
      // Without both bounds a MachineDeployment is not offered for autoscaling, as upstream.
      if (minSize === undefined || maxSize === undefined) continue;
      if (minSize > maxSize) throw new NodeProviderError(md.metadata.name, `min size ${minSize} exceeds max size ${maxSize}`);
      groups.push(this.group(md.metadata.name, minSize, maxSize));
    }
    return groups;
  }

  private group(name: string, minSize: number, maxSize: number): NodeGroup {
    const { namespace } = this.options;
    const client = this.client;
    const replicas = async (): Promise<number> => (await client.getMachineDeployment(namespace, name)).spec?.replicas ?? 0;
    const machines = async (): Promise<Machine[]> => client.listMachines(namespace, `${DEPLOYMENT_NAME_LABEL}=${name}`);
    const self = { id: name, minSize, maxSize };
    return {
      ...self,
      targetSize: replicas,
      nodes: async () => (await machines()).map((m) => m.status?.nodeRef?.name).filter((n): n is string => n !== undefined),
      increaseSize: async (delta: number) => {
        const current = await replicas();
        checkIncrease(self, current, delta);
        await client.setReplicas(namespace, name, current + delta);
      },
      deleteNodes: async (nodes: readonly string[]) => {
        const all = await machines();
        const byNode = new Map<string, Machine>();
        for (const m of all) if (m.status?.nodeRef?.name) byNode.set(m.status.nodeRef.name, m);
        const current = await replicas();
        checkDelete(self, current, [...byNode.keys()], nodes);
        const marked: Machine[] = [];
        try {
          for (const n of nodes) {
            const m = byNode.get(n)!;
            await client.annotateMachine(namespace, m.metadata.name, { [DELETE_MACHINE_ANNOTATION]: this.now().toISOString() });
            marked.push(m);
          }
          await client.setReplicas(namespace, name, current - nodes.length);
        } catch (e) {
          // A marked machine left behind would be the next one deleted on any scale-down, chosen or not.
          for (const m of marked) await client.annotateMachine(namespace, m.metadata.name, { [DELETE_MACHINE_ANNOTATION]: null }).catch(() => undefined);
          throw new NodeProviderError(name, `deleting ${nodes.join(', ')} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    };
  }
}
