// Logs from each receiver, in the formats real clients send, found by search
// with the right labels; and each receiver's bad input answered 400 naming
// the field, with nothing of the request stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { getTransportBody, TransportItemType, type TransportItem } from '@grafana/faro-core';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { labelString, snappyPush } from './logs/promtail.ts';
import { countMatches } from '../logs/search.ts';

let t: TestEngine;
let app: FastifyInstance;
const NOW_NS = BigInt(Date.now()) * 1_000_000n;

beforeAll(async () => {
  t = await startTestEngine([
    { path: ['logs', 'maxLineBytes'], value: 1024 },
    { path: ['server', 'allowedOrigins'], value: ['https://shop.example.com'] },
  ]);
  app = t.engine.app;
});

afterAll(async () => {
  await t.close();
});

interface Found {
  lines: { ts: string; labels: Record<string, string>; line: string }[];
  total: number;
  histogram: { stepSeconds: number; buckets: [number, number][] };
}

async function search(params: Record<string, string | string[]>): Promise<Found> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
  const res = await app.inject({ url: `/api/v1/logs/search?${qs}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Found;
}

async function storedLines(): Promise<number> {
  const [row] = await t.engine.ctx.store.query<{ n: number }>(`SELECT count() AS n FROM ${t.engine.ctx.store.table('logs')}`);
  return Number(row!.n);
}

const promtailLabels = { job: 'kubernetes-pods', cluster: 'prod-eu', namespace: 'shop', pod: 'checkout-6b7f9c8d4-hwz7p', container: 'app' };

describe('Loki push', () => {
  it('stores a Promtail-style JSON push, found by keyword with its labels and a derived workload', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/loki/api/v1/push',
      headers: { 'content-type': 'application/json' },
      payload: { streams: [{ stream: promtailLabels, values: [[String(NOW_NS - 2000n), 'payment accepted order=A-1001'], [String(NOW_NS - 1000n), 'payment declined order=A-1002 card=visa', { trace_id: 'abc123' }]] }] },
    });
    expect(res.statusCode, res.body).toBe(204);
    const found = await search({ q: 'declined', namespace: 'shop', workload: 'checkout' });
    expect(found.lines).toHaveLength(1);
    expect(found.lines[0]).toMatchObject({ ts: String(NOW_NS - 1000n), line: 'payment declined order=A-1002 card=visa' });
    expect(found.lines[0]!.labels).toMatchObject({ ...promtailLabels, workload: 'checkout', trace_id: 'abc123' });
    expect(found.total).toBe(1);
    expect(found.histogram.buckets.reduce((s, [, n]) => s + n, 0)).toBe(1);
  });

  it('stores a snappy protobuf push encoded from logproto\'s definitions, found by a needle and by a phrase', async () => {
    const body = snappyPush([
      { labels: labelString({ ...promtailLabels, container: 'sidecar' }), entries: [{ ns: NOW_NS - 500n, line: 'upstream 10.42.7.19:8080 timed out after 30s' }, { ns: NOW_NS - 400n, line: 'connection RESET by peer' }] },
    ]);
    const res = await app.inject({ method: 'POST', url: '/loki/api/v1/push', headers: { 'content-type': 'application/x-protobuf' }, payload: body });
    expect(res.statusCode, res.body).toBe(204);
    const needle = await search({ q: '10.42.7.19' });
    expect(needle.lines.map((l) => [l.line, l.labels['container'], l.labels['workload']])).toEqual([['upstream 10.42.7.19:8080 timed out after 30s', 'sidecar', 'checkout']]);
    const phrase = await search({ q: '"reset by peer"', container: 'sidecar' });
    expect(phrase.lines.map((l) => l.line)).toEqual(['connection RESET by peer']);
    expect((await search({ q: '"peer by reset"' })).lines).toEqual([]);
    // Newest first, all of the stream.
    expect((await search({ container: 'sidecar' })).lines.map((l) => l.ts)).toEqual([String(NOW_NS - 400n), String(NOW_NS - 500n)]);
  });

  it('accepts a gzip-compressed JSON push', async () => {
    const payload = gzipSync(JSON.stringify({ streams: [{ stream: { job: 'gz' }, values: [[String(NOW_NS), 'compressed hello']] }] }));
    const res = await app.inject({ method: 'POST', url: '/loki/api/v1/push', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload });
    expect(res.statusCode, res.body).toBe(204);
    expect((await search({ q: 'compressed', label: 'job=gz' })).lines).toHaveLength(1);
  });

  const json = (body: unknown) => ({ method: 'POST' as const, url: '/loki/api/v1/push', headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  const entry = (values: unknown[], stream: unknown = { job: 'bad' }) => json({ streams: [{ stream: { job: 'good' }, values: [[String(NOW_NS), 'a good line in a bad request']] }, { stream, values }] });

  it.each([
    ['bad JSON', json('{"streams":[{'), 'body'],
    ['a stream without labels', entry([[String(NOW_NS), 'x']], {}), 'streams[1].stream'],
    ['a bad label name', entry([[String(NOW_NS), 'x']], { 'bad-name': 'x' }), 'streams[1].stream'],
    ['a lone surrogate', json(`{"streams":[{"stream":{"job":"bad"},"values":[["${NOW_NS}","\\ud800"]]}]}`), 'streams[0].values[0][1]'],
    ['a line over logs.maxLineBytes', entry([[String(NOW_NS), 'x'.repeat(1025)]]), 'streams[1].values[0][1]'],
    ['a time older than the retention', entry([[String(NOW_NS - 31n * 86_400_000_000_000n), 'x']]), 'streams[1].values[0][0]'],
    ['a time 11 minutes ahead', entry([[String(NOW_NS + 660_000_000_000n), 'x']]), 'streams[1].values[0][0]'],
    ['a time in milliseconds as a number', entry([[Number(NOW_NS / 1_000_000n), 'x']]), 'streams[1].values[0][0]'],
  ])('refuses %s with 400 naming the field, storing nothing', async (_what, request, field) => {
    const before = await storedLines();
    const res = await app.inject(request);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe(field);
    expect(await storedLines()).toBe(before);
  });

  it('refuses invalid UTF-8 bytes in a JSON body and in a protobuf line', async () => {
    const before = await storedLines();
    const raw = Buffer.concat([Buffer.from(`{"streams":[{"stream":{"job":"bad"},"values":[["${NOW_NS}","`), Buffer.from([0xff, 0xfe]), Buffer.from('"]]}]}')]);
    const res = await app.inject({ method: 'POST', url: '/loki/api/v1/push', headers: { 'content-type': 'application/json' }, payload: raw });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe('body');
    const proto = snappyPush([{ labels: '{job="bad"}', entries: [{ ns: NOW_NS, line: 'placeholder' }] }]);
    // The same length in other bytes: a lone continuation byte where "placeholder" began.
    const plain = (await import('snappy')).default.uncompressSync(proto) as Buffer;
    const at = plain.indexOf('placeholder');
    plain[at] = 0x80;
    const res2 = await app.inject({ method: 'POST', url: '/loki/api/v1/push', headers: { 'content-type': 'application/x-protobuf' }, payload: (await import('snappy')).default.compressSync(plain) as Buffer });
    expect(res2.statusCode, res2.body).toBe(400);
    expect(res2.json().field).toBe('streams[0].entries[0].line');
    expect(await storedLines()).toBe(before);
  });

  it.each([
    ['garbage', Buffer.from('not snappy at all'), 'body'],
    ['a label string that does not parse', snappyPush([{ labels: '{job="x"', entries: [{ ns: NOW_NS, line: 'x' }] }]), 'streams[0].labels'],
    ['a stream without labels', snappyPush([{ labels: '{}', entries: [{ ns: NOW_NS, line: 'x' }] }]), 'streams[0].labels'],
    ['a time out of range', snappyPush([{ labels: '{job="x"}', entries: [{ ns: 1_000_000_000n, line: 'x' }] }]), 'streams[0].entries[0].timestamp'],
  ])('refuses a protobuf push with %s, storing nothing', async (_what, payload, field) => {
    const before = await storedLines();
    const res = await app.inject({ method: 'POST', url: '/loki/api/v1/push', headers: { 'content-type': 'application/x-protobuf' }, payload });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe(field);
    expect(await storedLines()).toBe(before);
  });
});

