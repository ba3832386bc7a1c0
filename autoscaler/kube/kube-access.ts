// ClusterAccess through the Kubernetes API with @kubernetes/client-node:
// /scale of apps/v1 Deployments, StatefulSets and ReplicaSets, pods by label
// selector, nodes, PodDisruptionBudgets, merge patches of policy /status, and
// core/v1 Events (reportingController tidemark-autoscaler).
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Scale,
} from '@kubernetes/client-node';
import { POLICY_GROUP, POLICY_VERSION } from './policies.ts';
import { TargetNotFoundError, type ClusterAccess, type KubeObjectJson, type ScaleTargetRef, type ScalingEvent, type TargetScale } from './cluster-access.ts';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const REPORTING_CONTROLLER = 'tidemark-autoscaler';

function code(e: unknown): number | undefined {
  return e instanceof ApiException ? (e.code as number) : undefined;
}

/** client-node hands back typed models with Date objects; the pure functions take the API's JSON. */
function plain(items: readonly object[]): KubeObjectJson[] {
  return JSON.parse(JSON.stringify(items)) as KubeObjectJson[];
}

function toScale(s: V1Scale): TargetScale {
  return { replicas: s.spec?.replicas ?? 0, statusReplicas: s.status?.replicas ?? 0, selector: s.status?.selector ?? '' };
}

export class KubeClusterAccess implements ClusterAccess {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly policy: PolicyV1Api;
  private readonly instance: string;

  constructor(kc: KubeConfig, instance = `tidemark-${process.pid}`) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.policy = kc.makeApiClient(PolicyV1Api);
    this.instance = instance;
  }

  private scaleCalls(target: ScaleTargetRef) {
    const group = (target.apiVersion ?? 'apps/v1').split('/')[0];
    if (group !== 'apps') return undefined;
    switch (target.kind) {
      case 'Deployment':
        return { read: this.apps.readNamespacedDeploymentScale.bind(this.apps), patch: this.apps.patchNamespacedDeploymentScale.bind(this.apps) };
      case 'StatefulSet':
        return { read: this.apps.readNamespacedStatefulSetScale.bind(this.apps), patch: this.apps.patchNamespacedStatefulSetScale.bind(this.apps) };
      case 'ReplicaSet':
        return { read: this.apps.readNamespacedReplicaSetScale.bind(this.apps), patch: this.apps.patchNamespacedReplicaSetScale.bind(this.apps) };
      default:
        return undefined;
    }
  }

  async getScale(namespace: string, target: ScaleTargetRef): Promise<TargetScale> {
    const calls = this.scaleCalls(target);
    if (!calls) throw new TargetNotFoundError(namespace, target, `no scale subresource known for ${target.apiVersion ?? 'apps/v1'} ${target.kind}`);
    try {
      return toScale(await calls.read({ name: target.name, namespace }));
    } catch (e) {
      if (code(e) === 404) throw new TargetNotFoundError(namespace, target, 'not found');
      throw e;
    }
  }

  async setScale(namespace: string, target: ScaleTargetRef, replicas: number): Promise<void> {
    const calls = this.scaleCalls(target);
    if (!calls) throw new TargetNotFoundError(namespace, target, `no scale subresource known for ${target.kind}`);
    await calls.patch({ name: target.name, namespace, body: { spec: { replicas } } }, MERGE);
  }

  async listPods(namespace: string, selector: string): Promise<KubeObjectJson[]> {
    return plain((await this.core.listNamespacedPod({ namespace, labelSelector: selector })).items);
  }

  async listAllPods(): Promise<KubeObjectJson[]> {
    return plain((await this.core.listPodForAllNamespaces()).items);
  }

  async listNodes(): Promise<KubeObjectJson[]> {
    return plain((await this.core.listNode()).items);
  }

  async listPodDisruptionBudgets(): Promise<KubeObjectJson[]> {
    return plain((await this.policy.listPodDisruptionBudgetForAllNamespaces()).items);
  }

  async patchPolicyStatus(plural: string, namespace: string | undefined, name: string, status: object): Promise<void> {
    const body = { status };
    if (namespace) await this.custom.patchNamespacedCustomObjectStatus({ group: POLICY_GROUP, version: POLICY_VERSION, plural, namespace, name, body }, MERGE);
    else await this.custom.patchClusterCustomObjectStatus({ group: POLICY_GROUP, version: POLICY_VERSION, plural, name, body }, MERGE);
  }

  async recordEvent(event: ScalingEvent): Promise<void> {
    const now = new Date();
    const namespace = event.involvedObject.namespace ?? 'default';
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${event.involvedObject.name}.`, namespace },
        involvedObject: event.involvedObject,
        type: event.type,
        reason: event.reason,
        message: event.message,
        source: { component: REPORTING_CONTROLLER },
        reportingComponent: REPORTING_CONTROLLER,
        reportingInstance: this.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
