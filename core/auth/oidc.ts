// OIDC bearer tokens: a JWT signed by the configured issuer, verified with
// `jose` against the issuer's published keys (JWKS, fetched and cached by
// jose), the role and tenants read from configured claims.
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ROLES, TENANT_PATTERN, type Principal, type Role } from './roles.ts';

export interface OidcOptions {
  readonly issuer: string;
  /** Default: `jwks_uri` from the issuer's /.well-known/openid-configuration. */
  readonly jwksUrl?: string;
  readonly audience?: string;
  /** Dotted path to the claim holding the role or roles, e.g. `realm_access.roles`. */
  readonly rolesClaim: string;
  readonly tenantsClaim: string;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function looksLikeJwt(text: string): boolean {
  return text.length < 16_384 && JWT_SHAPE.test(text);
}

function claim(payload: JWTPayload, path: string): unknown {
  let node: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The principal a verified token's claims describe: the highest known role it holds; null if it holds none. */
export function principalFromClaims(payload: JWTPayload, options: Pick<OidcOptions, 'rolesClaim' | 'tenantsClaim'>): Principal | null {
  const held = new Set(strings(claim(payload, options.rolesClaim)));
  const role: Role | undefined = ROLES.find((r) => held.has(r));
  if (!role) return null;
  const tenants = strings(claim(payload, options.tenantsClaim)).filter((t) => TENANT_PATTERN.test(t));
  return { id: `oidc:${payload.sub ?? 'unknown'}`, role, tenants, via: 'oidc' };
}

export class OidcVerifier {
  private keys: JWTVerifyGetKey | undefined;
  private discovering: Promise<JWTVerifyGetKey> | undefined;

  constructor(
    private readonly options: OidcOptions,
    /** The issuer's keys; default: the remote JWKS (tests pass a local set). */
    keys?: JWTVerifyGetKey,
  ) {
    this.keys = keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined);
  }

  private async keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    this.discovering ??= (async () => {
      const url = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new Error(`${url}: no jwks_uri`);
      this.keys = createRemoteJWKSet(new URL(doc.jwks_uri));
      return this.keys;
    })().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  /** The principal of a valid token (signature, issuer, audience, expiry checked), or null. */
  async verify(jwt: string): Promise<Principal | null> {
    try {
      const { payload } = await jwtVerify(jwt, await this.keySet(), {
        issuer: this.options.issuer,
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      });
      return principalFromClaims(payload, this.options);
    } catch {
      return null;
    }
  }
}
