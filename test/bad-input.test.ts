// Issue 9's bad input, each through the real engine: refused at the edge
// with a 400 naming the field (nothing of the request stored), or answered
// where it used to be a 500. Every case here failed before the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import snappy from 'snappy';
import protobuf from 'protobufjs/minimal.js';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';

const run = promisify(execFile);
let running: TestEngine;
let app: FastifyInstance;
const nowS = Math.floor(Date.now() / 1000);
const YEAR_3000_S = Date.parse('3000-01-01T00:00:00Z') / 1000;

interface Answer {
  status: number;
  body: { error?: string; message?: string; field?: string; requestId?: string; series?: unknown[]; data?: unknown[]; errorType?: string };
}

async function inject(method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload: payload as string }),
    headers: payload !== undefined && !headers['content-type'] ? { 'content-type': 'application/json', ...headers } : headers,
  });
  return { status: r.statusCode, body: r.body ? (JSON.parse(r.body) as Answer['body']) : {} };
}

function expect400(a: Answer, field: string, message?: RegExp): void {
  expect(a.status, JSON.stringify(a.body)).toBe(400);
  expect(a.body.error).toBeTruthy();
  expect(a.body.field).toBe(field);
  if (message) expect(a.body.message).toMatch(message);
}

const RW_HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

async function stored(metric: string): Promise<number> {
  const rows = await running.engine.ctx.store.query<{ n: string }>(`SELECT count() AS n FROM ${running.engine.ctx.store.table('series')} WHERE metric = {m:String}`, { m: metric });
  return Number(rows[0]?.n ?? 0);
}

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
  // One good series to look up.
  const ok = await inject('POST', '/api/v1/push', { series: [{ labels: { __name__: 'bad_input_up', job: 'node' }, samples: [[nowS - 5, 1]] }] });
  expect(ok.status).toBe(204);
});

afterAll(async () => {
  await running?.close();
});

describe('samples outside what the store keeps', () => {
  const cases: [string, number][] = [
    ['older than the raw retention', nowS - 16 * 86400],
    ['an hour in the future', nowS + 3600],
    ['year 3000', YEAR_3000_S],
    ['1e11 seconds', 1e11],
    ['zero', 0],
    ['negative', -60],
  ];

  it.each(cases)('JSON push refuses a timestamp %s, naming the sample, storing nothing', async (_what, t) => {
    const a = await inject('POST', '/api/v1/push', {
      series: [
        { labels: { __name__: 'bounds_push_ok' }, samples: [[nowS, 1]] },
        { labels: { __name__: 'bounds_push' }, samples: [[nowS, 1], [t, 2]] },
      ],
    });
    expect400(a, 'series[1].samples[1][0]', /out of bounds|not after 1970/);
  });

  it.each(cases)('remote_write refuses a timestamp %s, naming the sample', async (_what, t) => {
    const body = encodeWriteRequest([
      { labels: { __name__: 'bounds_rw_ok' }, samples: [{ value: 1, timestamp: nowS * 1000 }] },
      { labels: { __name__: 'bounds_rw' }, samples: [{ value: 1, timestamp: t * 1000 }] },
    ]);
    expect400(await inject('POST', '/api/v1/write', body, RW_HEADERS), 'timeseries[1].samples[0].timestamp', /out of bounds|not after 1970/);
  });

  it.each(cases.filter(([, t]) => t >= 0))('exposition import refuses a timestamp %s', async (_what, t) => {
    const text = `bounds_import_ok 1\nbounds_import 2 ${t * 1000}\n`;
    expect400(await inject('POST', '/api/v1/import/prometheus', text, { 'content-type': 'text/plain' }), 'samples[1].timestamp', /out of bounds|not after 1970/);
  });

  it('stored nothing of any refused request', async () => {
    await new Promise((r) => setTimeout(r, 300));
    for (const m of ['bounds_push_ok', 'bounds_push', 'bounds_rw_ok', 'bounds_rw', 'bounds_import_ok', 'bounds_import']) expect(await stored(m), m).toBe(0);
  });
});

