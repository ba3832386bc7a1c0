// The recommender's input, in the Kubernetes API's own shapes (autoscaling/v2
// HPA, v1 Pods, metrics.k8s.io PodMetrics, custom.metrics.k8s.io MetricValue,
// external.metrics.k8s.io ExternalMetricValue), parsed once here into typed
// values: quantities become integer milli-units (as the HPA controller reads
// them with MilliValue), times become epoch milliseconds. Anything the CRD
// schema or the API server would refuse is an InputError naming the field.
import { z } from 'zod';
import { parseInput } from '../../core/validate.ts';
import { milliValue, parseQuantity } from '../quantity.ts';

const quantityText = z.union([z.string(), z.number()]);

/** A quantity as integer thousandths of its unit ("250m" → 250, "2" → 2000). */
const milliQuantity = quantityText.transform((v, ctx) => {
  try {
    return milliValue(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a Kubernetes quantity (e.g. 250m, 1.5, 512Mi)` });
    return z.NEVER;
  }
});

/** A quantity as a plain number, for ratios such as the 1.33 `tolerance` field. */
const plainQuantity = quantityText.transform((v, ctx) => {
  try {
    const n = parseQuantity(v);
    if (n < 0) throw new Error('negative');
    return n;
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a non-negative quantity (e.g. 0.05)` });
    return z.NEVER;
  }
});

const time = z.string().transform((v, ctx) => {
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an RFC 3339 time` });
    return z.NEVER;
  }
  return t;
});

const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/g;
const GO_DURATION_UNIT: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/** metav1.Duration as serialized by Go ("30s", "1m0s", "1m30.5s"), in milliseconds. */
const goDuration = z.string().transform((v, ctx) => {
  const text = v.trim();
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(GO_DURATION_PART)) {
    total += Number(m[1]) * GO_DURATION_UNIT[m[2]!]!;
    consumed += m[0].length;
  }
  if (text === '' || consumed !== text.length) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (e.g. 30s, 1m0s)` });
    return z.NEVER;
  }
  return total;
});

const labelSelector = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type LabelSelector = z.output<typeof labelSelector>;

const metricTarget = z.object({
  type: z.enum(['Utilization', 'Value', 'AverageValue']),
  averageUtilization: z.number().int().positive().optional(),
  value: milliQuantity.optional(),
  averageValue: milliQuantity.optional(),
});
export type MetricTarget = z.output<typeof metricTarget>;

const metricIdentifier = z.object({ name: z.string().min(1), selector: labelSelector.nullish() });

/**
 * Tidemark's opt-in addition to a metric (KEDA-like activation), allowed on
 * External and Object metrics only. With `spec.tidemark.minReplicas: 0`, the
 * workload is "active" while any such metric's current value (the summed value
 * for External, the object's value for Object) is above `activationThreshold`;
 * when none is, the recommendation is 0 replicas (through the usual scale-down
 * stabilization and policies), and from 0 it comes back once one is.
 */
const metricActivation = z.object({ activationThreshold: milliQuantity });

const metricSpec = z
  .object({
    type: z.enum(['Resource', 'ContainerResource', 'Pods', 'Object', 'External']),
    resource: z.object({ name: z.string().min(1), target: metricTarget }).optional(),
    containerResource: z
      .object({ name: z.string().min(1), container: z.string().min(1), target: metricTarget })
      .optional(),
    pods: z.object({ metric: metricIdentifier, target: metricTarget }).optional(),
    object: z
      .object({
        describedObject: z.object({ apiVersion: z.string().optional(), kind: z.string().min(1), name: z.string().min(1) }),
        metric: metricIdentifier,
        target: metricTarget,
      })
      .optional(),
    external: z.object({ metric: metricIdentifier, target: metricTarget }).optional(),
    tidemark: metricActivation.optional(),
  })
  .superRefine((m, ctx) => {
    const member = MEMBER[m.type];
    const source = m[member];
    if (!source) {
      ctx.addIssue({ code: 'custom', path: [member], message: `required for a metric of type ${m.type}` });
      return;
    }
    const t = source.target;
    const allowed = ALLOWED_TARGETS[m.type];
    if (!allowed.includes(t.type)) {
      ctx.addIssue({ code: 'custom', path: [member, 'target', 'type'], message: `must be one of ${allowed.join(', ')} for ${m.type}` });
      return;
    }
    const field = TARGET_FIELD[t.type];
    if (t[field] === undefined) {
      ctx.addIssue({ code: 'custom', path: [member, 'target', field], message: `required for a target of type ${t.type}` });
    }
    if (m.tidemark && m.type !== 'External' && m.type !== 'Object') {
      ctx.addIssue({ code: 'custom', path: ['tidemark', 'activationThreshold'], message: 'only External and Object metrics can activate' });
    }
  });
export type MetricSpec = z.output<typeof metricSpec>;

const MEMBER = {
  Resource: 'resource',
  ContainerResource: 'containerResource',
  Pods: 'pods',
  Object: 'object',
  External: 'external',
} as const;
const ALLOWED_TARGETS: Record<MetricSpec['type'], readonly MetricTarget['type'][]> = {
  Resource: ['Utilization', 'AverageValue'],
  ContainerResource: ['Utilization', 'AverageValue'],
  Pods: ['AverageValue'],
  Object: ['Value', 'AverageValue'],
  External: ['Value', 'AverageValue'],
};
const TARGET_FIELD = { Utilization: 'averageUtilization', Value: 'value', AverageValue: 'averageValue' } as const;

