// Assembles tenancy for an engine from its configuration: the token store and
// its cache, the audit trail, the bootstrap admin token (hashed at once), the
// OIDC verifier, and the hook's setup; the engine hands `setup` to
// createHttpServer and registers `routes`.
import { readFileSync } from 'node:fs';
import type { CoreConfig } from '../config.ts';
import { parseDuration } from '../duration.ts';
import { InputError } from '../errors.ts';
import type { Store } from '../store.ts';
import type { RouteModule } from '../http.ts';
import type { Logger } from '../log.ts';
import { TokenStore, hashToken } from './tokens.ts';
import { storeAuditTrail, type AuditTrail } from './audit.ts';
import { OidcVerifier } from './oidc.ts';
import { authRoutes } from './routes.ts';
import type { AuthSetup } from './http.ts';

export interface Auth {
  readonly setup: AuthSetup;
  readonly tokens: TokenStore;
  readonly audit: AuditTrail;
  readonly routes: RouteModule;
}

/** SHA-256 of the bootstrap token from TIDEMARK_ADMIN_TOKEN or auth.adminTokenFile, if either is set. */
export function bootstrapTokenHash(config: CoreConfig, env: Record<string, string | undefined>): string | undefined {
  let secret = env['TIDEMARK_ADMIN_TOKEN'];
  if (!secret && config.auth.adminTokenFile) {
    try {
      secret = readFileSync(config.auth.adminTokenFile, 'utf8').trim();
    } catch (e) {
      throw new InputError('auth.adminTokenFile', `cannot read ${config.auth.adminTokenFile}: ${(e as Error).message}`);
    }
  }
  if (!secret) return undefined;
  if (secret.length < 16) throw new InputError(env['TIDEMARK_ADMIN_TOKEN'] ? 'TIDEMARK_ADMIN_TOKEN' : 'auth.adminTokenFile', 'the admin token must be at least 16 characters');
  return hashToken(secret);
}

export function createAuth(config: CoreConfig, store: Store, log: Logger, env: Record<string, string | undefined> = process.env): Auth {
  const tokens = new TokenStore(store, { cacheTtlMs: parseDuration(config.auth.tokenCacheTtl, 'auth.tokenCacheTtl') });
  const audit = storeAuditTrail(store);
  const adminTokenHash = bootstrapTokenHash(config, env);
  if (config.auth.enabled && !adminTokenHash && !config.auth.oidc) {
    log.warn('auth is on with neither TIDEMARK_ADMIN_TOKEN, auth.adminTokenFile nor auth.oidc: only existing tokens can get in');
  }
  const setup: AuthSetup = {
    enabled: config.auth.enabled,
    defaultTenant: config.tenant,
    tokens,
    adminTokenHash,
    oidc: config.auth.oidc ? new OidcVerifier(config.auth.oidc) : undefined,
    allowedHosts: config.server.allowedHosts,
    bind: { host: config.server.host, port: config.server.port },
    allowedOrigins: config.server.allowedOrigins,
    rateLimit: config.auth.rateLimit,
    audit,
    onAuditError: (err) => log.error({ err }, 'audit row not written'),
  };
  return { setup, tokens, audit, routes: authRoutes(tokens, audit) };
}
