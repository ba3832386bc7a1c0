// Loki's push protobuf (pkg/push/push.proto, package logproto), read
// straight off the wire with protobufjs' Reader: PushRequest{streams
// {labels, entries{timestamp, line, structuredMetadata}}}. No message
// objects per entry (decoding through generated types ran at a third of the
// speed); strings are checked for UTF-8 here, so invalid bytes are refused,
// never silently turned into U+FFFD. The schema, for reference:
//
//   message PushRequest { repeated StreamAdapter streams = 1; }
//   message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//   message EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
//   message LabelPairAdapter { string name = 1; string value = 2; }
//   message Timestamp { int64 seconds = 1; int32 nanos = 2; }
import protobuf from 'protobufjs';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../core/errors.ts';

export interface RawEntry {
  readonly seconds: number;
  readonly nanos: number;
  readonly line: string;
  readonly metadata: Record<string, string> | null;
}

export interface RawStream {
  readonly labels: string;
  readonly entries: RawEntry[];
}

/** Bytes [start, end) of buf as text; InputError naming `field` when they are not UTF-8. */
function text(buf: Buffer, start: number, end: number, field: () => string): string {
  const s = buf.toString('utf8', start, end);
  // Decoding replaces invalid bytes with U+FFFD: only then is the exact check needed.
  if (s.includes('\ufffd') && !isUtf8(buf.subarray(start, end))) throw new InputError(field(), 'not valid UTF-8');
  return s;
}

function readString(r: protobuf.Reader, buf: Buffer, field: () => string): string {
  const length = r.uint32();
  const start = r.pos;
  if (start + length > r.len) throw new Error('truncated');
  r.pos += length;
  return text(buf, start, start + length, field);
}

function readTimestamp(r: protobuf.Reader, end: number): { seconds: number; nanos: number } {
  let seconds = 0;
  let nanos = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x08) {
      const v = r.int64() as unknown as number | { toNumber(): number };
      seconds = typeof v === 'number' ? v : v.toNumber();
    }
    else if (tag === 0x10) nanos = r.int32();
    else r.skipType(tag & 7);
  }
  return { seconds, nanos };
}

/** Decodes an uncompressed PushRequest. Throws InputError for bad UTF-8, protobufjs' Error for bad bytes. */
export function decodePushRequest(bytes: Uint8Array): RawStream[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = protobuf.Reader.create(buf);
  const streams: RawStream[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag !== 0x0a) {
      r.skipType(tag & 7);
      continue;
    }
    const i = streams.length;
    const streamEnd = r.uint32() + r.pos;
    if (streamEnd > r.len) throw new Error('truncated stream');
    let labels = '';
    const entries: RawEntry[] = [];
    while (r.pos < streamEnd) {
      const t = r.uint32();
      if (t === 0x0a) labels = readString(r, buf, () => `streams[${i}].labels`);
      else if (t === 0x12) {
        const j = entries.length;
        const entryEnd = r.uint32() + r.pos;
        if (entryEnd > streamEnd) throw new Error('truncated entry');
        let seconds = 0;
        let nanos = 0;
        let line = '';
        let metadata: Record<string, string> | null = null;
        while (r.pos < entryEnd) {
          const et = r.uint32();
          if (et === 0x0a) {
            const tsEnd = r.uint32() + r.pos;
            if (tsEnd > entryEnd) throw new Error('truncated timestamp');
            ({ seconds, nanos } = readTimestamp(r, tsEnd));
          } else if (et === 0x12) line = readString(r, buf, () => `streams[${i}].entries[${j}].line`);
          else if (et === 0x1a) {
            const k = metadata ? Object.keys(metadata).length : 0;
            const pairEnd = r.uint32() + r.pos;
            if (pairEnd > entryEnd) throw new Error('truncated structured metadata');
            let name = '';
            let value = '';
            while (r.pos < pairEnd) {
              const pt = r.uint32();
              if (pt === 0x0a) name = readString(r, buf, () => `streams[${i}].entries[${j}].structuredMetadata[${k}].name`);
              else if (pt === 0x12) value = readString(r, buf, () => `streams[${i}].entries[${j}].structuredMetadata[${k}].value`);
              else r.skipType(pt & 7);
            }
            (metadata ??= {})[name] = value;
          } else r.skipType(et & 7);
        }
        if (r.pos !== entryEnd) throw new Error('entry overruns its length');
        entries.push({ seconds, nanos, line, metadata });
      } else r.skipType(t & 7);
    }
    if (r.pos !== streamEnd) throw new Error('stream overruns its length');
    streams.push({ labels, entries });
  }
  return streams;
}

/** Nanoseconds of a Timestamp (seconds >= 0, 0 <= nanos < 1e9) as a decimal string; digits joined, no BigInt per line. */
export function timestampNanos(seconds: number, nanos: number): string {
  const s = Math.trunc(seconds);
  return s > 0 ? `${s}${String(nanos).padStart(9, '0')}` : String(nanos);
}