describe('label values that are not valid UTF-8', () => {
  it('remote_write checks the label bytes', async () => {
    // TimeSeries { labels: [{__name__: "utf8_rw"}, {job: 0xC3 0x28}] , samples: [{1, now}] }
    const label = (name: Uint8Array, value: Uint8Array) => protobuf.Writer.create().uint32(0x0a).bytes(name).uint32(0x12).bytes(value).finish();
    const sample = protobuf.Writer.create().uint32(0x09).double(1).uint32(0x10).int64(nowS * 1000).finish();
    const ts = protobuf.Writer.create()
      .uint32(0x0a).bytes(label(Buffer.from('__name__'), Buffer.from('utf8_rw')))
      .uint32(0x0a).bytes(label(Buffer.from('job'), Uint8Array.from([0xc3, 0x28])))
      .uint32(0x12).bytes(sample)
      .finish();
    const body = snappy.compressSync(Buffer.from(protobuf.Writer.create().uint32(0x0a).bytes(ts).finish()));
    expect400(await inject('POST', '/api/v1/write', body, RW_HEADERS), 'timeseries[0].labels', /UTF-8/);
  });

  it('JSON push refuses a lone surrogate', async () => {
    const a = await inject('POST', '/api/v1/push', '{"series":[{"labels":{"__name__":"utf8_push","job":"\\ud800x"},"samples":[[' + nowS + ',1]]}]}');
    expect400(a, 'series[0].labels.job', /UTF-8/);
  });

  it('every JSON endpoint refuses a lone surrogate before it reaches the store (an SLA exclusion reason was a 500)', async () => {
    const body = '{"cluster":"c1","start":"2026-10-02T00:00:00Z","end":"2026-10-02T01:00:00Z","cause":"maintenance","reason":"\\ud800","recordedBy":"ops"}';
    expect400(await inject('POST', '/api/v1/sla/exclusions', body), 'reason', /UTF-8/);
    const range = '{"metric":"up","matchers":[{"name":"job","op":"=","value":"x\\udc00"}],"fn":"avg","by":[],"start":1000,"end":2000,"step":60}';
    expect400(await inject('POST', '/api/v1/range', range), 'matchers[0].value', /UTF-8/);
    // A proper pair is text like any other.
    const pair = await inject('POST', '/api/v1/sla/exclusions', body.replace('\\ud800', '\\ud83d\\ude00'));
    expect(pair.status).toBe(201);
  });

  it('exposition import refuses a body that is not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('utf8_import{job="'), Buffer.from([0xff, 0xfe]), Buffer.from('"} 1\n')]);
    expect400(await inject('POST', '/api/v1/import/prometheus', body, { 'content-type': 'text/plain' }), 'body', /UTF-8/);
  });

  it('stored none of them', async () => {
    for (const m of ['utf8_rw', 'utf8_push', 'utf8_import']) expect(await stored(m), m).toBe(0);
  });
});

