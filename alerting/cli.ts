// `tidemark rules check|test`, `tidemark silence add|list|expire` and
// `tidemark alerts search`. `rules check` reads rule files as the engine
// would; `rules test` runs promtool's unit-test format against an embedded
// store it opens in a temporary directory (chDB: one data directory per
// process), removed when done. Exit codes: 0 ok, 1 a test failed, 2 a file
// that does not parse. Silences and the history search ask a running engine
// (--url, TIDEMARK_URL; TIDEMARK_TOKEN as the bearer token).
import { Command } from 'commander';
import { engineAuthHeaders } from '../core/cli.ts';

interface Io {
  write(s: string): void;
  writeError(s: string): void;
  exit(code: number): void;
}

const processIo: Io = {
  write: (s) => void process.stdout.write(s),
  writeError: (s) => void process.stderr.write(s),
  exit: (code) => void (process.exitCode = code),
};

/** `rules check`: each file read and checked; promtool's report. */
export async function checkRuleFiles(files: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { loadRuleFile, RuleFileError } = await import('./rule-file.ts');
  let stdout = '';
  let stderr = '';
  let code = 0;
  for (const f of files) {
    stdout += `Checking ${f}\n`;
    try {
      const groups = loadRuleFile(f);
      stdout += `  SUCCESS: ${groups.reduce((n, g) => n + g.rules.length, 0)} rules found\n\n`;
    } catch (e) {
      if (!(e instanceof RuleFileError)) throw e;
      stdout += '\n';
      stderr += `  FAILED:\n${e.message}\n`;
      code = 2;
    }
  }
  return { code, stdout, stderr };
}

/** `rules test`: every file against one temporary embedded store, each test in its own tenant. */
export async function testRuleFiles(files: readonly string[]): Promise<{ code: number; stdout: string; files: { file: string; code: number; output: string }[] }> {
  const [{ mkdtempSync, rmSync }, { tmpdir }, { join }] = await Promise.all([import('node:fs'), import('node:os'), import('node:path')]);
  const [{ Store }, { migrate, schemaContext }, { metricsMigrations }, { MemoryBus }, { Ingester, ingesterMetrics }, { Registry }, { silentLogger }] = await Promise.all([
    import('../core/store.ts'),
    import('../core/migrations.ts'),
    import('../metrics/schema.ts'),
    import('../core/bus/memory-bus.ts'),
    import('../metrics/ingester.ts'),
    import('prom-client'),
    import('../core/log.ts'),
  ]);
  const { runTestFile } = await import('./unit-test.ts');
  const { busWriter, storeQuery, vectorOf } = await import('./service.ts');
  const { instantQuery } = await import('./promql.ts');
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-rules-test-'));
  const store = await Store.open({ dataPath: join(dir, 'store'), database: 'tidemark' });
  // Test series start at the Unix epoch, as promtool's do: retention long enough that 1970 is kept (toDateTime stays below 2106).
  await migrate(store, schemaContext(store, { rawRetentionDays: 30_000, rollupRetentionDays: 30_000 }), metricsMigrations);
  const bus = new MemoryBus({ capacity: 1_000_000, maxDelivery: 100_000, lingerMs: 0, acknowledge: 'stored' });
  const registry = new Registry();
  const ingester = new Ingester(store, ingesterMetrics(registry, bus), silentLogger);
  await ingester.start(bus);
  const defined = new Set<string>();
  let run = 0;
  let code = 0;
  let stdout = '';
  const perFile: { file: string; code: number; output: string }[] = [];
  try {
    for (const f of files) {
      const fileRun = run++;
      const outcome = await runTestFile(f, {
        open: async (test) => {
          const tenant = `rules-test-${fileRun}-${test}`;
          return {
            query: storeQuery(store, tenant),
            write: busWriter(bus, tenant, defined),
            queryRaw: async (expr, timeMs) =>
              vectorOf((await instantQuery(store, expr, timeMs, { tenant })).data).map((s) => {
                const labels: Record<string, string> = { ...s.metric };
                return { labels, value: s.value };
              }),
          };
        },
      });
      stdout += outcome.output;
      perFile.push({ file: f, code: outcome.code, output: outcome.output });
      code = Math.max(code, outcome.code);
    }
  } finally {
    await bus.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { code, stdout, files: perFile };
}

async function api(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url.replace(/\/$/, '')}${path}`, { ...init, headers: { ...engineAuthHeaders(), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: kept as text */
  }
  return { status: res.status, body };
}

const urlOption = ['--url <url>', 'engine address (also TIDEMARK_URL)', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080'] as const;
const collect = (v: string, acc: string[]) => [...acc, v];

function failed(io: Io, status: number, body: unknown): void {
  const msg = typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : JSON.stringify(body);
  io.writeError(`${status === 401 ? 'unauthorised (set TIDEMARK_TOKEN)' : `HTTP ${status}`}: ${msg}\n`);
  io.exit(status >= 400 && status < 500 ? 2 : 1);
}

export function rulesCommand(io: Io = processIo): Command {
  const cmd = new Command('rules').description('Check rule files and run their unit tests (promtool formats)');
  cmd
    .command('check')
    .description("Check Prometheus rule files: YAML, fields, expressions, templates (exit 2 on a file that does not load)")
    .argument('<files...>')
    .action(async (files: string[]) => {
      const r = await checkRuleFiles(files);
      io.write(r.stdout);
      if (r.stderr) io.writeError(r.stderr);
      io.exit(r.code);
    });
  cmd
    .command('test')
    .description("Run rule unit tests in promtool's format on an embedded store (exit 1 on a failed test, 2 on a file that does not parse)")
    .argument('<files...>')
    .action(async (files: string[]) => {
      const r = await testRuleFiles(files);
      io.write(r.stdout);
      io.exit(r.code);
    });
  return cmd;
}

export function silenceCommand(io: Io = processIo): Command {
  const cmd = new Command('silence').description('Add, list and expire silences on a running engine');
  cmd
    .command('add')
    .description('Silence alerts matching every matcher (label=value, label!=value, label=~regex, label!~regex)')
    .argument('<matchers...>')
    .requiredOption('--comment <text>', 'why')
    .option('--author <name>', 'who', process.env['USER'] ?? 'tidemark')
    .option('--duration <duration>', 'how long from now', '1h')
    .option(...urlOption)
    .action(async (matchers: string[], opts: { comment: string; author: string; duration: string; url: string }) => {
      const [{ parseMatchers, toApi }, { parseDuration }] = await Promise.all([import('./matchers.ts'), import('../core/duration.ts')]);
      let body: unknown;
      try {
        const ms = matchers.flatMap((m) => parseMatchers(m)).map(toApi);
        const now = Date.now();
        body = { matchers: ms, startsAt: new Date(now).toISOString(), endsAt: new Date(now + parseDuration(opts.duration, 'duration')).toISOString(), createdBy: opts.author, comment: opts.comment };
      } catch (e) {
        io.writeError(`${(e as Error).message}\n`);
        return io.exit(2);
      }
      const r = await api(opts.url, '/api/v2/silences', { method: 'POST', body: JSON.stringify(body) });
      if (r.status !== 200) return failed(io, r.status, r.body);
      io.write(`${(r.body as { silenceID: string }).silenceID}\n`);
    });
  cmd
    .command('list')
    .description('List silences (id, state, ends, matchers, author, comment)')
    .option('--json', 'print the API answer')
    .option(...urlOption)
    .action(async (opts: { json?: boolean; url: string }) => {
      const r = await api(opts.url, '/api/v2/silences');
      if (r.status !== 200) return failed(io, r.status, r.body);
      const list = r.body as { id: string; status: { state: string }; endsAt: string; createdBy: string; comment: string; matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[] }[];
      if (opts.json) return io.write(`${JSON.stringify(list, null, 2)}\n`);
      for (const s of list) {
        const ms = s.matchers.map((m) => `${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '=~' : m.isEqual ? '=' : '='}${JSON.stringify(m.value)}`).join(' ');
        io.write(`${s.id}  ${s.status.state}  ${s.endsAt}  ${ms}  ${s.createdBy}  ${s.comment}\n`);
      }
    });
  cmd
    .command('expire')
    .description('Expire silences now')
    .argument('<ids...>')
    .option(...urlOption)
    .action(async (ids: string[], opts: { url: string }) => {
      for (const id of ids) {
        const r = await api(opts.url, `/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
        if (r.status !== 200) return failed(io, r.status, r.body);
      }
    });
  return cmd;
}

