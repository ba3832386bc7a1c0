// The wire format of bus messages (owned here so producers and consumers in
// separate processes agree): a versioned binary encoding of SampleBatch, and
// a versioned JSON envelope for log and probe records.
//
// Samples are binary and columnar, not JSON or protobuf, because both sides
// then skip per-sample work: the producer copies its three typed columns in
// with one memcpy each, and the consumer gets Float64Array/BigUint64Array
// views straight onto the message bytes (zero-copy when aligned, one memcpy
// otherwise) that the ingester hands to ClickHouse's Native format as they
// are. Raw IEEE-754 bits also keep NaN payloads such as Prometheus' stale
// marker intact, which a text format would lose.
//
// Sample batch, version 1 (all integers little-endian):
//   0  magic "TMSB"          4  version u8 (=1)   5  flags u8 (=0)   6  reserved u16
//   8  tenant: u16 length + UTF-8
//      series count u32; per series: id u64, label count u16, then per label
//      name and value, each u16 length + UTF-8
//      sample count u32
//      zero padding to the next multiple of 8 (from the message start)
//      seriesIds u64[n], timestamps f64[n] (unix ms), values f64[n]
// Records (logs, probes), version 1: magic "TMRJ", version u8 (=1), kind u8
// (1 logs, 2 probes), reserved u16, then a UTF-8 JSON array.
import { endianness } from 'node:os';
import { z } from 'zod';
import type { Labels, SampleBatch, SeriesDefinition } from './samples.ts';
import type { LogRecord, ProbeResult } from './records.ts';
import { describeIssuePath } from '../errors.ts';

export const SAMPLE_MAGIC = 'TMSB';
export const RECORD_MAGIC = 'TMRJ';
export const SAMPLE_CODEC_VERSION = 1;
export const RECORD_CODEC_VERSION = 1;

// The columns are copied as host bytes; every platform Node 20 ships for is
// little-endian, and refusing at load beats silently swapping bytes.
if (endianness() !== 'LE') throw new Error('core/sample-codec.ts: the bus wire format assumes a little-endian host');

