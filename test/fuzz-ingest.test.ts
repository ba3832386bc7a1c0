// Property tests of the receivers through one in-process engine: random and
// mutated remote_write bodies (snappy'd and not), JSON pushes and exposition
// text never get a 5xx, a 4xx is always our JSON error, and the engine stays
// healthy. Fixed seed: a failure replays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { importRequest, pushRequest, remoteWriteRequest, statusesUnder } from './helpers/fuzz-requests.ts';

let running: TestEngine;
let app: FastifyInstance;

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
});

afterAll(async () => {
  await running?.close();
});

describe('receivers under generated input', () => {
  it('remote_write: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, remoteWriteRequest, 400);
    // The generator reaches both sides of the edge.
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(204)).toBeGreaterThan(0);
  });

  it('JSON push: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, pushRequest, 400);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(204)).toBeGreaterThan(0);
  });

  it('exposition import: never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, importRequest, 400);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(204)).toBeGreaterThan(0);
  });

  it('the engine is still live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
