// The configured query limits (metrics/config.ts `query`), passed to the
// PromQL engine by the Prometheus API: with query.maxSamples 100, a query
// loading more answers 422 `execution` and a smaller one still answers.
// (The timeout: test/prometheus-api.test.ts.) Its own file: chDB opens one
// store per process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { fleetFixture, loadIntoStore } from './helpers/fleet-fixture.ts';

const END_S = Math.floor(Date.now() / 60_000) * 60 - 600;
const START_S = END_S - 6 * 3600;
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine([{ path: ['query', 'maxSamples'], value: 100 }]);
  await loadIntoStore(t.engine.ctx.store, 'default', fleetFixture({ clusters: ['c'], nodes: 2, startS: START_S, endS: END_S, intervalS: 60 }));
}, 120_000);

afterAll(async () => {
  await t?.close();
});

async function get(query: Record<string, string>) {
  const res = await t.engine.app.inject({ method: 'GET', url: `/api/v1/${query['start'] ? 'query_range' : 'query'}?${new URLSearchParams(query)}` });
  return { status: res.statusCode, body: res.json() as { status: string; errorType?: string; error?: string } };
}

describe('query.maxSamples', () => {
  it('config reads it, with Prometheus defaults otherwise', () => {
    expect(t.engine.ctx.config.query).toEqual({ timeout: '2m', maxSamples: 100 });
  });

  it('a query over the limit: 422 execution', async () => {
    const a = await get({ query: 'node_cpu_seconds_total', start: String(START_S), end: String(END_S), step: '60' });
    expect(a.status, JSON.stringify(a.body)).toBe(422);
    expect(a.body).toMatchObject({ status: 'error', errorType: 'execution' });
  });

  it('a query within it answers', async () => {
    const a = await get({ query: 'count(node_load1)', time: String(END_S) });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
  });
});
