// Tokens and the audit trail in a real (embedded) store, through the token
// API and the `tidemark tokens` CLI on a bare HTTP server with the auth hook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { openTestStore, type TestStore } from './helpers/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { authMigrations } from '../core/auth/schema.ts';
import { TokenStore, hashToken, looksLikeToken } from '../core/auth/tokens.ts';
import { createAuth } from '../core/auth/service.ts';
import { tokensCommand } from '../core/auth/cli.ts';
import { createHttpServer } from '../core/http.ts';
import { loadConfig } from '../bin/config.ts';
import { silentLogger } from '../core/log.ts';

const ADMIN = 'the-bootstrap-admin-token-0123456789';
let ts: TestStore;
let app: FastifyInstance;

beforeAll(async () => {
  ts = await openTestStore('tidemark_auth');
  await migrate(ts.store, schemaContext(ts.store, { rawRetentionDays: 30, rollupRetentionDays: 30 }), authMigrations);
  const config = loadConfig({ env: {}, overrides: [{ path: ['auth', 'enabled'], value: true }, { path: ['tenant'], value: 'default' }] });
  const auth = createAuth(config, ts.store, silentLogger, { TIDEMARK_ADMIN_TOKEN: ADMIN });
  app = createHttpServer({ bodyLimit: 1 << 20, auth: auth.setup });
  await auth.routes(app, undefined as never);
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await ts?.close();
});

const as = (secret: string, tenant?: string) => ({ authorization: `Bearer ${secret}`, ...(tenant ? { 'x-scope-orgid': tenant } : {}) });

async function mint(secret: string, body: Record<string, unknown>, tenant?: string) {
  return app.inject({ method: 'POST', url: '/api/v1/tokens', headers: as(secret, tenant), payload: body });
}

