import { describe, expect, it } from 'vitest';
import { SampleBatchBuilder, STALE_NAN_BITS, staleMarker, type SampleBatch } from './samples.ts';
import {
  CodecError,
  decodeRecords,
  decodeSampleBatch,
  encodeRecords,
  encodeSampleBatch,
  encodedSampleBatchSize,
  SAMPLE_CODEC_VERSION,
} from './sample-codec.ts';
import type { LogRecord, ProbeResult } from './records.ts';

function bits(values: Float64Array): bigint[] {
  return Array.from(new BigUint64Array(values.buffer, values.byteOffset, values.length));
}

function batch(): SampleBatch {
  const b = new SampleBatchBuilder('tenant-ä', 2);
  b.define({ id: 1n, labels: { __name__: 'up', job: 'node', instance: 'ünïcode:9100' } });
  b.define({ id: 0xffff_ffff_ffff_ffffn, labels: { __name__: 'empty_labels' } });
  // Values as bit patterns, turned into numbers only at the add() call: a
  // plain JS array of numbers would quiet a signalling NaN such as the stale
  // marker (V8 canonicalises NaNs in double arrays).
  const patterns = [0n, 0x8000_0000_0000_0000n /* -0 */, 0x3ff8_0000_0000_0000n /* 1.5 */, 0x7ff8_0000_0000_0000n /* NaN */,
    0x7ff0_0000_0000_0000n /* +Inf */, 0xfff0_0000_0000_0000n /* -Inf */, STALE_NAN_BITS, 0x7ff8_0000_dead_beefn /* NaN with payload */,
    1n /* MIN_VALUE */, 0x7fef_ffff_ffff_ffffn /* MAX_VALUE */];
  const view = new BigUint64Array(1);
  const asNumber = new Float64Array(view.buffer);
  patterns.forEach((p, i) => {
    view[0] = p;
    b.add(i % 2 === 0 ? 1n : 0xffff_ffff_ffff_ffffn, 1_700_000_000_000 + i * 15_000, asNumber[0]!);
  });
  b.add(1n, 1_700_000_200_000, staleMarker());
  return b.build();
}

