// The Loki query API on an engine fed with log lines: Loki's answer shapes
// (streams, matrix, vector, stats), the pipeline, metric queries checked
// against counts of what was written, Tidemark's token search answered from
// the text index, the label/series/stats routes, bad input as 400s naming
// the position or parameter, and a line pushed after a tail connects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { insertLogLines, type LogLine } from '../logs/store.ts';
import { planLines } from '../logs/logql/plan.ts';
import { parseLogql } from '../logs/logql/parse.ts';
import type { LogQuery } from '../logs/logql/ast.ts';

let t: TestEngine;
let app: FastifyInstance;

const S = 1_000_000_000n;
const NOW_S = BigInt(Math.floor(Date.now() / 1000));
/** Lines at BASE + i seconds, i in [0, 600). */
const BASE = (NOW_S - 900n) * S;
const WEB = { app: 'web', namespace: 'shop', pod: 'web-7d9f8b6c5d-x2x9z', container: 'app', cluster: 'c1' };
const DB = { app: 'db', namespace: 'shop', pod: 'db-0', container: 'postgres', cluster: 'c1' };
const N = 600;

function webLine(i: number): string {
  const status = i % 10 === 0 ? 503 : 200;
  const ip = i === 123 || i === 456 ? '10.1.2.3' : `10.9.${i % 7}.${i % 200}`;
  return JSON.stringify({ level: status >= 500 ? 'error' : 'info', msg: `GET /cart/${i} ${status}`, status, took: `${i % 50}ms`, client: ip });
}
function dbLine(i: number): string {
  return `level=${i % 3 === 0 ? 'warn' : 'info'} msg="query done" rows=${i} trace=4bf92f3577b34da6a3ce929d0e0e${String(i).padStart(4, '0')}`;
}

