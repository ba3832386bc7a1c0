// The Prometheus HTTP API's answers beside a real Prometheus 2.42 (Debian's
// `prometheus`, started here on a free loopback port with no data), for the
// calls Grafana's data source makes and for the refusals: the same status
// code, content type, envelope, errorType and, for parameter errors, the
// same words; buildinfo with Prometheus' keys; POST form bodies read as
// Prometheus reads them (the body's value wins over the query string's);
// 405 for a method a route does not take, with the same Allow methods.
// Our error bodies also carry `message` and `field`, and our 405 is JSON
// (Prometheus' is text/plain): deliberate, and checked as such here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type Peer } from './helpers/peers.ts';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';

let prometheus: Peer;
let tidemark: TestEngine;

beforeAll(async () => {
  [prometheus, tidemark] = await Promise.all([startPrometheus('global:\n  scrape_interval: 1h\n'), startTestEngine()]);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await tidemark?.close();
});

interface Asked {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  path: string;
  form?: string;
}

interface Answer {
  status: number;
  type: string;
  allow: string | null;
  body: Record<string, unknown> | string;
}

async function ask(base: string, a: Asked): Promise<Answer> {
  const res = await fetch(`${base}${a.path}`, {
    method: a.method ?? 'GET',
    ...(a.form !== undefined ? { body: a.form, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
  });
  const text = await res.text();
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  let body: Answer['body'] = text;
  if (type === 'application/json') body = JSON.parse(text) as Record<string, unknown>;
  return { status: res.status, type, allow: res.headers.get('allow'), body };
}

async function both(a: Asked): Promise<[Answer, Answer]> {
  return Promise.all([ask(prometheus.baseUrl, a), ask(tidemark.engine.url, a)]);
}

const q = (p: Record<string, string | string[]>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) for (const x of Array.isArray(v) ? v : [v]) s.append(k, x);
  return s.toString();
};
const NOW_S = Math.floor(Date.now() / 1000);

/** Calls answered alike, body and all (no data in either). */
const SAME_ANSWER: Asked[] = [
  // Grafana's health check, at a fixed time.
  { path: `/api/v1/query?${q({ query: '1+1', time: '100' })}` },
  { method: 'POST', path: '/api/v1/query', form: q({ query: '1+1', time: '100.5' }) },
  // The body's value wins over the query string's, as Go's FormValue has it.
  { method: 'POST', path: `/api/v1/query?${q({ query: '1', time: '5' })}`, form: q({ query: '2' }) },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '60', step: '15' })}` },
  { method: 'POST', path: '/api/v1/query_range', form: q({ query: '3', start: '2020-01-01T00:00:00Z', end: '2020-01-01T00:01:00.5Z', step: '15.5' }) },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10', step: '1s' })}` },
  { path: `/api/v1/series?${q({ 'match[]': 'up' })}` },
  { method: 'POST', path: '/api/v1/series', form: q({ 'match[]': ['up', '{job="x"}'], start: String(NOW_S - 3600), end: String(NOW_S) }) },
  { path: '/api/v1/labels' },
  { method: 'POST', path: '/api/v1/labels', form: q({ start: String(NOW_S - 3600), end: String(NOW_S) }) },
  // client_golang's spelling of "unbounded" (2.42 reads the minimum; we read both).
  { path: `/api/v1/labels?${q({ 'match[]': 'up', start: '-292273086-05-16T16:47:06Z' })}` },
  { path: `/api/v1/label/__name__/values?${q({ start: String(NOW_S - 3600), end: String(NOW_S) })}` },
  { path: `/api/v1/label/job/values?${q({ 'match[]': 'up' })}` },
  { path: '/api/v1/metadata' },
  { path: `/api/v1/metadata?${q({ metric: 'up', limit: '5' })}` },
  // Grafana sends exemplar times in milliseconds.
  { path: `/api/v1/query_exemplars?${q({ query: 'up', start: String(NOW_S * 1000 - 3_600_000), end: String(NOW_S * 1000) })}` },
  { method: 'POST', path: '/api/v1/query_exemplars', form: q({ query: 'up' }) },
  { path: `/api/v1/format_query?${q({ query: 'sum(rate(x[5m]))by(job)' })}` },
  { method: 'POST', path: '/api/v1/format_query', form: q({ query: 'up{job="a"}' }) },
];

