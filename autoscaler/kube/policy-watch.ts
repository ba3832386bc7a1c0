// Keeps the current set of PodAutoscalingPolicies and NodeAutoscalingPolicies
// through two client-node Informers (list, then watch from the list's
// resourceVersion, relisting after 410 Gone). An informer stops on a non-410
// error, so the watcher restarts it after a short back-off.
import { CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type KubernetesListObject, type ObjectCache } from '@kubernetes/client-node';
import {
  NODE_POLICY_PLURAL,
  POD_POLICY_PLURAL,
  POLICY_GROUP,
  POLICY_VERSION,
  policyKey,
  type NodeAutoscalingPolicy,
  type PodAutoscalingPolicy,
  type PolicyKind,
} from './policies.ts';
import { RestartingInformers, type RestartOptions } from './restarting-informers.ts';

export type PolicyChange = { type: 'added' | 'updated' | 'deleted'; kind: PolicyKind; key: string };

/** Where the control loop reads policies from; the watcher is one, a fixed list another. */
export interface PolicySource {
  podPolicies(): PodAutoscalingPolicy[];
  nodePolicies(): NodeAutoscalingPolicy[];
  /** Called on every create, update or delete; returns an unsubscribe function. */
  onChange(listener: (change: PolicyChange) => void): () => void;
}

/** A fixed set of policies (benchmarks, tests, one-shot commands). */
export class StaticPolicySource implements PolicySource {
  constructor(
    private readonly pods: PodAutoscalingPolicy[],
    private readonly nodes: NodeAutoscalingPolicy[] = [],
  ) {}
  podPolicies(): PodAutoscalingPolicy[] {
    return this.pods;
  }
  nodePolicies(): NodeAutoscalingPolicy[] {
    return this.nodes;
  }
  onChange(): () => void {
    return () => undefined;
  }
}

export type PolicyWatcherOptions = RestartOptions;

type Obj = KubernetesObject & Record<string, unknown>;

export class PolicyWatcher implements PolicySource {
  private readonly informers: { kind: PolicyKind; informer: Informer<Obj> & ObjectCache<Obj> }[] = [];
  private readonly listeners = new Set<(change: PolicyChange) => void>();
  private readonly lifecycle: RestartingInformers;

  constructor(kc: KubeConfig, options: PolicyWatcherOptions = {}) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const base = `/apis/${POLICY_GROUP}/${POLICY_VERSION}`;
    const pod = makeInformer<Obj>(
      kc,
      `${base}/${POD_POLICY_PLURAL}`,
      async () => (await custom.listCustomObjectForAllNamespaces({ group: POLICY_GROUP, version: POLICY_VERSION, plural: POD_POLICY_PLURAL })) as KubernetesListObject<Obj>,
    );
    const node = makeInformer<Obj>(
      kc,
      `${base}/${NODE_POLICY_PLURAL}`,
      async () => (await custom.listClusterCustomObject({ group: POLICY_GROUP, version: POLICY_VERSION, plural: NODE_POLICY_PLURAL })) as KubernetesListObject<Obj>,
    );
    this.informers.push({ kind: 'PodAutoscalingPolicy', informer: pod }, { kind: 'NodeAutoscalingPolicy', informer: node });
    for (const { kind, informer } of this.informers) {
      const emit = (type: PolicyChange['type']) => (o: Obj) => {
        const change: PolicyChange = { type, kind, key: policyKey({ metadata: { name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) } }) };
        for (const l of [...this.listeners]) l(change);
      };
      informer.on('add', emit('added'));
      informer.on('update', emit('updated'));
      informer.on('delete', emit('deleted'));
    }
    this.lifecycle = new RestartingInformers(
      this.informers.map(({ informer }) => informer),
      options,
    );
  }

  /** Resolves once both informers have listed. */
  async start(): Promise<void> {
    await this.lifecycle.start();
  }

  async stop(): Promise<void> {
    await this.lifecycle.stop();
  }

  podPolicies(): PodAutoscalingPolicy[] {
    return this.informers[0]!.informer.list() as unknown as PodAutoscalingPolicy[];
  }

  nodePolicies(): NodeAutoscalingPolicy[] {
    return this.informers[1]!.informer.list() as unknown as NodeAutoscalingPolicy[];
  }

  onChange(listener: (change: PolicyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
