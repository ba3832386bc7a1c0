import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, frameEntry, readEntries, type LogEntry } from './entries.ts';
import { SampleBatchBuilder, staleMarker, isStaleMarker } from '../samples.ts';

const concat = (entries: LogEntry[]) => Buffer.concat(entries.flatMap((e) => frameEntry(e)));

const samples = () => {
  const b = new SampleBatchBuilder('acme');
  b.define({ id: 7n, labels: { __name__: 'up', job: 'node' } });
  b.add(7n, 1_000, 1);
  b.add(7n, 2_000, staleMarker());
  return b.build();
};

describe('bus log entries', () => {
  const entries: LogEntry[] = [
    { kind: 'payload', topic: 'metrics', bytes: encodePayload('metrics', samples()) },
    { kind: 'intent', topic: 'metrics', from: 0, to: 2 ** 40 },
    { kind: 'handled', topic: 'logs', through: 123_456_789 },
  ];

  it('reads back what it framed, each entry at the byte position of its frame', () => {
    const bytes = concat(entries);
    const read = readEntries(bytes, 1000);
    expect(read.torn).toBeNull();
    expect(read.validBytes).toBe(bytes.length);
    expect(read.entries.map(({ position, ...e }) => e)).toEqual(entries);
    const first = frameEntry(entries[0]!).reduce((n, b) => n + b.length, 0);
    const second = frameEntry(entries[1]!).reduce((n, b) => n + b.length, 0);
    expect(read.entries.map((e) => e.position)).toEqual([1000, 1000 + first, 1000 + first + second]);
  });

  it('keeps payloads in the bus wire format: samples bit-exact (the stale marker too), records as records', () => {
    const read = readEntries(concat(entries), 0).entries[0]!;
    expect(read.kind).toBe('payload');
    const batch = decodePayload('metrics', (read as { bytes: Buffer }).bytes);
    expect(batch.tenant).toBe('acme');
    expect(batch.series).toEqual([{ id: 7n, labels: { __name__: 'up', job: 'node' } }]);
    expect([...batch.timestamps]).toEqual([1000, 2000]);
    expect(isStaleMarker(batch.values[1]!)).toBe(true);
    const line = { tenant: 't', timestamp: 5, cluster: 'c', namespace: 'n', workload: 'w', pod: 'p', container: 'x', stream: 'stdout', message: 'hi' };
    expect(decodePayload('logs', encodePayload('logs', [line]))).toEqual([line]);
  });

  it('stops at a torn frame wherever the write was cut, keeping every whole frame before it', () => {
    const bytes = concat(entries);
    const lastStart = bytes.length - frameEntry(entries[2]!).reduce((n, b) => n + b.length, 0);
    for (let cut = lastStart; cut < bytes.length; cut++) {
      const read = readEntries(bytes.subarray(0, cut), 0);
      expect(read.entries).toHaveLength(2);
      expect(read.validBytes).toBe(lastStart);
      expect(read.torn === null).toBe(cut === lastStart);
    }
  });

  it('stops at a checksum mismatch and at a zeroed tail (what a crash can leave after a file grew)', () => {
    const bytes = concat(entries);
    const flipped = Buffer.from(bytes);
    flipped[20] = flipped[20]! ^ 0xff;
    const read = readEntries(flipped, 0);
    expect(read.entries).toHaveLength(0);
    expect(read.torn).toMatch(/checksum/);
    const zeroed = Buffer.concat([bytes, Buffer.alloc(4096)]);
    const z = readEntries(zeroed, 0);
    expect(z.entries).toHaveLength(3);
    expect(z.validBytes).toBe(bytes.length);
    expect(z.torn).toMatch(/announcing 0 bytes/);
  });
});
