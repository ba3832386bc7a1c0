// The one typed configuration: defaults, overlaid by a YAML/JSON file
// (--config or TIDEMARK_CONFIG), overlaid by environment variables, then
// validated once at start-up. Errors name the field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseInput } from './validate.ts';
import { InputError } from './errors.ts';

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 500ms, 15s, 5m, 1h or 7d');

const scrapeTarget = z.object({
  job: z.string().min(1),
  url: z.string().url(),
  interval: duration.default('15s'),
  timeout: duration.default('10s'),
  labels: z.record(z.string(), z.string()).default({}),
});

export const configSchema = z.object({
  tenant: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('default'),
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Largest accepted request body in bytes (413 beyond). */
      bodyLimit: z.number().int().positive().default(32 * 1024 * 1024),
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
  ingester: z
    .object({
      /** Most samples per insert. */
      maxBatch: z.number().int().positive().default(2_000_000),
      /** Longest a sample waits before its batch is inserted. */
      maxWait: duration.default('1s'),
    })
    .prefault({}),
  collector: z
    .object({
      host: z.object({ enabled: z.boolean().default(true), interval: duration.default('15s') }).prefault({}),
      scrape: z.array(scrapeTarget).default([]),
    })
    .prefault({}),
  sla: z
    .object({
      /** How often each cluster's control plane is probed. */
      probeInterval: duration.default('15s'),
      probeTimeout: duration.default('5s'),
      /** This engine's probe location name; other locations post their results to /api/v1/sla/probes. */
      location: z.string().min(1).default('local'),
      /** The probe locations expected to report (informational: a minute is down when most of its probes, from wherever, failed). */
      locations: z.array(z.string().min(1)).default(['local']),
      clusters: z
        .array(
          z.object({
            name: z.string().min(1),
            readyzUrl: z.string().url(),
            livezUrl: z.string().url(),
            token: z.string().optional(),
            tokenFile: z.string().optional(),
            caFile: z.string().optional(),
            insecureSkipTlsVerify: z.boolean().default(false),
          }),
        )
        .default([]),
      /** Also probe the API server Tidemark runs in (in-cluster service account), as cluster `inClusterName`. */
      probeInCluster: z.boolean().default(false),
      inClusterName: z.string().min(1).default('in-cluster'),
      commitment: z.number().min(0).max(100).default(99.95),
      multiplier: z.number().nonnegative().default(100),
      minOutageMinutes: z.number().nonnegative().default(10),
      report: z
        .object({
          /** node-schedule cron for the month-just-ended report. */
          cron: z.string().default('10 0 1 * *'),
          tz: z.string().default('UTC'),
          /** Default: `reports` under `store.dataPath` (filled in by loadConfig), so `--data D` keeps reports in D. */
          outputDir: z.string().default(join('./data', 'reports')),
          webhookUrl: z.string().url().optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  autoscaler: z
    .object({
      /** Runs the autoscaler's control loop (roles all and api), reading pod metrics from the store. */
      enabled: z.boolean().default(false),
      /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config or the in-cluster service account. */
      kubeconfig: z.string().min(1).optional(),
      /** Round interval: how soon after samples land a policy is decided. */
      tick: duration.default('1s'),
    })
    .prefault({}),
  role: z.enum(['all', 'collector', 'ingester', 'api']).default('all'),
});

export type Config = z.output<typeof configSchema>;
export type ScrapeTargetConfig = z.output<typeof scrapeTarget>;

/** Milliseconds in a duration string such as 15s or 5m. */
export function durationMs(text: string, field = 'duration'): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new InputError(field, `"${text}" is not a duration such as 15s, 5m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

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

function getPath(source: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = source;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * SLA reports belong with the rest of the engine's data: without an explicit
 * `sla.report.outputDir` they go under the store's data path (`--data`,
 * TIDEMARK_DATA, `store.dataPath`), not under the working directory.
 */
function defaultReportsUnderData(raw: Record<string, unknown>): void {
  if (getPath(raw, ['sla', 'report', 'outputDir']) !== undefined) return;
  const dataPath = getPath(raw, ['store', 'dataPath']);
  // A dataPath of the wrong type is left for the schema to refuse, naming its own field.
  if (dataPath !== undefined && typeof dataPath !== 'string') return;
  setPath(raw, ['sla', 'report', 'outputDir'], join(dataPath ?? './data', 'reports'));
}

export interface LoadConfigOptions {
  file?: string;
  env?: Env;
  /** Values from command-line flags, applied last. */
  overrides?: { path: string[]; value: unknown }[];
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
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
  defaultReportsUnderData(raw);
  return parseInput(configSchema, raw);
}