beforeAll(async () => {
  t = await startTestEngine();
  app = t.engine.app;
  const rows: LogLine[] = [];
  for (let i = 0; i < N; i++) {
    rows.push({ tenant: 'default', tsNs: BASE + BigInt(i) * S, labels: WEB, line: webLine(i) });
    rows.push({ tenant: 'default', tsNs: BASE + BigInt(i) * S + 500_000_000n, labels: DB, line: dbLine(i) });
    rows.push({ tenant: 'other', tsNs: BASE + BigInt(i) * S, labels: WEB, line: `other tenant 10.1.2.3 ${i}` });
  }
  await insertLogLines(t.engine.ctx.store, rows);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

async function get(path: string, params: Record<string, string>) {
  const res = await app.inject({ method: 'GET', url: `${path}?${new URLSearchParams(params)}` });
  return res;
}

const RANGE = { start: String(BASE), end: String(BASE + BigInt(N + 1) * S) };

describe('query_range, log queries', () => {
  it('answers streams in Loki shape, newest first, limited, with stats', async () => {
    const res = await get('/loki/api/v1/query_range', { query: '{app="web"} |= "GET /cart/"', ...RANGE, limit: '5' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.status).toBe('success');
    expect(body.data.resultType).toBe('streams');
    expect(body.data.result).toHaveLength(1);
    const [stream] = body.data.result;
    expect(stream.stream).toEqual(WEB);
    expect(stream.values).toHaveLength(5);
    expect(stream.values[0]).toEqual([String(BASE + BigInt(N - 1) * S), webLine(N - 1)]);
    expect(BigInt(stream.values[0][0])).toBeGreaterThan(BigInt(stream.values[1][0]));
    expect(body.data.stats.summary).toMatchObject({ totalEntriesReturned: 5, totalLinesProcessed: 5 });
  });

  it('forward reads oldest first; times as RFC3339 and seconds are Loki times too', async () => {
    const start = new Date(Number(BASE / 1_000_000n)).toISOString();
    const end = String(Number(BASE / S) + 3);
    const res = await get('/loki/api/v1/query_range', { query: '{app="db"}', start, end, direction: 'forward', limit: '100' });
    expect(res.statusCode, res.body).toBe(200);
    const values = res.json().data.result[0].values;
    expect(values.map((v: string[]) => v[0])).toEqual([0, 1, 2].map((i) => String(BASE + BigInt(i) * S + 500_000_000n)));
  });

  it('runs chained line filters, json, label filters and line_format', async () => {
    const res = await get('/loki/api/v1/query_range', {
      query: '{namespace="shop"} |= "GET" != "/cart/10 " | json | status >= 500 and level="error" | line_format "{{.status}} {{.msg}}"',
      ...RANGE,
      limit: '1000',
    });
    expect(res.statusCode, res.body).toBe(200);
    // Extracted labels are stream labels, as in Loki: each line's msg makes its own stream here.
    const result = res.json().data.result as { stream: Record<string, string>; values: string[][] }[];
    const values = result.flatMap((s) => s.values).sort((a, b) => (BigInt(b[0]!) > BigInt(a[0]!) ? 1 : -1));
    const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 === 0 && i !== 10);
    expect(values).toHaveLength(expected.length);
    expect(values[0]![1]).toBe(`503 GET /cart/${expected[expected.length - 1]} 503`);
    for (const s of result) expect(s.stream).toMatchObject({ app: 'web', level: 'error', status: '503' });
  });

  it('logfmt and regex filters', async () => {
    const res = await get('/loki/api/v1/query_range', { query: '{app="db"} |~ "rows=1[0-9]\\\\b" | logfmt | level="warn"', ...RANGE, limit: '1000' });
    expect(res.statusCode, res.body).toBe(200);
    const values = res.json().data.result.flatMap((s: { values: string[][] }) => s.values);
    expect(values.map((v: string[]) => Number(/rows=(\d+)/.exec(v[1]!)![1])).sort((a: number, b: number) => a - b)).toEqual([12, 15, 18]);
  });

  it("finds a needle with Tidemark's search, in every stream, from the text index", async () => {
    const res = await get('/loki/api/v1/query_range', { query: '"10.1.2.3"', ...RANGE, limit: '100' });
    expect(res.statusCode, res.body).toBe(200);
    const values = res.json().data.result.flatMap((s: { values: string[][] }) => s.values.map((v) => v[1]));
    expect(values).toEqual([webLine(456), webLine(123)]);
    // The search is planned as hasToken over lower(line), which ClickHouse reads from the text index itself.
    const plan = planLines(t.engine.ctx.store.table('logs'), 'default', parseLogql('"10.1.2.3"') as LogQuery, { start: BASE, end: BASE + 1000n * S }, 'backward', 100);
    const explain = await t.engine.ctx.store.query<{ explain: string }>(`EXPLAIN indexes = 1 ${plan.sql}`, plan.params);
    expect(explain.map((r) => r.explain).join('\n')).toMatch(/__text_index_line_text_hasToken/);
    // {} with a line filter searches every stream too.
    const all = await get('/loki/api/v1/query_range', { query: '{} |= "trace=4bf92f3577b34da6a3ce929d0e0e0042"', ...RANGE });
    expect(all.json().data.result[0].values.map((v: string[]) => v[1])).toEqual([dbLine(42)]);
  });
});

describe('metric queries', () => {
  it('sum by (app) (count_over_time) over 1m steps adds up to the lines written', async () => {
    const res = await get('/loki/api/v1/query_range', { query: 'sum by (app) (count_over_time({namespace="shop"}[1m]))', start: String(BASE + 60n * S), end: String(BASE + 600n * S), step: '60' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.data.resultType).toBe('matrix');
    const web = body.data.result.find((s: { metric: Record<string, string> }) => s.metric.app === 'web');
    expect(web.metric).toEqual({ app: 'web' });
    // Windows (t-60s, t]: the lines at BASE+1s … BASE+599s, 60 per window, except the first (BASE+1 … BASE+60: 60).
    expect(web.values).toHaveLength(10);
    expect(web.values[0]).toEqual([Number(BASE / S) + 60, '60']);
    const total = web.values.reduce((a: number, v: [number, string]) => a + Number(v[1]), 0);
    expect(total).toBe(N - 1);
  });

  it('rate, bytes_rate, and the pipeline path agree with the SQL path', async () => {
    const q = (query: string) => get('/loki/api/v1/query', { query, time: String(BASE + 600n * S) });
    // Window (BASE+300s, BASE+600s]: i = 301 … 599, of which 29 are errors (i % 10 = 0).
    const rate = (await q('sum(rate({app="web"} |= `"error"` [5m]))')).json();
    expect(rate.data.resultType).toBe('vector');
    expect(rate.data.result).toEqual([{ metric: {}, value: [Number(BASE / S) + 600, String(29 / 300)] }]);
    const viaJson = (await q('sum(rate({app="web"} | json | status=503 [5m]))')).json();
    expect(Number(viaJson.data.result[0].value[1])).toBeCloseTo(29 / 300, 12);
    const bytes = (await q('sum by (pod) (bytes_over_time({app="db"}[10m]))')).json();
    const expectedBytes = Array.from({ length: N }, (_, i) => Buffer.byteLength(dbLine(i))).reduce((a, b) => a + b, 0);
    expect(bytes.data.result).toEqual([{ metric: { pod: 'db-0' }, value: [Number(BASE / S) + 600, String(expectedBytes)] }]);
    // Grafana's logs volume query: drop changes labels only, so ClickHouse still counts.
    const volume = (await q('sum by (app) (count_over_time({namespace="shop"} | drop __error__, __error_details__ [10m]))')).json();
    expect(volume.data.result.map((r: { metric: { app: string }; value: [number, string] }) => [r.metric.app, r.value[1]])).toEqual([
      ['db', String(N)],
      // The window is (BASE, BASE+600s]: web's first line, at BASE itself, is outside.
      ['web', String(N - 1)],
    ]);
    const threshold = (await q('sum by (app) (count_over_time({namespace="shop"} |= "level=warn" [10m])) > 100')).json();
    expect(threshold.data.result).toEqual([{ metric: { app: 'db' }, value: [Number(BASE / S) + 600, '200'] }]);
    const top = (await q('topk(1, count_over_time({namespace="shop"}[10m]))')).json();
    expect(top.data.result).toHaveLength(1);
  });
});

describe('labels, series, index stats', () => {
  it('lists label names, values, series and stats of the tenant only', async () => {
    const names = (await get('/loki/api/v1/labels', RANGE)).json();
    expect(names).toEqual({ status: 'success', data: ['app', 'cluster', 'container', 'namespace', 'pod'] });
    const values = (await get('/loki/api/v1/label/app/values', RANGE)).json();
    expect(values.data).toEqual(['db', 'web']);
    const scoped = (await get('/loki/api/v1/label/pod/values', { ...RANGE, query: '{app="db"}' })).json();
    expect(scoped.data).toEqual(['db-0']);
    const seriesRes = await get('/loki/api/v1/series', { ...RANGE, 'match[]': '{app="web"}' });
    expect(seriesRes.statusCode, seriesRes.body).toBe(200);
    const series = seriesRes.json();
    expect(series.data).toEqual([WEB]);
    const stats = (await get('/loki/api/v1/index/stats', { ...RANGE, query: '{namespace="shop"}' })).json();
    expect(stats).toMatchObject({ streams: 2, entries: 2 * N });
    expect(stats.bytes).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  it('a query that does not parse is a 400 naming its line and column', async () => {
    const res = await get('/loki/api/v1/query_range', { query: '{app="web" |= "x"', ...RANGE });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_query', message: 'parse error at line 1, col 12: syntax error: unexpected "|="', field: 'query' });
  });

  it('bad times, limits, steps and an instant log query are 400s naming the parameter', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['/loki/api/v1/query_range', { query: '{a="b"}', start: 'yesterday' }, 'start'],
      ['/loki/api/v1/query_range', { query: '{a="b"}', limit: '-1' }, 'limit'],
      ['/loki/api/v1/query_range', { query: '{a="b"}', limit: '100000' }, 'limit'],
      ['/loki/api/v1/query_range', { query: 'count_over_time({a="b"}[1m])', start: '0', end: '1700000000', step: '1' }, 'step'],
      ['/loki/api/v1/query_range', { query: '{a="b"}', direction: 'sideways' }, 'direction'],
      ['/loki/api/v1/query_range', { query: '{a="b"}', end: '99999999999999999999' }, 'end'],
      ['/loki/api/v1/query', { query: '{a="b"}' }, 'query'],
      ['/loki/api/v1/query', { query: '' }, 'query'],
      ['/loki/api/v1/series', {}, 'match[]'],
      ['/loki/api/v1/label/bad-name/values', {}, 'name'],
    ];
    for (const [path, params, field] of cases) {
      const res = await get(path, params);
      expect(res.statusCode, `${path} ${JSON.stringify(params)} ${res.body}`).toBe(400);
      expect(res.json().field).toBe(field);
    }
  });
});

describe('edges', () => {
  it('windows reaching before 1970 or far ahead answer, never a 5xx', async () => {
    const cases: Record<string, string>[] = [
      { query: 'count_over_time({app="web"}[3000d] offset 3000d)', time: '100' },
      { query: 'sum(rate({app="web"} | json [3650d]))', time: '1' },
      { query: '{app="web"}', start: '0', end: '1' },
      { query: 'count_over_time({app="web"}[1h])', time: '7258118400' },
      { query: '"10.1.2.3" "GET"', start: '0', end: '7258118400' },
    ];
    for (const params of cases) {
      const res = await get(params['time'] ? '/loki/api/v1/query' : '/loki/api/v1/query_range', params);
      expect(res.statusCode, `${JSON.stringify(params)} ${res.body}`).toBeLessThan(500);
    }
  });
});

describe('tail', () => {
  it('sends a line pushed after the websocket connects', async () => {
    const url = `${t.engine.url.replace(/^http/, 'ws')}/loki/api/v1/tail?${new URLSearchParams({ query: '{app="tailed"}', start: String(BigInt(Date.now()) * 1_000_000n) })}`;
    const ws = new WebSocket(url);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(data.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 700));
    const line = `tailed line ${Date.now()}`;
    // Pushed through the Loki push API, as Promtail would.
    const pushed = await fetch(`${t.engine.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ streams: [{ stream: { app: 'tailed' }, values: [[String(BigInt(Date.now()) * 1_000_000n), line]] }] }),
    });
    expect(pushed.status).toBe(204);
    const until = Date.now() + 15_000;
    while (!frames.some((f) => f.includes(line)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    ws.close();
    const frame = JSON.parse(frames.find((f) => f.includes(line))!);
    expect(frame).toEqual({ streams: [{ stream: { app: 'tailed' }, values: [[expect.any(String), line]] }], dropped_entries: null });
  }, 30_000);

  it('refuses a bad query before the upgrade', async () => {
    const res = await get('/loki/api/v1/tail', { query: 'sum(' });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('query');
  });
});
