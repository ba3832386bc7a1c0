// Log lines through the real Kafka bus: an engine on `--bus kafka` answers a
// Loki push once the broker has the lines, its logs consumer stores them
// from the topic with their labels and nanosecond times, and search finds
// them; a redelivery of the same offsets is stored once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { eventually, kafkaBroker } from './helpers/kafka.ts';
import { snappyPush, labelString } from './logs/promtail.ts';
import { LogsConsumer } from '../logs/consumer.ts';
import { Registry } from 'prom-client';
import { silentLogger } from '../core/log.ts';

let t: TestEngine;

beforeAll(async () => {
  const address = (await kafkaBroker()).address;
  const id = randomUUID().slice(0, 8);
  t = await startTestEngine([
    { path: ['bus', 'kind'], value: 'kafka' },
    { path: ['kafka'], value: { brokers: [address], topicPrefix: `logs.${id}.`, groupId: `logs-${id}`, partitions: 3 } },
  ]);
}, 300_000);

afterAll(async () => {
  await t?.close();
}, 60_000);

describe('logs over Kafka', () => {
  it('stores pushed lines from the topic, found by search with their labels, each once', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    await eventually('the bus ready', 60_000, async () => (await t.engine.app.inject({ url: '/readyz' })).statusCode === 200);
    const res = await t.engine.app.inject({
      method: 'POST',
      url: '/loki/api/v1/push',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: snappyPush([
        { labels: labelString({ cluster: 'k1', namespace: 'shop', pod: 'cart-5d8c7b9f6-x7kqz', container: 'app' }), entries: [{ ns: now - 2n, line: 'kafka carried line one' }, { ns: now - 1n, line: 'kafka carried line two' }] },
        { labels: labelString({ cluster: 'k2', job: 'other' }), entries: [{ ns: now, line: 'kafka carried line three' }] },
      ]),
    });
    expect(res.statusCode, res.body).toBe(204);
    let found: { lines: { ts: string; labels: Record<string, string>; line: string }[] } = { lines: [] };
    await eventually('the lines stored', 60_000, async () => {
      found = (await t.engine.app.inject({ url: '/api/v1/logs/search?q=kafka+carried&since=10m' })).json();
      return found.lines.length >= 3;
    });
    expect(found.lines.map((l) => l.line)).toEqual(['kafka carried line three', 'kafka carried line two', 'kafka carried line one']);
    expect(found.lines[1]).toMatchObject({ ts: String(now - 1n), labels: { cluster: 'k1', namespace: 'shop', workload: 'cart', pod: 'cart-5d8c7b9f6-x7kqz', container: 'app' } });

    // The same delivery handed over again (a rebalance after the insert, before the commit): nothing new.
    const consumer = new LogsConsumer(t.engine.ctx.store, new Registry(), silentLogger);
    const record = { tenant: 'default', timestamp: Number(now / 1_000_000n), timestampNs: String(now + 5n), cluster: 'k3', namespace: '', workload: '', pod: '', container: '', stream: '', message: 'replayed offsets', labels: { cluster: 'k3' } };
    const delivery = { topic: 'logs' as const, payloads: [[record]], token: 'kafka/logs/0/10-10' };
    await consumer.handle(delivery);
    await consumer.handle(delivery);
    const replayed = (await t.engine.app.inject({ url: '/api/v1/logs/search?q=replayed&since=10m' })).json();
    expect(replayed.lines).toHaveLength(1);
  });
});