/** Why a message could not be decoded; the bus sends such messages to the dead-letter topic with this reason. */
export class CodecError extends Error {
  constructor(
    readonly reason: 'bad_magic' | 'unknown_version' | 'truncated' | 'bad_payload',
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

const HEADER = 8;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function checkU16(n: number, what: string): number {
  if (n > 0xffff) throw new RangeError(`${what} is ${n} bytes; the sample codec allows at most 65535`);
  return n;
}

/** Bytes the encoded batch will take: lets the bus size messages without encoding twice. */
export function encodedSampleBatchSize(batch: SampleBatch): number {
  let size = HEADER + 2 + checkU16(utf8Length(batch.tenant), 'tenant') + 4;
  for (const def of batch.series) {
    size += 8 + 2;
    for (const [name, value] of Object.entries(def.labels)) {
      size += 2 + checkU16(utf8Length(name), 'label name') + 2 + checkU16(utf8Length(value), `label ${name}`);
    }
  }
  size += 4;
  size = align8(size);
  return size + batch.length * 24;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

export function encodeSampleBatch(batch: SampleBatch): Buffer {
  const n = batch.length;
  if (batch.seriesIds.length < n || batch.timestamps.length < n || batch.values.length < n) {
    throw new RangeError(`sample batch declares ${n} samples but a column is shorter`);
  }
  const size = encodedSampleBatchSize(batch);
  // alloc (zeroed), not allocUnsafe: padding must not leak other memory onto the wire.
  const out = Buffer.alloc(size);
  out.write(SAMPLE_MAGIC, 0, 'latin1');
  out.writeUInt8(SAMPLE_CODEC_VERSION, 4);
  let at = HEADER;
  const writeString = (s: string): void => {
    const len = out.write(s, at + 2, 'utf8');
    out.writeUInt16LE(len, at);
    at += 2 + len;
  };
  writeString(batch.tenant);
  out.writeUInt32LE(batch.series.length, at);
  at += 4;
  for (const def of batch.series) {
    out.writeBigUInt64LE(def.id, at);
    at += 8;
    const entries = Object.entries(def.labels);
    out.writeUInt16LE(checkU16(entries.length, 'label count'), at);
    at += 2;
    for (const [name, value] of entries) {
      writeString(name);
      writeString(value);
    }
  }
  out.writeUInt32LE(n, at);
  at = align8(at + 4);
  copyColumn(out, at, batch.seriesIds, n);
  copyColumn(out, at + 8 * n, batch.timestamps, n);
  copyColumn(out, at + 16 * n, batch.values, n);
  return out;
}

function copyColumn(out: Buffer, at: number, column: BigUint64Array | Float64Array, n: number): void {
  out.set(new Uint8Array(column.buffer, column.byteOffset, n * 8), at);
}

export function decodeSampleBatch(message: Buffer): SampleBatch {
  if (message.length < HEADER) throw new CodecError('truncated', `message of ${message.length} bytes is shorter than the header`);
  const magic = message.toString('latin1', 0, 4);
  if (magic !== SAMPLE_MAGIC) throw new CodecError('bad_magic', `expected magic ${SAMPLE_MAGIC}, got ${JSON.stringify(magic)}`);
  const version = message.readUInt8(4);
  if (version !== SAMPLE_CODEC_VERSION) throw new CodecError('unknown_version', `sample batch version ${version}; this build reads version ${SAMPLE_CODEC_VERSION}`);
  try {
    let at = HEADER;
    const readString = (): string => {
      const len = message.readUInt16LE(at);
      if (at + 2 + len > message.length) throw new RangeError('string past the end');
      const s = message.toString('utf8', at + 2, at + 2 + len);
      at += 2 + len;
      return s;
    };
    const tenant = readString();
    const seriesCount = message.readUInt32LE(at);
    at += 4;
    // Each definition needs at least 10 bytes: reject absurd counts before allocating.
    if (seriesCount * 10 > message.length - at) throw new RangeError(`series count ${seriesCount} exceeds the message`);
    const series: SeriesDefinition[] = [];
    for (let i = 0; i < seriesCount; i++) {
      const id = message.readBigUInt64LE(at);
      at += 8;
      const labelCount = message.readUInt16LE(at);
      at += 2;
      const labels: Record<string, string> = {};
      for (let j = 0; j < labelCount; j++) {
        const name = readString();
        labels[name] = readString();
      }
      series.push({ id, labels: labels as Labels });
    }
    const n = message.readUInt32LE(at);
    at = align8(at + 4);
    if (at + n * 24 !== message.length) {
      throw new RangeError(`${n} samples need ${at + n * 24} bytes, message has ${message.length}`);
    }
    return {
      tenant,
      series,
      length: n,
      seriesIds: column(message, at, n, BigUint64Array),
      timestamps: column(message, at + 8 * n, n, Float64Array),
      values: column(message, at + 16 * n, n, Float64Array),
    };
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError('truncated', `malformed sample batch: ${(e as Error).message}`);
  }
}

type ColumnType<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T };

/** A typed view onto the message bytes when they are 8-byte aligned, else a copy (typed arrays cannot be unaligned). */
function column<T extends BigUint64Array | Float64Array>(message: Buffer, at: number, n: number, Type: ColumnType<T>): T {
  const offset = message.byteOffset + at;
  if (offset % 8 === 0) return new Type(message.buffer, offset, n);
  const copy = new Type(n);
  new Uint8Array(copy.buffer).set(message.subarray(at, at + n * 8));
  return copy;
}

// Records are parsed at the edge like any external input: a message from
// another process may be anything, and a bad one must become a dead letter,
// not a crash in the ingester.
const logRecord = z.object({
  tenant: z.string(),
  timestamp: z.number(),
  cluster: z.string(),
  namespace: z.string(),
  workload: z.string(),
  pod: z.string(),
  container: z.string(),
  stream: z.string(),
  message: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
  timestampNs: z.string().regex(/^-?\d{1,20}$/).optional(),
});
const probeResult = z.object({
  tenant: z.string(),
  cluster: z.string(),
  location: z.string(),
  timestamp: z.number(),
  target: z.string(),
  ok: z.boolean(),
  latencyMs: z.number(),
  error: z.string(),
});

export type RecordKind = 'logs' | 'probes';
const KIND_CODE: Record<RecordKind, number> = { logs: 1, probes: 2 };

export interface RecordPayloads {
  logs: LogRecord[];
  probes: ProbeResult[];
}

export function encodeRecords<K extends RecordKind>(kind: K, records: RecordPayloads[K]): Buffer {
  const json = Buffer.from(JSON.stringify(records), 'utf8');
  const out = Buffer.alloc(HEADER + json.length);
  out.write(RECORD_MAGIC, 0, 'latin1');
  out.writeUInt8(RECORD_CODEC_VERSION, 4);
  out.writeUInt8(KIND_CODE[kind], 5);
  json.copy(out, HEADER);
  return out;
}

export function decodeRecords<K extends RecordKind>(kind: K, message: Buffer): RecordPayloads[K] {
  if (message.length < HEADER) throw new CodecError('truncated', `message of ${message.length} bytes is shorter than the header`);
  const magic = message.toString('latin1', 0, 4);
  if (magic !== RECORD_MAGIC) throw new CodecError('bad_magic', `expected magic ${RECORD_MAGIC}, got ${JSON.stringify(magic)}`);
  const version = message.readUInt8(4);
  if (version !== RECORD_CODEC_VERSION) throw new CodecError('unknown_version', `record batch version ${version}; this build reads version ${RECORD_CODEC_VERSION}`);
  const code = message.readUInt8(5);
  if (code !== KIND_CODE[kind]) throw new CodecError('bad_payload', `record kind ${code} on the ${kind} topic (expected ${KIND_CODE[kind]})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.toString('utf8', HEADER));
  } catch (e) {
    throw new CodecError('bad_payload', `records are not JSON: ${(e as Error).message}`);
  }
  const schema = kind === 'logs' ? z.array(logRecord) : z.array(probeResult);
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new CodecError('bad_payload', `${kind} ${describeIssuePath(issue.path)}: ${issue.message}`);
  }
  return result.data as RecordPayloads[K];
}
