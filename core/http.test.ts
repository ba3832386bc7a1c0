import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createHttpServer, fastifyClientError, HttpError } from './http.ts';
import { InputError } from './errors.ts';

function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('HTTP errors', () => {
  it('logs an unexpected 500 once with the request id the answer carries', async () => {
    const { log, lines } = capturingLogger();
    const app = createHttpServer({ bodyLimit: 1024, log });
    app.get('/boom', async () => {
      throw new Error('Aggregate function any(labels) is found in WHERE');
    });
    const r = await app.inject({ method: 'GET', url: '/boom' });
    expect(r.statusCode).toBe(500);
    const body = r.json<{ error: string; message: string; requestId: string }>();
    expect(body).toMatchObject({ error: 'internal', message: expect.stringMatching(/Aggregate/) });
    expect(body.requestId).toBeTruthy();
    await new Promise((res) => setImmediate(res));
    const failures = lines.filter((l) => l['msg'] === 'request failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ requestId: body.requestId, url: '/boom', status: 500 });
    await app.close();
  });

  it('does not log 4xx answers or back-pressure 503s', async () => {
    const { log, lines } = capturingLogger();
    const app = createHttpServer({ bodyLimit: 1024, log });
    app.get('/bad', async () => {
      throw new InputError('x', 'bad');
    });
    app.get('/busy', async () => {
      throw new HttpError(503, 'overloaded', 'retry later', undefined, { 'Retry-After': '5' });
    });
    expect((await app.inject({ method: 'GET', url: '/bad' })).json()).toEqual({ error: 'invalid_input', message: 'x: bad', field: 'x' });
    const busy = await app.inject({ method: 'GET', url: '/busy' });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('5');
    await new Promise((res) => setImmediate(res));
    expect(lines.filter((l) => l['msg'] === 'request failed')).toHaveLength(0);
    await app.close();
  });

  it("maps fastify's client errors to a code and the field at fault", () => {
    expect(fastifyClientError('FST_ERR_CTP_BODY_TOO_LARGE')).toEqual({ error: 'body_too_large', field: 'body' });
    expect(fastifyClientError('FST_ERR_CTP_INVALID_MEDIA_TYPE')).toEqual({ error: 'unsupported_media_type', field: 'content-type' });
    expect(fastifyClientError(undefined)).toEqual({ error: 'bad_request', field: 'body' });
    expect(fastifyClientError('FST_ERR_CTP_EMPTY_JSON_BODY')).toEqual({ error: 'bad_request', field: 'body' });
  });
});
