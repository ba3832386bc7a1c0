// KafkaBus against the real broker from scripts/kafka.sh: round trip, one
// series one partition, redelivery without commit, dead letters, a topic
// with too few partitions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs, { type KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Delivery } from '../core/bus/bus.ts';
import { KafkaBus, TopicPartitionsError } from '../core/bus/kafka/kafka-bus.ts';
import { encodeSampleBatch } from '../core/bus/sample-codec.ts';
import type { LogRecord, ProbeResult } from '../core/bus/records.ts';
import { eventually, kafkaBroker, testBus, testBusOptions } from './helpers/kafka.ts';
import { makeBatch, ReceivedSamples } from './helpers/sample-stream.ts';

let address = '';
const buses: KafkaBus[] = [];
const track = (bus: KafkaBus): KafkaBus => (buses.push(bus), bus);

beforeAll(async () => {
  address = (await kafkaBroker()).address;
}, 300_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
});

function rawClient(): InstanceType<typeof kafkajs.Kafka> {
  return new kafkajs.Kafka({ clientId: 'test-raw', brokers: [address], logLevel: kafkajs.logLevel.NOTHING });
}

describe('KafkaBus', () => {
  it('creates its topics, round-trips samples, logs and probes, and keeps each series in one partition', async () => {
    const registry = new Registry();
    const options = testBusOptions(address, { registry, partitions: 4 });
    const bus = track(testBus(options));
    await bus.whenReady(30_000);
    expect(bus.ready()).toBe(true);

    const received = new ReceivedSamples();
    const logs: LogRecord[] = [];
    const probes: ProbeResult[] = [];
    await bus.consume('metrics', async (d) => received.add(d));
    await bus.consume('logs', async (d) => void logs.push(...d.payloads.flat()));
    await bus.consume('probes', async (d) => void probes.push(...d.payloads.flat()));

    await bus.publish('metrics', makeBatch(40, 5, 1_700_000_000_000));
    await bus.publish('metrics', makeBatch(40, 5, 1_700_000_100_000, false));
    const log: LogRecord = { tenant: 'tenant-a', timestamp: 1, cluster: 'c1', namespace: 'ns', workload: 'w', pod: 'p', container: 'x', stream: 'stdout', message: 'héllo' };
    const probe: ProbeResult = { tenant: 'tenant-a', cluster: 'c1', location: 'eu-1', timestamp: 2, target: 'https://api/readyz', ok: true, latencyMs: 3.5, error: '' };
    await bus.publish('logs', [log, { ...log, cluster: 'c2' }]);
    await bus.publish('probes', [probe]);

    await eventually('400 samples, 2 logs, 1 probe', 60_000, () => received.distinct === 400 && logs.length === 2 && probes.length === 1);
    expect(received.duplicates).toBe(0);
    expect(received.definitions).toBe(40);
    // Samples of one series always came through one partition, and the series spread over several.
    for (const partitions of received.partitionsBySeries.values()) expect(partitions.size).toBe(1);
    expect(new Set([...received.partitionsBySeries.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
    for (const token of received.tokens) expect(token).toMatch(new RegExp(`^${options.topicPrefix.replace(/\./g, '\\.')}metrics/\\d+/\\d+-\\d+$`));
    expect(logs.map((l) => l.cluster).sort()).toEqual(['c1', 'c2']);
    expect(probes[0]).toEqual(probe);

    // Everything was committed: the lag drops to zero.
    await eventually('zero lag', 30_000, async () => (await bus.refreshLag()).metrics === 0);
    const topics = await rawClient().admin().listTopics();
    for (const t of ['metrics', 'logs', 'probes', 'dead-letter']) expect(topics).toContain(`${options.topicPrefix}${t}`);
    const text = await registry.metrics();
    expect(text).toMatch(/tidemark_kafka_produced_units_total\{topic="metrics"\} 400/);
    expect(text).toMatch(/tidemark_kafka_consumed_units_total\{topic="metrics"\} 400/);
    expect(text).toMatch(/tidemark_kafka_consumer_lag\{topic="[^"]+metrics",partition="0"\} 0/);
  });

  it('redelivers the same delivery (same token) while the handler throws, commits nothing, and a new owner replays the original range even after more data arrived', async () => {
    const registry = new Registry();
    const options = testBusOptions(address);
    const failing = track(testBus({ ...options, registry }));
    await failing.whenReady(30_000);
    const attempts: Delivery<'metrics'>[] = [];
    await failing.consume('metrics', async (d) => {
      attempts.push(d);
      throw new Error('store down');
    });
    await failing.publish('metrics', makeBatch(3, 4, 1_700_000_000_000));
    await eventually('three attempts', 30_000, () => attempts.length >= 3);
    expect(new Set(attempts.map((a) => a.token)).size).toBe(1);
    // Nothing committed: every message produced still counts as lag.
    expect((await failing.refreshLag()).metrics).toBeGreaterThan(0);
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string, topicSuffix: string): number =>
      (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => String(v.labels['topic']).endsWith(topicSuffix)).reduce((sum, v) => sum + v.value, 0);
    expect(value('tidemark_kafka_produced_messages_total', 'metrics')).toBeGreaterThan(0);
    expect(value('tidemark_kafka_consumer_lag', 'metrics')).toBe(value('tidemark_kafka_produced_messages_total', 'metrics'));
    await failing.close();
    // More data arrives meanwhile: a plain re-fetch would now bring a longer range (another token).
    const producer = track(testBus({ ...options, clientId: `${options.clientId}-p` }));
    await producer.publish('metrics', makeBatch(3, 4, 1_700_000_100_000, false));

    // The next member of the group replays the unfinished delivery with its original range and token.
    const next = track(testBus(options));
    const received = new ReceivedSamples();
    await next.consume('metrics', async (d) => received.add(d));
    await eventually('redelivery to the next consumer', 60_000, () => received.distinct === 24);
    expect(received.tokens).toContain(attempts[0]!.token);
    expect(received.duplicates).toBe(0);
    await eventually('commit after success', 30_000, async () => (await next.refreshLag()).metrics === 0);
  });

  it('moves undecodable and unknown-version messages to the dead-letter topic with the reason, and moves on', async () => {
    const registry = new Registry();
    const options = testBusOptions(address, { registry, partitions: 1 });
    const bus = track(testBus(options));
    await bus.whenReady(30_000);
    const producer = rawClient().producer();
    await producer.connect();
    const future = encodeSampleBatch(makeBatch(1, 1, 5));
    future[4] = 42;
    await producer.send({
      topic: `${options.topicPrefix}metrics`,
      messages: [{ value: Buffer.from('not a batch at all') }, { value: future }],
    });
    await producer.disconnect();
    await bus.publish('metrics', makeBatch(2, 2, 1_700_000_000_000));

    const received = new ReceivedSamples();
    await bus.consume('metrics', async (d) => received.add(d));
    await eventually('the good batch after the poison', 60_000, () => received.distinct === 4);

    const dead: KafkaMessage[] = [];
    const reader = rawClient().consumer({ groupId: `dlq-${options.groupId}` });
    await reader.connect();
    await reader.subscribe({ topic: `${options.topicPrefix}dead-letter`, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void dead.push(message) });
    try {
      await eventually('two dead letters', 60_000, () => dead.length === 2);
    } finally {
      await reader.disconnect();
    }
    const reasons = dead.map((m) => String(m.headers?.['reason']));
    expect(reasons).toEqual(['bad_magic', 'unknown_version']);
    expect(String(dead[1]!.headers?.['error'])).toMatch(/version 42/);
    expect(String(dead[0]!.headers?.['source-topic'])).toBe(`${options.topicPrefix}metrics`);
    expect(dead[0]!.value?.toString()).toBe('not a batch at all');
    expect(await registry.metrics()).toMatch(/tidemark_kafka_dead_letters_total\{topic="metrics",reason="unknown_version"\} 1/);
    // The poison range was committed with the good batch: nothing is left to redeliver.
    await eventually('zero lag', 30_000, async () => (await bus.refreshLag()).metrics === 0);
  });

  it('refuses a topic with fewer partitions than configured, naming it, without throwing from the constructor', async () => {
    const options = testBusOptions(address, { partitions: 3 });
    const admin = rawClient().admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${options.topicPrefix}metrics`, numPartitions: 1 }] });
    await admin.disconnect();
    const bus = track(testBus(options));
    const error = await bus.whenReady(4_000).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TopicPartitionsError);
    expect((error as Error).message).toContain(`${options.topicPrefix}metrics has 1 partitions, fewer than the 3 configured`);
    expect(bus.ready()).toBe(false);
    expect(bus.saturated()).toBe(true);
    expect(bus.problem()).toContain(`${options.topicPrefix}metrics`);
  });

  it('pushes back: saturated() while unacknowledged bytes exceed the bound', async () => {
    const options = testBusOptions(address, { maxPendingBytes: 64 * 1024, lingerMs: 200 });
    const bus = track(testBus(options));
    await bus.whenReady(30_000);
    expect(bus.saturated()).toBe(false);
    // ~96 KB of samples held by the 200 ms linger: above the 64 KB bound until acknowledged.
    const first = bus.publish('metrics', makeBatch(100, 40, 1_700_000_000_000));
    expect(bus.saturated()).toBe(true);
    let secondDone = false;
    const second = bus.publish('metrics', makeBatch(10, 1, 1_700_000_500_000)).then(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(secondDone).toBe(false);
    await Promise.all([first, second]);
    expect(bus.saturated()).toBe(false);
  });
});