describe('inputs that were 500s', () => {
  it('GET /api/v1/series with a selector answers the matching series (Prometheus\' shape)', async () => {
    const a = await inject('GET', `/api/v1/series?${new URLSearchParams({ 'match[]': '{job="node"}' })}`);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.data).toContainEqual({ __name__: 'bad_input_up', job: 'node' });
    const b = await inject('GET', `/api/v1/series?${new URLSearchParams({ 'match[]': 'bad_input_up{job=~"no.*"}' })}`);
    expect(b.body.data).toEqual([{ __name__: 'bad_input_up', job: 'node' }]);
  });

  it.each(['(?n)node', '(n)\\1', 'a{1001}'])('a regex RE2 refuses (%s) is a 400 naming the parameter, GET and POST', async (re) => {
    const get = await inject('GET', `/api/v1/range?${new URLSearchParams({ metric: 'bad_input_up', match: `job=~${re}`, since: '5m' })}`);
    expect400(get, 'match[0]', /RE2/);
    const series = await inject('GET', `/api/v1/series?${new URLSearchParams({ 'match[]': `{job!~${JSON.stringify(re)}}` })}`);
    expect400(series, 'match[]', /RE2/);
    expect(series.body.errorType).toBe('bad_data');
    const post = await inject('POST', '/api/v1/range', { metric: 'bad_input_up', matchers: [{ name: 'job', op: '=~', value: re }], fn: 'avg', by: [], start: nowS - 300, end: nowS, step: 60 });
    expect400(post, 'matchers[0].value', /RE2/);
  });

  it.each(['\\pL{1000}\\pL{1000}\\pL{1000}', '(\\pL{100}){10}'])("a regex too large for the store's RE2 program budget (%s) is a 400 naming the parameter", async (re) => {
    const get = await inject('GET', `/api/v1/range?${new URLSearchParams([['metric', 'bad_input_up'], ['match', 'job=node'], ['match', `job=~${re}`], ['since', '5m']])}`);
    expect400(get, 'match[1]', /RE2/);
    expect400(await inject('GET', `/api/v1/series?${new URLSearchParams({ 'match[]': `{job=~${JSON.stringify(re)}}` })}`), 'match[]', /RE2/);
    const post = await inject('POST', '/api/v1/range', { metric: 'bad_input_up', matchers: [{ name: 'job', op: '=~', value: re }], fn: 'avg', by: [], start: nowS - 300, end: nowS, step: 60 });
    expect400(post, 'matchers[0].value', /RE2/);
  });

  it('a probe timestamp of 1e15 is a 400 naming it', async () => {
    const a = await inject('POST', '/api/v1/sla/probes', [{ cluster: 'c', location: 'l', timestamp: 1e15, ok: true }]);
    expect400(a, 'probes[0].timestamp', /future/);
    const ok = await inject('POST', '/api/v1/sla/probes', [{ cluster: 'c', location: 'l', timestamp: Date.now(), ok: true }]);
    expect(ok.status).toBe(202);
  });

  it('found by the property tests: a huge look-back or report version is a 400, not a 500', async () => {
    expect400(await inject('GET', '/api/v1/utilisation/nodes?since=9007199254740991'), 'since');
    expect400(await inject('GET', '/api/v1/range?metric=bad_input_up&since=9007199254740991'), 'since');
    expect400(await inject('GET', '/api/v1/sla/reports/2026-10?version=1e%2B300'), 'version');
  });

  it('found by bench:fuzz: a decision time of 1e300 and a charge over Decimal(18, 6) are 400s, not 500s', async () => {
    expect400(await inject('GET', '/api/v1/autoscale/decisions?policy=default%2Fweb&at=1e%2B300'), 'at');
    expect400(await inject('GET', '/api/v1/autoscale/decisions?policy=default%2Fweb&at=-1'), 'at');
    const charge = await inject('POST', '/api/v1/sla/charges', [{ cluster: 'c', start: '2026-10-01T00:00:00Z', end: '2026-10-02T00:00:00Z', amount: 1795989530000 }]);
    expect(charge.status).toBe(400);
    expect(JSON.stringify(charge.body)).toContain('amount');
  });

  it('an exclusion in year 9999 is a 400, not a store error', async () => {
    const a = await inject('POST', '/api/v1/sla/exclusions', { cluster: 'c', start: '9999-01-01T00:00:00Z', end: '9999-01-02T00:00:00Z', cause: 'maintenance', reason: 'r', recordedBy: 'me' });
    expect400(a, 'start');
  });
});

