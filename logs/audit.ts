// Kubernetes audit events as the API server's webhook backend posts them
// (an `audit.k8s.io/v1` EventList), each event one log line (its JSON as
// sent) labelled so that it is found by who did what where: user, verb,
// resource, namespace, stage, plus source="audit" and the cluster.
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import type { LogRecord } from '../core/bus/records.ts';
import { labelsProblem, lineProblem, storedLabels, timeProblem, type LineLimits } from './limits.ts';
import { nanosToMs, rfc3339Nanos } from './time.ts';

const time = z.string().refine((t) => rfc3339Nanos(t) !== null, 'expected an RFC 3339 time');

const auditEvent = z.looseObject({
  level: z.string().optional(),
  auditID: z.string().optional(),
  stage: z.string().min(1),
  requestURI: z.string().optional(),
  verb: z.string().min(1),
  user: z.looseObject({ username: z.string().optional() }),
  objectRef: z
    .looseObject({
      resource: z.string().optional(),
      subresource: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      apiGroup: z.string().optional(),
    })
    .optional(),
  requestReceivedTimestamp: time.optional(),
  stageTimestamp: time.optional(),
});

export const auditEventListSchema = z.object({
  kind: z.literal('EventList'),
  apiVersion: z.string().regex(/^audit\.k8s\.io\/v1(beta1)?$/, 'expected audit.k8s.io/v1'),
  items: z.array(auditEvent).max(100_000).nullable().optional(),
});

/** The events of an EventList as log records; throws InputError naming the field. */
export function auditRecords(body: unknown, tenant: string, cluster: string, limits: LineLimits): LogRecord[] {
  const list = parseInput(auditEventListSchema, body);
  const raw = (body as { items?: unknown[] }).items ?? [];
  return (list.items ?? []).map((event, i) => {
    const field = `items[${i}]`;
    const stamp = event.stageTimestamp ?? event.requestReceivedTimestamp;
    if (stamp === undefined) throw new InputError(`${field}.stageTimestamp`, 'an audit event needs stageTimestamp or requestReceivedTimestamp');
    const tsNs = rfc3339Nanos(stamp)!;
    const t = timeProblem(nanosToMs(tsNs), limits);
    if (t) throw new InputError(`${field}.${event.stageTimestamp !== undefined ? 'stageTimestamp' : 'requestReceivedTimestamp'}`, t);
    const resource = event.objectRef?.resource ?? '';
    const labels: Record<string, string> = {
      source: 'audit',
      cluster,
      user: event.user.username ?? '',
      verb: event.verb,
      resource: event.objectRef?.subresource ? `${resource}/${event.objectRef.subresource}` : resource,
      namespace: event.objectRef?.namespace ?? '',
      stage: event.stage,
    };
    const problem = labelsProblem(labels);
    if (problem) throw new InputError(field, problem);
    const line = JSON.stringify(raw[i]);
    const l = lineProblem(line, limits);
    if (l) throw new InputError(field, l);
    const stored = storedLabels(labels);
    return {
      tenant,
      timestamp: nanosToMs(tsNs),
      timestampNs: tsNs.toString(),
      cluster,
      namespace: stored['namespace'] ?? '',
      workload: '',
      pod: '',
      container: '',
      stream: 'audit',
      message: line,
      labels: stored,
    };
  });
}
