import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../bin/config.ts';

const load = (overrides: [string[], unknown][], env: Record<string, string> = {}) => loadConfig({ env, overrides: overrides.map(([path, value]) => ({ path, value })) });

describe('auth and server hygiene configuration', () => {
  it('turns auth on by default exactly when the server binds beyond loopback', () => {
    expect(load([]).auth.enabled).toBe(false);
    expect(load([[['server', 'host'], 'localhost']]).auth.enabled).toBe(false);
    expect(load([], { TIDEMARK_HOST: '0.0.0.0' }).auth.enabled).toBe(true);
    expect(load([[['server', 'host'], '10.0.0.7']]).auth.enabled).toBe(true);
    expect(load([[['server', 'host'], '0.0.0.0'], [['auth', 'enabled'], false]]).auth.enabled).toBe(false);
    expect(load([[['auth', 'enabled'], true]]).auth.enabled).toBe(true);
  });

  it('has defaults for rate limits and the token cache, and names bad fields', () => {
    const c = load([]);
    expect(c.auth.rateLimit).toEqual({ requestsPerSecond: 100, burst: 200 });
    expect(c.auth.tokenCacheTtl).toBe('5s');
    expect(c.server.allowedOrigins).toEqual([]);
    expect(() => load([[['server', 'allowedOrigins'], ['evil']]])).toThrow(/^server\.allowedOrigins\[0\]:/);
    expect(() => load([[['server', 'tls'], { cert: '/c.pem' }]])).toThrow(/^server\.tls\.key:/);
    expect(() => load([[['auth', 'oidc'], { issuer: 'not a url' }]])).toThrow(/^auth\.oidc\.issuer:/);
    expect(load([[['auth', 'oidc'], { issuer: 'https://id.example.com' }]]).auth.oidc).toEqual({ issuer: 'https://id.example.com', rolesClaim: 'roles', tenantsClaim: 'tenants' });
  });
});