export function alertsCommand(io: Io = processIo): Command {
  const cmd = new Command('alerts').description('Search the alert history (state changes and notifications)');
  cmd
    .command('search')
    .description('Alert history, newest first')
    .option('--name <alertname>', 'alert name')
    .option('--match <label=value>', 'label equality; repeatable', collect, [])
    .option('--state <state>', 'pending, firing, resolved, inactive, sent, failed, silenced, inhibited, summarised')
    .option('--since <duration|time>', 'from this long ago (1h) or this RFC 3339 time', '24h')
    .option('--json', 'print the entries as JSON')
    .option(...urlOption)
    .action(async (opts: { name?: string; match: string[]; state?: string; since: string; json?: boolean; url: string }) => {
      const params = new URLSearchParams({ since: opts.since });
      if (opts.name) params.set('name', opts.name);
      if (opts.state) params.set('state', opts.state);
      for (const m of opts.match) params.append('match', m);
      const r = await api(opts.url, `/api/v1/alerts/history?${params}`);
      if (r.status !== 200) return failed(io, r.status, r.body);
      const entries = (r.body as { data: { entries: { time: string; kind: string; alertname: string; state: string; labels: Record<string, string>; receiver: string; detail: string }[] } }).data.entries;
      if (opts.json) return io.write(`${JSON.stringify(entries, null, 2)}\n`);
      if (entries.length === 0) return io.write('(no entries)\n');
      for (const e of entries) {
        const labels = Object.entries(e.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
        io.write(`${e.time}  ${e.state.padEnd(9)}  ${e.alertname}{${labels}}${e.receiver ? `  → ${e.receiver}` : ''}${e.detail ? `  ${e.detail}` : ''}\n`);
      }
    });
  return cmd;
}
