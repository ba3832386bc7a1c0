// The collector's HTTP receivers through fastify's inject: status codes,
// JSON errors naming the field, all-or-nothing publishing, back-pressure.
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../core/http.ts';
import { authOff } from '../core/auth/http.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { configSchema } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';
import { isStaleMarker, staleMarker, type SampleBatch } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import type { AppContext } from '../core/context.ts';
import type { Bus } from '../core/bus/bus.ts';
import type { Store } from '../core/store.ts';
import { collectorRoutes } from '../collector/routes.ts';
import { encodeWriteRequest, type WriteSeries } from '../collector/remote-write-encode.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

/** A bus that records what is published and can be made full, down or failing. */
class RecordingBus extends MemoryBus {
  readonly published: SampleBatch[] = [];
  full = false;
  down = false;
  failPublish = false;
  constructor() {
    super({ capacity: 1_000_000, maxDelivery: 1_000_000 });
  }
  override async publish<T extends 'metrics' | 'logs' | 'probes'>(topic: T, payload: Parameters<Bus['publish']>[1]): Promise<void> {
    if (this.failPublish) throw new Error('store is down');
    if (topic === 'metrics') this.published.push(payload as SampleBatch);
  }
  override saturated(): boolean {
    return this.full;
  }
  override ready(): boolean {
    return !this.down;
  }
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(bodyLimit = 1024 * 1024): Promise<{ app: FastifyInstance; bus: RecordingBus; registry: Registry }> {
  const bus = new RecordingBus();
  const registry = new Registry();
  const ctx: AppContext = {
    // Fixed 2026 fixture times: a retention long enough that sample-bounds.ts accepts them whatever today is.
    config: configSchema.parse({ tenant: 'acme', store: { rawRetentionDays: 36_500 } }),
    store: null as unknown as Store,
    bus,
    log: silentLogger,
    registry,
    onClose: () => {},
  };
  app = createHttpServer({ bodyLimit, auth: authOff(ctx.config.tenant) });
  await collectorRoutes(app, ctx);
  await app.ready();
  return { app, bus, registry };
}

function write(a: FastifyInstance, body: Buffer, headers: Record<string, string> = {}) {
  return a.inject({
    method: 'POST',
    url: '/api/v1/write',
    payload: body,
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', ...headers },
  });
}

const good: WriteSeries = { labels: { __name__: 'up', job: 'node', instance: 'a:9100' }, samples: [{ value: 1, timestamp: T0 }] };

describe('POST /api/v1/write', () => {
  it('answers 204 and publishes one batch; a known series is not defined again', async () => {
    const { app, bus, registry } = await start();
    const res = await write(app, encodeWriteRequest([good, { labels: { __name__: 'node_load1', job: 'node' }, samples: [{ value: staleMarker(), timestamp: T0 }] }]));
    expect(res.statusCode).toBe(204);
    expect(bus.published).toHaveLength(1);
    const batch = bus.published[0]!;
    expect(batch.tenant).toBe('acme');
    expect(batch.length).toBe(2);
    expect(batch.series.map((s) => s.labels['__name__'])).toEqual(['up', 'node_load1']);
    expect(isStaleMarker(batch.values[1]!)).toBe(true);
    expect((await write(app, encodeWriteRequest([good]))).statusCode).toBe(204);
    expect(bus.published[1]!.series).toEqual([]);
    expect(bus.published[1]!.seriesIds[0]).toBe(seriesId(good.labels as Record<string, string>));
    expect(await registry.getSingleMetricAsString('tidemark_collector_samples_received_total')).toMatch(/source="remote_write"} 3/);
  });

  it('answers 400 with a JSON error naming the bad series, and publishes nothing of the request', async () => {
    const { app, bus, registry } = await start();
    const res = await write(app, encodeWriteRequest([good, good, { labels: [['__name__', 'm'], ['1x', 'v']], samples: [{ value: 1, timestamp: T0 }] }]));
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json()).toEqual({ error: 'invalid_input', field: 'timeseries[2].labels', message: 'timeseries[2].labels: invalid label name "1x"' });
    expect(bus.published).toHaveLength(0);
    expect(await registry.getSingleMetricAsString('tidemark_collector_requests_rejected_total')).toMatch(/reason="malformed",source="remote_write"} 1|source="remote_write",reason="malformed"} 1/);
  });

  it('answers 400 for a series without __name__ and for a bad snappy frame', async () => {
    const { app, bus } = await start();
    const noName = await write(app, encodeWriteRequest([{ labels: { job: 'x' }, samples: [{ value: 1, timestamp: T0 }] }]));
    expect(noName.statusCode).toBe(400);
    expect(noName.json().message).toMatch(/no __name__/);
    const badSnappy = await write(app, Buffer.from('this is not snappy'));
    expect(badSnappy.statusCode).toBe(400);
    expect(badSnappy.json()).toMatchObject({ error: 'invalid_input', field: 'body' });
    expect(bus.published).toHaveLength(0);
  });

  it('answers 415 for a wrong content type, a missing snappy encoding or remote write 2.0', async () => {
    const { app, bus } = await start();
    const body = encodeWriteRequest([good]);
    const json = await app.inject({ method: 'POST', url: '/api/v1/write', payload: { a: 1 }, headers: { 'content-encoding': 'snappy' } });
    expect(json.statusCode).toBe(415);
    expect(json.json().error).toBe('unsupported_media_type');
    const plain = await write(app, body, { 'content-encoding': 'identity' });
    expect(plain.statusCode).toBe(415);
    expect(plain.json().message).toMatch(/Content-Encoding snappy/);
    const v2 = await write(app, body, { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'x-prometheus-remote-write-version': '2.0.0' });
    expect(v2.statusCode).toBe(415);
    expect(bus.published).toHaveLength(0);
  });

  it('answers 413 for a body over the limit', async () => {
    const { app } = await start(64);
    const res = await write(app, Buffer.alloc(1000, 1));
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('body_too_large');
  });

  it('answers 503 with Retry-After while the bus is saturated or the store is down, and 204 after', async () => {
    const { app, bus, registry } = await start();
    const body = encodeWriteRequest([good]);
    bus.full = true;
    const full = await write(app, body);
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBe('5');
    expect(full.json().error).toBe('overloaded');
    bus.full = false;
    bus.down = true;
    const down = await write(app, body);
    expect(down.statusCode).toBe(503);
    expect(down.json().error).toBe('store_unavailable');
    bus.down = false;
    bus.failPublish = true;
    const failing = await write(app, body);
    expect(failing.statusCode).toBe(503);
    expect(failing.headers['retry-after']).toBe('5');
    bus.failPublish = false;
    expect(bus.published).toHaveLength(0);
    expect((await write(app, body)).statusCode).toBe(204);
    const rejected = await registry.getSingleMetricAsString('tidemark_collector_requests_rejected_total');
    expect(rejected).toMatch(/reason="overloaded"/);
    expect(rejected).toMatch(/reason="unavailable"/);
    // The rejected attempt did not count the series as defined.
    expect(bus.published[0]!.series).toHaveLength(1);
  });
});

