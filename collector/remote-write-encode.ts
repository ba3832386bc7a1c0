// The Prometheus remote_write 1.0 encoder: label sets and samples into a
// snappy-compressed prometheus.WriteRequest, for tests, benchmarks and
// anything that forwards samples. Apart from the decoder, whose hot path
// needs none of the full protobuf runtime this loads.
import fullProtobuf from 'protobufjs';
import snappy from 'snappy';
import type { Labels } from '../core/bus/samples.ts';

const WRITE_REQUEST_PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
message MetricMetadata { int32 type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;

let writeRequestType: fullProtobuf.Type | undefined;

function writeRequest(): fullProtobuf.Type {
  writeRequestType ??= fullProtobuf.parse(WRITE_REQUEST_PROTO).root.lookupType('prometheus.WriteRequest');
  return writeRequestType;
}

export interface WriteSample {
  readonly value: number;
  /** Unix time in milliseconds. */
  readonly timestamp: number;
}

export interface WriteSeries {
  /** As an object, or as [name, value] pairs sent in exactly that order (to send odd label sets). */
  readonly labels: Labels | readonly (readonly [string, string])[];
  readonly samples: readonly WriteSample[];
}

/** The protobuf bytes of a WriteRequest (uncompressed). Labels are sorted by name as Prometheus sends them unless given as pairs. */
export function encodeWriteRequestProto(timeseries: readonly WriteSeries[]): Uint8Array {
  const message = {
    timeseries: timeseries.map((s) => ({
      labels: (Array.isArray(s.labels)
        ? (s.labels as readonly (readonly [string, string])[])
        : Object.entries(s.labels as Labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      ).map(([name, value]) => ({ name, value })),
      samples: s.samples.map((x) => ({ value: x.value, timestamp: x.timestamp })),
    })),
  };
  const type = writeRequest();
  return type.encode(type.fromObject(message)).finish();
}

/** A remote_write request body: the WriteRequest, snappy block-compressed. */
export function encodeWriteRequest(timeseries: readonly WriteSeries[]): Buffer {
  return snappy.compressSync(encodeWriteRequestProto(timeseries));
}
