// The Loki push API's two bodies, decoded whole into log records before
// anything is published (a bad request stores nothing): JSON
// `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{metadata}?]]}]}` and
// snappy-compressed protobuf (logproto.PushRequest, what Promtail, Alloy,
// Fluent Bit and Vector send). Every error names the field.
import snappy from 'snappy';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { snappyLength } from '../core/snappy.ts';
import { parseInput } from '../core/validate.ts';
import type { LogRecord } from '../core/bus/records.ts';
import { decodePushRequest, timestampNanos, type RawStream } from './logproto.ts';
import { parseLabelString } from './label-string.ts';
import { logRecord } from './record.ts';
import { labelsProblem, lineProblem, storedLabels, timeProblem, type LineLimits } from './limits.ts';

/** Largest uncompressed protobuf push accepted (a small snappy body can announce gigabytes). */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

// The entries are checked by hand (checkJsonEntry): a zod tuple per line cost more than the rest of the decode.
export const lokiJsonPushSchema = z.object({
  streams: z
    .array(
      z.object({
        stream: z.record(z.string(), z.string()),
        values: z.array(z.array(z.unknown())),
      }),
    )
    .max(100_000),
});

const NANOS = /^\d{1,19}$/;

/** An entry `[ns, line, {metadata}?]`: its time, line and metadata, or an InputError naming the part. */
function checkJsonEntry(v: readonly unknown[], field: string): { tsNs: string; line: string; metadata: Record<string, string> | undefined } {
  if (v.length < 2 || v.length > 3) throw new InputError(field, 'expected [timestamp, line] or [timestamp, line, {structured metadata}]');
  const [ts, line, metadata] = v;
  if (typeof ts !== 'string' || !NANOS.test(ts)) throw new InputError(`${field}[0]`, 'expected the Unix time in nanoseconds as a decimal string');
  if (typeof line !== 'string') throw new InputError(`${field}[1]`, 'expected the log line as a string');
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new InputError(`${field}[2]`, 'expected structured metadata as an object of strings');
    for (const [k, mv] of Object.entries(metadata)) if (typeof mv !== 'string') throw new InputError(`${field}[2].${k}`, 'expected a string');
  }
  return { tsNs: ts, line, metadata: metadata as Record<string, string> | undefined };
}

function checkStream(labels: Record<string, string>, field: string): Record<string, string> {
  const problem = labelsProblem(labels);
  if (problem) throw new InputError(field, problem);
  return storedLabels(labels);
}

function checkEntry(tsNs: string, line: string, limits: LineLimits, field: string): void {
  // Milliseconds from the decimal digits: exact enough for bounds, without a BigInt division per line.
  const t = timeProblem(tsNs.length > 6 ? Number(tsNs.slice(0, -6)) : 0, limits);
  if (t) throw new InputError(`${field}[0]`, t);
  const l = lineProblem(line, limits);
  if (l) throw new InputError(`${field}[1]`, l);
}

/** Structured metadata joins the entry's labels (searchable as labels); it may not replace a stream label. */
function withMetadata(labels: Readonly<Record<string, string>>, metadata: Record<string, string> | undefined, field: string): Readonly<Record<string, string>> {
  if (!metadata || Object.keys(metadata).length === 0) return labels;
  const problem = labelsProblem(metadata);
  if (problem && problem !== 'a stream needs at least one label') throw new InputError(field, problem);
  const out = { ...labels };
  for (const [k, v] of Object.entries(metadata)) if (v !== '' && !(k in labels)) out[k] = v;
  return out;
}

/** Records of a JSON push; throws InputError naming the field. */
export function lokiJsonRecords(body: unknown, tenant: string, limits: LineLimits): LogRecord[] {
  const request = parseInput(lokiJsonPushSchema, body);
  const out: LogRecord[] = [];
  request.streams.forEach((s, i) => {
    const labels = checkStream(s.stream, `streams[${i}].stream`);
    s.values.forEach((v, j) => {
      const field = `streams[${i}].values[${j}]`;
      const e = checkJsonEntry(v, field);
      // Leading zeros would make two spellings of one time; the canonical decimal is stored.
      const tsNs = e.tsNs.length > 1 && e.tsNs.startsWith('0') ? BigInt(e.tsNs).toString() : e.tsNs;
      checkEntry(tsNs, e.line, limits, field);
      out.push(logRecord(tenant, withMetadata(labels, e.metadata, `${field}[2]`), tsNs, tsNs.length > 6 ? Number(tsNs.slice(0, -6)) : 0, e.line));
    });
  });
  return out;
}


export function uncompressSnappy(body: Uint8Array): Buffer {
  if (body.length === 0) throw new InputError('body', 'empty body: expected a snappy-compressed logproto.PushRequest');
  const announced = snappyLength(body);
  if (announced > MAX_DECODED_BYTES) throw new InputError('body', `snappy block expands to ${announced} bytes, more than the ${MAX_DECODED_BYTES} accepted`, 'body_too_large');
  try {
    return snappy.uncompressSync(body, { asBuffer: true }) as Buffer;
  } catch (e) {
    throw new InputError('body', `bad snappy block: ${(e as Error).message}`);
  }
}

/**
 * Checked label sets by their label string, shared across pushes: a shipper
 * sends the same streams push after push, and parsing and checking a label
 * string cost more than its lines when a push carries one or two lines per
 * stream (30,000 containers behind a few shippers). The sets are frozen:
 * records and the store's stream table share them. Bounded; cleared whole
 * when full (a cache, not a registry).
 */
const checkedLabels = new Map<string, Readonly<Record<string, string>>>();
const CHECKED_LABELS_MAX = 100_000;

function streamLabels(text: string, field: string): Readonly<Record<string, string>> {
  let labels = checkedLabels.get(text);
  if (labels) return labels;
  labels = Object.freeze(checkStream(parseLabelString(text, field), field));
  if (checkedLabels.size >= CHECKED_LABELS_MAX) checkedLabels.clear();
  checkedLabels.set(text, labels);
  return labels;
}

/** Records of a snappy protobuf push; throws InputError naming the field. */
export function lokiProtobufRecords(body: Uint8Array, tenant: string, limits: LineLimits, compressed = true): LogRecord[] {
  const raw = compressed ? uncompressSnappy(body) : body;
  let streams: RawStream[];
  try {
    streams = decodePushRequest(raw);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError('body', `not a logproto.PushRequest: ${(e as Error).message}`);
  }
  const out: LogRecord[] = [];
  streams.forEach((s, i) => {
    const labels = streamLabels(s.labels, `streams[${i}].labels`);
    s.entries.forEach((e, j) => {
      const field = `streams[${i}].entries[${j}]`;
      if (!(e.nanos >= 0 && e.nanos < 1e9)) throw new InputError(`${field}.timestamp.nanos`, 'expected 0 to 999,999,999');
      const ms = e.seconds * 1000 + Math.floor(e.nanos / 1e6);
      const t = timeProblem(ms, limits);
      if (t) throw new InputError(`${field}.timestamp`, t);
      const l = lineProblem(e.line, limits);
      if (l) throw new InputError(`${field}.line`, l);
      out.push(logRecord(tenant, withMetadata(labels, e.metadata ?? undefined, `${field}.structuredMetadata`), timestampNanos(e.seconds, e.nanos), ms, e.line));
    });
  });
  return out;
}
