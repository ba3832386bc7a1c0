// Two consumers in one group split the partitions; when one dies its
// partitions go to the other, and every sample is consumed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaBus } from '../core/kafka-bus.ts';
import { eventually, kafkaBroker, testBus, testBusOptions } from './helpers/kafka.ts';
import { makeBatch, ReceivedSamples } from './helpers/sample-stream.ts';

let address = '';
const buses: KafkaBus[] = [];

beforeAll(async () => {
  address = (await kafkaBroker()).address;
}, 300_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
}, 60_000);

describe('KafkaBus consumer group', () => {
  it('splits partitions between two members and hands a dead member’s partitions to the survivor', async () => {
    const options = testBusOptions(address, { partitions: 4 });
    const producer = testBus(options);
    const a = testBus({ ...options, clientId: `${options.clientId}-a` });
    const b = testBus({ ...options, clientId: `${options.clientId}-b` });
    buses.push(producer, a, b);
    await producer.whenReady(30_000);
    const fromA = new ReceivedSamples();
    const fromB = new ReceivedSamples();
    await a.consume('metrics', async (d) => fromA.add(d));
    await eventually('a owns all 4 partitions', 30_000, () => a.assignment('metrics').length === 4);
    await b.consume('metrics', async (d) => fromB.add(d));
    await eventually('a and b split the partitions', 30_000, () => a.assignment('metrics').length === 2 && b.assignment('metrics').length === 2);
    expect([...a.assignment('metrics'), ...b.assignment('metrics')].sort()).toEqual([0, 1, 2, 3]);

    for (let i = 0; i < 10; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, i === 0));
    await eventually('both members consume', 30_000, () => fromA.distinct + fromB.distinct === 800);
    expect(fromA.distinct).toBeGreaterThan(0);
    expect(fromB.distinct).toBeGreaterThan(0);
    // Members never see the same series: a series lives in one partition.
    for (const id of fromA.partitionsBySeries.keys()) expect(fromB.partitionsBySeries.has(id)).toBe(false);

    await a.close();
    await eventually('b owns all 4 partitions', 30_000, () => b.assignment('metrics').length === 4);
    for (let i = 10; i < 20; i++) await producer.publish('metrics', makeBatch(40, 2, 1_700_000_000_000 + i * 10_000, false));
    await eventually('b consumes the rest, including a’s former partitions', 30_000, () => fromA.distinct + fromB.distinct === 1600);
    const bPartitions = new Set([...fromB.partitionsBySeries.values()].flatMap((s) => [...s]));
    expect([...bPartitions].sort()).toEqual([0, 1, 2, 3]);
    expect(fromA.duplicates + fromB.duplicates).toBe(0);
  }, 120_000);
});
