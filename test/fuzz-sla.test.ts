// Property tests of the SLA API and the autoscaler's decision lookup through
// one in-process engine: the calculator input, probe results, exclusions and
// charges, random and mutated, never get a 5xx; a 4xx is always our JSON
// error; the engine stays healthy. Fixed seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { decisionsRequest, slaRequest, statusesUnder } from './helpers/fuzz-requests.ts';

let running: TestEngine;
let app: FastifyInstance;

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
});

afterAll(async () => {
  await running?.close();
});

describe('SLA and autoscaler API under generated input', () => {
  it('SLA compute, probes, exclusions, charges and reads: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, slaRequest, 400);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
  }, 120_000);

  it('autoscaler decisions: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, decisionsRequest, 200);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });

  it('the engine is still live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
