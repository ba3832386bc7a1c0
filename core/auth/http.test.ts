import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import { createHttpServer } from '../http.ts';
import { installAuth, undeclaredRoutes, type AuthSetup } from './http.ts';
import { hashToken, newTokenSecret, type TokenRecord } from './tokens.ts';
import { OidcVerifier } from './oidc.ts';
import type { AuditEntry, AuditTrail } from './audit.ts';
import type { Role } from './roles.ts';

const NOW = Date.UTC(2026, 10, 1);
const ADMIN_SECRET = 'bootstrap-secret-of-some-length';

/** Tokens held in memory: the hook only needs a lookup by secret. */
function memoryTokens() {
  const bySecret = new Map<string, TokenRecord>();
  return {
    lookups: 0,
    add(role: Role, tenants: string[], over: Partial<TokenRecord> = {}): string {
      const secret = newTokenSecret();
      bySecret.set(secret, { id: `id-${bySecret.size}`, name: '', role, tenants, creator: 't', createdAt: NOW - 1000, expiresAt: NOW + 3_600_000, revokedAt: null, ...over });
      return secret;
    },
    async lookup(secret: string) {
      this.lookups++;
      return bySecret.get(secret) ?? null;
    },
  };
}

function memoryAudit(): AuditTrail & { entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return {
    entries,
    async record(e) {
      entries.push(e);
    },
    async list(tenant) {
      return entries.filter((e) => e.tenant === tenant);
    },
  };
}

interface Harness {
  app: FastifyInstance;
  tokens: ReturnType<typeof memoryTokens>;
  audit: ReturnType<typeof memoryAudit>;
  /** Requests that reached a handler. */
  handled: string[];
}

let open: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of open) await app.close();
  open = [];
});

async function harness(over: Partial<AuthSetup> = {}): Promise<Harness> {
  const tokens = memoryTokens();
  const audit = memoryAudit();
  const setup: AuthSetup = {
    enabled: true,
    defaultTenant: 'default',
    tokens,
    adminTokenHash: hashToken(ADMIN_SECRET),
    bind: { host: '127.0.0.1', port: 8080 },
    allowedOrigins: ['https://grafana.example.com'],
    audit,
    now: () => NOW,
    ...over,
  };
  const app = createHttpServer({ bodyLimit: 1 << 20, auth: setup });
  open.push(app);
  const handled: string[] = [];
  const answer = async (req: { method: string; url: string; tenant: string; principal: { id: string } }) => {
    handled.push(`${req.method} ${req.url}`);
    return { tenant: req.tenant, principal: req.principal.id };
  };
  app.get('/read', { config: { auth: { action: 'read' } } }, answer);
  app.post('/write', { config: { auth: { action: 'write' } } }, answer);
  app.post('/ingest', { config: { auth: { action: 'ingest', contentTypes: ['application/x-protobuf', 'text/plain'] } } }, answer);
  app.delete('/things/:id', { config: { auth: { action: 'admin' } } }, answer);
  app.get('/healthz', { config: { auth: { action: 'public' } } }, answer);
  app.get('/engine', { config: { auth: { action: 'read', engineWide: true } } }, answer);
  app.get('/legacy', answer);
  await app.ready();
  return { app, tokens, audit, handled };
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

describe('authentication', () => {
  it('answers 401 unauthorized, saying nothing else, for a missing, malformed, unknown, expired or revoked token', async () => {
    const h = await harness();
    const expired = h.tokens.add('user', ['acme'], { expiresAt: NOW - 1 });
    const revoked = h.tokens.add('user', ['acme'], { revokedAt: NOW - 5 });
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Basic dXNlcjpwdw==' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer a b' },
      bearer('tdm_short'),
      bearer(newTokenSecret()),
      bearer(expired),
      bearer(revoked),
      bearer('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'), // a JWT with no OIDC configured
    ];
    for (const headers of cases) {
      const res = await h.app.inject({ method: 'GET', url: '/read', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json()).toEqual({ error: 'unauthorized', message: 'a valid bearer token is required' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect(h.handled).toEqual([]);
  });

  it('takes our tokens and the bootstrap token, and sets the principal and tenant', async () => {
    const h = await harness();
    const user = h.tokens.add('user', ['acme']);
    expect((await h.app.inject({ url: '/read', headers: bearer(user) })).json()).toEqual({ tenant: 'acme', principal: 'id-0' });
    expect((await h.app.inject({ url: '/read', headers: bearer(ADMIN_SECRET) })).json()).toEqual({ tenant: 'default', principal: 'bootstrap' });
    expect((await h.app.inject({ url: '/read', headers: { ...bearer(ADMIN_SECRET), 'x-scope-orgid': 'zeta' } })).json()).toEqual({ tenant: 'zeta', principal: 'bootstrap' });
  });

  it('verifies OIDC JWTs against the issuer keys, roles and tenants from claims', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] });
    const oidc = new OidcVerifier({ issuer: 'https://id.example.com', rolesClaim: 'roles', tenantsClaim: 'tenants' }, keys);
    const h = await harness({ oidc });
    const jwt = await new SignJWT({ roles: ['user'], tenants: ['acme'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer('https://id.example.com')
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await h.app.inject({ url: '/read', headers: bearer(jwt) })).json()).toEqual({ tenant: 'acme', principal: 'oidc:alice' });
    expect((await h.app.inject({ method: 'POST', url: '/write', headers: bearer(jwt), payload: {} })).statusCode).toBe(403);
    expect((await h.app.inject({ url: '/read', headers: bearer(`${jwt.slice(0, -4)}AAAA`) })).statusCode).toBe(401);
  });
});