describe('POST /api/v1/push', () => {
  function push(a: FastifyInstance, payload: unknown) {
    return a.inject({ method: 'POST', url: '/api/v1/push', payload: payload as object, headers: { 'content-type': 'application/json' } });
  }

  it('takes Unix-second timestamps (fractions allowed) and numeric or special values', async () => {
    const { app, bus } = await start();
    const res = await push(app, {
      series: [
        { labels: { __name__: 'queue_depth', queue: 'orders' }, samples: [[1767225600, 3], [1767225600.5, '4.5'], [1767225601, 'NaN'], [1767225602, '+Inf'], [1767225603, '-Inf']] },
      ],
    });
    expect(res.statusCode).toBe(204);
    const batch = bus.published[0]!;
    expect([...batch.timestamps]).toEqual([1767225600000, 1767225600500, 1767225601000, 1767225602000, 1767225603000]);
    expect(batch.values[0]).toBe(3);
    expect(batch.values[1]).toBe(4.5);
    expect(Number.isNaN(batch.values[2])).toBe(true);
    expect(batch.values[3]).toBe(Number.POSITIVE_INFINITY);
    expect(batch.values[4]).toBe(Number.NEGATIVE_INFINITY);
    expect(batch.series).toEqual([{ id: seriesId({ __name__: 'queue_depth', queue: 'orders' }), labels: { __name__: 'queue_depth', queue: 'orders' } }]);
  });

  it('names the bad field and stores nothing of the request', async () => {
    const { app, bus } = await start();
    const ok = { labels: { __name__: 'a' }, samples: [[1767225600, 1]] };
    const badValue = await push(app, { series: [ok, { labels: { __name__: 'b' }, samples: [[1767225600, 1], [1767225601, 'lots']] }] });
    expect(badValue.statusCode).toBe(400);
    expect(badValue.json().field).toBe('series[1].samples[1][1]');
    const noName = await push(app, { series: [ok, { labels: { job: 'x' }, samples: [[1767225600, 1]] }] });
    expect(noName.statusCode).toBe(400);
    expect(noName.json()).toMatchObject({ field: 'series[1].labels', message: 'series[1].labels: series has no __name__ label' });
    const badTime = await push(app, { series: [{ labels: { __name__: 'a' }, samples: [['yesterday', 1]] }] });
    expect(badTime.json().field).toBe('series[0].samples[0][0]');
    const millis = await push(app, { series: [{ labels: { __name__: 'a' }, samples: [[1767225600000, 1]] }] });
    expect(millis.json()).toMatchObject({ field: 'series[0].samples[0][0]', message: expect.stringMatching(/looks like milliseconds/) });
    const badLabel = await push(app, { series: [{ labels: { __name__: 'a', 'b-c': 'd' }, samples: [[1, 1]] }] });
    expect(badLabel.json().message).toMatch(/invalid label name "b-c"/);
    expect(bus.published).toHaveLength(0);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'POST', url: '/api/v1/push', payload: 'x 1', headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(415);
  });
});

describe('POST /api/v1/import/prometheus', () => {
  it('stores an exposition, stamping samples without a timestamp and adding extra labels', async () => {
    const { app, bus } = await start();
    const before = Date.now();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/import/prometheus?extra_label=job=batch&extra_label=instance=runner-1',
      payload: '# TYPE jobs_done counter\njobs_done_total{kind="a"} 5\njobs_done_total{kind="b"} 6 1767225600000\n',
      headers: { 'content-type': 'text/plain; version=0.0.4' },
    });
    expect(res.statusCode).toBe(204);
    const batch = bus.published[0]!;
    expect(batch.length).toBe(2);
    expect(batch.series[0]!.labels).toEqual({ __name__: 'jobs_done_total', kind: 'a', job: 'batch', instance: 'runner-1' });
    expect(batch.timestamps[0]).toBeGreaterThanOrEqual(before);
    expect(batch.timestamps[1]).toBe(1767225600000);
  });

  it('answers 400 naming the line of malformed text', async () => {
    const { app, bus } = await start();
    const res = await app.inject({ method: 'POST', url: '/api/v1/import/prometheus', payload: 'ok 1\nbad{ 1\n', headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('line 2');
    expect(bus.published).toHaveLength(0);
  });
});
