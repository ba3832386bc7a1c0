import { describe, expect, it } from 'vitest';
import { DisruptionBudgets, drainOutcome, SAFE_TO_EVICT_ANNOTATION, SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION } from './drainability.ts';
import { parseNodePlanInput } from './input.ts';

const now = Date.parse('2020-12-18T17:00:00Z');
const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();
const owner = (kind: string) => [{ apiVersion: 'apps/v1', kind, name: kind.toLowerCase(), controller: true }];

/** Every pod's verdict on a node being removed: 'moves', 'stays' or 'blocks', budgets included. */
function verdicts(rawPods: object[], rawPdbs: object[] = []): string[] {
  const input = parseNodePlanInput({ now: at(0), nodeGroups: [], pods: rawPods, pdbs: rawPdbs });
  const budgets = new DisruptionBudgets(input.pdbs, input.pods);
  return input.pods.map((p) => {
    const o = drainOutcome(p, now, budgets);
    if (o.kind === 'moves' && budgets.wouldBreak([p])) return 'blocks';
    return o.kind;
  });
}

const pod = (name: string, namespace: string, meta: object = {}, spec: object = {}, status: object = {}) => ({
  metadata: { name, namespace, ...meta },
  spec: { nodeName: 'node', containers: [{ name: 'c' }], ...spec },
  status: { phase: 'Running', ...status },
});

// Ported as data from kubernetes/autoscaler cluster-autoscaler/simulator/drain_test.go,
// TestGetPodsToMove (the default rules, skipNodesWithSystemPods and
// skipNodesWithLocalStorage on). Pods the upstream test lists in wantPods move,
// DaemonSet and manifest pods stay, a wantBlocking pod blocks.
const restrictivePdb = { metadata: { name: 'foobar', namespace: 'ns' }, spec: { minAvailable: 1, selector: { matchLabels: { critical: 'true' } } }, status: { disruptionsAllowed: 0 } };
const permissivePdb = { ...restrictivePdb, status: { disruptionsAllowed: 1 } };
const pdbPod = pod('pdbPod', 'ns', { ownerReferences: owner('ReplicaSet'), labels: { critical: 'true' } });
const cases: Array<{ desc: string; pods: object[]; pdbs?: object[]; want: string[] }> = [
  { desc: 'Unreplicated pod', pods: [pod('unreplicatedPod', 'ns')], want: ['blocks'] },
  { desc: 'Replicated pod', pods: [pod('bar', 'default', { ownerReferences: owner('ReplicaSet') })], want: ['moves'] },
  { desc: 'Manifest pod', pods: [pod('manifestPod', 'kube-system', { annotations: { 'kubernetes.io/config.mirror': 'something' } })], want: ['stays'] },
  { desc: 'DaemonSet pod', pods: [pod('bar', 'default', { ownerReferences: owner('DaemonSet') })], want: ['stays'] },
  { desc: 'Kube-system', pods: [pod('systemPod', 'kube-system', { ownerReferences: owner('ReplicaSet') })], want: ['blocks'] },
  {
    desc: 'Local storage',
    pods: [pod('localStoragePod', 'ns', { ownerReferences: owner('ReplicaSet') }, { volumes: [{ name: 'empty-vol', emptyDir: {} }] })],
    want: ['blocks'],
  },
  {
    desc: 'Non-local storage',
    pods: [pod('nonLocalStoragePod', 'ns', { ownerReferences: owner('ReplicaSet') }, { volumes: [{ name: 'my-repo', gitRepo: { repository: 'my-repo' } }] })],
    want: ['moves'],
  },
  { desc: 'Pdb blocking', pods: [pdbPod], pdbs: [restrictivePdb], want: ['blocks'] },
  { desc: 'Pdb allowing', pods: [pdbPod], pdbs: [permissivePdb], want: ['moves'] },
  {
    desc: 'Pod termination',
    pods: [
      // Deleted 90 s ago, longer than the default 30 s grace plus upstream's 30 s: gone as far as the drain is concerned.
      pod('terminatedPod', 'ns', { ownerReferences: owner('ReplicaSet'), deletionTimestamp: at(-30_000 - 60_000) }),
      pod('terminatingPod', 'ns', { ownerReferences: owner('ReplicaSet'), deletionTimestamp: at(-30_000 + 60_000) }),
    ],
    want: ['stays', 'moves'],
  },
  { desc: 'Safe to evict', pods: [pod('bar', 'default', { annotations: { [SAFE_TO_EVICT_ANNOTATION]: 'true' } })], want: ['moves'] },
  { desc: 'Kube-system safe to evict', pods: [pod('bar', 'kube-system', { annotations: { [SAFE_TO_EVICT_ANNOTATION]: 'true' } })], want: ['moves'] },
  {
    desc: 'Empty dir safe to evict',
    pods: [pod('bar', 'default', { annotations: { [SAFE_TO_EVICT_ANNOTATION]: 'true' } }, { volumes: [{ name: 'scratch', emptyDir: { medium: '' } }] })],
    want: ['moves'],
  },
  {
    desc: 'Empty dir volumes all listed in safe-to-evict-local-volumes',
    pods: [
      pod(
        'bar',
        'default',
        { ownerReferences: owner('ReplicationController'), annotations: { [SAFE_TO_EVICT_LOCAL_VOLUMES_ANNOTATION]: 'scratch-1,scratch-2,scratch-3' } },
        { volumes: ['scratch-1', 'scratch-2', 'scratch-3'].map((name) => ({ name, emptyDir: { medium: '' } })) },
      ),
    ],
    want: ['moves'],
  },
  {
    desc: 'Kube-system pod with a matching budget',
    pods: [pod('bar', 'kube-system', { ownerReferences: owner('ReplicationController'), labels: { 'k8s-app': 'bar' } })],
    pdbs: [{ metadata: { name: 'kube-system-pdb', namespace: 'kube-system' }, spec: { minAvailable: 1, selector: { matchLabels: { 'k8s-app': 'bar' } } }, status: { disruptionsAllowed: 1 } }],
    want: ['moves'],
  },
  {
    desc: 'Kube-system pod whose budget selects other pods',
    pods: [pod('bar', 'kube-system', { ownerReferences: owner('ReplicationController'), labels: { 'k8s-app': 'bar' } })],
    pdbs: [{ metadata: { name: 'kube-system-fake', namespace: 'kube-system' }, spec: { minAvailable: 1, selector: { matchLabels: { 'k8s-app': 'foo' } } }, status: { disruptionsAllowed: 1 } }],
    want: ['blocks'],
  },
];

