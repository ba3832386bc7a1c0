// The Prometheus HTTP API on data (metrics/prometheus-api/), through an
// engine loaded with a fixture fleet: instant and range queries GET and as
// form POSTs, series, label names and values within a time window and with
// limits, `stats`, a timeout (503 `timeout`, and the query gone from
// ClickHouse's process list), and `tidemark query` with a PromQL expression.
// The sample limit: test/prometheus-api-limits.test.ts (one store per process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { fleetFixture, loadIntoStore, type Fleet } from './helpers/fleet-fixture.ts';

const run = promisify(execFile);
const END_S = Math.floor(Date.now() / 60_000) * 60 - 600;
const START_S = END_S - 24 * 3600;
let fleet: Fleet;
let t: TestEngine;

beforeAll(async () => {
  // A day at 60 s of 4 nodes: enough for a query that takes ClickHouse longer than a short timeout.
  fleet = fleetFixture({ clusters: ['prod-eu-west-1'], nodes: 4, startS: START_S, endS: END_S, intervalS: 60 });
  t = await startTestEngine();
  await loadIntoStore(t.engine.ctx.store, 'default', fleet);
}, 180_000);

afterAll(async () => {
  await t?.close();
});

async function get(url: string, engine = t) {
  const res = await engine.engine.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as { status: string; data: unknown; errorType?: string; error?: string; warnings?: string[] } };
}
async function post(url: string, form: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
  const res = await t.engine.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body.toString() });
  return { status: res.statusCode, body: res.json() as { status: string; data: unknown } };
}
const qs = (p: Record<string, string | string[]>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) for (const x of Array.isArray(v) ? v : [v]) s.append(k, x);
  return s.toString();
};

type Vector = { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] };
type Matrix = { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] };

describe('queries', () => {
  it('an instant query finds the fixture, GET and form POST alike', async () => {
    const time = String(END_S);
    const a = await get(`/api/v1/query?${qs({ query: 'count(node_load1)', time })}`);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.data).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [END_S, '4'] }] });
    const b = await post('/api/v1/query', { query: 'count(node_load1)', time });
    expect(b.body).toEqual(a.body);
  });

  it('a range query answers a matrix with a point per step, GET and form POST alike', async () => {
    const params = { query: 'sum by (node) (rate(node_cpu_seconds_total[5m]))', start: String(END_S - 3600), end: String(END_S), step: '60' };
    const a = await get(`/api/v1/query_range?${qs(params)}`);
    expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(200);
    const m = a.body.data as Matrix;
    expect(m.resultType).toBe('matrix');
    expect(m.result.map((s) => s.metric['node']).sort()).toEqual(['node-0', 'node-1', 'node-2', 'node-3']);
    expect(m.result[0]!.values).toHaveLength(61);
    expect((await post('/api/v1/query_range', params)).body).toEqual(a.body);
  });

  it('stats, when asked, say which table answered', async () => {
    const a = await get(`/api/v1/query_range?${qs({ query: 'avg(node_load1)', start: String(START_S), end: String(END_S), step: '3600', stats: 'all' })}`);
    expect(a.status).toBe(200);
    expect((a.body.data as { stats?: { table: string } }).stats?.table).toMatch(/^samples(_1m|_1h)?$/);
  });
});

describe('series, labels and label values', () => {
  it('series: the label sets matching any match[], with __name__', async () => {
    const a = await get(`/api/v1/series?${qs({ 'match[]': ['node_load1{node="node-1"}', 'kube_node_info{node="node-2"}'] })}`);
    expect(a.status).toBe(200);
    expect(a.body.data).toEqual([
      { __name__: 'kube_node_info', cluster: 'prod-eu-west-1', instance: '10.96.0.20:8080', job: 'kube-state-metrics', node: 'node-2' },
      { __name__: 'node_load1', cluster: 'prod-eu-west-1', instance: '10.0.0.1:9100', job: 'node-exporter', node: 'node-1' },
    ]);
  });

  it('a time window with no samples finds no series; the fixture window finds them', async () => {
    const before = { start: String(START_S - 30 * 86400), end: String(START_S - 29 * 86400) };
    expect((await get(`/api/v1/series?${qs({ 'match[]': 'node_load1', ...before })}`)).body.data).toEqual([]);
    expect((await get(`/api/v1/labels?${qs({ 'match[]': 'node_load1', ...before })}`)).body.data).toEqual([]);
    expect((await get(`/api/v1/label/node/values?${qs(before)}`)).body.data).toEqual([]);
    const during = { start: String(END_S - 600), end: String(END_S) };
    expect((await get(`/api/v1/series?${qs({ 'match[]': 'node_load1', ...during })}`)).body.data).toHaveLength(4);
    expect((await get(`/api/v1/label/node/values?${qs({ 'match[]': 'node_load1', ...during })}`)).body.data).toEqual(['node-0', 'node-1', 'node-2', 'node-3']);
  });

  it('labels and label values, narrowed by match[] and cut by limit with a warning', async () => {
    expect((await get(`/api/v1/labels?${qs({ 'match[]': 'node_load1' })}`)).body.data).toEqual(['__name__', 'cluster', 'instance', 'job', 'node']);
    const names = (await get('/api/v1/label/__name__/values')).body.data as string[];
    expect(names).toContain('node_cpu_seconds_total');
    expect(names).toEqual([...names].sort());
    const cut = await get(`/api/v1/label/node/values?${qs({ limit: '2' })}`);
    expect(cut.body.data).toEqual(['node-0', 'node-1']);
    expect(cut.body.warnings).toEqual(['results truncated due to limit']);
    expect((await get(`/api/v1/label/node/values?${qs({ limit: 'x' })}`)).status).toBe(400);
  });
});

describe('limits', () => {
  it('over the timeout: 503 timeout, and the query is gone from ClickHouse', async () => {
    const store = t.engine.ctx.store;
    const heavy = 'quantile_over_time(0.99, node_cpu_seconds_total[6h]) * on (cpu, mode, node) group_left quantile_over_time(0.5, node_cpu_seconds_total[12h])';
    const a = await get(`/api/v1/query_range?${qs({ query: heavy, start: String(START_S), end: String(END_S), step: '15', timeout: '200ms' })}`);
    expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(503);
    expect(a.body).toMatchObject({ status: 'error', errorType: 'timeout' });
    const running = async () =>
      (await store.query<{ query: string }>(`SELECT query FROM system.processes WHERE query LIKE '%samples%' AND query NOT LIKE '%system.processes%'`)).map((r) => r.query);
    const until = Date.now() + 5000;
    let left = await running();
    while (left.length > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      left = await running();
    }
    expect(left).toEqual([]);
  }, 60_000);
});

describe('tidemark query with PromQL', () => {
  it('prints an instant answer as JSON, and a range with --since', async () => {
    const instant = await run(process.execPath, ['bin/tidemark.js', 'query', 'count(node_load1)', '--time', String(END_S), '--json', '--url', t.engine.url]);
    expect(JSON.parse(instant.stdout)).toEqual({ resultType: 'vector', result: [{ metric: {}, value: [END_S, '4'] }] });
    const range = await run(process.execPath, ['bin/tidemark.js', 'query', 'max(node_load1)', '--start', String(END_S - 600), '--end', String(END_S), '--step', '60', '--url', t.engine.url]);
    expect(range.stdout.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(11);
    const bad = await run(process.execPath, ['bin/tidemark.js', 'query', 'sum(', '--url', t.engine.url]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toMatch(/parse error/);
  }, 60_000);
});
