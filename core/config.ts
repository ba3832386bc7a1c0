// The one typed configuration: defaults, overlaid by a YAML/JSON file
// (--config or TIDEMARK_CONFIG), overlaid by environment variables, then
// validated once at start-up. Errors name the field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseInput } from './validate.ts';
import { InputError } from './errors.ts';
import { durationProblem } from './duration.ts';
import { isLoopbackHost } from './auth/hosts.ts';

/** A duration in the Prometheus dialect of core/duration.ts, for configuration fields. */
export const duration = z.string().refine((text) => durationProblem(text) === null, 'expected a duration such as 500ms, 15s, 5m, 1h or 7d');

/** The sections every part of the engine reads; each domain adds its own (see bin/config.ts). */
export const coreConfigSchema = z.object({
  tenant: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('default'),
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Largest accepted request body in bytes (413 beyond). */
      bodyLimit: z.number().int().positive().default(32 * 1024 * 1024),
      /** Accepted Host headers (`name` or `name:port`); default: the loopback names and the bound address with its port. */
      allowedHosts: z.array(z.string().min(1)).optional(),
      /** Origins (besides the engine's own) whose pages may make state-changing requests. */
      allowedOrigins: z.array(z.string().url()).default([]),
      /** Serve HTTPS with this PEM certificate and key (file paths). */
      tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .prefault({}),
  store: z
    .object({
      dataPath: z.string().default('./data'),
      url: z.string().url().optional(),
      user: z.string().optional(),
      password: z.string().optional(),
      database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('tidemark'),
      cluster: z.string().optional(),
      /** Raw samples are kept this many days (rollups longer). */
      rawRetentionDays: z.number().int().positive().default(15),
      rollupRetentionDays: z.number().int().positive().default(400),
    })
    .prefault({}),
  bus: z
    .object({
      kind: z.enum(['memory', 'kafka']).default('memory'),
      /** In-process bus: samples queued before publishers wait. */
      capacity: z.number().int().positive().default(4_000_000),
      /**
       * In-process bus: when a receiver answers 2xx. 'stored': once the insert carrying the request is
       * done (group commit; a sample is queryable when its 2xx arrives). 'logged': once the request is
       * durably in the bus log (fdatasync'd), stored a moment later; higher ingest, larger inserts.
       */
      acknowledge: z.enum(['stored', 'logged']).default('stored'),
      /** The bus log's directory (acknowledge 'logged'); default: `bus-log` under store.dataPath. */
      logDir: z.string().min(1).optional(),
      /** Bytes per bus log segment; a segment is deleted once everything in it is stored. */
      segmentBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
    })
    .prefault({}),
  kafka: z
    .object({
      brokers: z.array(z.string().min(1)).default(['127.0.0.1:9092']),
      clientId: z.string().default('tidemark'),
      groupId: z.string().default('tidemark-ingesters'),
      topicPrefix: z.string().default('tidemark.'),
      partitions: z.number().int().positive().default(6),
      replicationFactor: z.number().int().positive().default(1),
    })
    .prefault({}),
  role: z.enum(['all', 'collector', 'ingester', 'api']).default('all'),
  auth: z
    .object({
      /** Every route needs a bearer token; default: on unless server.host is a loopback address. */
      enabled: z.boolean().optional(),
      /** A file holding the bootstrap cloud-admin token (TIDEMARK_ADMIN_TOKEN also works); only its hash is kept. */
      adminTokenFile: z.string().min(1).optional(),
      oidc: z
        .object({
          issuer: z.string().url(),
          /** Default: the issuer's discovery document's jwks_uri. */
          jwksUrl: z.string().url().optional(),
          audience: z.string().min(1).optional(),
          /** Claim (dotted path) holding the role or roles, e.g. realm_access.roles. */
          rolesClaim: z.string().min(1).default('roles'),
          tenantsClaim: z.string().min(1).default('tenants'),
        })
        .optional(),
      /** Per token: a token bucket refilled at requestsPerSecond, holding at most burst. */
      rateLimit: z.object({ requestsPerSecond: z.number().positive().default(100), burst: z.number().int().positive().default(200) }).prefault({}),
      /** How long a looked-up token is trusted: the revocation delay across replicas. */
      tokenCacheTtl: duration.default('5s'),
    })
    .prefault({}),
});

type CoreSections = z.output<typeof coreConfigSchema>;

/** Defaults that depend on other fields, settled once the file, environment and flags are in: auth is on unless the server binds to loopback. */
export function settleDefaults<C extends CoreSections>(c: C): C & { auth: C['auth'] & { enabled: boolean } } {
  return { ...c, auth: { ...c.auth, enabled: c.auth.enabled ?? !isLoopbackHost(c.server.host) } };
}

export type CoreConfig = ReturnType<typeof settleDefaults<CoreSections>>;

type Env = Record<string, string | undefined>;

/** The environment variables that override the file, each mapped onto its config path. */
export const ENVIRONMENT: Record<string, { path: string[]; kind: 'string' | 'number' | 'list' }> = {
  TIDEMARK_TENANT: { path: ['tenant'], kind: 'string' },
  TIDEMARK_HOST: { path: ['server', 'host'], kind: 'string' },
  TIDEMARK_PORT: { path: ['server', 'port'], kind: 'number' },
  TIDEMARK_DATA: { path: ['store', 'dataPath'], kind: 'string' },
  CLICKHOUSE_URL: { path: ['store', 'url'], kind: 'string' },
  CLICKHOUSE_USER: { path: ['store', 'user'], kind: 'string' },
  CLICKHOUSE_PASSWORD: { path: ['store', 'password'], kind: 'string' },
  CLICKHOUSE_DATABASE: { path: ['store', 'database'], kind: 'string' },
  CLICKHOUSE_CLUSTER: { path: ['store', 'cluster'], kind: 'string' },
  TIDEMARK_BUS: { path: ['bus', 'kind'], kind: 'string' },
  TIDEMARK_KAFKA_BROKERS: { path: ['kafka', 'brokers'], kind: 'list' },
  TIDEMARK_ROLE: { path: ['role'], kind: 'string' },
};

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

export interface LoadConfigOptions {
  file?: string;
  env?: Env;
  /** Values from command-line flags, applied last. */
  overrides?: { path: string[]; value: unknown }[];
}

/** The configuration `schema` describes, read from defaults, the file, the environment and flags, in that order. */
export function loadConfigWith<S extends z.ZodType>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  const env = options.env ?? process.env;
  const file = options.file ?? env['TIDEMARK_CONFIG'];
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new InputError('config', `cannot read ${file}: ${(e as Error).message}`);
    }
    const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InputError('config', `${file} must hold an object`);
      raw = parsed as Record<string, unknown>;
    }
  }
  for (const [name, spec] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (spec.kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new InputError(name, `"${value}" is not a number`);
      setPath(raw, spec.path, n);
    } else if (spec.kind === 'list') {
      setPath(raw, spec.path, value.split(',').map((s) => s.trim()).filter(Boolean));
    } else {
      setPath(raw, spec.path, value);
    }
  }
  for (const o of options.overrides ?? []) setPath(raw, o.path, o.value);
  return parseInput(schema, raw);
}