describe('authorisation', () => {
  // [role, tenants, method, url, X-Scope-OrgID, status]
  const table: [Role, string[], 'GET' | 'POST' | 'DELETE', string, string | undefined, number][] = [
    ['user', ['acme'], 'GET', '/read', undefined, 200],
    ['user', ['acme'], 'GET', '/read', 'beta', 403],
    ['user', ['acme'], 'POST', '/write', undefined, 403],
    ['user', ['acme'], 'POST', '/ingest', undefined, 403],
    ['user', ['acme'], 'DELETE', '/things/1', undefined, 403],
    ['ingest', ['acme'], 'POST', '/ingest', undefined, 200],
    ['ingest', ['acme'], 'POST', '/ingest', 'beta', 403],
    ['ingest', ['acme'], 'GET', '/read', undefined, 403],
    ['project-admin', ['acme', 'beta'], 'POST', '/write', 'beta', 200],
    ['project-admin', ['acme', 'beta'], 'POST', '/write', 'gamma', 403],
    ['project-admin', ['acme'], 'DELETE', '/things/1', undefined, 200],
    ['project-admin', ['acme'], 'GET', '/legacy', undefined, 403],
    ['cloud-admin', [], 'GET', '/legacy', undefined, 200],
    ['project-admin', ['acme'], 'GET', '/engine', undefined, 403],
    ['user', ['acme'], 'GET', '/engine', undefined, 403],
    ['cloud-admin', [], 'GET', '/engine', undefined, 200],
    ['cloud-admin', [], 'DELETE', '/things/1', 'anyone', 200],
    ['user', ['acme'], 'GET', '/read', 'two|tenants', 400],
  ];
  it.each(table)('%s of %o: %s %s as %s → %i', async (role, tenants, method, url, orgId, status) => {
    const h = await harness();
    const secret = h.tokens.add(role, tenants);
    const headers: Record<string, string> = { ...bearer(secret), ...(orgId ? { 'x-scope-orgid': orgId } : {}) };
    const payload = url === '/ingest' ? { body: 'x 1', type: 'text/plain' } : method === 'POST' ? { body: '{}', type: 'application/json' } : undefined;
    const res = await h.app.inject({ method, url, headers: { ...headers, ...(payload ? { 'content-type': payload.type } : {}) }, payload: payload?.body });
    expect(res.statusCode).toBe(status);
    if (status === 403) expect(res.json().error).toBe('forbidden');
    if (status === 400) expect(res.json().field).toBe('x-scope-orgid');
    expect(h.handled.length).toBe(status === 200 ? 1 : 0);
  });

  it('lets public routes through without a token', async () => {
    const h = await harness();
    expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers an unknown route 404 only to the authenticated', async () => {
    const h = await harness();
    expect((await h.app.inject({ url: '/nope' })).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/nope', headers: bearer(ADMIN_SECRET) })).statusCode).toBe(404);
  });
});

describe('auth off', () => {
  it('makes every request a cloud-admin on the default tenant, X-Scope-OrgID ignored', async () => {
    const h = await harness({ enabled: false, tokens: undefined });
    expect((await h.app.inject({ url: '/read' })).json()).toEqual({ tenant: 'default', principal: 'anonymous' });
    expect((await h.app.inject({ url: '/legacy', headers: { 'x-scope-orgid': 'other' } })).json()).toEqual({ tenant: 'default', principal: 'anonymous' });
    expect((await h.app.inject({ method: 'DELETE', url: '/things/1' })).statusCode).toBe(200);
  });
});

describe('web hygiene (auth on or off)', () => {
  it.each([true, false])('refuses foreign Host headers (DNS rebinding), auth %s', async (enabled) => {
    const h = await harness({ enabled });
    const res = await h.app.inject({ url: '/healthz', headers: { host: 'attacker.example.com:8080' } });
    expect(res.statusCode).toBe(421);
    expect(res.json()).toMatchObject({ error: 'forbidden_host', field: 'host' });
    expect((await h.app.inject({ url: '/healthz', headers: { host: '127.0.0.1:8080' } })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/healthz', headers: { host: 'localhost:3000' } })).statusCode).toBe(200);
  });

  it('takes a configured Host list instead', async () => {
    const h = await harness({ allowedHosts: ['tidemark.example.com'] });
    expect((await h.app.inject({ url: '/healthz', headers: { host: 'tidemark.example.com:443' } })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/healthz', headers: { host: 'localhost' } })).statusCode).toBe(421);
  });

  it.each([true, false])('refuses state changes from a foreign Origin, text/plain included, auth %s', async (enabled) => {
    const h = await harness({ enabled });
    const auth = enabled ? bearer(ADMIN_SECRET) : {};
    const evil = await h.app.inject({ method: 'POST', url: '/ingest', headers: { ...auth, origin: 'https://evil.example.com', 'content-type': 'text/plain' }, payload: 'up 1' });
    expect(evil.statusCode).toBe(403);
    expect(evil.json()).toMatchObject({ error: 'forbidden_origin', field: 'origin' });
    const nullOrigin = await h.app.inject({ method: 'POST', url: '/write', headers: { ...auth, origin: 'null' }, payload: {} });
    expect(nullOrigin.statusCode).toBe(403);
    expect(h.handled).toEqual([]);
    // Listed origins, the engine's own origin, and reads from anywhere pass.
    expect((await h.app.inject({ method: 'POST', url: '/write', headers: { ...auth, origin: 'https://grafana.example.com' }, payload: {} })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/write', headers: { ...auth, origin: 'http://127.0.0.1:8080' }, payload: {} })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/read', headers: { ...auth, origin: 'https://evil.example.com' } })).statusCode).toBe(200);
  });

  it.each([true, false])('accepts only the content types a route declares, 415 naming content-type, auth %s', async (enabled) => {
    const h = await harness({ enabled });
    const auth = enabled ? bearer(ADMIN_SECRET) : {};
    const plain = await h.app.inject({ method: 'POST', url: '/write', headers: { ...auth, 'content-type': 'text/plain' }, payload: '{}' });
    expect(plain.statusCode).toBe(415);
    expect(plain.json()).toMatchObject({ error: 'unsupported_media_type', field: 'content-type' });
    const form = await h.app.inject({ method: 'POST', url: '/ingest', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' });
    expect(form.statusCode).toBe(415);
    expect(h.handled).toEqual([]);
    expect((await h.app.inject({ method: 'POST', url: '/write', headers: { ...auth, 'content-type': 'application/json; charset=utf-8' }, payload: '{}' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/ingest', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'up 1' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'DELETE', url: '/things/1', headers: auth })).statusCode).toBe(200); // no body, no type needed
  });

  it('rate-limits per token with a token bucket, 429 and Retry-After', async () => {
    const h = await harness({ rateLimit: { requestsPerSecond: 1, burst: 2 } });
    const a = h.tokens.add('user', ['acme']);
    const b = h.tokens.add('user', ['acme']);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await h.app.inject({ url: '/read', headers: bearer(a) })).statusCode);
    expect(codes).toEqual([200, 200, 429]);
    const limited = await h.app.inject({ url: '/read', headers: bearer(a) });
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json().error).toBe('rate_limited');
    expect((await h.app.inject({ url: '/read', headers: bearer(b) })).statusCode).toBe(200);
  });

  it('slows an address that keeps failing to authenticate, before looking its guesses up', async () => {
    const h = await harness({ rateLimit: { requestsPerSecond: 1, burst: 2 } });
    const good = h.tokens.add('user', ['acme']);
    const guess = (remoteAddress: string) => h.app.inject({ url: '/read', headers: bearer(newTokenSecret()), remoteAddress });
    expect([(await guess('10.0.0.1')).statusCode, (await guess('10.0.0.1')).statusCode]).toEqual([401, 401]);
    const lookups = h.tokens.lookups;
    const slowed = await guess('10.0.0.1');
    expect(slowed.statusCode).toBe(429);
    expect(slowed.headers['retry-after']).toBe('1');
    expect(h.tokens.lookups).toBe(lookups);
    expect((await guess('10.0.0.2')).statusCode).toBe(401); // other addresses are not affected
    expect((await h.app.inject({ url: '/read', headers: bearer(good), remoteAddress: '10.0.0.3' })).statusCode).toBe(200);
  });
});

describe('audit trail', () => {
  it('records successful state-changing writes and administration, not reads, ingest or refusals', async () => {
    const h = await harness();
    const padmin = h.tokens.add('project-admin', ['acme']);
    const ingest = h.tokens.add('ingest', ['acme']);
    await h.app.inject({ method: 'POST', url: '/write', headers: bearer(padmin), payload: {} });
    await h.app.inject({ method: 'DELETE', url: '/things/42?x=1', headers: bearer(padmin), remoteAddress: '10.9.8.7' });
    await h.app.inject({ url: '/read', headers: bearer(padmin) });
    await h.app.inject({ method: 'POST', url: '/ingest', headers: { ...bearer(ingest), 'content-type': 'text/plain' }, payload: 'up 1' });
    await h.app.inject({ method: 'POST', url: '/write', headers: { ...bearer(padmin), 'x-scope-orgid': 'beta' }, payload: {} });
    expect(h.audit.entries).toEqual([
      { tenant: 'acme', ts: NOW, principal: 'id-0', role: 'project-admin', action: 'write', method: 'POST', route: '/write', resource: '/write', remote: '127.0.0.1', status: 200 },
      { tenant: 'acme', ts: NOW, principal: 'id-0', role: 'project-admin', action: 'admin', method: 'DELETE', route: '/things/:id', resource: '/things/42', remote: '10.9.8.7', status: 200 },
    ]);
  });
});

describe('declarations', () => {
  it('lists the routes that declare no config.auth', async () => {
    const h = await harness();
    expect(undeclaredRoutes(h.app)).toEqual(['GET /legacy']);
  });

  it('refuses an undeclared route at registration in strict mode', async () => {
    const app = createHttpServer({ bodyLimit: 1024 });
    open.push(app);
    installAuth(app, { enabled: false, defaultTenant: 'default', bind: { host: '127.0.0.1', port: 0 }, allowedOrigins: [], strict: true });
    app.get('/declared', { config: { auth: { action: 'read' } } }, async () => ({}));
    expect(() => app.get('/forgotten', async () => ({}))).toThrow(/GET \/forgotten declares no config.auth/);
  });
});