describe("fastify's own errors in our JSON shape", () => {
  it('bad JSON: 400 naming the body', async () => {
    expect400(await inject('POST', '/api/v1/push', '{"series":', { 'content-type': 'application/json' }), 'body');
  });

  it('an unsupported content type: 415 naming content-type', async () => {
    const a = await inject('POST', '/api/v1/sla/compute', '<x/>', { 'content-type': 'application/xml' });
    expect(a.status).toBe(415);
    expect(a.body).toMatchObject({ error: 'unsupported_media_type', field: 'content-type' });
    expect(a.body.message).toBeTruthy();
  });

  it('a body over the limit: 413 naming the body', async () => {
    const big = 'x'.repeat(running.engine.ctx.config.server.bodyLimit + 1);
    const a = await inject('POST', '/api/v1/import/prometheus', big, { 'content-type': 'text/plain' });
    expect(a.status).toBe(413);
    expect(a.body).toMatchObject({ error: 'body_too_large', field: 'body' });
  });

  it('a path with a bad %-escape: 400 naming the url', async () => {
    const a = await inject('GET', '/api/v1/sla/reports/%FF');
    expect400(a, 'url');
    expect(a.body.message).toBeTruthy();
  });

  it('our own 415s name the header', async () => {
    const a = await inject('POST', '/api/v1/push', 'x', { 'content-type': 'text/plain' });
    expect(a.status).toBe(415);
    expect(a.body.field).toBe('content-type');
  });

  it('the engine still answers /healthz', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('the Prometheus API (issue 12): bad PromQL and parameters are 4xx in Prometheus\' envelope, never a 5xx', () => {
  const query = (q: string) => inject('GET', `/api/v1/query?${new URLSearchParams({ query: q, time: String(nowS) })}`);

  it.each([
    ['sum(bad_input_up', /^invalid parameter "query": 1:17: parse error/],
    ['bad_input_up{job=~"("}', /parse error: error parsing regexp/],
    ['rate(bad_input_up[5x])', /1:\d+: parse error/],
    ['sum by (1bad) (bad_input_up)', /1:9: parse error/],
    ['rate(bad_input_up[0s])', /duration must be greater than 0/],
    ['bad_input_up @ 1e300', /timestamp out of bounds/],
    ['1 + "a"', /binary expression/],
    ['', /no expression found in input/],
  ])('%s: 400 bad_data naming the query, with the position', async (q, message) => {
    const a = await query(q);
    expect(a.status, JSON.stringify(a.body)).toBe(400);
    expect(a.body).toMatchObject({ status: 'error', errorType: 'bad_data', field: 'query' });
    expect(a.body.error).toMatch(message);
  });

  it.each([
    ['label_replace(bad_input_up, "dst", "$1", "src", "(")', /regular expression/],
    ['count_values("1bad", bad_input_up)', /label name/],
  ])('%s: 422 execution, as Prometheus answers', async (q, message) => {
    const a = await query(q);
    expect(a.status, JSON.stringify(a.body)).toBe(422);
    expect(a.body).toMatchObject({ status: 'error', errorType: 'execution' });
    expect(a.body.error).toMatch(message);
  });

  it('bad times, steps, limits, label names and selectors: 400 naming the parameter', async () => {
    const range = (p: Record<string, string>) => inject('GET', `/api/v1/query_range?${new URLSearchParams({ query: 'bad_input_up', ...p })}`);
    expect((await range({ start: '1e300', end: '1', step: '1' })).body).toMatchObject({ errorType: 'bad_data', field: 'start' });
    expect((await range({ start: '0', end: '2026-02-30T00:00:00Z', step: '1' })).body).toMatchObject({ errorType: 'bad_data', field: 'end' });
    expect((await range({ start: '0', end: '60', step: '999999999w' })).body).toMatchObject({ errorType: 'bad_data', field: 'step' });
    expect((await range({ start: '0', end: '60', step: 'NaN' })).body).toMatchObject({ errorType: 'bad_data', field: 'step' });
    expect((await inject('GET', '/api/v1/label/%E2%9C%93/values')).body).toMatchObject({ errorType: 'bad_data', field: 'name' });
    expect((await inject('GET', `/api/v1/labels?${new URLSearchParams({ limit: '-1' })}`)).body).toMatchObject({ errorType: 'bad_data', field: 'limit' });
    expect((await inject('GET', `/api/v1/series?${new URLSearchParams({ 'match[]': 'rate(x[5m])' })}`)).body).toMatchObject({ errorType: 'bad_data', field: 'match[]' });
    const form = await inject('POST', '/api/v1/query', '%zz=%', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBeLessThan(500);
  });
});

describe('tidemark query', () => {
  it('exits 2 naming --fn for an unknown aggregation', async () => {
    const err = await run(process.execPath, ['bin/tidemark.js', 'query', 'up', '--fn', 'median', '--url', running.engine.url]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/--fn/);
  });
});