const scalingRules = z.object({
  stabilizationWindowSeconds: z.number().int().min(0).max(3600).optional(),
  selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
  policies: z
    .array(
      z.object({
        type: z.enum(['Pods', 'Percent']),
        value: z.number().int().positive(),
        periodSeconds: z.number().int().positive().max(1800),
      }),
    )
    .optional(),
  /**
   * Kubernetes 1.33's per-direction tolerance (a quantity such as "0.05").
   * Absent, the controller-wide 0.1 applies, exactly as upstream.
   */
  tolerance: plainQuantity.optional(),
});
export type ScalingRulesSpec = z.output<typeof scalingRules>;

/**
 * Tidemark's own opt-in block under `hpa.spec.tidemark`; absent, the HPA
 * decides exactly as upstream.
 */
const tidemarkSpec = z.object({
  /**
   * 0 lets the workload scale to zero while every metric that carries
   * `tidemark.activationThreshold` is at or below it, and back from zero when
   * one rises above it (KEDA's model). `spec.minReplicas` stays the floor while
   * active.
   */
  minReplicas: z.literal(0).optional(),
  /**
   * After any scale event (history.scaleEvents), hold further scale-ups for
   * `scaleUpSeconds` and scale-downs for `scaleDownSeconds`, on top of the
   * behavior's windows and policies.
   */
  cooldown: z
    .object({
      scaleUpSeconds: z.number().int().min(0).max(86_400).optional(),
      scaleDownSeconds: z.number().int().min(0).max(86_400).optional(),
    })
    .optional(),
});

const hpa = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  spec: z
    .object({
      scaleTargetRef: z.object({ apiVersion: z.string().optional(), kind: z.string().min(1), name: z.string().min(1) }),
      minReplicas: z.number().int().min(0).optional(),
      maxReplicas: z.number().int().min(1),
      metrics: z.array(metricSpec).optional(),
      behavior: z.object({ scaleUp: scalingRules.optional(), scaleDown: scalingRules.optional() }).nullish(),
      tidemark: tidemarkSpec.optional(),
    })
    .superRefine((s, ctx) => {
      if (s.minReplicas !== undefined && s.minReplicas > s.maxReplicas) {
        ctx.addIssue({ code: 'custom', path: ['minReplicas'], message: `must not exceed maxReplicas (${s.maxReplicas})` });
      }
      if (s.tidemark?.minReplicas === 0 && !(s.metrics ?? []).some((m) => m.tidemark)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tidemark', 'minReplicas'],
          message: 'scale to zero needs an External or Object metric with tidemark.activationThreshold',
        });
      }
    }),
  status: z.object({ currentReplicas: z.number().int().min(0) }),
});

const resourceList = z.record(z.string(), milliQuantity);
const container = z.object({
  name: z.string().min(1),
  restartPolicy: z.string().optional(),
  resources: z.object({ requests: resourceList.optional() }).optional(),
});

const pod = z.object({
  metadata: z.object({ name: z.string().min(1), deletionTimestamp: time.nullish() }),
  spec: z.object({ containers: z.array(container), initContainers: z.array(container).optional() }),
  status: z
    .object({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
      startTime: time.nullish(),
      conditions: z
        .array(z.object({ type: z.string(), status: z.enum(['True', 'False', 'Unknown']), lastTransitionTime: time.nullish() }))
        .optional(),
    })
    .optional(),
});
export type Pod = z.output<typeof pod>;

const podMetrics = z.object({
  metadata: z.object({ name: z.string().min(1) }),
  timestamp: time,
  window: goDuration.optional(),
  containers: z.array(z.object({ name: z.string().min(1), usage: resourceList })),
});
export type PodMetrics = z.output<typeof podMetrics>;

const customMetricValue = z.object({
  describedObject: z.object({ apiVersion: z.string().optional(), kind: z.string().min(1), name: z.string().min(1) }),
  metric: z.object({ name: z.string().min(1) }),
  timestamp: time,
  windowSeconds: z.number().int().positive().nullish(),
  value: milliQuantity,
});
export type CustomMetricValue = z.output<typeof customMetricValue>;

const externalMetricValue = z.object({
  metricName: z.string().min(1),
  metricLabels: z.record(z.string(), z.string()).optional(),
  timestamp: time,
  value: milliQuantity,
});
export type ExternalMetricValue = z.output<typeof externalMetricValue>;

const history = z.object({
  recommendations: z.array(z.object({ time, replicas: z.number().int().min(0) })).default([]),
  /** Signed: a scale-up of 2 is +2, a scale-down of 3 is -3. */
  scaleEvents: z.array(z.object({ time, replicaChange: z.number().int() })).default([]),
});

const DEFAULT_CPU_METRIC = {
  type: 'Resource' as const,
  resource: { name: 'cpu', target: { type: 'Utilization' as const, averageUtilization: 80 } },
};

export const recommendInputSchema = z.object({
  now: time,
  hpa,
  pods: z.array(pod).default([]),
  podMetrics: z.array(podMetrics).default([]),
  customMetrics: z.array(customMetricValue).default([]),
  externalMetrics: z.array(externalMetricValue).default([]),
  history: history.default({ recommendations: [], scaleEvents: [] }),
});

/** The raw JSON the CLI and the control loop hand in. */
export type RecommendRequest = z.input<typeof recommendInputSchema>;

/** The parsed input `recommend` decides on: quantities in milli-units, times in epoch ms. */
export type RecommendInput = z.output<typeof recommendInputSchema>;

/** Parses and validates; throws InputError naming the first offending field. */
export function parseRecommendInput(raw: unknown): RecommendInput {
  const input = parseInput(recommendInputSchema, raw);
  // The API server defaults an HPA without metrics to 80% CPU utilization.
  if (!input.hpa.spec.metrics || input.hpa.spec.metrics.length === 0) {
    input.hpa.spec.metrics = [DEFAULT_CPU_METRIC];
  }
  return input;
}