/** Refusals answered with the same status, errorType and words. */
const SAME_ERROR: Asked[] = [
  { path: '/api/v1/query' },
  { method: 'POST', path: '/api/v1/query', form: '' },
  { path: `/api/v1/query?${q({ query: 'up', time: 'abc' })}` },
  { path: `/api/v1/query?${q({ query: '1', timeout: 'abc' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10', step: '0' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10', step: '-5' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '100000', step: '1' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '10', end: '0', step: '1' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', end: '10', step: '1' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: 'abc', end: '10', step: '1' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10', step: 'abc' })}` },
  { path: `/api/v1/query_range?${q({ query: '1', start: '0', end: '10', step: '1e300' })}` },
  { method: 'POST', path: '/api/v1/query_range', form: q({ query: '1', start: '0', end: '10', step: '0' }) },
  { path: '/api/v1/series' },
  { method: 'POST', path: '/api/v1/series', form: q({ start: '0' }) },
  { path: `/api/v1/series?${q({ 'match[]': '{}' })}` },
  { path: `/api/v1/series?${q({ 'match[]': '{job=""}' })}` },
  { path: `/api/v1/series?${q({ 'match[]': '{job=~".*"}' })}` },
  { path: `/api/v1/series?${q({ 'match[]': 'up', start: 'abc' })}` },
  { path: `/api/v1/labels?${q({ start: 'abc' })}` },
  { path: `/api/v1/label/job/values?${q({ end: 'abc' })}` },
  { path: '/api/v1/label/b%20ad/values' },
  { path: `/api/v1/query_exemplars?${q({ query: 'up', start: 'abc' })}` },
  { path: '/api/v1/format_query' },
];

/** Prometheus' parse errors, compared up to the position (the parser's words after it may differ). */
const SAME_PARSE_ERROR: Asked[] = [
  { path: `/api/v1/query?${q({ query: '1+' })}` },
  { path: `/api/v1/query?${q({ query: 'sum(up' })}` },
  { path: `/api/v1/series?${q({ 'match[]': 'up{' })}` },
  { path: `/api/v1/series?${q({ 'match[]': 'up{job=~"("}' })}` },
];

const METHODS: Asked[] = [
  { method: 'PUT', path: '/api/v1/query' },
  { method: 'PATCH', path: '/api/v1/query_range' },
  { method: 'DELETE', path: '/api/v1/labels' },
  { method: 'POST', path: '/api/v1/status/buildinfo' },
  { method: 'POST', path: '/api/v1/metadata' },
  { method: 'POST', path: '/api/v1/label/job/values' },
  { method: 'PUT', path: '/api/v1/format_query' },
  { method: 'DELETE', path: '/api/v1/query_exemplars' },
];

const show = (a: Asked) => `${a.method ?? 'GET'} ${a.path} ${a.form ?? ''}`;

describe('the Prometheus API beside Prometheus 2.42', () => {
  it.each(SAME_ANSWER.map((a) => [show(a), a] as const))('%s: the same answer', async (_name, a) => {
    const [theirs, ours] = await both(a);
    expect(theirs.status, JSON.stringify(theirs.body)).toBe(200);
    expect(ours.status, JSON.stringify(ours.body)).toBe(200);
    expect(ours.type).toBe(theirs.type);
    expect(ours.body).toEqual(theirs.body);
  });

  it.each(SAME_ERROR.map((a) => [show(a), a] as const))('%s: the same refusal', async (_name, a) => {
    const [theirs, ours] = await both(a);
    expect(theirs.status).toBe(400);
    expect(ours.status, JSON.stringify(ours.body)).toBe(theirs.status);
    expect(ours.type).toBe('application/json');
    const t = theirs.body as Record<string, unknown>;
    expect(ours.body).toMatchObject({ status: 'error', errorType: t['errorType'], error: t['error'], message: t['error'] });
  });

  it.each(SAME_PARSE_ERROR.map((a) => [show(a), a] as const))('%s: bad_data at the same position', async (_name, a) => {
    const [theirs, ours] = await both(a);
    expect(ours.status).toBe(theirs.status);
    const t = theirs.body as { errorType: string; error: string };
    const o = ours.body as { errorType: string; error: string };
    expect(o.errorType).toBe(t.errorType);
    const upToPosition = /^(invalid parameter "[^"]+": )?\d+:\d+: parse error/;
    expect(o.error.match(upToPosition)?.[0], o.error).toBe(t.error.match(upToPosition)?.[0]);
  });

  it.each(METHODS.map((a) => [show(a), a] as const))('%s: 405 with the methods Prometheus allows', async (_name, a) => {
    const [theirs, ours] = await both(a);
    expect(theirs.status).toBe(405);
    expect(ours.status).toBe(405);
    const methods = (allow: string | null) => (allow ?? '').split(',').map((m) => m.trim()).filter((m) => m && m !== 'OPTIONS').sort();
    expect(methods(ours.allow)).toEqual(methods(theirs.allow));
    // Ours is JSON, as every refusal of Tidemark's is.
    expect(ours.body).toMatchObject({ status: 'error', field: 'method' });
  });

  it("buildinfo has Prometheus' keys, all strings, and Tidemark's version", async () => {
    const [theirs, ours] = await both({ path: '/api/v1/status/buildinfo' });
    const t = theirs.body as { status: string; data: Record<string, unknown> };
    const o = ours.body as { status: string; data: Record<string, unknown> };
    expect(o.status).toBe(t.status);
    expect(Object.keys(o.data).sort()).toEqual(Object.keys(t.data).sort());
    for (const v of Object.values(o.data)) expect(typeof v).toBe('string');
    const { readFileSync } = await import('node:fs');
    expect(o.data['version']).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  });
});
