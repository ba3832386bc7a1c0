// The Kafka bus's messages before they are produced: a payload encoded into
// per-partition messages (one series, or one cluster's records, always in
// one partition), and the choice of which queued messages make up the next
// produce request. Pure functions over plain data; producer.ts sends them.
import type { Topic, TopicPayloads } from '../bus.ts';
import { fnv1a } from '../../hashing.ts';
import type { SampleBatch } from '../samples.ts';
import { encodeRecords, encodeSampleBatch } from '../sample-codec.ts';
import { partitionSampleBatch } from './partitioning.ts';

export interface OutgoingMessage {
  topic: Topic;
  partition: number;
  value: Buffer;
  units: number;
}

/** A payload as messages: one series or one cluster's records always in one partition. */
export function encodeMessages<T extends Topic>(topic: T, payload: TopicPayloads[T], partitions: number, maxMessageBytes: number): OutgoingMessage[] {
  if (topic === 'metrics') {
    return partitionSampleBatch(payload as SampleBatch, partitions, maxMessageBytes).map(({ partition, batch }) => ({
      topic,
      partition,
      value: encodeSampleBatch(batch),
      units: batch.length,
    }));
  }
  // Records keep their per-cluster order: one cluster's records share a partition.
  const kind = topic as 'logs' | 'probes';
  const records = payload as TopicPayloads['logs' | 'probes'];
  const groups = new Map<number, (typeof records)[number][]>();
  for (const r of records) {
    const p = fnv1a(`${r.tenant}/${r.cluster}`) % partitions;
    let list = groups.get(p);
    if (!list) groups.set(p, (list = []));
    list.push(r);
  }
  return [...groups].map(([partition, list]) => ({
    topic,
    partition,
    value: encodeRecords(kind, list as TopicPayloads[typeof kind]),
    units: list.length,
  }));
}

/**
 * The next produce request, taken from the queue in order (`rest` is what
 * stays queued, in order). kafkajs puts all of a partition's messages in one
 * request into one record batch, and the broker limits a record batch
 * (message.max.bytes), so a partition gets at most maxMessageBytes per
 * request; once a partition is full its later messages wait for the next
 * request, which keeps them in order.
 */
export function nextRequest<M extends OutgoingMessage>(queue: readonly M[], maxRequestBytes: number, maxMessageBytes: number): { take: M[]; rest: M[]; bytes: number } {
  const take: M[] = [];
  const rest: M[] = [];
  const used = new Map<string, number>();
  const full = new Set<string>();
  let bytes = 0;
  for (const m of queue) {
    const key = `${m.topic}/${m.partition}`;
    const inPartition = used.get(key) ?? 0;
    const size = m.value.length;
    if (full.has(key) || (take.length > 0 && bytes + size > maxRequestBytes) || (inPartition > 0 && inPartition + size > maxMessageBytes)) {
      full.add(key);
      rest.push(m);
      continue;
    }
    take.push(m);
    used.set(key, inPartition + size);
    bytes += size;
  }
  return { take, rest, bytes };
}
