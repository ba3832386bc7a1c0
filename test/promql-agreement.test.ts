// Agreement with Prometheus, measured: the same samples are remote-written
// to a real Prometheus 2.42 (Debian's) and to a Tidemark engine; every
// query of test/promql/corpus.txt runs against both, as an instant query (at
// an unaligned time) and as a range query, and the answers are compared: labels
// exactly, values within 1e-9 relative (or 1e-12 absolute), NaN = NaN,
// errors by errorType. Prints `promql agreement: X/Y` and the queries that
// differ; fails below the agreement stated in docs/promql.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';
import { instantQuery, rangeQuery, PromQLError, type PromQLData } from '../metrics/promql/engine.ts';
import { requireBinary, startPeer, type Peer } from './helpers/peers.ts';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { fixtureWrites, HOURS } from './promql/fixture.ts';

/** Agreement below this fails the test (the figure docs/promql.md states). */
const MIN_AGREEMENT = 0.99;

const HOUR = 3_600_000;
// Whole hours a few hours back: inside both stores' retention, aligned so that steps fall on scrapes' minutes.
const T0 = Math.floor(Date.now() / HOUR) * HOUR - (HOURS + 1) * HOUR;
// One instant inside the stale stretch of batch_* at an unaligned time; past the data's end, lookback decides.
const INSTANT_TIMES = [T0 + 100 * 60_000 + 20_500];
const RANGE = { start: T0 + HOUR, end: T0 + 3 * HOUR, step: 60_000 };

type Outcome = { ok: true; data: PromQLData } | { ok: false; errorType: string; message: string };

interface Case {
  query: string;
  kind: 'instant' | 'range';
  time: number;
}

let prometheus: Peer;
let tidemark: TestEngine;
let promDir: string;

function corpus(): string[] {
  const text = readFileSync(new URL('./promql/corpus.txt', import.meta.url), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\$\{T\+(\d+)\}/g, (_, n: string) => String(T0 / 1000 + Number(n))));
}

async function write(url: string, body: Buffer): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`remote write to ${url}: ${res.status} ${text}`);
}

