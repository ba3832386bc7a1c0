// The whole engine in this process on its embedded store: push and
// remote_write in, range queries and the CLI out, bad input refused whole,
// a store outage answered 503 and recovered from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Engine } from '../bin/engine.ts';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';

const run = promisify(execFile);
let running: TestEngine;
let engine: Engine;
const now = Math.floor(Date.now() / 1000);

async function push(body: unknown): Promise<Response> {
  return fetch(`${engine.url}/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function range(params: Record<string, string>): Promise<{ status: number; body: { series: { labels: Record<string, string>; points: [number, number | null][] }[]; table: string; error?: string; field?: string } }> {
  const r = await fetch(`${engine.url}/api/v1/range?${new URLSearchParams(params)}`);
  return { status: r.status, body: (await r.json()) as never };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await fn();
  }
  return v;
}

beforeAll(async () => {
  running = await startTestEngine([{ path: ['server', 'bodyLimit'], value: 64 * 1024 }]);
  engine = running.engine;
});

afterAll(async () => {
  await running?.close();
});

describe('engine', () => {
  it('is live and ready', async () => {
    expect((await fetch(`${engine.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${engine.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { store: true, bus: true } });
  });

  it('stores pushed samples and answers range queries', async () => {
    const r = await push({
      series: [
        { labels: { __name__: 'e2e_temp', room: 'a' }, samples: [[now - 30, 20], [now - 15, 22]] },
        { labels: { __name__: 'e2e_temp', room: 'b' }, samples: [[now - 30, 30]] },
      ],
    });
    expect(r.status).toBe(204);
    const answer = await eventually(
      () => range({ metric: 'e2e_temp', fn: 'avg', since: '5m', step: '15s' }),
      (a) => a.body.series.length === 2,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.table).toBe('samples');
    expect(answer.body.series[0]!.labels).toEqual({ __name__: 'e2e_temp', room: 'a' });
    expect(answer.body.series[0]!.points.map((p) => p[1])).toEqual([20, 22]);
    const grouped = await range({ metric: 'e2e_temp', fn: 'max', by: '__name__', since: '5m', step: '300s' });
    expect(grouped.body.series).toHaveLength(1);
    expect(grouped.body.series[0]!.points.reduce((m, p) => Math.max(m, p[1] ?? 0), 0)).toBe(30);
  });

  it('accepts remote_write and the CLI prints exactly the documented JSON', async () => {
    const body = encodeWriteRequest([{ labels: { __name__: 'e2e_rw', job: 'x' }, samples: [{ timestamp: (now - 10) * 1000, value: 42 }] }]);
    const r = await fetch(`${engine.url}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body,
    });
    expect(r.status).toBe(204);
    await eventually(() => range({ metric: 'e2e_rw', since: '5m' }), (a) => a.body.series.length === 1);
    const { stdout } = await run(process.execPath, ['bin/tidemark.js', 'query', 'e2e_rw', '--since', '5m', '--json', '--url', engine.url]);
    const printed = JSON.parse(stdout) as unknown;
    expect(Object.keys(printed as object)).toEqual(['series']);
    expect(printed).toEqual({ series: [{ labels: { __name__: 'e2e_rw', job: 'x' }, points: [[expect.any(Number), 42]] }] });
  });

  it('refuses a request with one bad series whole, naming it', async () => {
    const r = await push({
      series: [
        { labels: { __name__: 'e2e_partial', k: 'v' }, samples: [[now, 1]] },
        { labels: { __name__: 'e2e_partial', '1bad': 'v' }, samples: [[now, 1]] },
      ],
    });
    expect(r.status).toBe(400);
    const err = (await r.json()) as { error: string; message: string };
    expect(err.message).toMatch(/1bad/);
    await new Promise((res) => setTimeout(res, 500));
    const q = await range({ metric: 'e2e_partial', since: '5m' });
    expect(q.body.series).toEqual([]);
  });

  it('answers 413 for an oversized body and 415 for a wrong content type, and keeps running', async () => {
    const big = await fetch(`${engine.url}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(128 * 1024) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('body_too_large');
    const wrong = await fetch(`${engine.url}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(wrong.status).toBe(415);
    expect((await fetch(`${engine.url}/healthz`)).status).toBe(200);
  });

  it('names the field of a bad query', async () => {
    const bad = await range({ metric: 'e2e_temp', fn: 'median' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('fn');
    const badMatch = await range({ metric: 'e2e_temp', match: 'pod=~(' });
    expect(badMatch.status).toBe(400);
    expect(badMatch.body.field).toBe('match[0]');
  });

  it('answers 503 with Retry-After while the store refuses inserts, and recovers', async () => {
    await engine.ctx.store.command(`DETACH TABLE ${engine.ctx.store.table('samples')}`);
    // A 2xx means stored (group commit): this push is answered once its insert is done, or 503 after the receiver's wait.
    const held = push({ series: [{ labels: { __name__: 'e2e_outage' }, samples: [[now - 5, 1]] }] });
    try {
      // The failed insert makes the bus not ready; the next sender is told to come back.
      const refused = await eventually(
        () => push({ series: [{ labels: { __name__: 'e2e_outage2' }, samples: [[now - 5, 2]] }] }),
        (r) => r.status === 503,
        10_000,
      );
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect((await fetch(`${engine.url}/readyz`)).status).toBe(503);
    } finally {
      await engine.ctx.store.command(`ATTACH TABLE ${engine.ctx.store.table('samples')}`);
    }
    // Answered 204 if the store came back within the receiver's wait, else 503 (send again); stored either way.
    expect([204, 503]).toContain((await held).status);
    // The held delivery is retried; nothing accepted is lost.
    const back = await eventually(() => range({ metric: 'e2e_outage', since: '5m' }), (a) => a.body.series.length === 1);
    expect(back.body.series[0]!.points.map((p) => p[1])).toEqual([1]);
    expect((await eventually(() => fetch(`${engine.url}/readyz`), (r) => r.status === 200)).status).toBe(200);
  });

  it('reports its status to `tidemark status`', async () => {
    const { stdout } = await run(process.execPath, ['bin/tidemark.js', 'status', '--json', '--url', engine.url]);
    const status = JSON.parse(stdout) as { role: string; bus: { kind: string; ready: boolean }; ingest: { samplesStored: number } };
    expect(status.role).toBe('all');
    expect(status.bus).toMatchObject({ kind: 'memory', ready: true });
    expect(status.ingest.samplesStored).toBeGreaterThanOrEqual(4);
    const text = await run(process.execPath, ['bin/tidemark.js', 'status', '--url', engine.url]);
    expect(text.stdout).toMatch(/^bus\s+memory \(ready\)/m);
  });

  it('exposes its own metrics', async () => {
    const text = await (await fetch(`${engine.url}/metrics`)).text();
    expect(text).toMatch(/tidemark_ingest_samples_total \d+/);
    expect(text).toMatch(/tidemark_bus_depth\{topic="metrics"\}/);
    const ingested = Number(/tidemark_ingest_samples_total (\d+)/.exec(text)![1]);
    expect(ingested).toBeGreaterThanOrEqual(4);
  });
});
