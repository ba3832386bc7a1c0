// Property tests of the log receivers and search through one in-process
// engine: generated and mutated Loki pushes (JSON and protobuf, snappy'd or
// not, cut short), audit EventLists, Faro bodies and search query strings
// never get a 5xx, a 4xx is always our JSON error, and the engine stays
// healthy. Fixed seed: a failure replays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { auditRequest, faroRequest, logSearchRequest, lokiPushRequest, statusesUnder } from './helpers/fuzz-requests.ts';

let running: TestEngine;
let app: FastifyInstance;

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
});

afterAll(async () => {
  await running?.close();
});

describe('log receivers and search under generated input', () => {
  it('Loki push: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, lokiPushRequest, 250);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(204)).toBeGreaterThan(0);
  });

  it('audit EventList: never a 5xx', async () => {
    const statuses = await statusesUnder(app, auditRequest, 150);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('Faro: never a 5xx', async () => {
    const statuses = await statusesUnder(app, faroRequest, 150);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(202)).toBeGreaterThan(0);
  });

  it('search: never a 5xx', async () => {
    const statuses = await statusesUnder(app, logSearchRequest, 300);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('the engine is still live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
