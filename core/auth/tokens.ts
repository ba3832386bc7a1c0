// API tokens: minted at random, shown once, stored only as a hash, revocable
// and expiring. Rows live in `auth_tokens` (a revocation is a newer version of
// the row); lookups go through a small in-process cache with a short TTL, so a
// revocation is immediate in the process that made it and effective within
// the TTL on every other replica.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { Store } from '../store.ts';
import type { Principal, Role } from './roles.ts';

/** Recognisable in logs, config files and secret scanners. */
export const TOKEN_PREFIX = 'tdm_';
const TOKEN_SHAPE = /^tdm_[A-Za-z0-9_-]{43}$/;

/** A new secret: 32 random bytes (256 bits) from the OS CSPRNG, base64url, prefixed. */
export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function looksLikeToken(text: string): boolean {
  return TOKEN_SHAPE.test(text);
}

/**
 * Hex SHA-256 of a secret. A fast unsalted hash is right here (unlike for
 * passwords): the secrets carry 256 bits of entropy, so there is no
 * dictionary to try and brute force is hopeless; a slow KDF would only cost
 * every request its latency.
 */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a hex hash with a digest (for the bootstrap token, compared in memory). */
export function sameHash(hex: string, digest: Buffer): boolean {
  const x = Buffer.from(hex, 'hex');
  return x.length === digest.length && timingSafeEqual(x, digest);
}

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  /** Empty for a cloud-admin token (every tenant). */
  readonly tenants: readonly string[];
  readonly role: Role;
  /** The principal id that created it. */
  readonly creator: string;
  /** Unix milliseconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Unix milliseconds, or null while live. */
  readonly revokedAt: number | null;
}

export type TokenState = 'active' | 'expired' | 'revoked';

export function tokenState(t: TokenRecord, now: number): TokenState {
  if (t.revokedAt !== null) return 'revoked';
  return now >= t.expiresAt ? 'expired' : 'active';
}

export function principalOf(t: TokenRecord): Principal {
  return { id: t.id, role: t.role, tenants: t.tenants, via: 'token' };
}

export interface NewToken {
  readonly tenants: readonly string[];
  readonly role: Role;
  readonly expiresAt: number;
  readonly creator: string;
  readonly name?: string;
}

interface Row {
  id: string;
  hash: string;
  name: string;
  tenants: string[];
  role: Role;
  creator: string;
  created: number;
  expires: number;
  revoked: number;
  v: number;
}

interface Stored {
  record: TokenRecord;
  hash: string;
  version: number;
}

export interface TokenStoreOptions {
  /** How long a looked-up token is trusted before the store is asked again (default 5 s): the revocation delay across replicas. */
  cacheTtlMs?: number;
  /** Most cached hashes (oldest dropped beyond). */
  cacheSize?: number;
  now?: () => number;
}

function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

// Each token's latest version, on one node or across shards alike. The
// aliases shadow the columns, so filters on raw rows go in a subquery.
const LATEST = `SELECT id,
    argMax(hash, version) AS hash, argMax(name, version) AS name, argMax(tenants, version) AS tenants,
    argMax(role, version) AS role, argMax(creator, version) AS creator,
    toUnixTimestamp64Milli(argMax(created_at, version)) AS created,
    toUnixTimestamp64Milli(argMax(expires_at, version)) AS expires,
    toUnixTimestamp64Milli(argMax(revoked_at, version)) AS revoked,
    max(version) AS v`;

function toStored(r: Row): Stored {
  return {
    hash: r.hash,
    version: Number(r.v),
    record: {
      id: r.id,
      name: r.name,
      tenants: r.tenants,
      role: r.role,
      creator: r.creator,
      createdAt: Number(r.created),
      expiresAt: Number(r.expires),
      revokedAt: Number(r.revoked) > 0 ? Number(r.revoked) : null,
    },
  };
}

