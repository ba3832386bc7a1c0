// The engine with auth on: the hook in front of every route, the token API
// mounted, health checks public, every route declaring what it needs
// (test/tenancy.test.ts tries each one as every role against another tenant).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { undeclaredRoutes } from '../core/auth/http.ts';

const ADMIN = 'engine-bootstrap-token-0123456789';
let t: TestEngine;

beforeAll(async () => {
  process.env['TIDEMARK_ADMIN_TOKEN'] = ADMIN;
  t = await startTestEngine([{ path: ['auth', 'enabled'], value: true }]);
}, 120_000);

afterAll(async () => {
  await t?.close();
  delete process.env['TIDEMARK_ADMIN_TOKEN'];
});

const get = (path: string, token?: string) => fetch(`${t.engine.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('an engine with auth on', () => {
  it('keeps health checks public and asks a token of everything else', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    const refused = await get('/api/v1/status');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'unauthorized', message: 'a valid bearer token is required' });
    expect((await get('/api/v1/status', ADMIN)).status).toBe(200);
  });

  it('mints tokens; a user token reads but may not manage tokens', async () => {
    const res = await fetch(`${t.engine.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', role: 'user', expires: '1h' }),
    });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: string };
    expect((await get('/api/v1/tokens', token)).status).toBe(403);
    expect((await get('/api/v1/status', token)).status).toBe(403); // engine-wide figures: cloud administrators only
    expect((await get('/api/v1/range?metric=up', token)).status).toBe(200);
    expect((await get('/api/v1/range?metric=up', ADMIN)).status).toBe(200);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin on writes', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>, method = 'GET', path = '/healthz') =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(t.engine.url);
        const req = request({ host: u.hostname, port: u.port, path, method, headers }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(method === 'POST' ? 'x' : undefined);
      });
    expect(await status({ host: 'rebound.example.com' })).toBe(421);
    expect(await status({ origin: 'https://evil.example.com', 'content-type': 'text/plain', authorization: `Bearer ${ADMIN}` }, 'POST', '/api/v1/tokens')).toBe(403);
  });

  it('has no route that declares nothing', () => {
    expect(undeclaredRoutes(t.engine.app)).toEqual([]);
  });
});
