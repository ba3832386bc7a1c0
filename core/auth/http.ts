// The HTTP hook: web hygiene (Host, Origin, content types), authentication
// (our tokens, the bootstrap token, OIDC JWTs), per-token rate limits, the
// tenant and authorisation decisions, and the audit trail of changes. Each
// route declares what it needs in its options:
//   app.post('/x', { config: { auth: { action: 'write', contentTypes: ['application/json'] } } }, handler)
// and handlers read `request.principal` and `request.tenant`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { anonymousAdmin, authorize, resolveTenant, type Action, type Principal } from './roles.ts';
import { defaultAllowedHosts, hostAllowed, originAllowed } from './hosts.ts';
import { RateLimiter, type BucketLimits } from './rate-limit.ts';
import { hashToken, looksLikeToken, principalOf, sameHash, tokenState, type TokenRecord } from './tokens.ts';
import { looksLikeJwt, type OidcVerifier } from './oidc.ts';
import type { AuditTrail } from './audit.ts';

/** What a route needs: the action it takes (or `public`: no token), and the body media types it parses. */
export interface RouteAuth {
  readonly action: Action | 'public';
  /** Media types a state-changing request's body may carry; default `application/json`. */
  readonly contentTypes?: readonly string[];
  /** The route shows the whole engine's figures, every tenant's at once (self-metrics, status): cloud administrators only. */
  readonly engineWide?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    /** Who the request acts as (with auth off: a cloud-admin on the default tenant). */
    principal: Principal;
    /** The tenant the request acts on. */
    tenant: string;
  }
}

export interface AuthSetup {
  /** Off: every request is a cloud-admin on `defaultTenant`; the web hygiene checks still apply. */
  readonly enabled: boolean;
  readonly defaultTenant: string;
  /** Looks up our tokens by secret (cached). Required when enabled. */
  readonly tokens?: { lookup(secret: string, hash?: string): Promise<TokenRecord | null> };
  /** SHA-256 (hex) of the bootstrap cloud-admin token; the token itself is not kept. */
  readonly adminTokenHash?: string;
  readonly oidc?: OidcVerifier;
  /** Accepted Host headers; default: loopback names and the bound address with its port. */
  readonly allowedHosts?: readonly string[];
  /** The configured bind address and port (for the default Host list; the listening port is preferred once known). */
  readonly bind: { readonly host: string; readonly port: number };
  readonly allowedOrigins: readonly string[];
  /** Per-principal request rate (applies when enabled). */
  readonly rateLimit?: BucketLimits;
  readonly audit?: AuditTrail;
  /** Called when an audit row cannot be written (the request has already been answered). */
  readonly onAuditError?: (err: unknown) => void;
  /** Refuse, at registration, a route that declares no `config.auth` (tests use it so no route is forgotten). */
  readonly strict?: boolean;
  readonly now?: () => number;
}

/**
 * Auth off on loopback: every request a cloud-admin on `defaultTenant`, the
 * web hygiene checks still on. For servers built without an engine (tests,
 * benchmarks): handlers read `request.tenant`, which only the hook sets.
 */
export function authOff(defaultTenant: string): AuthSetup {
  return { enabled: false, defaultTenant, bind: { host: '127.0.0.1', port: 0 }, allowedOrigins: [] };
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface RouteEntry {
  method: string;
  url: string;
  auth?: RouteAuth;
}
const registry = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Routes registered after installAuth that declare no `config.auth`, as `METHOD /url` (HEAD twins left out). */
export function undeclaredRoutes(app: FastifyInstance): string[] {
  const routes = registry.get(app);
  if (!routes) throw new Error('undeclaredRoutes: installAuth was not called on this app');
  return routes.filter((r) => !r.auth && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
}

/** Every route registered after installAuth with its declaration, HEAD twins left out (the cross-tenant test walks them all). */
export function routeTable(app: FastifyInstance): { method: string; url: string; auth?: RouteAuth }[] {
  const routes = registry.get(app);
  if (!routes) throw new Error('routeTable: installAuth was not called on this app');
  return routes.filter((r) => r.method !== 'HEAD').map((r) => ({ ...r }));
}

function refuse(reply: FastifyReply, status: number, error: string, message: string, extra: { field?: string; headers?: Record<string, string> } = {}): FastifyReply {
  for (const [k, v] of Object.entries(extra.headers ?? {})) void reply.header(k, v);
  return reply
    .status(status)
    .type('application/json')
    .send({ error, message, ...(extra.field ? { field: extra.field } : {}) });
}

/** The media type of a Content-Type header, lower-cased, parameters dropped. */
function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0]!.trim().toLowerCase() || undefined;
}

