// The token and audit API: mint a token (its secret shown once), list tokens
// (never a secret), revoke one, and read a tenant's audit trail.
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { RouteModule } from '../http.ts';
import { InputError } from '../errors.ts';
import { parseInput } from '../validate.ts';
import { durationProblem, parseDuration } from '../duration.ts';
import { ROLES, TENANT_PATTERN, isMember, mayGrant } from './roles.ts';
import { tokenState, type TokenRecord, type TokenStore } from './tokens.ts';
import type { AuditTrail } from './audit.ts';

const tenantName = z.string().regex(TENANT_PATTERN, 'a tenant name of letters, digits, _ . -');

const createBody = z
  .object({
    tenant: tenantName.optional(),
    tenants: z.array(tenantName).min(1).max(100).optional(),
    role: z.enum(ROLES),
    /** A duration from now (`30d`, `12h`) or an RFC 3339 time; default 90 days. */
    expires: z.string().min(1).default('90d'),
    name: z.string().max(200).optional(),
  })
  .strict();

const MAX_LIFETIME_MS = 5 * 365 * 86_400_000;

/** Unix milliseconds of an expiry given as a duration from now or an RFC 3339 time. */
export function parseExpiry(text: string, now: number): number {
  const at = durationProblem(text) === null ? now + parseDuration(text, 'expires') : Date.parse(text);
  if (!Number.isFinite(at)) throw new InputError('expires', `"${text}" is neither a duration such as 30d nor an RFC 3339 time`);
  if (at <= now) throw new InputError('expires', 'must be in the future');
  if (at - now > MAX_LIFETIME_MS) throw new InputError('expires', 'at most 5 years ahead');
  return at;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function describeToken(t: TokenRecord, now: number) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    tenants: t.tenants,
    creator: t.creator,
    createdAt: iso(t.createdAt),
    expiresAt: iso(t.expiresAt),
    revokedAt: iso(t.revokedAt),
    state: tokenState(t, now),
  };
}

const ADMIN = { auth: { action: 'admin' as const } };

export function authRoutes(tokens: TokenStore, audit: AuditTrail, now: () => number = Date.now): RouteModule {
  return (app: FastifyInstance) => {
    app.post('/api/v1/tokens', { config: ADMIN }, async (req, reply) => {
      const body = parseInput(createBody, req.body ?? {});
      const tenants = body.role === 'cloud-admin' ? [] : (body.tenants ?? (body.tenant ? [body.tenant] : [req.tenant]));
      const may = mayGrant(req.principal, body.role, tenants);
      if (!may.allow) return reply.status(403).send({ error: 'forbidden', message: may.reason });
      const expiresAt = parseExpiry(body.expires, now());
      const { secret, record } = await tokens.create({ tenants, role: body.role, expiresAt, creator: req.principal.id, name: body.name });
      // The audit row belongs to the tenant the token is for.
      if (tenants[0] !== undefined) req.tenant = tenants[0];
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ token: secret, ...describeToken(record, now()) });
    });

    app.get('/api/v1/tokens', { config: ADMIN }, async (req) => {
      const all = (req.query as Record<string, unknown>)['all'];
      const everyTenant = req.principal.role === 'cloud-admin' && (all === 'true' || all === '1');
      const list = await tokens.list(everyTenant ? {} : { tenant: req.tenant });
      return { tokens: list.map((t) => describeToken(t, now())) };
    });

    app.delete('/api/v1/tokens/:id', { config: ADMIN }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const found = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await tokens.get(id) : null;
      // A token of tenants the caller cannot see does not exist, as far as it can tell.
      const visible = found && (req.principal.role === 'cloud-admin' || found.tenants.some((t) => isMember(req.principal, t)));
      if (!found || !visible) return reply.status(404).send({ error: 'not_found', message: `no token ${id}`, field: 'id' });
      const may = mayGrant(req.principal, found.role, found.tenants);
      if (!may.allow) return reply.status(403).send({ error: 'forbidden', message: may.reason });
      const revoked = (await tokens.revoke(id))!;
      if (found.tenants[0] !== undefined) req.tenant = found.tenants[0];
      return describeToken(revoked, now());
    });

    app.get('/api/v1/audit', { config: ADMIN }, async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const limit = q['limit'] === undefined ? 100 : Number(q['limit']);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new InputError('limit', 'must be a whole number from 1 to 10000');
      let since = 0;
      if (q['since'] !== undefined) {
        since = /^\d+$/.test(q['since']) ? Number(q['since']) * 1000 : Date.parse(q['since']);
        if (!Number.isFinite(since)) throw new InputError('since', 'unix seconds or an RFC 3339 time');
      }
      const entries = await audit.list(req.tenant, { since, limit });
      return { entries: entries.map((e) => ({ ...e, ts: new Date(e.ts).toISOString() })) };
    });
  };
}
