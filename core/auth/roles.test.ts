import { describe, expect, it } from 'vitest';
import { ACTIONS, authorize, mayGrant, resolveTenant, type Action, type Principal, type Role } from './roles.ts';

const p = (role: Role, tenants: string[]): Principal => ({ id: `t-${role}`, role, tenants, via: 'token' });

const cloud = p('cloud-admin', []);
const padmin = p('project-admin', ['acme', 'beta']);
const user = p('user', ['acme']);
const ingest = p('ingest', ['acme']);

describe('authorize', () => {
  // [principal, action, tenant, allowed]
  const table: [Principal, Action, string, boolean][] = [
    ...ACTIONS.map((a): [Principal, Action, string, boolean] => [cloud, a, 'anyone', true]),
    [padmin, 'read', 'acme', true],
    [padmin, 'write', 'beta', true],
    [padmin, 'ingest', 'acme', true],
    [padmin, 'admin', 'acme', true],
    ...ACTIONS.map((a): [Principal, Action, string, boolean] => [padmin, a, 'other', false]),
    [user, 'read', 'acme', true],
    [user, 'write', 'acme', false],
    [user, 'ingest', 'acme', false],
    [user, 'admin', 'acme', false],
    [user, 'read', 'beta', false],
    [ingest, 'ingest', 'acme', true],
    [ingest, 'read', 'acme', false],
    [ingest, 'write', 'acme', false],
    [ingest, 'admin', 'acme', false],
    [ingest, 'ingest', 'beta', false],
    [p('ingest', ['acme', 'beta']), 'ingest', 'acme', false],
  ];
  it.each(table)('%o %s on %s → %s', (principal, action, tenant, allowed) => {
    const d = authorize(principal, action, tenant);
    expect(d.allow).toBe(allowed);
    if (!d.allow) expect(d.reason).toMatch(/tenant|may not|exactly one/);
  });

  it('names the reason', () => {
    expect(authorize(user, 'write', 'acme')).toEqual({ allow: false, reason: 'role user may not write' });
    expect(authorize(user, 'read', 'beta')).toEqual({ allow: false, reason: 'not a member of tenant "beta"' });
  });
});

describe('resolveTenant', () => {
  // [principal, X-Scope-OrgID, expected tenant | status]
  const table: [Principal, string | undefined, string | number][] = [
    [cloud, undefined, 'default'],
    [cloud, 'zeta', 'zeta'],
    [padmin, undefined, 'acme'],
    [padmin, 'beta', 'beta'],
    [padmin, 'other', 403],
    [user, undefined, 'acme'],
    [user, 'acme', 'acme'],
    [user, 'beta', 403],
    [ingest, undefined, 'acme'],
    [ingest, 'beta', 403],
    [user, 'acme|beta', 400],
    [cloud, '', 400],
    [p('user', []), undefined, 403],
  ];
  it.each(table)('%o asking for %s → %s', (principal, requested, expected) => {
    const r = resolveTenant(principal, requested, 'default');
    if (typeof expected === 'string') expect(r).toEqual({ ok: true, tenant: expected });
    else expect(r).toMatchObject({ ok: false, status: expected });
  });
});

describe('mayGrant', () => {
  // [granter, role, tenants, allowed]
  const table: [Principal, Role, string[], boolean][] = [
    [cloud, 'cloud-admin', [], true],
    [cloud, 'project-admin', ['x'], true],
    [cloud, 'ingest', ['x'], true],
    [cloud, 'ingest', ['x', 'y'], false],
    [cloud, 'user', [], false],
    [padmin, 'project-admin', ['acme'], true],
    [padmin, 'user', ['acme', 'beta'], true],
    [padmin, 'ingest', ['beta'], true],
    [padmin, 'cloud-admin', [], false],
    [padmin, 'user', ['other'], false],
    [padmin, 'user', ['acme', 'other'], false],
    [user, 'user', ['acme'], false],
    [ingest, 'ingest', ['acme'], false],
  ];
  it.each(table)('%o grants %s on %o → %s', (granter, role, tenants, allowed) => {
    expect(mayGrant(granter, role, tenants).allow).toBe(allowed);
  });
});
