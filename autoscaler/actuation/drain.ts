// The scale-down executor: cordon the node, evict its pods through the
// Eviction API (which enforces disruption budgets by answering 429), retry
// refusals with backoff up to a bound, wait for the pods to leave, then ask
// the node provider to delete the node. If any pod will not leave, the node is
// uncordoned and kept, as the cluster-autoscaler does after a failed drain.
// The Kubernetes calls sit behind DrainApi so the sequence is unit-testable.
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { NodeGroup } from '../providers/provider.ts';

export interface DrainPod {
  namespace: string;
  name: string;
  /** Kind of the controlling owner, if any. */
  controllerKind?: string | undefined;
  mirror: boolean;
  terminal: boolean;
}

/** 'evicted': accepted; 'gone': the pod no longer exists; 'refused': 429, a disruption budget says not now. */
export type EvictionOutcome = { kind: 'evicted' } | { kind: 'gone' } | { kind: 'refused'; message: string } | { kind: 'error'; status: number; message: string };

export interface DrainApi {
  setUnschedulable(node: string, unschedulable: boolean): Promise<void>;
  podsOnNode(node: string): Promise<DrainPod[]>;
  evict(pod: { namespace: string; name: string }): Promise<EvictionOutcome>;
}

export interface DrainOptions {
  /** Attempts per pod, the first included. */
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long evicted pods may take to disappear before the drain counts as failed. */
  podGoneTimeoutMs?: number;
  podGonePollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface DrainResult {
  node: string;
  outcome: 'deleted' | 'failed';
  evicted: string[];
  reason?: string;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Pods a drain leaves alone: DaemonSet pods come back anyway, mirror pods cannot be evicted, finished pods hold nothing. */
export function needsEviction(p: DrainPod): boolean {
  return !p.mirror && !p.terminal && p.controllerKind !== 'DaemonSet';
}

async function evictWithRetry(api: DrainApi, pod: DrainPod, o: Required<Omit<DrainOptions, 'now' | 'podGoneTimeoutMs' | 'podGonePollMs'>>): Promise<string | undefined> {
  let backoff = o.initialBackoffMs;
  let last = '';
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    const r = await api.evict(pod);
    if (r.kind === 'evicted' || r.kind === 'gone') return undefined;
    last = r.kind === 'refused' ? `429 ${r.message}` : `${r.status} ${r.message}`;
    if (attempt < o.maxAttempts) {
      await o.sleep(backoff);
      backoff = Math.min(backoff * 2, o.maxBackoffMs);
    }
  }
  return `eviction of ${pod.namespace}/${pod.name} still refused after ${o.maxAttempts} attempts (${last})`;
}

export async function drainAndDelete(node: string, api: DrainApi, group: Pick<NodeGroup, 'id' | 'deleteNodes'>, options: DrainOptions = {}): Promise<DrainResult> {
  const o = {
    maxAttempts: options.maxAttempts ?? 6,
    initialBackoffMs: options.initialBackoffMs ?? 1000,
    maxBackoffMs: options.maxBackoffMs ?? 30_000,
    sleep: options.sleep ?? realSleep,
  };
  const now = options.now ?? Date.now;
  const goneTimeout = options.podGoneTimeoutMs ?? 120_000;
  const gonePoll = options.podGonePollMs ?? 1000;

  const fail = async (reason: string, evicted: string[]): Promise<DrainResult> => {
    try {
      await api.setUnschedulable(node, false);
    } catch (e) {
      return { node, outcome: 'failed', evicted, reason: `${reason}; uncordon failed too: ${message(e)}` };
    }
    return { node, outcome: 'failed', evicted, reason };
  };

  try {
    await api.setUnschedulable(node, true);
  } catch (e) {
    return { node, outcome: 'failed', evicted: [], reason: `cordon failed: ${message(e)}` };
  }
  const evicted: string[] = [];
  try {
    const pods = (await api.podsOnNode(node)).filter(needsEviction);
    const results = await Promise.all(pods.map((p) => evictWithRetry(api, p, o)));
    pods.forEach((p, i) => {
      if (results[i] === undefined) evicted.push(`${p.namespace}/${p.name}`);
    });
    const refused = results.filter((r): r is string => r !== undefined);
    if (refused.length > 0) return await fail(refused.join('; '), evicted);

    const deadline = now() + goneTimeout;
    const waiting = new Set(evicted);
    for (;;) {
      const still = (await api.podsOnNode(node)).filter((p) => needsEviction(p) && waiting.has(`${p.namespace}/${p.name}`));
      if (still.length === 0) break;
      if (now() >= deadline) return await fail(`pods still on the node after ${goneTimeout} ms: ${still.map((p) => `${p.namespace}/${p.name}`).join(', ')}`, evicted);
      await o.sleep(gonePoll);
    }
  } catch (e) {
    // A node left cordoned by a failed drain would sit empty and unusable.
    return await fail(`drain failed: ${message(e)}`, evicted);
  }

  try {
    await group.deleteNodes([node]);
  } catch (e) {
    return await fail(`node group ${group.id} refused deletion: ${message(e)}`, evicted);
  }
  return { node, outcome: 'deleted', evicted };
}

/** DrainApi over @kubernetes/client-node's CoreV1Api. */
export class KubeDrainApi implements DrainApi {
  private readonly core: CoreV1Api;
  private readonly mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async setUnschedulable(node: string, unschedulable: boolean): Promise<void> {
    await this.core.patchNode({ name: node, body: { spec: { unschedulable } } }, this.mergePatch);
  }

  async podsOnNode(node: string): Promise<DrainPod[]> {
    const list = await this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    return list.items.map((p) => ({
      namespace: p.metadata?.namespace ?? 'default',
      name: p.metadata?.name ?? '',
      controllerKind: p.metadata?.ownerReferences?.find((r) => r.controller)?.kind,
      mirror: p.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
      terminal: p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
    }));
  }

  async evict(pod: { namespace: string; name: string }): Promise<EvictionOutcome> {
    try {
      await this.core.createNamespacedPodEviction({
        name: pod.name,
        namespace: pod.namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } },
      });
      return { kind: 'evicted' };
    } catch (e) {
      if (e instanceof ApiException) {
        const code = (e as ApiException<unknown>).code;
        const message = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
        if (code === 404) return { kind: 'gone' };
        if (code === 429) return { kind: 'refused', message };
        return { kind: 'error', status: code, message };
      }
      throw e;
    }
  }
}
