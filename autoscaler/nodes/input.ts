// The node planner's input, parsed once at the edge: the Kubernetes API's own
// shapes (v1 Node, v1 Pod, policy/v1 PodDisruptionBudget) reduced to the
// fields the planner reads, plus node groups, quotas and options. Every
// rejection names the offending field, e.g. `pods[2].spec.containers[0].resources.requests.memory`.
import { z } from 'zod';
import { parseInput } from '../../core/validate.ts';
import { milliValue } from '../quantity.ts';
import { durationProblem } from '../../core/duration.ts';

const quantity = z
  .union([z.string(), z.number()], { error: 'expected a Kubernetes quantity (e.g. 250m, 1.5, 512Mi)' })
  .superRefine((v, ctx) => {
    try {
      milliValue(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message.replace(/^quantity: /, '') : String(e) });
    }
  });

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: 'expected an RFC 3339 time, e.g. 2026-11-23T10:00:00Z' });

const duration = z.string().superRefine((s, ctx) => {
  const problem = durationProblem(s, { dialect: 'go' });
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const resourceList = z.record(z.string(), quantity);
const stringMap = z.record(z.string(), z.string());

const taintEffect = z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
const taint = z.object({ key: z.string().min(1), value: z.string().optional(), effect: taintEffect });

const toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.union([taintEffect, z.literal('')]).optional(),
});

const nodeSelectorRequirement = z.object({
  key: z.string().min(1),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string()).optional(),
});
const nodeSelectorTerm = z.object({
  matchExpressions: z.array(nodeSelectorRequirement).optional(),
  matchFields: z.array(nodeSelectorRequirement).optional(),
});
const affinity = z.object({
  nodeAffinity: z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z.object({ nodeSelectorTerms: z.array(nodeSelectorTerm) }).optional(),
    })
    .optional(),
});

const labelSelector = z.object({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

const container = z.object({
  name: z.string().min(1),
  restartPolicy: z.string().optional(),
  resources: z.object({ requests: resourceList.optional(), limits: resourceList.optional() }).optional(),
});

const ownerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
});

const volume = z.object({
  name: z.string(),
  hostPath: z.object({}).loose().optional(),
  emptyDir: z.object({ medium: z.string().optional() }).loose().optional(),
});

const objectMeta = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  labels: stringMap.default({}),
  annotations: stringMap.default({}),
  creationTimestamp: time.optional(),
  deletionTimestamp: time.optional(),
  ownerReferences: z.array(ownerReference).default([]),
});

const pod = z.object({
  metadata: objectMeta,
  spec: z.object({
    nodeName: z.string().optional(),
    containers: z.array(container),
    initContainers: z.array(container).default([]),
    overhead: resourceList.optional(),
    nodeSelector: stringMap.default({}),
    affinity: affinity.optional(),
    tolerations: z.array(toleration).default([]),
    volumes: z.array(volume).default([]),
    restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
    terminationGracePeriodSeconds: z.number().int().nonnegative().optional(),
  }),
  status: z
    .object({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional() })).default([]),
    })
    .default({ conditions: [] }),
});

const node = z
  .object({
    metadata: objectMeta.extend({ creationTimestamp: time }),
    spec: z.object({ unschedulable: z.boolean().optional(), taints: z.array(taint).default([]) }).default({ taints: [] }),
    status: z.object({
      capacity: resourceList.optional(),
      allocatable: resourceList.optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string() })).default([]),
    }),
  })
  .superRefine((n, ctx) => {
    for (const r of ['cpu', 'memory'] as const) {
      if (n.status.allocatable?.[r] === undefined && n.status.capacity?.[r] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['status', 'allocatable', r], message: `required (or status.capacity.${r})` });
      }
    }
  });

const intOrPercent = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+%$/, 'expected an integer or a percentage like "50%"')]);