describe('drainability (upstream TestGetPodsToMove cases)', () => {
  for (const tc of cases) {
    it(tc.desc, () => expect(verdicts(tc.pods, tc.pdbs)).toEqual(tc.want));
  }
});

describe('drainability', () => {
  it('blocks on a safe-to-evict "false" annotation even for replicated pods', () => {
    expect(verdicts([pod('x', 'default', { ownerReferences: owner('ReplicaSet'), annotations: { [SAFE_TO_EVICT_ANNOTATION]: 'false' } })])).toEqual(['blocks']);
  });

  it('does not count an in-memory emptyDir as local storage', () => {
    expect(verdicts([pod('x', 'default', { ownerReferences: owner('ReplicaSet') }, { volumes: [{ name: 'shm', emptyDir: { medium: 'Memory' } }] })])).toEqual(['moves']);
  });

  it('computes disruptionsAllowed from the spec when a budget has no status', () => {
    const web = (i: number) => pod(`web-${i}`, 'default', { ownerReferences: owner('ReplicaSet'), labels: { app: 'web' } });
    const pods = [web(1), web(2), web(3), web(4)];
    const input = parseNodePlanInput({
      now: at(0),
      nodeGroups: [],
      pods,
      pdbs: [
        { metadata: { name: 'half' }, spec: { selector: { matchLabels: { app: 'web' } }, maxUnavailable: '50%' } },
        { metadata: { name: 'three' }, spec: { selector: { matchLabels: { app: 'web' } }, minAvailable: 3 } },
      ],
    });
    const budgets = new DisruptionBudgets(input.pdbs, input.pods);
    // 50% of 4 allows 2, minAvailable 3 of 4 allows 1: the tighter one decides.
    expect(budgets.wouldBreak(input.pods.slice(0, 1))).toBeUndefined();
    expect(budgets.wouldBreak(input.pods.slice(0, 2))).toMatch(/disruption budget default\/three allows 1/);
    budgets.spend(input.pods.slice(0, 1));
    expect(budgets.wouldBreak(input.pods.slice(1, 2))).toMatch(/default\/three allows 0/);
  });

  it('treats a budget without a selector as selecting nothing', () => {
    const input = parseNodePlanInput({
      now: at(0),
      nodeGroups: [],
      pods: [pod('x', 'default', { ownerReferences: owner('ReplicaSet') })],
      pdbs: [{ metadata: { name: 'none' }, spec: { maxUnavailable: 0 }, status: { disruptionsAllowed: 0 } }],
    });
    expect(new DisruptionBudgets(input.pdbs, input.pods).matching(input.pods[0]!)).toEqual([]);
  });
});