describe('sample batch codec', () => {
  it('round-trips tenant, definitions and every value bit pattern', () => {
    const original = batch();
    const encoded = encodeSampleBatch(original);
    expect(encoded.length).toBe(encodedSampleBatchSize(original));
    expect(encoded.toString('latin1', 0, 4)).toBe('TMSB');
    expect(encoded[4]).toBe(SAMPLE_CODEC_VERSION);
    const decoded = decodeSampleBatch(encoded);
    expect(decoded.tenant).toBe('tenant-ä');
    expect(decoded.series).toEqual(original.series);
    expect(decoded.length).toBe(11);
    expect(bits(original.values)[6]).toBe(STALE_NAN_BITS);
    expect(Array.from(decoded.seriesIds)).toEqual(Array.from(original.seriesIds));
    expect(Array.from(decoded.timestamps)).toEqual(Array.from(original.timestamps));
    expect(bits(decoded.values)).toEqual(bits(original.values));
    expect(bits(decoded.values)[6]).toBe(STALE_NAN_BITS);
    expect(bits(decoded.values)[10]).toBe(STALE_NAN_BITS);
    expect(Object.is(decoded.values[1], -0)).toBe(true);
    expect(decoded.values[4]).toBe(Number.POSITIVE_INFINITY);
    expect(decoded.values[5]).toBe(Number.NEGATIVE_INFINITY);
  });

  it('decodes without copying when the message is aligned, and copies correctly when it is not', () => {
    const encoded = encodeSampleBatch(batch());
    // Buffer.alloc of this size gets its own 8-aligned ArrayBuffer: a view, not a copy.
    const aligned = decodeSampleBatch(encoded);
    expect(aligned.values.buffer).toBe(encoded.buffer);
    const shifted = Buffer.alloc(encoded.length + 3);
    encoded.copy(shifted, 3);
    const unaligned = decodeSampleBatch(shifted.subarray(3));
    expect(unaligned.values.buffer).not.toBe(shifted.buffer);
    expect(bits(unaligned.values)).toEqual(bits(aligned.values));
    expect(Array.from(unaligned.seriesIds)).toEqual(Array.from(aligned.seriesIds));
  });

  it('encodes an empty batch and a subarray column', () => {
    const empty = decodeSampleBatch(encodeSampleBatch(new SampleBatchBuilder('t').build()));
    expect(empty.length).toBe(0);
    expect(empty.series).toEqual([]);
    const b = new SampleBatchBuilder('t');
    for (let i = 0; i < 100; i++) b.add(BigInt(i), i, i * 2);
    const full = b.build();
    const part: SampleBatch = { ...full, length: 3, seriesIds: full.seriesIds.subarray(50, 53), timestamps: full.timestamps.subarray(50, 53), values: full.values.subarray(50, 53) };
    expect(Array.from(decodeSampleBatch(encodeSampleBatch(part)).values)).toEqual([100, 102, 104]);
  });

  it('rejects a wrong magic, an unknown version and a truncated message with a reason', () => {
    const encoded = encodeSampleBatch(batch());
    const wrongMagic = Buffer.from(encoded);
    wrongMagic.write('XXXX', 0, 'latin1');
    expect(() => decodeSampleBatch(wrongMagic)).toThrow(expect.objectContaining({ reason: 'bad_magic' }));
    const future = Buffer.from(encoded);
    future[4] = 99;
    expect(() => decodeSampleBatch(future)).toThrow(/version 99/);
    expect(() => decodeSampleBatch(future)).toThrow(expect.objectContaining({ reason: 'unknown_version' }));
    for (const cut of [3, 12, encoded.length - 1]) {
      expect(() => decodeSampleBatch(encoded.subarray(0, cut))).toThrow(CodecError);
    }
    const hugeCount = Buffer.from(encoded);
    hugeCount.writeUInt32LE(0xffffffff, 8 + 2 + Buffer.byteLength('tenant-ä'));
    expect(() => decodeSampleBatch(hugeCount)).toThrow(CodecError);
  });
});

describe('record codec', () => {
  const log: LogRecord = { tenant: 't', timestamp: 1, cluster: 'c', namespace: 'n', workload: 'w', pod: 'p', container: 'x', stream: 'stdout', message: 'hello\nworld' };
  const probe: ProbeResult = { tenant: 't', cluster: 'c', location: 'eu', timestamp: 2, target: 'https://k/readyz', ok: false, latencyMs: 12.5, error: 'timeout' };

  it('round-trips logs and probes', () => {
    expect(decodeRecords('logs', encodeRecords('logs', [log, log]))).toEqual([log, log]);
    expect(decodeRecords('probes', encodeRecords('probes', [probe]))).toEqual([probe]);
  });

  it('carries a log stream\'s whole label set and nanosecond time when given', () => {
    const loki: LogRecord = { ...log, labels: { job: 'varlogs', namespace: 'n' }, timestampNs: '1700000000123456789' };
    expect(decodeRecords('logs', encodeRecords('logs', [loki, log]))).toEqual([loki, log]);
    expect(() => decodeRecords('logs', encodeRecords('logs', [{ ...loki, timestampNs: 'soon' }]))).toThrow(/timestampNs/);
  });

  it('rejects records of the other kind, a bad field and an unknown version', () => {
    expect(() => decodeRecords('probes', encodeRecords('logs', [log]))).toThrow(/record kind 1 on the probes topic/);
    const bad = encodeRecords('logs', [{ ...log, timestamp: 'soon' } as unknown as LogRecord]);
    expect(() => decodeRecords('logs', bad)).toThrow(/logs \[0\]\.timestamp/);
    const future = encodeRecords('logs', [log]);
    future[4] = 2;
    expect(() => decodeRecords('logs', future)).toThrow(expect.objectContaining({ reason: 'unknown_version' }));
    expect(() => decodeRecords('logs', encodeSampleBatch(batch()))).toThrow(expect.objectContaining({ reason: 'bad_magic' }));
  });
});