describe('TokenStore', () => {
  it('stores only the hash, finds a token by its secret, and revokes by id', async () => {
    const tokens = new TokenStore(ts.store);
    const { secret, record } = await tokens.create({ tenants: ['acme'], role: 'user', expiresAt: Date.now() + 60_000, creator: 'test', name: 'grafana' });
    expect(looksLikeToken(secret)).toBe(true);
    expect(Buffer.from(secret.slice(4), 'base64url').length).toBe(32);
    const raw = await ts.store.queryText(`SELECT * FROM tidemark_auth.auth_tokens`);
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(secret.slice(4));
    expect(raw).toContain(hashToken(secret));
    expect(await tokens.lookup(secret)).toEqual(record);
    expect(await new TokenStore(ts.store).lookup(secret)).toEqual(record); // from the store, not the cache
    expect(await tokens.lookup(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    const revoked = await tokens.revoke(record.id);
    expect(revoked?.revokedAt).toBeGreaterThan(0);
    expect((await tokens.lookup(secret))?.revokedAt).toBe(revoked?.revokedAt);
    expect((await tokens.get(record.id))?.revokedAt).toBe(revoked?.revokedAt);
    expect(await tokens.revoke('no-such-id')).toBeNull();
  });

  it('sees a revocation made by another replica once its cache entry expires', async () => {
    let now = Date.now();
    const a = new TokenStore(ts.store, { cacheTtlMs: 5000 });
    const b = new TokenStore(ts.store, { cacheTtlMs: 5000, now: () => now });
    const { secret, record } = await a.create({ tenants: ['acme'], role: 'ingest', expiresAt: now + 60_000, creator: 'test' });
    expect((await b.lookup(secret))?.revokedAt).toBeNull();
    await a.revoke(record.id);
    expect((await a.lookup(secret))?.revokedAt).not.toBeNull(); // at once where it was revoked
    expect((await b.lookup(secret))?.revokedAt).toBeNull(); // still cached elsewhere…
    now += 5001;
    expect((await b.lookup(secret))?.revokedAt).not.toBeNull(); // …until the TTL passes
  });

  it('renews an entry in the last fifth of its TTL in the background, so a revocation elsewhere is seen before the entry expires', async () => {
    let now = Date.now();
    const a = new TokenStore(ts.store, { cacheTtlMs: 5000 });
    const b = new TokenStore(ts.store, { cacheTtlMs: 5000, now: () => now });
    const { secret, record } = await a.create({ tenants: ['acme'], role: 'ingest', expiresAt: now + 60_000, creator: 'test' });
    expect((await b.lookup(secret))?.revokedAt).toBeNull();
    await a.revoke(record.id);
    now += 4200; // still cached, in its last fifth
    expect((await b.lookup(secret))?.revokedAt).toBeNull(); // answered from the cache at once…
    const until = Date.now() + 10_000;
    while ((await b.lookup(secret))?.revokedAt == null && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect((await b.lookup(secret))?.revokedAt).not.toBeNull(); // …and renewed from the store before the TTL passed
  });
});

describe('the token API', () => {
  it('mints, lists without secrets, enforces role ceilings and tenants, revokes at once, and audits', async () => {
    const created = await mint(ADMIN, { tenant: 'acme', role: 'project-admin', expires: '1d', name: 'acme admin' });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const padmin = created.json() as { token: string; id: string; tenants: string[]; state: string };
    expect(padmin).toMatchObject({ tenants: ['acme'], state: 'active', role: 'project-admin' });
    expect(looksLikeToken(padmin.token)).toBe(true);

    // A project admin grants at or below its role, on its own tenants only.
    expect((await mint(padmin.token, { role: 'cloud-admin' })).statusCode).toBe(403);
    expect((await mint(padmin.token, { role: 'user', tenant: 'beta' })).statusCode).toBe(403);
    const user = (await mint(padmin.token, { role: 'user' })).json() as { token: string; id: string; tenants: string[] };
    expect(user.tenants).toEqual(['acme']);
    const ingest = (await mint(padmin.token, { role: 'ingest', expires: new Date(Date.now() + 3_600_000).toISOString() })).json() as { id: string };

    // Users and ingest tokens manage nothing.
    expect((await app.inject({ url: '/api/v1/tokens', headers: as(user.token) })).statusCode).toBe(403);
    expect((await mint(user.token, { role: 'user' })).statusCode).toBe(403);

    const list = await app.inject({ url: '/api/v1/tokens', headers: as(padmin.token) });
    expect(list.statusCode).toBe(200);
    const ids = (list.json().tokens as { id: string }[]).map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining([padmin.id, user.id, ingest.id]));
    expect(list.body).not.toContain(user.token);
    expect(list.body).not.toContain('"token"');
    expect(list.body).not.toContain('hash');

    // Another tenant's admin cannot see, list or revoke acme's tokens.
    const other = (await mint(ADMIN, { tenant: 'beta', role: 'project-admin' })).json() as { token: string };
    expect((await app.inject({ url: '/api/v1/tokens', headers: as(other.token) })).json().tokens.map((t: { id: string }) => t.id)).not.toContain(user.id);
    expect((await app.inject({ url: '/api/v1/tokens', headers: as(other.token, 'acme') })).statusCode).toBe(403);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${user.id}`, headers: as(other.token) })).statusCode).toBe(404);

    expect((await app.inject({ url: '/api/v1/tokens', headers: as(user.token.replace('tdm_', 'tdm_x').slice(0, 47)) })).statusCode).toBe(401);
    const del = await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${user.id}`, headers: as(padmin.token) });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ id: user.id, state: 'revoked' });
    const after = await mint(user.token, { role: 'user' });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toEqual({ error: 'unauthorized', message: 'a valid bearer token is required' });

    const audit = await app.inject({ url: '/api/v1/audit', headers: as(padmin.token) });
    expect(audit.statusCode).toBe(200);
    const entries = audit.json().entries as { method: string; route: string; principal: string; resource: string; status: number }[];
    expect(entries.map((e) => `${e.principal} ${e.method} ${e.resource} ${e.status}`)).toEqual(
      expect.arrayContaining([`bootstrap POST /api/v1/tokens 201`, `${padmin.id} POST /api/v1/tokens 201`, `${padmin.id} DELETE /api/v1/tokens/${user.id} 200`]),
    );
    expect(entries.every((e) => e.status < 300)).toBe(true); // refusals are not changes
    const beta = (await app.inject({ url: '/api/v1/audit', headers: as(other.token) })).json().entries as { resource: string }[];
    expect(beta.some((e) => e.resource.includes(user.id))).toBe(false);
  });

  it('names the field of bad input and stores nothing of it', async () => {
    const before = (await app.inject({ url: '/api/v1/tokens?all=true', headers: as(ADMIN) })).json().tokens.length as number;
    for (const [body, field] of [
      [{ role: 'root', tenant: 'acme' }, 'role'],
      [{ role: 'user', tenant: 'a b' }, 'tenant'],
      [{ role: 'user', tenant: 'acme', expires: 'yesterday' }, 'expires'],
      [{ role: 'user', tenant: 'acme', expires: '2001-01-01T00:00:00Z' }, 'expires'],
      [{ role: 'user', tenant: 'acme', secret: 'mine' }, '(root)'],
      [{ role: 'ingest', tenants: ['a', 'b'] }, undefined],
    ] as const) {
      const res = await mint(ADMIN, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(field === undefined ? 403 : 400);
      if (field) expect(res.json().field).toBe(field);
    }
    const plain = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...as(ADMIN), 'content-type': 'text/plain' }, payload: '{"role":"user","tenant":"acme"}' });
    expect(plain.statusCode).toBe(415);
    expect((await app.inject({ url: '/api/v1/audit?limit=0', headers: as(ADMIN) })).json().field).toBe('limit');
    expect((await app.inject({ url: '/api/v1/tokens?all=true', headers: as(ADMIN) })).json().tokens.length).toBe(before);
  });
});

describe('tidemark tokens', () => {
  it('creates, lists and revokes through a running engine', async () => {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      process.exitCode = undefined;
      await tokensCommand({ stdout: (s) => out.push(s), stderr: (s) => err.push(s) }).parseAsync([...args, '--url', url], { from: 'user' });
      const code = process.exitCode;
      process.exitCode = undefined;
      return { out: out.join(''), err: err.join(''), code };
    };
    const created = await run('create', '--role', 'ingest', '--tenant', 'acme', '--expires', '7d', '--name', 'collector', '--token', ADMIN);
    expect(created.code).toBeUndefined();
    const secret = created.out.trim();
    expect(looksLikeToken(secret)).toBe(true);
    const id = /token (\S+) /.exec(created.err)![1]!;
    const listed = await run('list', '--all', '--token', ADMIN);
    expect(listed.out).toMatch(new RegExp(`^${id}\\tingest\\tacme\\tactive\\t.*collector$`, 'm'));
    expect(listed.out).not.toContain(secret);
    expect((await run('revoke', id, '--token', ADMIN)).out).toBe(`revoked ${id}\n`);
    expect((await run('list', '--all', '--json', '--token', ADMIN)).out).toContain(`"id":"${id}"`);
    const refused = await run('list', '--token', secret);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/401 unauthorized/);
  });
});
