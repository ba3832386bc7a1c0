// ClusterAccess straight onto a ClusterObjects, without HTTP: the same
// semantics as the Kubernetes API (scale through the workload's replicas,
// pods by label selector, status writes keep the spec) at in-process speed,
// for benchmarks and unit tests of the control loop.
import { TargetNotFoundError, type ClusterAccess, type KubeObjectJson, type ScaleTargetRef, type ScalingEvent, type TargetScale } from '../../../autoscaler/kube/cluster-access.ts';
import { POLICY_GROUP, POLICY_VERSION } from '../../../autoscaler/kube/policies.ts';
import { ClusterObjects, formatSelector, labelsMatch, parseLabelSelector, readPath, writePath, type KubeObject, type LabelSelectorObject, type ResourceType } from './cluster-objects.ts';

export class ObjectsClusterAccess implements ClusterAccess {
  /** Every event recorded, oldest first (also kept as core/v1 Events). */
  readonly events: ScalingEvent[] = [];
  /** Selector strings parsed once: thousands of policies share a handful of shapes. */
  private readonly selectors = new Map<string, ReturnType<typeof parseLabelSelector>>();

  constructor(readonly objects: ClusterObjects) {}

  private target(target: ScaleTargetRef): ResourceType | undefined {
    const t = this.objects.typeForKind(target.apiVersion ?? 'apps/v1', target.kind);
    return t?.scale ? t : undefined;
  }

  async getScale(namespace: string, target: ScaleTargetRef): Promise<TargetScale> {
    const t = this.target(target);
    if (!t) throw new TargetNotFoundError(namespace, target, `no scale subresource known for ${target.apiVersion ?? 'apps/v1'} ${target.kind}`);
    const o = this.objects.find(t, namespace, target.name);
    if (!o) throw new TargetNotFoundError(namespace, target, 'not found');
    const raw = t.scale!.labelSelectorPath ? readPath(o, t.scale!.labelSelectorPath) : undefined;
    return {
      replicas: Number(readPath(o, t.scale!.specReplicasPath) ?? 0),
      statusReplicas: Number(readPath(o, t.scale!.statusReplicasPath) ?? 0),
      selector: typeof raw === 'string' ? raw : raw ? formatSelector(raw as LabelSelectorObject) : '',
    };
  }

  async setScale(namespace: string, target: ScaleTargetRef, replicas: number): Promise<void> {
    const t = this.target(target);
    if (!t) throw new TargetNotFoundError(namespace, target, 'no scale subresource');
    const o = this.objects.get(t, namespace, target.name);
    writePath(o as unknown as Record<string, unknown>, t.scale!.specReplicasPath, replicas);
    this.objects.update(t, o, { namespace });
  }

  async listPods(namespace: string, selector: string): Promise<KubeObjectJson[]> {
    let req = this.selectors.get(selector);
    if (!req) {
      req = parseLabelSelector(selector);
      this.selectors.set(selector, req);
    }
    const r = req;
    return this.objects.list(this.objects.resourceType('', 'v1', 'pods')!, namespace, (p) => labelsMatch(r, p.metadata.labels)) as KubeObjectJson[];
  }

  async listAllPods(): Promise<KubeObjectJson[]> {
    return this.objects.list(this.objects.resourceType('', 'v1', 'pods')!) as KubeObjectJson[];
  }

  async listNodes(): Promise<KubeObjectJson[]> {
    return this.objects.list(this.objects.resourceType('', 'v1', 'nodes')!) as KubeObjectJson[];
  }

  async listPodDisruptionBudgets(): Promise<KubeObjectJson[]> {
    return this.objects.list(this.objects.resourceType('policy', 'v1', 'poddisruptionbudgets')!) as KubeObjectJson[];
  }

  async patchPolicyStatus(plural: string, namespace: string | undefined, name: string, status: object): Promise<void> {
    const t = this.objects.resourceType(POLICY_GROUP, POLICY_VERSION, plural);
    if (!t) throw new Error(`${plural}.${POLICY_GROUP} is not served`);
    const o = this.objects.get(t, namespace, name);
    this.objects.update(t, { ...o, status: { ...((o.status as object | undefined) ?? {}), ...status } } as KubeObject, { ...(namespace ? { namespace } : {}), subresource: 'status' });
  }

  async recordEvent(event: ScalingEvent): Promise<void> {
    this.events.push(event);
    const namespace = event.involvedObject.namespace ?? 'default';
    this.objects.create(
      this.objects.resourceType('', 'v1', 'events')!,
      { metadata: { generateName: `${event.involvedObject.name}.`, namespace }, involvedObject: event.involvedObject, type: event.type, reason: event.reason, message: event.message, source: { component: 'tidemark-autoscaler' } },
      namespace,
    );
  }
}