describe('Kubernetes audit webhook', () => {
  const stamp = new Date(Number(NOW_NS / 1_000_000n) - 5000).toISOString().replace('Z', '123Z');
  const event = (user: string, verb: string, resource: string, namespace: string | undefined, auditID: string) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${namespace}/${resource}`,
    verb,
    user: { username: user, groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'kubectl/v1.31.0',
    objectRef: { resource, namespace, name: 'web', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: stamp,
    stageTimestamp: stamp,
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  });

  it('stores each event of an EventList, found by user, verb, resource, namespace and stage', async () => {
    const list = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [event('alice@example.com', 'delete', 'pods', 'shop', 'a-1'), event('bob', 'get', 'secrets', 'kube-system', 'b-2')] };
    const res = await app.inject({ method: 'POST', url: '/api/v1/logs/audit?cluster=prod-eu', headers: { 'content-type': 'application/json' }, payload: list });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ stored: 2 });
    const found = await search({ label: ['user=alice@example.com', 'verb=delete', 'resource=pods', 'stage=ResponseComplete'], namespace: 'shop' });
    expect(found.lines).toHaveLength(1);
    expect(found.lines[0]!.labels).toEqual({ source: 'audit', cluster: 'prod-eu', user: 'alice@example.com', verb: 'delete', resource: 'pods', namespace: 'shop', stage: 'ResponseComplete' });
    expect(JSON.parse(found.lines[0]!.line)).toMatchObject({ auditID: 'a-1', verb: 'delete' });
    expect(found.lines[0]!.ts.endsWith('123000')).toBe(true);
    expect((await search({ q: 'b-2', label: 'source=audit' })).lines.map((l) => l.labels['user'])).toEqual(['bob']);
  });

  it.each([
    ['not an EventList', { kind: 'Event' }, 'kind'],
    ['an event without a verb', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [{ ...event('x', 'get', 'pods', 'a', 'c'), verb: undefined }] }, 'items[0].verb'],
    ['an event out of range', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [event('x', 'get', 'pods', 'a', 'c'), { ...event('x', 'get', 'pods', 'a', 'd'), stageTimestamp: '2001-01-01T00:00:00Z' }] }, 'items[1].stageTimestamp'],
  ])('refuses %s, storing nothing', async (_what, payload, field) => {
    const before = await storedLines();
    const res = await app.inject({ method: 'POST', url: '/api/v1/logs/audit', headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe(field);
    expect(await storedLines()).toBe(before);
  });
});

describe('Grafana Faro', () => {
  const meta = { app: { name: 'storefront', version: '1.4.2', environment: 'production' }, session: { id: 'sess-42' }, page: { url: 'https://shop.example.com/cart' } };
  const at = new Date(Number(NOW_NS / 1_000_000n) - 3000).toISOString();
  const items: TransportItem[] = [
    { type: TransportItemType.LOG, meta, payload: { level: 'warn', message: 'cart total mismatch', context: { cart: 'c-77' }, timestamp: at } },
    { type: TransportItemType.EXCEPTION, meta, payload: { type: 'TypeError', value: 'price is undefined', timestamp: at, stacktrace: { frames: [{ filename: 'https://shop.example.com/app.js', function: 'renderCart', lineno: 10, colno: 5 }] } } },
    { type: TransportItemType.EVENT, meta, payload: { name: 'checkout_started', domain: 'shop', timestamp: at, attributes: { step: '1' } } },
    { type: TransportItemType.MEASUREMENT, meta, payload: { type: 'web-vitals', values: { lcp: 2345.5, cls: 0.02 }, timestamp: at } },
  ] as TransportItem[];

  it('stores logs, exceptions and events as lines with app and session labels, and measurements as samples', async () => {
    const body = getTransportBody(items);
    const res = await app.inject({ method: 'POST', url: '/collect/faro', headers: { 'content-type': 'application/json' }, payload: body });
    expect(res.statusCode, res.body).toBe(202);
    const exception = await search({ q: 'renderCart', label: ['app=storefront', 'session=sess-42'] });
    expect(exception.lines).toHaveLength(1);
    expect(exception.lines[0]!.labels).toEqual({ source: 'faro', app: 'storefront', environment: 'production', session: 'sess-42', kind: 'exception' });
    expect(exception.lines[0]!.line).toContain('type=TypeError');
    expect((await search({ q: '"cart total mismatch"', label: 'kind=log' })).lines).toHaveLength(1);
    expect((await search({ q: 'checkout_started', label: 'kind=event' })).lines).toHaveLength(1);
    const series = await app.inject({ url: '/api/v1/range?metric=faro_web_vitals_lcp&since=1h&fn=last' });
    expect(series.statusCode, series.body).toBe(200);
    const points = series.json().series.flatMap((s: { points: [number, number][] }) => s.points.map(([, v]) => v));
    expect(points).toContain(2345.5);
  });

  it('answers a browser page on an allowed origin with CORS headers (preflight and POST), others without', async () => {
    const preflight = await app.inject({ method: 'OPTIONS', url: '/collect/faro', headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(preflight.statusCode).toBe(200);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('content-type');
    const body = getTransportBody([{ type: TransportItemType.LOG, meta, payload: { level: 'info', message: 'from the page', timestamp: at } } as TransportItem]);
    const post = await app.inject({ method: 'POST', url: '/collect/faro', headers: { 'content-type': 'application/json', origin: 'https://shop.example.com' }, payload: body });
    expect(post.statusCode, post.body).toBe(202);
    expect(post.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    const other = await app.inject({ method: 'OPTIONS', url: '/collect/faro', headers: { origin: 'https://evil.example.net' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const refused = await app.inject({ method: 'POST', url: '/collect/faro', headers: { 'content-type': 'application/json', origin: 'https://evil.example.net' }, payload: body });
    expect(refused.statusCode).toBe(403);
  });

  it('takes the app key path Faro\'s collector uses', async () => {
    const body = getTransportBody([{ type: TransportItemType.LOG, meta: { session: { id: 's2' } }, payload: { level: 'info', message: 'keyed hello', timestamp: at } } as TransportItem]);
    const res = await app.inject({ method: 'POST', url: '/collect/app-key-123', headers: { 'content-type': 'application/json' }, payload: body });
    expect(res.statusCode, res.body).toBe(202);
    expect((await search({ q: 'keyed', label: 'app=app-key-123' })).lines).toHaveLength(1);
  });

  it.each([
    ['a log without a message', { meta, logs: [{ level: 'info', timestamp: at }] }, 'logs[0].message'],
    ['a measurement with a text value', { meta, measurements: [{ type: 'web-vitals', values: { lcp: 'slow' }, timestamp: at }] }, 'measurements[0].values.lcp'],
    ['an event from 2001', { meta, logs: [{ level: 'info', message: 'ok', timestamp: at }], events: [{ name: 'x', timestamp: '2001-01-01T00:00:00Z' }] }, 'events[0].timestamp'],
  ])('refuses %s, storing nothing', async (_what, payload, field) => {
    const before = await storedLines();
    const res = await app.inject({ method: 'POST', url: '/collect/faro', headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe(field);
    expect(await storedLines()).toBe(before);
  });
});

describe('countMatches, the search log alert rules will call', () => {
  it('counts the lines of a tenant matching a selector and keywords in a window', async () => {
    const window = { startMs: Number(NOW_NS / 1_000_000n) - 60_000, endMs: Number(NOW_NS / 1_000_000n) + 60_000 };
    const store = t.engine.ctx.store;
    expect(await countMatches(store, 'default', { namespace: 'shop' }, 'payment', window)).toBe(2);
    expect(await countMatches(store, 'default', { namespace: 'shop' }, 'payment declined', window)).toBe(1);
    expect(await countMatches(store, 'default', { namespace: 'shop', container: 'sidecar' }, '"reset by peer"', window)).toBe(1);
    expect(await countMatches(store, 'other-tenant', { namespace: 'shop' }, 'payment', window)).toBe(0);
    expect(await countMatches(store, 'default', { namespace: 'shop' }, 'payment', { startMs: window.startMs - 3_600_000, endMs: window.startMs - 1 })).toBe(0);
  });
});

describe('search parameters', () => {
  it.each([
    ['limit=0', 'limit'],
    ['since=yesterday', 'since'],
    ['start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
    ['label=nope', 'label'],
    ['label=bad-name=x', 'label.bad-name'],
  ])('%s is a 400 naming %s', async (qs, field) => {
    const res = await app.inject({ url: `/api/v1/logs/search?${qs}` });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().field).toBe(field);
  });
});
