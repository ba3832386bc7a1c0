// What Promtail sends to /loki/api/v1/push, built the way it builds it: the
// protobuf encoded from Loki's own definitions (pkg/push/push.proto, with
// `string` fields and google.protobuf.Timestamp, as the real file declares
// them; gogoproto options left out) and snappy block compression.
import protobuf from 'protobufjs';
import snappy from 'snappy';

const PUSH_PROTO = `
syntax = "proto3";
package logproto;
import "google/protobuf/timestamp.proto";
message PushRequest { repeated StreamAdapter streams = 1; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
`;

const root = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/timestamp.proto')!);
protobuf.parse(PUSH_PROTO, root, { keepCase: true });
const PushRequest = root.lookupType('logproto.PushRequest');

export interface PromtailEntry {
  /** Unix nanoseconds. */
  ns: bigint;
  line: string;
  metadata?: Record<string, string>;
}

/** `{a="b", …}` as Go's labels.String() writes it (strconv.Quote'd values). */
export function labelString(labels: Record<string, string>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

export function encodePush(streams: { labels: string; entries: PromtailEntry[] }[]): Buffer {
  const message = PushRequest.fromObject({
    streams: streams.map((s) => ({
      labels: s.labels,
      entries: s.entries.map((e) => ({
        timestamp: { seconds: String(e.ns / 1_000_000_000n), nanos: Number(e.ns % 1_000_000_000n) },
        line: e.line,
        structuredMetadata: Object.entries(e.metadata ?? {}).map(([name, value]) => ({ name, value })),
      })),
    })),
  });
  return Buffer.from(PushRequest.encode(message).finish());
}

export function snappyPush(streams: { labels: string; entries: PromtailEntry[] }[]): Buffer {
  return snappy.compressSync(encodePush(streams)) as Buffer;
}
