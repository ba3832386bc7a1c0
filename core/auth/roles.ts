// Who may do what to which tenant: the roles, the principal a request acts
// as, and the two pure decisions every route goes through (authorize and
// resolveTenant). Plain data in, plain data out; the HTTP hook applies them.

/** A tenant is a project: every row of every table carries one. */
export const TENANT_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export const ROLES = ['cloud-admin', 'project-admin', 'user', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a route does, as the authorisation decision sees it:
 * - `read`: queries, listings, reports as read;
 * - `write`: state-changing domain writes made by people (exclusions, charges, policies, rules, silences, reports);
 * - `ingest`: data from collectors (samples, logs, probes);
 * - `admin`: tokens and tenants, and the audit trail.
 */
export const ACTIONS = ['read', 'write', 'ingest', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Principal {
  /** The token id, `oidc:<subject>`, `bootstrap` or `anonymous` (auth off). */
  readonly id: string;
  readonly role: Role;
  /** The tenants it is a member of; ignored for cloud-admin, who sees every tenant. The first is its primary tenant. */
  readonly tenants: readonly string[];
  /** How it proved itself. */
  readonly via: 'token' | 'oidc' | 'bootstrap' | 'anonymous';
}

export type Decision = { readonly allow: true } | { readonly allow: false; readonly reason: string };

/** Which actions each role may take on a tenant it is a member of (cloud-admin: on every tenant). */
const PERMITTED: Record<Role, readonly Action[]> = {
  'cloud-admin': ['read', 'write', 'ingest', 'admin'],
  // Project admins manage their projects: policies, rules, silences, exclusions, tokens.
  'project-admin': ['read', 'write', 'ingest', 'admin'],
  // Users read; they write data only through ingest tokens.
  user: ['read'],
  // Collectors write and read nothing back.
  ingest: ['ingest'],
};

/** Rank for "roles ≤ its own": a principal grants and revokes only tokens at or below its rank. */
const RANK: Record<Role, number> = { 'cloud-admin': 3, 'project-admin': 2, user: 1, ingest: 1 };

export function mayAct(role: Role, action: Action): boolean {
  return PERMITTED[role].includes(action);
}

/** Whether the principal sees this tenant at all (reads or writes aside). */
export function isMember(principal: Principal, tenant: string): boolean {
  return principal.role === 'cloud-admin' || principal.tenants.includes(tenant);
}

export function authorize(principal: Principal, action: Action, tenant: string): Decision {
  if (!isMember(principal, tenant)) return { allow: false, reason: `not a member of tenant "${tenant}"` };
  if (!mayAct(principal.role, action)) return { allow: false, reason: `role ${principal.role} may not ${action}` };
  if (principal.role === 'ingest' && principal.tenants.length !== 1) return { allow: false, reason: 'an ingest principal writes to exactly one tenant' };
  return { allow: true };
}

export type TenantResolution =
  | { readonly ok: true; readonly tenant: string }
  | { readonly ok: false; readonly status: 400 | 403; readonly reason: string };

/**
 * The tenant a request acts on. `requested` is the X-Scope-OrgID header (as
 * Mimir and Loki use it): it selects among the tenants the principal sees.
 * Without it: the principal's primary (first) tenant; a cloud-admin gets the
 * configured default tenant.
 */
export function resolveTenant(principal: Principal, requested: string | undefined, defaultTenant: string): TenantResolution {
  if (requested !== undefined) {
    if (!TENANT_PATTERN.test(requested)) return { ok: false, status: 400, reason: 'X-Scope-OrgID must be one tenant name of letters, digits, _ . -' };
    if (!isMember(principal, requested)) return { ok: false, status: 403, reason: `not a member of tenant "${requested}"` };
    return { ok: true, tenant: requested };
  }
  if (principal.role === 'cloud-admin') return { ok: true, tenant: defaultTenant };
  const primary = principal.tenants[0];
  if (primary === undefined) return { ok: false, status: 403, reason: 'the principal belongs to no tenant' };
  return { ok: true, tenant: primary };
}

/**
 * Whether `granter` may create (or revoke) a token of `role` for `tenants`:
 * only a role at or below its own, only tenants it administers; cloud-admin
 * tokens span every tenant; ingest tokens name exactly one.
 */
export function mayGrant(granter: Principal, role: Role, tenants: readonly string[]): Decision {
  if (!mayAct(granter.role, 'admin')) return { allow: false, reason: `role ${granter.role} may not manage tokens` };
  if (RANK[role] > RANK[granter.role]) return { allow: false, reason: `role ${granter.role} may not grant ${role}` };
  if (role === 'ingest' && tenants.length !== 1) return { allow: false, reason: 'an ingest token names exactly one tenant' };
  if (role !== 'cloud-admin' && tenants.length === 0) return { allow: false, reason: 'a token names at least one tenant' };
  for (const t of tenants) {
    if (!isMember(granter, t)) return { allow: false, reason: `not a member of tenant "${t}"` };
  }
  return { allow: true };
}

/** With auth off: every request is this principal, on the configured default tenant. */
export function anonymousAdmin(defaultTenant: string): Principal {
  return { id: 'anonymous', role: 'cloud-admin', tenants: [defaultTenant], via: 'anonymous' };
}
