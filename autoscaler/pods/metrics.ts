// One proposal per metric of the HPA spec, read from the metrics APIs' own
// objects the way the controller's REST metrics client reads them.
import { formatMilli } from '../quantity.ts';
import {
  CalculationError,
  averageValueReplicas,
  perPodValueReplicas,
  resourceUtilizationReplicas,
  valueReplicas,
  type CalculatorConfig,
  type PodSamples,
} from './calculator.ts';
import { selectorMatches } from '../label-selector.ts';
import type { MetricSpec, RecommendInput } from './input.ts';

/** What one metric asks for, in the output's shape. */
export interface MetricProposal {
  type: MetricSpec['type'];
  /** The resource ("cpu"), "container/resource" for ContainerResource, or the metric's name. */
  name: string;
  proposal: number;
  currentAverageUtilization?: number;
  currentAverageValue?: string;
}

/** A metric the controller could not evaluate; upstream sets ScalingActive=False with this reason. */
export interface MetricFailure {
  type: MetricSpec['type'];
  name: string;
  reason: string;
  message: string;
}

export type MetricOutcome =
  | { ok: true; proposal: MetricProposal; description: string; activationValue?: number }
  | { ok: false; failure: MetricFailure; activationValue?: undefined };

const METRICS_SERVER_DEFAULT_WINDOW_MS = 60_000;

function metricName(m: MetricSpec): string {
  switch (m.type) {
    case 'Resource':
      return m.resource!.name;
    case 'ContainerResource':
      return `${m.containerResource!.container}/${m.containerResource!.name}`;
    case 'Pods':
      return m.pods!.metric.name;
    case 'Object':
      return m.object!.metric.name;
    case 'External':
      return m.external!.metric.name;
  }
}

/** Per-pod samples of a resource from metrics.k8s.io PodMetrics (a pod missing the resource in any container has none). */
function resourceSamples(input: RecommendInput, resource: string, container: string | undefined): PodSamples {
  if (input.podMetrics.length === 0) {
    throw new CalculationError(`unable to get metrics for resource ${resource}: no metrics returned from resource metrics API`);
  }
  const samples: PodSamples = new Map();
  for (const pm of input.podMetrics) {
    const windowMs = pm.window ?? METRICS_SERVER_DEFAULT_WINDOW_MS;
    if (container !== undefined) {
      const c = pm.containers.find((x) => x.name === container);
      if (!c) {
        throw new CalculationError(
          `unable to get metrics for resource ${resource}: container ${container} not present in metrics for pod ${pm.metadata.name}`,
        );
      }
      const v = c.usage[resource];
      if (v !== undefined) samples.set(pm.metadata.name, { value: v, timestamp: pm.timestamp, windowMs });
      continue;
    }
    if (pm.containers.length === 0) continue;
    let sum = 0;
    let missing = false;
    for (const c of pm.containers) {
      const v = c.usage[resource];
      if (v === undefined) {
        missing = true;
        break;
      }
      sum += v;
    }
    if (!missing) samples.set(pm.metadata.name, { value: sum, timestamp: pm.timestamp, windowMs });
  }
  return samples;
}

function podCustomSamples(input: RecommendInput, name: string): PodSamples {
  const samples: PodSamples = new Map();
  for (const m of input.customMetrics) {
    if (m.describedObject.kind !== 'Pod' || m.metric.name !== name) continue;
    const windowMs = m.windowSeconds ? m.windowSeconds * 1000 : METRICS_SERVER_DEFAULT_WINDOW_MS;
    samples.set(m.describedObject.name, { value: m.value, timestamp: m.timestamp, windowMs });
  }
  if (samples.size === 0) throw new CalculationError(`unable to get metric ${name}: no metrics returned from custom metrics API`);
  return samples;
}

function objectValue(input: RecommendInput, spec: NonNullable<MetricSpec['object']>): number {
  const { kind, name } = spec.describedObject;
  const found = input.customMetrics.find(
    (m) => m.metric.name === spec.metric.name && m.describedObject.kind === kind && m.describedObject.name === name,
  );
  if (!found) {
    throw new CalculationError(`unable to get metric ${spec.metric.name}: no value for ${kind} ${name} from custom metrics API`);
  }
  return found.value;
}

