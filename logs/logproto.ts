// Loki's push protobuf (pkg/push/push.proto, package logproto) as protobufjs
// reads it: PushRequest{streams{labels, entries{timestamp, line,
// structuredMetadata}}}. `labels` and `line` are declared `bytes` here (the
// same wire type as `string`) so that invalid UTF-8 is seen and refused
// instead of silently becoming U+FFFD; Timestamp is google.protobuf.Timestamp's
// layout, declared locally.
import protobuf from 'protobufjs';

export const LOGPROTO = `
syntax = "proto3";
package logproto;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message LabelPairAdapter { bytes name = 1; bytes value = 2; }
message EntryAdapter { Timestamp timestamp = 1; bytes line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
message StreamAdapter { bytes labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message PushRequest { repeated StreamAdapter streams = 1; }
`;

const root = protobuf.parse(LOGPROTO, { keepCase: true }).root;
export const PushRequestType = root.lookupType('logproto.PushRequest');

type Int64 = number | { toString(): string };

export interface RawEntry {
  timestamp?: { seconds?: Int64; nanos?: number } | null;
  line?: Uint8Array;
  structuredMetadata?: { name?: Uint8Array; value?: Uint8Array }[];
}

export interface RawStream {
  labels?: Uint8Array;
  entries?: RawEntry[];
}

/** Decodes an uncompressed PushRequest (throws protobufjs' error on bad bytes). */
export function decodePushRequest(bytes: Uint8Array): RawStream[] {
  const message = PushRequestType.decode(bytes) as unknown as { streams?: RawStream[] };
  return message.streams ?? [];
}

/** Nanoseconds of a Timestamp as a bigint. */
export function timestampNanos(t: RawEntry['timestamp']): bigint {
  const seconds = BigInt(String(t?.seconds ?? 0));
  return seconds * 1_000_000_000n + BigInt(t?.nanos ?? 0);
}
