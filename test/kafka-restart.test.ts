// A broker of its own (so stopping it does not disturb other test files):
// the bus starts while the broker is down and connects when it comes up;
// stopping and restarting the broker in the middle of a stream loses nothing
// and stores nothing twice: the consumer stores through the engine's
// Ingester, and the store is counted where a duplicate would show (raw rows
// without FINAL with merges held, and the rollups' counts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { KafkaBus } from '../core/bus/kafka/kafka-bus.ts';
import { eventually, kafkaBroker, restartBroker, stopBroker, testBus, testBusOptions, type BrokerHandle } from './helpers/kafka.ts';
import { makeBatch, ReceivedSamples } from './helpers/sample-stream.ts';
import { openTestStore, type TestStore } from './helpers/store.ts';
import { holdMerges, storedCounts, storingHandler } from './helpers/kafka-store.ts';

let broker: BrokerHandle;
let stored: TestStore;
const buses: KafkaBus[] = [];

beforeAll(async () => {
  broker = await kafkaBroker('kafka-run-restart');
  stored = await openTestStore();
  await holdMerges(stored.store);
}, 300_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await stored?.close();
  // This broker is private to this file: free its JVM (the next run starts it again, with its data).
  if (broker) await stopBroker(broker);
}, 60_000);

describe('KafkaBus with a broker that goes away', () => {
  it('starts while the broker is down (not ready, saturated), and connects when it comes up', async () => {
    await stopBroker(broker);
    const bus = testBus(testBusOptions(broker.address));
    buses.push(bus);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(bus.ready()).toBe(false);
    expect(bus.saturated()).toBe(true);
    // A publish made now waits for the broker instead of failing.
    const received = new ReceivedSamples();
    await bus.consume('metrics', async (d) => received.add(d));
    const early = bus.publish('metrics', makeBatch(5, 2, 1_700_000_000_000));
    await restartBroker(broker);
    await bus.whenReady(60_000);
    expect(bus.ready()).toBe(true);
    await early;
    await eventually('the early batch', 60_000, () => received.distinct === 10);
  }, 180_000);

  it('loses nothing when the broker stops and restarts during a stream', async () => {
    const registry = new Registry();
    const options = testBusOptions(broker.address, { registry, partitions: 3 });
    const producer = testBus(options);
    const consumer = testBus({ ...options, clientId: `${options.clientId}-c`, registry: new Registry() });
    buses.push(producer, consumer);
    await producer.whenReady(30_000);
    const received = new ReceivedSamples();
    await consumer.consume('metrics', storingHandler(stored.store, consumer, (d) => received.add(d)));

    // A bounded stream: 120 batches of 20 series × 5 samples, distinct timestamps.
    const batches = 120;
    const perBatch = 100;
    let sent = 0;
    const stream = (async () => {
      for (let i = 0; i < batches; i++) {
        await producer.publish('metrics', makeBatch(20, 5, 1_700_000_000_000 + i * 10_000, i === 0));
        sent += perBatch;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await eventually('a third of the stream sent', 30_000, () => sent >= (batches * perBatch) / 3);
    await stopBroker(broker);
    const sentWhileDown = sent;
    await new Promise((r) => setTimeout(r, 2_000));
    // Publishing waits (backpressure) while the broker is away; it does not drop.
    expect(sent - sentWhileDown).toBeLessThanOrEqual(perBatch);
    await restartBroker(broker);
    await stream;
    expect(sent).toBe(batches * perBatch);
    await eventually('every sample consumed', 90_000, () => received.distinct === batches * perBatch);
    const text = await registry.metrics();
    expect(text).toMatch(/tidemark_kafka_retries_total\{operation="produce"\} [1-9]/);
    console.log(`restart stream: ${received.distinct} distinct samples, ${received.duplicates} redelivered, ${received.producerDuplicates} written twice`);
    // The idempotent producer writes each sample once even across its retries. Redeliveries
    // (a commit lost with the broker) are allowed: they carry the same token, which the
    // ingester uses as its insert deduplication token.
    expect(received.producerDuplicates).toBe(0);
    // In the store each sample is there once, redeliveries or not: raw rows (no FINAL, no merges) and both rollups.
    const total = batches * perBatch;
    await eventually('every sample stored', 60_000, async () => (await storedCounts(stored.store, 'tenant-a')).distinct === total);
    expect(await storedCounts(stored.store, 'tenant-a')).toEqual({ rawRows: total, distinct: total, rollup1m: total, rollup1h: total });
  }, 240_000);
});
