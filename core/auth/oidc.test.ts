import { describe, expect, it } from 'vitest';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import { OidcVerifier, looksLikeJwt, principalFromClaims } from './oidc.ts';

const options = { issuer: 'https://id.example.com', audience: 'tidemark', rolesClaim: 'realm_access.roles', tenantsClaim: 'tenants' };

async function keys() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  return { privateKey, set: createLocalJWKSet({ keys: [jwk] }) };
}

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

function sign(key: PrivateKey, claims: Record<string, unknown>, o: { iss?: string; aud?: string; exp?: string | number } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(o.iss ?? options.issuer)
    .setAudience(o.aud ?? options.audience)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '5m')
    .sign(key);
}

describe('principalFromClaims', () => {
  it.each([
    [{ realm_access: { roles: ['offline', 'user'] }, tenants: ['acme'] }, { role: 'user', tenants: ['acme'] }],
    [{ realm_access: { roles: ['user', 'project-admin'] }, tenants: 'acme beta' }, { role: 'project-admin', tenants: ['acme', 'beta'] }],
    [{ realm_access: { roles: 'cloud-admin' } }, { role: 'cloud-admin', tenants: [] }],
    [{ realm_access: { roles: ['user'] }, tenants: ['ok', 'bad|name'] }, { role: 'user', tenants: ['ok'] }],
    [{ realm_access: { roles: ['viewer'] }, tenants: ['acme'] }, null],
    [{ tenants: ['acme'] }, null],
  ])('%o → %o', (claims, expected) => {
    const p = principalFromClaims({ sub: 's', ...claims }, options);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatchObject({ id: 'oidc:s', via: 'oidc', ...expected });
  });
});

describe('OidcVerifier', () => {
  it('accepts a token signed by the issuer and refuses any other', async () => {
    const { privateKey, set } = await keys();
    const other = await keys();
    const v = new OidcVerifier(options, set);
    const claims = { realm_access: { roles: ['user'] }, tenants: ['acme'] };
    const good = await sign(privateKey, claims);
    expect(looksLikeJwt(good)).toBe(true);
    expect(await v.verify(good)).toEqual({ id: 'oidc:alice', role: 'user', tenants: ['acme'], via: 'oidc' });
    expect(await v.verify(await sign(other.privateKey, claims))).toBeNull(); // wrong key
    expect(await v.verify(await sign(privateKey, claims, { iss: 'https://evil.example.com' }))).toBeNull();
    expect(await v.verify(await sign(privateKey, claims, { aud: 'someone-else' }))).toBeNull();
    expect(await v.verify(await sign(privateKey, claims, { exp: Math.floor(Date.now() / 1000) - 120 }))).toBeNull(); // expired
    const [h, , s] = good.split('.');
    expect(await v.verify(`${h}.${Buffer.from(JSON.stringify({ ...claims, realm_access: { roles: ['cloud-admin'] } })).toString('base64url')}.${s}`)).toBeNull(); // tampered
    expect(await v.verify('not.a.jwt')).toBeNull();
  });
});
