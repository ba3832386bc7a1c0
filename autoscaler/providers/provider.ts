// The one narrow interface every cloud sits behind, modelled on the
// cluster-autoscaler's CloudProvider/NodeGroup: the planner decides in node
// groups and node names; a provider turns "grow by n" and "remove these
// nodes" into its own API calls.

export interface NodeGroup {
  readonly id: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** The size the group is asked to be, including nodes still being provisioned. */
  targetSize(): Promise<number>;
  /** Grows the target size; refuses to pass maxSize. */
  increaseSize(delta: number): Promise<void>;
  /** Removes these nodes (by Node name) and shrinks the target size with them; refuses to pass minSize. */
  deleteNodes(nodes: readonly string[]): Promise<void>;
  /** Names of the group's nodes, provisioned or not yet registered. */
  nodes(): Promise<string[]>;
}

export interface NodeProvider {
  readonly name: string;
  nodeGroups(): Promise<NodeGroup[]>;
}

/** A provider refused or failed a request; `nodeGroup` says which group. */
export class NodeProviderError extends Error {
  constructor(
    readonly nodeGroup: string,
    message: string,
  ) {
    super(`node group ${nodeGroup}: ${message}`);
    this.name = 'NodeProviderError';
  }
}

/** Checks shared by every provider, so they refuse the same requests the same way. */
export function checkIncrease(group: Pick<NodeGroup, 'id' | 'maxSize'>, current: number, delta: number): void {
  if (!Number.isInteger(delta) || delta <= 0) throw new NodeProviderError(group.id, `size increase must be a positive integer, got ${delta}`);
  if (current + delta > group.maxSize) {
    throw new NodeProviderError(group.id, `size increase too large: ${current} + ${delta} exceeds maxSize ${group.maxSize}`);
  }
}

export function checkDelete(group: Pick<NodeGroup, 'id' | 'minSize'>, current: number, members: readonly string[], nodes: readonly string[]): void {
  const known = new Set(members);
  for (const n of nodes) if (!known.has(n)) throw new NodeProviderError(group.id, `node ${n} does not belong to this group`);
  if (new Set(nodes).size !== nodes.length) throw new NodeProviderError(group.id, 'a node is listed twice');
  if (current - nodes.length < group.minSize) {
    throw new NodeProviderError(group.id, `deleting ${nodes.length} node(s) from ${current} would go below minSize ${group.minSize}`);
  }
}

export async function findNodeGroup(provider: NodeProvider, id: string): Promise<NodeGroup> {
  const group = (await provider.nodeGroups()).find((g) => g.id === id);
  if (!group) throw new NodeProviderError(id, `no such node group in provider ${provider.name}`);
  return group;
}
