// Carries out node plans (the NodeActuator port of ../ports.ts) through a NodeProvider (the simulated cloud or
// Cluster API) and the drain executor: scale-up grows a group, scale-down
// cordons, evicts through the Eviction API and deletes. "Upcoming" nodes are
// the group's target size minus the Nodes registered with its label, so the
// loop does not ask again for pods that nodes on their way will take.
import { drainAndDelete, type DrainApi, type DrainOptions } from './drain.ts';
import { NODE_GROUP_LABEL } from '../nodes/scheduling.ts';
import { findNodeGroup, type NodeProvider } from '../providers/provider.ts';
import type { NodeActuator } from '../ports.ts';
import type { ClusterAccess } from '../kube/cluster-access.ts';

export interface ProviderNodeActuatorOptions {
  provider: NodeProvider;
  drain: DrainApi;
  cluster: Pick<ClusterAccess, 'listNodes'>;
  drainOptions?: DrainOptions;
  /** Told about each drain that did not finish (a budget held, a pod stayed). */
  onDrainFailure?: (node: string, reason: string) => void;
}

export class ProviderNodeActuator implements NodeActuator {
  constructor(private readonly options: ProviderNodeActuatorOptions) {}

  async upcoming(group: string): Promise<number> {
    const g = await findNodeGroup(this.options.provider, group);
    const registered = (await this.options.cluster.listNodes()).filter((n) => n.metadata?.labels?.[NODE_GROUP_LABEL] === group).length;
    return Math.max(0, (await g.targetSize()) - registered);
  }

  async increase(group: string, delta: number): Promise<void> {
    const g = await findNodeGroup(this.options.provider, group);
    await g.increaseSize(delta);
  }

  async remove(node: string, group: string): Promise<boolean> {
    const g = await findNodeGroup(this.options.provider, group);
    const result = await drainAndDelete(node, this.options.drain, g, this.options.drainOptions);
    if (result.outcome !== 'deleted') this.options.onDrainFailure?.(node, result.reason ?? 'drain failed');
    return result.outcome === 'deleted';
  }
}
