// Property test of the Loki query API through one in-process engine with
// log lines in it: generated LogQL (real fragments mixed with edge strings)
// and parameters never get a 5xx; a 4xx is always our JSON error; the
// engine stays healthy. Fixed seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { lokiQueryRequest, statusesUnder } from './helpers/fuzz-requests.ts';
import { insertLogLines } from '../logs/store.ts';

let running: TestEngine;
let app: FastifyInstance;

beforeAll(async () => {
  running = await startTestEngine();
  app = running.engine.app;
  const now = BigInt(Date.now()) * 1_000_000n;
  await insertLogLines(
    running.engine.ctx.store,
    Array.from({ length: 200 }, (_, i) => ({
      tenant: 'default',
      tsNs: now - BigInt(i) * 1_000_000_000n,
      labels: { app: i % 2 ? 'web' : 'db', namespace: 'shop', pod: `p-${i % 5}` },
      line: i % 3 ? JSON.stringify({ level: 'error', status: 500 + (i % 4), msg: `m ${i}`, ip: '10.1.2.3' }) : `level=info msg="x ${i}" took=${i}ms`,
    })),
  );
});

afterAll(async () => {
  await running?.close();
});

describe('Loki query API under generated input', () => {
  it('never a 5xx, 4xx always a JSON error', async () => {
    const statuses = await statusesUnder(app, lokiQueryRequest, 400);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  }, 180_000);

  it('the engine is still live and ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
