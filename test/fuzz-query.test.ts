// Property tests of the query API through one in-process engine: random
// query strings for every parameter of range (GET), random and mutated range
// bodies (POST), the Prometheus API and utilisation views never get a 5xx; a 4xx
// is always our JSON error; the engine stays healthy. Fixed seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { rangeGetRequest, rangePostRequest, seriesRequest, prometheusApiRequest, utilisationRequest, statusesUnder } from './helpers/fuzz-requests.ts';

let running: TestEngine;
let app: FastifyInstance;
const nowS = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
  // Some data for the queries to find.
  const r = await app.inject({
    method: 'POST',
    url: '/api/v1/push',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ series: [{ labels: { __name__: 'fuzz_push', job: 'a', pod: 'p' }, samples: [[nowS - 120, 1], [nowS - 60, 2]] }] }),
  });
  expect(r.statusCode).toBe(204);
});

afterAll(async () => {
  await running?.close();
});

describe('query API under generated input', () => {
  it('range (GET): never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, rangeGetRequest, 300);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('range (POST): never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, rangePostRequest, 300);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('series: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, seriesRequest, 300);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('the Prometheus API (queries, labels, exemplars, formatting; GET and form POST): never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, prometheusApiRequest, 300);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  }, 120_000);

  // Fewer runs: each view runs four queries (about 0.2-0.7 s on a loaded 2-core machine); the parameters are only since and namespace.
  it('utilisation: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, utilisationRequest, 50);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  }, 120_000);

  it('the engine is still live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
