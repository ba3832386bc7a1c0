// Grafana Faro web SDK payloads (the JSON body of its fetch transport:
// `TransportBody` of @grafana/faro-core: meta, logs, exceptions,
// measurements, events). Logs, exceptions and events become log lines in
// logfmt, labelled source="faro", app, environment, session and kind;
// measurements (web vitals and the like) become metric samples named
// faro_<type>_<value name>, labelled by app and environment (not session:
// a series per browser session would grow without bound).
import type { TransportBody } from '@grafana/faro-core';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import type { LogRecord } from '../core/bus/records.ts';
import { SampleBatchBuilder, type SampleBatch } from '../core/bus/samples.ts';
import { seriesId, labelSetProblem } from '../metrics/series.ts';
import { labelsProblem, lineProblem, storedLabels, timeProblem, type LineLimits } from './limits.ts';
import { nanosToMs, rfc3339Nanos } from './time.ts';

const time = z.string().refine((t) => rfc3339Nanos(t) !== null, 'expected an RFC 3339 time');
const strings = z.record(z.string(), z.string());

// The fields read here, checked; every other field Faro sends is kept in the line or ignored.
const faroBody = z.object({
  meta: z
    .looseObject({
      app: z.looseObject({ name: z.string().optional(), version: z.string().optional(), environment: z.string().optional() }).optional(),
      session: z.looseObject({ id: z.string().optional() }).optional(),
      page: z.looseObject({ url: z.string().optional() }).optional(),
      user: z.looseObject({ id: z.string().optional(), username: z.string().optional() }).optional(),
    })
    .prefault({}),
  logs: z.array(z.looseObject({ message: z.string(), level: z.string().optional(), timestamp: time, context: strings.nullish() })).optional(),
  exceptions: z
    .array(
      z.looseObject({
        type: z.string(),
        value: z.string(),
        timestamp: time,
        stacktrace: z.object({ frames: z.array(z.looseObject({ filename: z.string().optional(), function: z.string().optional(), lineno: z.number().optional(), colno: z.number().optional() })) }).optional(),
        context: strings.nullish(),
      }),
    )
    .optional(),
  measurements: z.array(z.looseObject({ type: z.string(), values: z.record(z.string(), z.number()), timestamp: time, context: strings.nullish() })).optional(),
  events: z.array(z.looseObject({ name: z.string(), domain: z.string().optional(), timestamp: time, attributes: strings.nullish() })).optional(),
  traces: z.unknown().optional(),
});

/** Shows at compile time that the schema reads what faro-core sends. */
type Checked = z.input<typeof faroBody>;
export const faroBodyIsTransportBody: (body: TransportBody) => Checked = (body) => body as unknown as Checked;

export interface FaroPayload {
  readonly records: LogRecord[];
  readonly samples: SampleBatch;
}

/** logfmt `key=value`, quoting values that need it. */
function logfmt(pairs: [string, string | number | undefined][]): string {
  return pairs
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => {
      const s = String(v);
      return `${k}=${/^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)}`;
    })
    .join(' ');
}

function metricPart(text: string): string {
  const s = text.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^_+|_+$/g, '');
  return s || 'value';
}

/** Decodes a Faro body into log records and metric samples; throws InputError naming the field. */
export function faroPayload(body: unknown, tenant: string, appKey: string | undefined, limits: LineLimits): FaroPayload {
  const b = parseInput(faroBody, body);
  const app = b.meta.app?.name ?? appKey ?? 'unknown';
  const base = storedLabels({ source: 'faro', app, environment: b.meta.app?.environment ?? '', session: b.meta.session?.id ?? '' });
  const problem = labelsProblem(base);
  if (problem) throw new InputError('meta', problem);
  const common: [string, string | undefined][] = [
    ['app_version', b.meta.app?.version],
    ['page_url', b.meta.page?.url],
    ['user_id', b.meta.user?.id],
  ];
  const records: LogRecord[] = [];
  const add = (field: string, stamp: string, kind: string, pairs: [string, string | number | undefined][]) => {
    const tsNs = rfc3339Nanos(stamp)!;
    const t = timeProblem(nanosToMs(tsNs), limits);
    if (t) throw new InputError(`${field}.timestamp`, t);
    const line = logfmt([['kind', kind], ...pairs, ...common]);
    const l = lineProblem(line, limits);
    if (l) throw new InputError(field, l);
    const labels = { ...base, kind };
    records.push({ tenant, timestamp: nanosToMs(tsNs), timestampNs: tsNs.toString(), cluster: '', namespace: '', workload: '', pod: '', container: '', stream: kind, message: line, labels });
  };
  const context = (c: Record<string, string> | null | undefined, prefix: string) => Object.entries(c ?? {}).map(([k, v]) => [`${prefix}${k}`, v] as [string, string]);
  b.logs?.forEach((l, i) => add(`logs[${i}]`, l.timestamp, 'log', [['level', l.level], ['message', l.message], ...context(l.context, 'context_')]));
  b.exceptions?.forEach((e, i) => {
    const frames = e.stacktrace?.frames.map((f) => `${f.function ?? '?'} (${f.filename ?? '?'}:${f.lineno ?? 0}:${f.colno ?? 0})`).join('\n');
    add(`exceptions[${i}]`, e.timestamp, 'exception', [['type', e.type], ['value', e.value], ['stacktrace', frames], ...context(e.context, 'context_')]);
  });
  b.events?.forEach((e, i) => add(`events[${i}]`, e.timestamp, 'event', [['event_name', e.name], ['event_domain', e.domain], ...context(e.attributes, 'event_data_')]));

  const samples = new SampleBatchBuilder(tenant);
  const defined = new Set<bigint>();
  b.measurements?.forEach((m, i) => {
    const ms = nanosToMs(rfc3339Nanos(m.timestamp)!);
    const t = timeProblem(ms, limits);
    if (t) throw new InputError(`measurements[${i}].timestamp`, t);
    for (const [name, value] of Object.entries(m.values)) {
      const labels: Record<string, string> = { __name__: `faro_${metricPart(m.type)}_${metricPart(name)}`, app };
      if (b.meta.app?.environment) labels['environment'] = b.meta.app.environment;
      const bad = labelSetProblem(labels);
      if (bad) throw new InputError(`measurements[${i}].values.${name}`, bad);
      const id = seriesId(labels);
      if (!defined.has(id)) {
        defined.add(id);
        samples.define({ id, labels });
      }
      samples.add(id, ms, value);
    }
  });
  return { records, samples: samples.build() };
}
