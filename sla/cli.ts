// `tidemark sla …` and `tidemark billing …`: the calculator on JSON,
// monthly reports, exclusions and the billing CSV import. Commands that need
// the store open it from the configuration unless a store is handed in.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { InputError } from '../core/errors.ts';
import { engineAuthHeaders, runJsonCommand, type CliResult } from '../core/cli.ts';
// The configuration, the store and the report and scheduling code load only
// when a command opens the store (withStore, `sla report`): `sla compute`
// starts without them.
import type { SlaConfig } from './config.ts';
import type { Store } from '../core/store.ts';
import { computeSla, parseSlaInput, isoUtc } from './calculator.ts';
import { recordExclusion, listExclusions, exclusionJson, parseExclusion } from './exclusions.ts';
import { parseChargesCsv, storeCharges } from './billing.ts';
import { monthPeriod } from './period.ts';

export interface SlaCliDeps {
  /** An open, migrated store (tests, or the engine); otherwise one is opened from the configuration. */
  store?: Store;
  tenant?: string;
  config?: SlaConfig;
  write?: (text: string) => void;
  writeError?: (text: string) => void;
  /** Sets the exit code; the default sets process.exitCode. */
  exit?: (code: number) => void;
  readStdin?: () => Promise<string>;
}

/** The calculator on JSON text: exit code 2 and a message naming the field on bad input, and then no output. */
export function computeFromText(text: string): CliResult {
  return runJsonCommand(text, (raw) => computeSla(parseSlaInput(raw)), (result) => `${JSON.stringify(result)}\n`);
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function io(deps: SlaCliDeps) {
  return {
    write: deps.write ?? ((s: string) => void process.stdout.write(s)),
    writeError: deps.writeError ?? ((s: string) => void process.stderr.write(s)),
    exit: deps.exit ?? ((code: number) => void (process.exitCode = code)),
  };
}

/** Runs `fn` with a store: the handed-in one, or one opened (and migrated, and closed) from the configuration. */
async function withStore<T>(deps: SlaCliDeps, configFile: string | undefined, fn: (store: Store, config: SlaConfig, tenant: string) => Promise<T>): Promise<T> {
  const [{ coreConfigSchema, loadConfigWith, settleDefaults }, { settleSlaDefaults, slaSection }] = await Promise.all([import('../core/config.ts'), import('./config.ts')]);
  const config = deps.config ?? loadConfigWith(coreConfigSchema.extend({ sla: slaSection }).transform((c) => settleSlaDefaults(settleDefaults(c))), { file: configFile });
  const tenant = deps.tenant ?? config.tenant;
  if (deps.store) return fn(deps.store, config, tenant);
  const [{ Store }, { migrate, schemaContext }, { slaMigrations }] = await Promise.all([import('../core/store.ts'), import('../core/migrations.ts'), import('./schema.ts')]);
  const s = config.store;
  const store = await Store.open({ dataPath: s.dataPath, url: s.url, user: s.user, password: s.password, database: s.database, cluster: s.cluster });
  try {
    await migrate(store, schemaContext(store, { rawRetentionDays: s.rawRetentionDays, rollupRetentionDays: s.rollupRetentionDays }), slaMigrations);
    return await fn(store, config, tenant);
  } finally {
    await store.close();
  }
}

/**
 * Calls a running engine's SLA API. Embedded chDB binds its data directory
 * to one process, so while the engine runs, the CLI works through it
 * (--api or TIDEMARK_API) instead of opening the store itself.
 */
async function callApi(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, base.endsWith('/') ? base : `${base}/`), {
    method,
    headers: { ...engineAuthHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json ?? {}) as { message?: string; field?: string };
    if (res.status === 400) throw new InputError(err.field ?? 'request', err.message ?? text);
    throw new Error(`${method} ${path}: HTTP ${res.status} ${err.message ?? text}`);
  }
  return json;
}

function apiBase(opts: { api?: string }): string | undefined {
  return opts.api ?? process.env['TIDEMARK_API'];
}

/** Reports InputErrors as a message and exit code 2; everything else propagates. */
async function guarded(deps: SlaCliDeps, fn: () => Promise<void>): Promise<void> {
  const { writeError, exit } = io(deps);
  try {
    await fn();
  } catch (e) {
    if (e instanceof InputError) {
      writeError(`${e.message}\n`);
      exit(2);
      return;
    }
    throw e;
  }
}