const pdb = z.object({
  metadata: objectMeta,
  spec: z
    .object({ selector: labelSelector.optional(), minAvailable: intOrPercent.optional(), maxUnavailable: intOrPercent.optional() })
    .refine((s) => s.minAvailable === undefined || s.maxUnavailable === undefined, { error: 'minAvailable and maxUnavailable are exclusive' }),
  status: z.object({ disruptionsAllowed: z.number().int().optional() }).optional(),
});

const podCount = z.number().int().nonnegative();

const nodeGroup = z
  .object({
    name: z.string().min(1),
    minSize: podCount,
    maxSize: podCount,
    /** Nodes asked of the provider but not registered yet (target size minus registered nodes). */
    upcoming: podCount.default(0),
    template: z.object({
      // Extended resources (nvidia.com/gpu: 4) may sit beside cpu, memory and pods.
      capacity: z.object({ cpu: quantity, memory: quantity, pods: z.union([podCount, quantity]) }).catchall(quantity),
      labels: stringMap.default({}),
      taints: z.array(taint).default([]),
    }),
  })
  .refine((g) => g.minSize <= g.maxSize, { error: 'minSize must not exceed maxSize', path: ['minSize'] });

export const expanderNames = ['least-waste', 'most-pods', 'priority', 'random'] as const;

const regex = z.string().superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a regular expression` });
  }
});

export const nodePlanInputSchema = z
  .object({
    now: time,
    nodeGroups: z.array(nodeGroup).superRefine((groups, ctx) => {
      const seen = new Set<string>();
      groups.forEach((g, i) => {
        if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate node group "${g.name}"` });
        seen.add(g.name);
      });
    }),
    nodes: z.array(node).default([]),
    pods: z.array(pod).default([]),
    pdbs: z.array(pdb).default([]),
    quotas: z
      .object({
        // No cluster cap unless one is given; the cloud's per-node pod limit otherwise.
        maxNodesPerCluster: z.number().int().positive().optional(),
        maxPodsPerNode: z.number().int().positive().default(256),
      })
      .default({ maxPodsPerNode: 256 }),
    options: z
      .object({
        expander: z.enum(expanderNames).default('least-waste'),
        scaleDownUtilizationThreshold: z.number().min(0).max(1).default(0.5),
        scaleDownUnneededTime: duration.default('10m'),
        /** The priority expander's table, as upstream's ConfigMap: priority → node-group name patterns. */
        priorities: z.record(z.string().regex(/^-?\d+$/, 'priority keys are integers'), z.array(regex)).optional(),
        /** Seeds the random expander (and tie-breaks) so a plan is reproducible; defaults to a hash of `now`. */
        randomSeed: z.number().int().optional(),
      })
      .default({ expander: 'least-waste', scaleDownUtilizationThreshold: 0.5, scaleDownUnneededTime: '10m' }),
    unneededSince: z.record(z.string(), time).default({}),
  })
  .superRefine((input, ctx) => {
    if (input.options.expander === 'priority' && !input.options.priorities) {
      ctx.addIssue({ code: 'custom', path: ['options', 'priorities'], message: 'required by the priority expander' });
    }
  });

export type NodePlanInput = z.output<typeof nodePlanInputSchema>;
/** What a caller may write: defaults are filled in by parsing. */
export type NodePlanInputJson = z.input<typeof nodePlanInputSchema>;
export type Pod = NodePlanInput['pods'][number];
export type Node = NodePlanInput['nodes'][number];
export type PodDisruptionBudget = NodePlanInput['pdbs'][number];
export type NodeGroupSpec = NodePlanInput['nodeGroups'][number];
export type Taint = z.output<typeof taint>;
export type Toleration = z.output<typeof toleration>;
export type NodeSelectorTerm = z.output<typeof nodeSelectorTerm>;
export type NodeSelectorRequirement = z.output<typeof nodeSelectorRequirement>;
export type LabelSelector = z.output<typeof labelSelector>;
export type Quantity = z.output<typeof quantity>;
export type ExpanderName = (typeof expanderNames)[number];

/** Parses untrusted input; throws InputError naming the first bad field. */
export function parseNodePlanInput(raw: unknown): NodePlanInput {
  return parseInput(nodePlanInputSchema, raw);
}
