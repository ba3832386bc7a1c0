import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../records.ts';
import { decodeRecords } from '../sample-codec.ts';
import { encodeMessages, nextRequest, type OutgoingMessage } from './messages.ts';

const message = (partition: number, size: number, topic: OutgoingMessage['topic'] = 'metrics'): OutgoingMessage => ({ topic, partition, value: Buffer.alloc(size), units: 1 });

const log = (cluster: string, message: string): LogRecord => ({
  tenant: 't',
  timestamp: 1_700_000_000_000,
  cluster,
  namespace: 'ns',
  workload: 'w',
  pod: 'p',
  container: 'c',
  stream: 'stdout',
  message,
});

describe('Kafka bus messages', () => {
  it('keeps one cluster’s records in one partition, in order', () => {
    const records = ['a', 'b', 'a', 'c', 'a'].map((cluster, i) => log(cluster, `m${i}`));
    const messages = encodeMessages('logs', records, 4, 900 * 1024);
    expect(messages.reduce((n, m) => n + m.units, 0)).toBe(5);
    const byCluster = new Map<string, Set<number>>();
    for (const m of messages) {
      expect(m.partition).toBeGreaterThanOrEqual(0);
      expect(m.partition).toBeLessThan(4);
      for (const r of decodeRecords('logs', m.value)) {
        let set = byCluster.get(r.cluster);
        if (!set) byCluster.set(r.cluster, (set = new Set()));
        set.add(m.partition);
      }
    }
    for (const partitions of byCluster.values()) expect(partitions.size).toBe(1);
    const forA = messages.find((m) => decodeRecords('logs', m.value).some((r) => r.cluster === 'a'))!;
    expect(decodeRecords('logs', forA.value).filter((r) => r.cluster === 'a').map((r) => r.message)).toEqual(['m0', 'm2', 'm4']);
  });

  it('takes queued messages in order up to the request limit, the rest waiting', () => {
    const queue = [message(0, 400), message(1, 400), message(2, 400)];
    const { take, rest, bytes } = nextRequest(queue, 1000, 900);
    expect(take).toEqual(queue.slice(0, 2));
    expect(rest).toEqual(queue.slice(2));
    expect(bytes).toBe(800);
  });

  it('gives a partition at most maxMessageBytes per request and keeps its later messages behind', () => {
    const queue = [message(0, 600), message(0, 600), message(1, 100), message(0, 10)];
    const { take, rest, bytes } = nextRequest(queue, 10_000, 900);
    expect(take).toEqual([queue[0], queue[2]]);
    // Partition 0 is full after its first message: its small last message must not overtake the second.
    expect(rest).toEqual([queue[1], queue[3]]);
    expect(bytes).toBe(700);
  });

  it('always takes the first message, however large', () => {
    const queue = [message(0, 5_000), message(1, 10)];
    const { take, rest } = nextRequest(queue, 1000, 900);
    expect(take).toEqual([queue[0]]);
    expect(rest).toEqual([queue[1]]);
  });
});