async function askPrometheus(c: Case): Promise<Outcome> {
  const form = new URLSearchParams({ query: c.query });
  let path = '/api/v1/query';
  if (c.kind === 'instant') form.set('time', String(c.time / 1000));
  else {
    path = '/api/v1/query_range';
    form.set('start', String(RANGE.start / 1000));
    form.set('end', String(RANGE.end / 1000));
    form.set('step', String(RANGE.step / 1000));
  }
  const res = await fetch(prometheus.baseUrl + path, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const body = (await res.json()) as { status: string; data: PromQLData; errorType: string; error: string };
  if (body.status === 'success') return { ok: true, data: body.data };
  return { ok: false, errorType: body.errorType, message: body.error };
}

async function askTidemark(c: Case): Promise<Outcome> {
  const opts = { tenant: tidemark.engine.ctx.config.tenant };
  const store = tidemark.engine.ctx.store;
  try {
    const answer = c.kind === 'instant' ? await instantQuery(store, c.query, c.time, opts) : await rangeQuery(store, c.query, RANGE.start, RANGE.end, RANGE.step, opts);
    return { ok: true, data: answer.data };
  } catch (e) {
    if (e instanceof PromQLError) return { ok: false, errorType: e.errorType, message: e.message };
    return { ok: false, errorType: 'internal', message: String((e as Error).stack ?? e) };
  }
}

function closeEnough(a: string, b: string): boolean {
  if (a === b) return true;
  const x = Number(a.replace('Inf', 'Infinity'));
  const y = Number(b.replace('Inf', 'Infinity'));
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y) && a === b;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= 1e-12 || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

function key(metric: Record<string, string>): string {
  return JSON.stringify(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Why the two outcomes differ, or null when they agree. */
function difference(query: string, p: Outcome, t: Outcome): string | null {
  if (!p.ok || !t.ok) {
    if (!p.ok && !t.ok) return p.errorType === t.errorType ? null : `errorType ${p.errorType} vs ${t.errorType} (${t.message})`;
    return p.ok ? `Tidemark failed: ${(t as { message: string }).message}` : `Prometheus failed (${p.errorType}: ${p.message}), Tidemark answered`;
  }
  const pd = p.data;
  const td = t.data;
  if (pd.resultType !== td.resultType) return `resultType ${pd.resultType} vs ${td.resultType}`;
  if (pd.resultType === 'scalar' || pd.resultType === 'string') {
    const [pt, pv] = pd.result;
    const [tt, tv] = td.result as [number, string];
    if (pt !== tt) return `time ${pt} vs ${tt}`;
    return (pd.resultType === 'string' ? pv === tv : closeEnough(pv, tv)) ? null : `value ${pv} vs ${tv}`;
  }
  if (pd.resultType === 'vector') {
    const tr = (td as typeof pd).result;
    if (pd.result.length !== tr.length) return `${pd.result.length} vs ${tr.length} samples: ${JSON.stringify(pd.result).slice(0, 300)} vs ${JSON.stringify(tr).slice(0, 300)}`;
    const ordered = /^\s*sort(_desc)?\(/.test(query);
    const tm = new Map(tr.map((s, i) => [key(s.metric), { s, i }]));
    for (let i = 0; i < pd.result.length; i++) {
      const s = pd.result[i]!;
      const other = tm.get(key(s.metric));
      if (!other) return `series ${key(s.metric)} missing from Tidemark's answer: ${JSON.stringify(tr).slice(0, 300)}`;
      if (ordered && other.i !== i && !closeEnough(tr[i]!.value[1], s.value[1])) return `order differs at ${i}`;
      if (s.value[0] !== other.s.value[0] || !closeEnough(s.value[1], other.s.value[1])) return `${key(s.metric)}: ${JSON.stringify(s.value)} vs ${JSON.stringify(other.s.value)}`;
    }
    return null;
  }
  const tr = (td as typeof pd).result;
  if (pd.result.length !== tr.length) return `${pd.result.length} vs ${tr.length} series: ${pd.result.map((s) => key(s.metric)).join(' ').slice(0, 300)} vs ${tr.map((s) => key(s.metric)).join(' ').slice(0, 300)}`;
  const tm = new Map(tr.map((s) => [key(s.metric), s]));
  for (const s of pd.result) {
    const other = tm.get(key(s.metric));
    if (!other) return `series ${key(s.metric)} missing from Tidemark's answer`;
    if (s.values.length !== other.values.length) return `${key(s.metric)}: ${s.values.length} vs ${other.values.length} points (first ${JSON.stringify(s.values[0])} vs ${JSON.stringify(other.values[0])})`;
    for (let i = 0; i < s.values.length; i++) {
      const [pt, pv] = s.values[i]!;
      const [tt, tv] = other.values[i]!;
      if (pt !== tt || !closeEnough(pv, tv)) return `${key(s.metric)} point ${i}: ${JSON.stringify([pt, pv])} vs ${JSON.stringify([tt, tv])}`;
    }
  }
  return null;
}

beforeAll(async () => {
  const binary = requireBinary('prometheus', 'prometheus');
  promDir = mkdtempSync(join(tmpdir(), 'tidemark-promql-agreement-'));
  writeFileSync(join(promDir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
  prometheus = await startPeer({
    name: 'prometheus',
    binary,
    args: (port) => [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=30d',
    ],
    readyPath: '/-/ready',
    timeoutMs: 30_000,
  });
  tidemark = await startTestEngine();
  for (const request of fixtureWrites(T0)) {
    const body = encodeWriteRequest(request);
    await write(`${prometheus.baseUrl}/api/v1/write`, body);
    await write(`${tidemark.engine.url}/api/v1/write`, body);
  }
}, 60_000);

afterAll(async () => {
  await tidemark?.close();
  await prometheus?.stop();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
});

describe('PromQL agreement with Prometheus 2.42', () => {
  it('answers the corpus as Prometheus does', async () => {
    const all = corpus();
    expect(all.length).toBeGreaterThanOrEqual(300);
    // PROMQL_AGREEMENT_FILTER=<regex> runs part of the corpus while working on the engine; the threshold still applies.
    const filter = process.env['PROMQL_AGREEMENT_FILTER'];
    const queries = filter ? all.filter((q) => new RegExp(filter).test(q)) : all;
    const cases: Case[] = [];
    for (const query of queries) {
      for (const time of INSTANT_TIMES) cases.push({ query, kind: 'instant', time });
      cases.push({ query, kind: 'range', time: 0 });
    }
    const differences: string[] = [];
    let agreed = 0;
    let slowest = { ms: 0, query: '' };
    const began = performance.now();
    // A few cases at a time: Prometheus and the store both answer concurrent queries.
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const started = performance.now();
        const [p, t] = await Promise.all([askPrometheus(c), askTidemark(c)]);
        const ms = performance.now() - started;
        if (ms > slowest.ms) slowest = { ms, query: c.query };
        const why = difference(c.query, p, t);
        if (why === null) agreed++;
        else differences.push(`  ${c.kind}${c.kind === 'instant' ? `@${(c.time - T0) / 1000}s` : ''} ${c.query}\n      ${why}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    if (differences.length > 0) console.log(`disagreements:\n${differences.join('\n')}`);
    console.log(`${cases.length} cases in ${Math.round(performance.now() - began)} ms; slowest ${Math.round(slowest.ms)} ms: ${slowest.query}`);
    console.log(`promql agreement: ${agreed}/${cases.length}`);
    expect(agreed / cases.length).toBeGreaterThanOrEqual(MIN_AGREEMENT);
  }, 600_000);
});
