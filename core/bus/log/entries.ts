// The bus log's entries and their framing on disk (pure: bytes in, entries
// out). Three kinds of entry share one append-only log: a published payload,
// a delivery intent (the log range of a delivery about to be handed to its
// consumer, so that a replay cuts the same delivery, with the same token),
// and a handled mark (the consumer's progress: every payload of the topic up
// to that position is stored). Payload bytes are the bus's wire format
// (core/bus/sample-codec.ts), the same messages the Kafka bus produces.
//
// Frame: u32 body length, u32 crc32(body), body (little-endian). Body: u8
// kind, u8 topic, then for a payload the encoded payload; for an intent two
// u64 positions (first and last payload); for a handled mark one u64
// position (the last payload handled). A position is the byte offset of an
// entry's frame in the log (never reused: segments are named by the
// position they start at). A frame that runs past the end of the bytes or
// whose checksum does not match is where a write was torn (kill -9 or power
// loss mid-write): reading stops there.
import { crc32 } from 'node:zlib';
import type { Topic, TopicPayloads } from '../bus.ts';
import type { SampleBatch } from '../samples.ts';
import { decodeRecords, decodeSampleBatch, encodeRecords, encodeSampleBatch } from '../sample-codec.ts';

export type LogEntry =
  | { kind: 'payload'; topic: Topic; bytes: Buffer }
  | { kind: 'intent'; topic: Topic; from: number; to: number }
  | { kind: 'handled'; topic: Topic; through: number };

/** An entry as read back, with its position in the log. */
export type PositionedEntry = LogEntry & { position: number };

export const FRAME_BYTES = 8;
/** Largest body a frame may announce: a length beyond it is garbage (a torn or zeroed header), not a record. */
export const MAX_BODY_BYTES = 1 << 30;

const KIND = { payload: 1, intent: 2, handled: 3 } as const;
const TOPIC_CODE: Record<Topic, number> = { metrics: 1, logs: 2, probes: 3 };
const TOPIC_OF = new Map<number, Topic>(Object.entries(TOPIC_CODE).map(([t, c]) => [c, t as Topic]));

/** A payload in the bus's wire format: samples as a binary sample batch, records as the record envelope. */
export function encodePayload<T extends Topic>(topic: T, payload: TopicPayloads[T]): Buffer {
  if (topic === 'metrics') return encodeSampleBatch(payload as SampleBatch);
  const kind = topic as 'logs' | 'probes';
  return encodeRecords(kind, payload as TopicPayloads[typeof kind]);
}

export function decodePayload<T extends Topic>(topic: T, bytes: Buffer): TopicPayloads[T] {
  return (topic === 'metrics' ? decodeSampleBatch(bytes) : decodeRecords(topic as 'logs' | 'probes', bytes)) as TopicPayloads[T];
}

/**
 * One entry framed for the log: length, checksum, body; as the buffers to
 * write in order (a payload's encoded bytes are written as they are, not
 * copied into the frame).
 */
export function frameEntry(entry: LogEntry): Buffer[] {
  const extra = entry.kind === 'intent' ? 16 : entry.kind === 'handled' ? 8 : 0;
  const head = Buffer.allocUnsafe(FRAME_BYTES + 2 + extra);
  head.writeUInt8(KIND[entry.kind], FRAME_BYTES);
  head.writeUInt8(TOPIC_CODE[entry.topic], FRAME_BYTES + 1);
  const at = FRAME_BYTES + 2;
  if (entry.kind === 'intent') {
    head.writeBigUInt64LE(BigInt(entry.from), at);
    head.writeBigUInt64LE(BigInt(entry.to), at + 8);
  } else if (entry.kind === 'handled') head.writeBigUInt64LE(BigInt(entry.through), at);
  const own = head.subarray(FRAME_BYTES);
  const payload = entry.kind === 'payload' ? entry.bytes : null;
  head.writeUInt32LE(own.length + (payload?.length ?? 0), 0);
  head.writeUInt32LE(payload ? crc32(payload, crc32(own)) : crc32(own), 4);
  return payload ? [head, payload] : [head];
}

/** Bytes a framed entry takes in the log. */
export function framedLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

export interface ReadEntries {
  entries: PositionedEntry[];
  /** Bytes of whole, intact frames from the start: where the next entry belongs. */
  validBytes: number;
  /** Why reading stopped before the end (a torn or corrupt frame), or null when every byte was read. */
  torn: string | null;
}

/** The entries framed in `bytes` (one segment, starting at log position `base`), up to the first torn frame. */
export function readEntries(bytes: Buffer, base: number): ReadEntries {
  const entries: PositionedEntry[] = [];
  let at = 0;
  const stop = (why: string): ReadEntries => ({ entries, validBytes: at, torn: `${why} at log position ${base + at}` });
  while (at < bytes.length) {
    if (bytes.length - at < FRAME_BYTES) return stop('a partial frame header');
    const length = bytes.readUInt32LE(at);
    if (length < 2 || length > MAX_BODY_BYTES) return stop(`a frame announcing ${length} bytes`);
    if (at + FRAME_BYTES + length > bytes.length) return stop(`a frame of ${length} bytes cut short`);
    const body = bytes.subarray(at + FRAME_BYTES, at + FRAME_BYTES + length);
    if (crc32(body) !== bytes.readUInt32LE(at + 4)) return stop('a checksum mismatch');
    const entry = parseBody(body);
    if (!entry) return stop('an entry of unknown kind or topic');
    entries.push({ ...entry, position: base + at });
    at += FRAME_BYTES + length;
  }
  return { entries, validBytes: at, torn: null };
}

function parseBody(body: Buffer): LogEntry | null {
  const topic = TOPIC_OF.get(body.readUInt8(1));
  if (!topic) return null;
  switch (body.readUInt8(0)) {
    case KIND.payload:
      return { kind: 'payload', topic, bytes: body.subarray(2) };
    case KIND.intent:
      return body.length === 18 ? { kind: 'intent', topic, from: Number(body.readBigUInt64LE(2)), to: Number(body.readBigUInt64LE(10)) } : null;
    case KIND.handled:
      return body.length === 10 ? { kind: 'handled', topic, through: Number(body.readBigUInt64LE(2)) } : null;
    default:
      return null;
  }
}