function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

const UNAUTHORIZED = 'a valid bearer token is required';

export function installAuth(app: FastifyInstance, setup: AuthSetup): void {
  const routes: RouteEntry[] = [];
  registry.set(app, routes);
  const limiter = setup.rateLimit ? new RateLimiter(setup.rateLimit, setup.now) : null;
  // Failed authentications per remote address: guessing secrets costs a store lookup each, so guessers are slowed before that.
  const failures = setup.rateLimit ? new RateLimiter(setup.rateLimit, setup.now) : null;
  if (setup.enabled && !setup.tokens) throw new Error('auth.enabled needs a token store');
  let allowedHosts = setup.allowedHosts;
  const adminHash = setup.adminTokenHash ? Buffer.from(setup.adminTokenHash, 'hex') : undefined;

  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('tenant', '');

  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url, auth });
    if (setup.strict && !auth && !methods.every((m) => m === 'HEAD')) {
      throw new Error(`route ${methods.join(',')} ${route.url} declares no config.auth`);
    }
  });

  /** The Host allow-list: configured, or the default for the listening port (the configured one until the server listens). */
  let defaultFor: { port: number; hosts: readonly string[] } | undefined;
  const hosts = (): readonly string[] => {
    if (allowedHosts) return allowedHosts;
    const address = app.server.address();
    const listening = address && typeof address === 'object' ? address.port : undefined;
    if (listening !== undefined) return (allowedHosts = defaultAllowedHosts(setup.bind.host, listening));
    if (defaultFor?.port !== setup.bind.port) defaultFor = { port: setup.bind.port, hosts: defaultAllowedHosts(setup.bind.host, setup.bind.port) };
    return defaultFor.hosts;
  };
  // Host headers repeat: remember each verdict (bounded) against the list it was made for.
  const verdicts = new Map<string, boolean>();
  let verdictsFor: readonly string[] | undefined;
  const hostOk = (host: string): boolean => {
    const list = hosts();
    if (list !== verdictsFor) {
      verdicts.clear();
      verdictsFor = list;
    }
    let ok = verdicts.get(host);
    if (ok === undefined) {
      ok = hostAllowed(host, list);
      if (verdicts.size >= 1000) verdicts.clear();
      verdicts.set(host, ok);
    }
    return ok;
  };

  async function authenticate(req: FastifyRequest): Promise<Principal | null> {
    const header = req.headers.authorization;
    if (!header) return null;
    const m = /^Bearer +([^\s]+)\s*$/i.exec(header);
    if (!m) return null;
    const secret = m[1]!;
    // One SHA-256 per request serves both the bootstrap comparison and the token lookup.
    const hash = hashToken(secret);
    if (adminHash && sameHash(hash, adminHash)) {
      return { id: 'bootstrap', role: 'cloud-admin', tenants: [], via: 'bootstrap' };
    }
    if (looksLikeToken(secret)) {
      const token = await setup.tokens!.lookup(secret, hash);
      return token && tokenState(token, (setup.now ?? Date.now)()) === 'active' ? principalOf(token) : null;
    }
    if (setup.oidc && looksLikeJwt(secret)) return setup.oidc.verify(secret);
    return null;
  }

  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (host !== undefined && !hostOk(host)) {
      return refuse(reply, 421, 'forbidden_host', `this engine does not answer to host "${host}" (server.allowedHosts)`, { field: 'host' });
    }
    const declared = req.routeOptions.config?.auth;
    if (STATE_CHANGING.has(req.method)) {
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, setup.allowedOrigins, hosts())) {
        return refuse(reply, 403, 'forbidden_origin', `requests from origin "${origin}" may not change state (server.allowedOrigins)`, { field: 'origin' });
      }
      if (declared && hasBody(req)) {
        const allowed = declared.contentTypes ?? ['application/json'];
        const type = mediaType(req.headers['content-type']);
        if (type === undefined || !allowed.includes(type)) {
          return refuse(reply, 415, 'unsupported_media_type', `content-type must be ${allowed.join(' or ')}`, { field: 'content-type' });
        }
      }
    }

    if (!setup.enabled) {
      req.principal = anonymousAdmin(setup.defaultTenant);
      req.tenant = setup.defaultTenant;
      return;
    }
    if (declared?.action === 'public') {
      req.principal = { id: 'anonymous', role: 'user', tenants: [], via: 'anonymous' };
      req.tenant = setup.defaultTenant;
      return;
    }
    if (failures && !failures.has(req.ip)) return refuse(reply, 429, 'rate_limited', 'too many failed authentications from this address', { headers: { 'retry-after': '1' } });
    const principal = await authenticate(req);
    if (!principal) {
      failures?.take(req.ip);
      return refuse(reply, 401, 'unauthorized', UNAUTHORIZED, { headers: { 'www-authenticate': 'Bearer' } });
    }
    req.principal = principal;
    if (req.routeOptions.url === undefined) return; // no such route: the 404 handler answers, to the authenticated only
    if (limiter) {
      const take = limiter.take(principal.id);
      if (!take.ok) return refuse(reply, 429, 'rate_limited', 'too many requests for this token', { headers: { 'retry-after': String(take.retryAfterSeconds) } });
    }
    const requested = req.headers['x-scope-orgid'];
    const tenant = resolveTenant(principal, Array.isArray(requested) ? requested.join('|') : requested, setup.defaultTenant);
    if (!tenant.ok) {
      return tenant.status === 400
        ? refuse(reply, 400, 'invalid_input', tenant.reason, { field: 'x-scope-orgid' })
        : refuse(reply, 403, 'forbidden', tenant.reason);
    }
    // A route that declares nothing is an administrator's until it does.
    if (!declared && principal.role !== 'cloud-admin') return refuse(reply, 403, 'forbidden', 'this route is open to cloud administrators only');
    const decision = authorize(principal, declared?.action ?? 'admin', tenant.tenant);
    if (!decision.allow) return refuse(reply, 403, 'forbidden', decision.reason);
    if (declared?.engineWide && principal.role !== 'cloud-admin') return refuse(reply, 403, 'forbidden', "this route shows every tenant's figures: cloud administrators only");
    req.tenant = tenant.tenant;
  });

  if (setup.audit) {
    const audit = setup.audit;
    // Written before the answer leaves (onSend, not onResponse): a client that got its 2xx finds the change in the trail.
    app.addHook('onSend', async (req, reply, payload) => {
      const declared = req.routeOptions.config?.auth;
      // Tidemark's own changes: people's writes and administration, not the stream of ingested data.
      if (!declared || (declared.action !== 'write' && declared.action !== 'admin')) return payload;
      if (!STATE_CHANGING.has(req.method) || reply.statusCode >= 300 || !req.principal) return payload;
      try {
        await audit.record({
          tenant: req.tenant,
          ts: (setup.now ?? Date.now)(),
          principal: req.principal.id,
          role: req.principal.role,
          action: declared.action,
          method: req.method,
          route: req.routeOptions.url ?? '',
          resource: req.url.split('?')[0]!,
          remote: req.ip,
          status: reply.statusCode,
        });
      } catch (err) {
        setup.onAuditError?.(err);
      }
      return payload;
    });
  }
}