export class TokenStore {
  private readonly cache = new Map<string, { record: TokenRecord | null; until: number; seq: number }>();
  /** Store lookups under way, by hash: concurrent requests with one token share one. */
  private readonly inFlight = new Map<string, Promise<TokenRecord | null>>();
  /** Bumped by every remember(): a lookup that started before a local create or revoke does not overwrite it. */
  private seq = 0;
  private readonly ttl: number;
  private readonly size: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    options: TokenStoreOptions = {},
  ) {
    this.ttl = options.cacheTtlMs ?? 5000;
    this.size = options.cacheSize ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private get table(): string {
    return this.store.table('auth_tokens');
  }

  /** On a cluster, wait for the Distributed insert to reach its shard, so a 2xx means stored (and a revocation seen). */
  private get insertSettings(): ClickHouseSettings | undefined {
    return this.store.options.cluster ? ({ insert_distributed_sync: 1 } as ClickHouseSettings) : undefined;
  }

  private async write(s: Stored): Promise<void> {
    const r = s.record;
    await this.store.insertRows(
      'auth_tokens',
      [
        {
          id: r.id,
          hash: s.hash,
          name: r.name,
          tenants: r.tenants,
          role: r.role,
          creator: r.creator,
          created_at: chTime(r.createdAt),
          expires_at: chTime(r.expiresAt),
          revoked_at: chTime(r.revokedAt ?? 0),
          version: s.version,
        },
      ],
      this.insertSettings,
    );
  }

  private remember(hash: string, record: TokenRecord | null): void {
    if (this.cache.size >= this.size) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.delete(hash);
    this.cache.set(hash, { record, until: this.now() + this.ttl, seq: ++this.seq });
  }

  /** Mints a token; the secret is returned here once and never again. */
  async create(input: NewToken): Promise<{ secret: string; record: TokenRecord }> {
    const secret = newTokenSecret();
    const now = this.now();
    const record: TokenRecord = {
      id: randomBytes(9).toString('base64url'),
      name: input.name ?? '',
      tenants: input.role === 'cloud-admin' ? [] : [...input.tenants],
      role: input.role,
      creator: input.creator,
      createdAt: now,
      expiresAt: input.expiresAt,
      revokedAt: null,
    };
    const hash = hashToken(secret);
    await this.write({ record, hash, version: now });
    this.remember(hash, record);
    return { secret, record };
  }

  private async byId(id: string): Promise<Stored | null> {
    const rows = await this.store.query<Row>(`${LATEST} FROM (SELECT * FROM ${this.table} WHERE id = {id:String}) GROUP BY id`, { id });
    return rows[0] ? toStored(rows[0]) : null;
  }

  async get(id: string): Promise<TokenRecord | null> {
    return (await this.byId(id))?.record ?? null;
  }

  /** Every token (secrets never included), newest first; with `tenant`, those naming it (cloud-admin tokens excluded). */
  async list(filter: { tenant?: string } = {}): Promise<TokenRecord[]> {
    const rows = await this.store.query<Row>(
      `${LATEST} FROM ${this.table} GROUP BY id ${filter.tenant !== undefined ? 'HAVING has(tenants, {tenant:String})' : ''} ORDER BY created DESC, id`,
      filter.tenant !== undefined ? { tenant: filter.tenant } : {},
    );
    return rows.map((r) => toStored(r).record);
  }

  /** Revokes a token (a newer row version); effective at once in this process. Returns the record, or null if unknown. */
  async revoke(id: string): Promise<TokenRecord | null> {
    const found = await this.byId(id);
    if (!found) return null;
    if (found.record.revokedAt !== null) return found.record;
    const now = this.now();
    const record: TokenRecord = { ...found.record, revokedAt: now };
    await this.write({ record, hash: found.hash, version: Math.max(now, found.version + 1) });
    this.remember(found.hash, record);
    return record;
  }

  /** The token a secret belongs to, whatever its state, or null; cached for the TTL (unknown secrets too). `hash`: its hashToken, when the caller has it. */
  async lookup(secret: string, hash = hashToken(secret)): Promise<TokenRecord | null> {
    if (!looksLikeToken(secret)) return null;
    const hit = this.cache.get(hash);
    const now = this.now();
    if (hit && hit.until > now) {
      // In the entry's last fifth, a background lookup renews it: a token in steady use never waits on the store
      // (bench:auth saw the query p99 pay for it), and no entry is trusted past its TTL.
      if (hit.until - now < this.ttl / 5) void this.fetch(hash).catch(() => undefined);
      return hit.record;
    }
    return this.fetch(hash);
  }

  private fetch(hash: string): Promise<TokenRecord | null> {
    let pending = this.inFlight.get(hash);
    if (!pending) {
      const before = this.seq;
      pending = (async () => {
        try {
          const rows = await this.store.query<Row>(`${LATEST} FROM (SELECT * FROM ${this.table} WHERE hash = {hash:String}) GROUP BY id`, { hash });
          const record = rows[0] ? toStored(rows[0]).record : null;
          const current = this.cache.get(hash);
          // A create or revoke here while the store was asked knows better than the answer.
          if (current && current.seq > before) return current.record;
          this.remember(hash, record);
          return record;
        } finally {
          this.inFlight.delete(hash);
        }
      })();
      this.inFlight.set(hash, pending);
    }
    return pending;
  }
}