export function slaCommand(deps: SlaCliDeps = {}): Command {
  const { write, writeError, exit } = io(deps);
  const sla = new Command('sla').description('SLA calculator, monthly reports and exclusions');

  sla
    .command('compute')
    .description('run the SLA calculator on JSON (stdin or --input FILE) and print the result as JSON')
    .option('--input <file>', 'read the input from FILE instead of stdin')
    .action(async (opts: { input?: string }) => {
      let text: string;
      try {
        text = opts.input ? readFileSync(opts.input, 'utf8') : await (deps.readStdin ?? readAllStdin)();
      } catch (e) {
        writeError(`input: cannot read ${opts.input}: ${(e as Error).message}\n`);
        exit(2);
        return;
      }
      const r = computeFromText(text);
      if (r.stdout) write(r.stdout);
      if (r.stderr) writeError(r.stderr);
      if (r.code !== 0) exit(r.code);
    });

  sla
    .command('report')
    .description('run (idempotently) the monthly SLA report for a month')
    .requiredOption('--month <YYYY-MM>', 'the month, e.g. 2026-10')
    .option('--config <file>', 'configuration file')
    .option('--output <dir>', 'report directory (default: sla.report.outputDir)')
    .option('--api <url>', 'run it in the engine at this URL instead of opening the store (default: $TIDEMARK_API)')
    .action((opts: { month: string; config?: string; output?: string; api?: string }) =>
      guarded(deps, async () => {
        monthPeriod(opts.month, '--month');
        const api = apiBase(opts);
        if (api) {
          write(JSON.stringify(await callApi(api, 'POST', `api/v1/sla/reports/${opts.month}/run`)) + '\n');
          return;
        }
        return withStore(deps, opts.config, async (store, config, tenant) => {
          const [{ runMonthlyReport }, { configuredClusters }] = await Promise.all([import('./report.ts'), import('./service.ts')]);
          const c = config.sla;
          const out = await runMonthlyReport(store, {
            tenant,
            month: opts.month,
            outputDir: opts.output ?? c.report.outputDir,
            webhookUrl: c.report.webhookUrl,
            clusters: configuredClusters(config),
            commitment: c.commitment,
            multiplier: c.multiplier,
            minOutageMinutes: c.minOutageMinutes,
          });
          write(JSON.stringify({ month: out.month, version: out.version, created: out.created, announced: out.announced, files: out.files, totals: out.report.totals }) + '\n');
        });
      }),
    );

  const exclusions = sla.command('exclusions').description('maintenance, dependency, customer, third-party and force-majeure windows');
  exclusions
    .command('add')
    .description('record an exclusion window')
    .requiredOption('--cluster <name>', "cluster name, or '*' for all")
    .requiredOption('--start <iso>', 'start, ISO 8601')
    .requiredOption('--end <iso>', 'end, ISO 8601')
    .requiredOption('--cause <cause>', 'maintenance | dependency | customer | third-party | force-majeure')
    .requiredOption('--reason <text>', 'why')
    .requiredOption('--by <who>', 'who records it')
    .option('--config <file>', 'configuration file')
    .option('--api <url>', 'record it through the engine at this URL (default: $TIDEMARK_API)')
    .action((opts: { cluster: string; start: string; end: string; cause: string; reason: string; by: string; config?: string; api?: string }) =>
      guarded(deps, async () => {
        const raw = { cluster: opts.cluster, start: opts.start, end: opts.end, cause: opts.cause, reason: opts.reason, recordedBy: opts.by };
        parseExclusion(raw); // refuse bad input before touching the store
        const api = apiBase(opts);
        if (api) {
          write(JSON.stringify(await callApi(api, 'POST', 'api/v1/sla/exclusions', raw)) + '\n');
          return;
        }
        return withStore(deps, opts.config, async (store, _config, tenant) => {
          const rec = await recordExclusion(store, tenant, raw);
          write(JSON.stringify(exclusionJson(rec)) + '\n');
        });
      }),
    );
  exclusions
    .command('list')
    .description('list exclusions overlapping a month')
    .requiredOption('--month <YYYY-MM>', 'the month')
    .option('--cluster <name>', 'one cluster')
    .option('--config <file>', 'configuration file')
    .option('--api <url>', 'ask the engine at this URL (default: $TIDEMARK_API)')
    .action((opts: { month: string; cluster?: string; config?: string; api?: string }) =>
      guarded(deps, async () => {
        const period = monthPeriod(opts.month, '--month');
        const api = apiBase(opts);
        if (api) {
          const q = new URLSearchParams({ month: opts.month, ...(opts.cluster ? { cluster: opts.cluster } : {}) });
          const body = (await callApi(api, 'GET', `api/v1/sla/exclusions?${q}`)) as { exclusions: unknown[] };
          write(JSON.stringify(body.exclusions) + '\n');
          return;
        }
        return withStore(deps, opts.config, async (store, _config, tenant) => {
          const list = await listExclusions(store, tenant, period, opts.cluster);
          write(JSON.stringify(list.map(exclusionJson)) + '\n');
        });
      }),
    );
  return sla;
}

export function billingCommand(deps: SlaCliDeps = {}): Command {
  const { write } = io(deps);
  const billing = new Command('billing').description('billing input for SLA compensation');
  billing
    .command('import')
    .description('import per-cluster charges from CSV (header: cluster,start,end,amount[,item])')
    .argument('<file>', 'CSV file')
    .option('--config <file>', 'configuration file')
    .option('--api <url>', 'send the charges to the engine at this URL (default: $TIDEMARK_API)')
    .action((file: string, opts: { config?: string; api?: string }) =>
      guarded(deps, async () => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw new InputError('file', `cannot read ${file}: ${(e as Error).message}`);
        }
        // Parse the whole file before opening the store: a bad line stores nothing.
        const charges = parseChargesCsv(text);
        const api = apiBase(opts);
        if (api) {
          const body = charges.map((c) => ({ cluster: c.cluster, item: c.item, start: isoUtc(c.start), end: isoUtc(c.end), amount: c.amount }));
          const r = (await callApi(api, 'POST', 'api/v1/sla/charges', body)) as { stored: number };
          write(`imported ${r.stored} charges from ${file}\n`);
          return;
        }
        await withStore(deps, opts.config, async (store, _config, tenant) => {
          const n = await storeCharges(store, tenant, charges, `csv:${file}`);
          write(`imported ${n} charges from ${file}\n`);
        });
      }),
    );
  return billing;
}
