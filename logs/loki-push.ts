// The Loki push API's two bodies, decoded whole into log records before
// anything is published (a bad request stores nothing): JSON
// `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{metadata}?]]}]}` and
// snappy-compressed protobuf (logproto.PushRequest, what Promtail, Alloy,
// Fluent Bit and Vector send). Every error names the field.
import { isUtf8 } from 'node:buffer';
import snappy from 'snappy';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import type { LogRecord } from '../core/bus/records.ts';
import { decodePushRequest, timestampNanos } from './logproto.ts';
import { parseLabelString } from './label-string.ts';
import { labelsProblem, lineProblem, storedLabels, timeProblem, type LineLimits } from './limits.ts';

/** Largest uncompressed protobuf push accepted (a small snappy body can announce gigabytes). */
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;

const nanos = z.string().regex(/^\d{1,19}$/, 'expected the Unix time in nanoseconds as a decimal string');

export const lokiJsonPushSchema = z.object({
  streams: z
    .array(
      z.object({
        stream: z.record(z.string(), z.string()),
        values: z.array(z.tuple([nanos, z.string()], z.record(z.string(), z.string()))),
      }),
    )
    .max(100_000),
});

/** A log record of one entry: the stream's labels (with structured metadata merged in) at `tsNs`. */
function record(tenant: string, labels: Record<string, string>, tsNs: bigint, line: string): LogRecord {
  return {
    tenant,
    timestamp: Number(tsNs / 1_000_000n),
    timestampNs: tsNs.toString(),
    cluster: labels['cluster'] ?? '',
    namespace: labels['namespace'] ?? '',
    workload: labels['workload'] ?? '',
    pod: labels['pod'] ?? '',
    container: labels['container'] ?? '',
    stream: labels['stream'] ?? '',
    message: line,
    labels,
  };
}

function checkStream(labels: Record<string, string>, field: string): Record<string, string> {
  const problem = labelsProblem(labels);
  if (problem) throw new InputError(field, problem);
  return storedLabels(labels);
}

function checkEntry(tsNs: bigint, line: string, limits: LineLimits, field: string): void {
  const t = timeProblem(Number(tsNs / 1_000_000n), limits);
  if (t) throw new InputError(`${field}[0]`, t);
  const l = lineProblem(line, limits);
  if (l) throw new InputError(`${field}[1]`, l);
}

/** Structured metadata joins the entry's labels (searchable as labels); it may not replace a stream label. */
function withMetadata(labels: Record<string, string>, metadata: Record<string, string> | undefined, field: string): Record<string, string> {
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
      if (v.length > 3) throw new InputError(field, 'expected [timestamp, line] or [timestamp, line, {structured metadata}]');
      const tsNs = BigInt(v[0]);
      checkEntry(tsNs, v[1], limits, field);
      out.push(record(tenant, withMetadata(labels, v[2], `${field}[2]`), tsNs, v[1]));
    });
  });
  return out;
}

function utf8(bytes: Uint8Array | undefined, field: string): string {
  if (!bytes || bytes.length === 0) return '';
  if (!isUtf8(bytes)) throw new InputError(field, 'not valid UTF-8');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The uncompressed length a snappy block announces in its preamble, or -1. */
function snappyLength(body: Uint8Array): number {
  let length = 0;
  for (let i = 0, scale = 1; i < 5 && i < body.length; i++, scale *= 128) {
    const b = body[i]!;
    length += (b & 0x7f) * scale;
    if (b < 0x80) return length;
  }
  return -1;
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

/** Records of a snappy protobuf push; throws InputError naming the field. */
export function lokiProtobufRecords(body: Uint8Array, tenant: string, limits: LineLimits, compressed = true): LogRecord[] {
  const raw = compressed ? uncompressSnappy(body) : body;
  let streams;
  try {
    streams = decodePushRequest(raw);
  } catch (e) {
    throw new InputError('body', `not a logproto.PushRequest: ${(e as Error).message}`);
  }
  const out: LogRecord[] = [];
  streams.forEach((s, i) => {
    const labels = checkStream(parseLabelString(utf8(s.labels, `streams[${i}].labels`), `streams[${i}].labels`), `streams[${i}].labels`);
    (s.entries ?? []).forEach((e, j) => {
      const field = `streams[${i}].entries[${j}]`;
      const tsNs = timestampNanos(e.timestamp);
      const t = timeProblem(Number(tsNs / 1_000_000n), limits);
      if (t) throw new InputError(`${field}.timestamp`, t);
      const line = utf8(e.line, `${field}.line`);
      const l = lineProblem(line, limits);
      if (l) throw new InputError(`${field}.line`, l);
      const metadata: Record<string, string> = {};
      (e.structuredMetadata ?? []).forEach((m, k) => {
        metadata[utf8(m.name, `${field}.structuredMetadata[${k}].name`)] = utf8(m.value, `${field}.structuredMetadata[${k}].value`);
      });
      out.push(record(tenant, withMetadata(labels, metadata, `${field}.structuredMetadata`), tsNs, line));
    });
  });
  return out;
}