function externalTotal(input: RecommendInput, spec: NonNullable<MetricSpec['external']>): number {
  const values = input.externalMetrics.filter(
    (m) => m.metricName === spec.metric.name && (!spec.metric.selector || selectorMatches(spec.metric.selector, m.metricLabels)),
  );
  if (values.length === 0) {
    throw new CalculationError(`unable to get external metric ${spec.metric.name}: no metrics returned from external metrics API`);
  }
  return values.reduce((sum, m) => sum + m.value, 0);
}

const FAILURE_REASON: Record<MetricSpec['type'], string> = {
  Resource: 'FailedGetResourceMetric',
  ContainerResource: 'FailedGetContainerResourceMetric',
  Pods: 'FailedGetPodsMetric',
  Object: 'FailedGetObjectMetric',
  External: 'FailedGetExternalMetric',
};

/**
 * Evaluates one metric. `specReplicas` and `statusReplicas` are both the
 * target's current replica count here (the input carries one number).
 */
export function evaluateMetric(m: MetricSpec, input: RecommendInput, currentReplicas: number, cfg: CalculatorConfig): MetricOutcome {
  const name = metricName(m);
  try {
    return evaluate(m, name, input, currentReplicas, cfg);
  } catch (err) {
    if (!(err instanceof CalculationError)) throw err;
    return { ok: false, failure: { type: m.type, name, reason: FAILURE_REASON[m.type], message: err.message } };
  }
}

function evaluate(m: MetricSpec, name: string, input: RecommendInput, current: number, cfg: CalculatorConfig): MetricOutcome {
  const pods = input.pods;
  switch (m.type) {
    case 'Resource':
    case 'ContainerResource': {
      const src = m.type === 'Resource' ? { ...m.resource!, container: undefined } : m.containerResource!;
      const what = m.type === 'Resource' ? `${src.name} resource` : `${src.name} container resource`;
      const samples = resourceSamples(input, src.name, src.container);
      if (src.target.type === 'AverageValue') {
        const r = averageValueReplicas(current, src.target.averageValue!, src.name, pods, samples, cfg);
        return {
          ok: true,
          proposal: { type: m.type, name, proposal: r.replicas, currentAverageValue: formatMilli(r.usage) },
          description: what,
        };
      }
      const r = resourceUtilizationReplicas(current, src.target.averageUtilization!, src.name, src.container, pods, samples, cfg);
      return {
        ok: true,
        proposal: {
          type: m.type,
          name,
          proposal: r.replicas,
          currentAverageUtilization: r.utilization,
          currentAverageValue: formatMilli(r.rawAverage),
        },
        description: `${what} utilization (percentage of request)`,
      };
    }
    case 'Pods': {
      const src = m.pods!;
      const r = averageValueReplicas(current, src.target.averageValue!, '', pods, podCustomSamples(input, src.metric.name), cfg);
      return {
        ok: true,
        proposal: { type: m.type, name, proposal: r.replicas, currentAverageValue: formatMilli(r.usage) },
        description: `pods metric ${name}`,
      };
    }
    case 'Object': {
      const src = m.object!;
      const value = objectValue(input, src);
      const description = `${src.describedObject.kind} metric ${name}`;
      if (src.target.type === 'AverageValue') {
        const r = perPodValueReplicas(current, value, src.target.averageValue!, cfg);
        return {
          ok: true,
          proposal: { type: m.type, name, proposal: r.replicas, currentAverageValue: formatMilli(r.usage) },
          description,
          activationValue: value,
        };
      }
      const r = valueReplicas(current, value, src.target.value!, pods, cfg);
      return { ok: true, proposal: { type: m.type, name, proposal: r.replicas }, description, activationValue: value };
    }
    case 'External': {
      const src = m.external!;
      const total = externalTotal(input, src);
      const description = `external metric ${name}`;
      if (src.target.type === 'AverageValue') {
        const r = perPodValueReplicas(current, total, src.target.averageValue!, cfg);
        return {
          ok: true,
          proposal: { type: m.type, name, proposal: r.replicas, currentAverageValue: formatMilli(r.usage) },
          description,
          activationValue: total,
        };
      }
      const r = valueReplicas(current, total, src.target.value!, pods, cfg);
      return { ok: true, proposal: { type: m.type, name, proposal: r.replicas }, description, activationValue: total };
    }
  }
}
