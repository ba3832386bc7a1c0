// ClusterAccess that reads from informer caches and writes through the API,
// as the HPA controller reads pods from its shared informers: one list and a
// watch for pods, Deployments, StatefulSets, nodes and disruption budgets,
// instead of a GET per policy per round. Reads cost nothing on the API server,
// so a 1 s round over thousands of policies is affordable. Targets of other
// kinds are read through the API (KubeClusterAccess).
import {
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { TargetNotFoundError, type ClusterAccess, type KubeObjectJson, type ScaleTargetRef, type ScalingEvent, type TargetScale } from './cluster-access.ts';
import { KubeClusterAccess } from './kube-access.ts';
import { RestartingInformers, type RestartOptions } from './restarting-informers.ts';
import { formatSelector, labelsMatch, parseLabelSelector, type LabelRequirement, type LabelSelectorObject } from '../label-selector.ts';

type Obj = KubernetesObject & KubeObjectJson;
type Cache = Informer<Obj> & ObjectCache<Obj>;

/** client-node's typed list becomes the API's JSON (watch events already are). */
function plainList(list: { metadata?: object; items: readonly object[] }): KubernetesListObject<Obj> {
  return JSON.parse(JSON.stringify(list)) as KubernetesListObject<Obj>;
}

/** How long after an informer error it is restarted, and who hears of errors. */
export type InformerClusterAccessOptions = RestartOptions;

export class InformerClusterAccess implements ClusterAccess {
  private readonly writer: KubeClusterAccess;
  private readonly pods: Cache;
  private readonly deployments: Cache;
  private readonly statefulSets: Cache;
  private readonly nodes: Cache;
  private readonly budgets: Cache;
  private readonly selectors = new Map<string, LabelRequirement[]>();
  private readonly lifecycle: RestartingInformers;

  constructor(kc: KubeConfig, options: InformerClusterAccessOptions = {}) {
    this.writer = new KubeClusterAccess(kc);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    this.pods = makeInformer<Obj>(kc, '/api/v1/pods', async () => plainList(await core.listPodForAllNamespaces()));
    this.deployments = makeInformer<Obj>(kc, '/apis/apps/v1/deployments', async () => plainList(await apps.listDeploymentForAllNamespaces()));
    this.statefulSets = makeInformer<Obj>(kc, '/apis/apps/v1/statefulsets', async () => plainList(await apps.listStatefulSetForAllNamespaces()));
    this.nodes = makeInformer<Obj>(kc, '/api/v1/nodes', async () => plainList(await core.listNode()));
    this.budgets = makeInformer<Obj>(kc, '/apis/policy/v1/poddisruptionbudgets', async () => plainList(await policy.listPodDisruptionBudgetForAllNamespaces()));
    this.lifecycle = new RestartingInformers(this.all(), options);
  }

  private all(): Cache[] {
    return [this.pods, this.deployments, this.statefulSets, this.nodes, this.budgets];
  }

  /** Resolves once every cache has listed. */
  async start(): Promise<void> {
    await this.lifecycle.start();
  }

  async stop(): Promise<void> {
    await this.lifecycle.stop();
  }

  private cacheFor(target: ScaleTargetRef): Cache | undefined {
    if ((target.apiVersion ?? 'apps/v1') !== 'apps/v1') return undefined;
    if (target.kind === 'Deployment') return this.deployments;
    if (target.kind === 'StatefulSet') return this.statefulSets;
    return undefined;
  }

  async getScale(namespace: string, target: ScaleTargetRef): Promise<TargetScale> {
    const cache = this.cacheFor(target);
    if (!cache) return this.writer.getScale(namespace, target);
    const o = cache.get(target.name, namespace);
    if (!o) throw new TargetNotFoundError(namespace, target, 'not found');
    const spec = (o.spec ?? {}) as { replicas?: number; selector?: LabelSelectorObject };
    const status = (o.status ?? {}) as { replicas?: number };
    // The API server defaults replicas to 1 when a workload leaves it out.
    return { replicas: spec.replicas ?? 1, statusReplicas: status.replicas ?? 0, selector: formatSelector(spec.selector) };
  }

  setScale(namespace: string, target: ScaleTargetRef, replicas: number): Promise<void> {
    return this.writer.setScale(namespace, target, replicas);
  }

  async listPods(namespace: string, selector: string): Promise<KubeObjectJson[]> {
    let requirements = this.selectors.get(selector);
    if (!requirements) {
      requirements = parseLabelSelector(selector);
      this.selectors.set(selector, requirements);
    }
    const r = requirements;
    return this.pods.list(namespace).filter((p) => labelsMatch(r, p.metadata?.labels));
  }

  async listAllPods(): Promise<KubeObjectJson[]> {
    return [...this.pods.list()];
  }

  async listNodes(): Promise<KubeObjectJson[]> {
    return [...this.nodes.list()];
  }

  async listPodDisruptionBudgets(): Promise<KubeObjectJson[]> {
    return [...this.budgets.list()];
  }

  patchPolicyStatus(plural: string, namespace: string | undefined, name: string, status: object): Promise<void> {
    return this.writer.patchPolicyStatus(plural, namespace, name, status);
  }

  recordEvent(event: ScalingEvent): Promise<void> {
    return this.writer.recordEvent(event);
  }
}
