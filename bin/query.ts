// `tidemark query`: asks a running engine and prints the answer. A PromQL
// expression goes to the Prometheus API (`/api/v1/query`, or
// `/api/v1/query_range` with --since, --start or --step); a bare metric name
// keeps Tidemark's own range API (`/api/v1/range`: --fn, --by, --match)
// unless --promql says otherwise.
import { Command, Option } from 'commander';
import { AGGREGATIONS } from '../metrics/aggregations.ts';
import { engineAuthHeaders } from '../core/cli.ts';
import { parseDuration } from '../core/duration.ts';
import { InputError } from '../core/errors.ts';

interface QueryOptions {
  match: string[];
  fn?: string;
  by?: string;
  since?: string;
  start?: string;
  end?: string;
  time?: string;
  step?: string;
  promql?: boolean;
  json?: boolean;
  url: string;
}

export interface QueryAnswer {
  series: { labels: Record<string, string>; points: [number, number | null][] }[];
}

type Sample = [number, string];
export type PromQLData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: Sample }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: Sample[] }[] }
  | { resultType: 'scalar' | 'string'; result: Sample };

const labelText = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;

export function formatTable(answer: QueryAnswer): string {
  const lines: string[] = [];
  for (const s of answer.series) {
    lines.push(labelText(s.labels));
    for (const [t, v] of s.points) lines.push(`  ${new Date(t * 1000).toISOString()}  ${v === null ? 'NaN' : v}`);
  }
  return lines.length ? lines.join('\n') : '(no series)';
}

/** A PromQL answer as text: one line per instant sample, a block per range series. */
export function formatPromQL(data: PromQLData): string {
  const at = (t: number) => new Date(t * 1000).toISOString();
  switch (data.resultType) {
    case 'scalar':
    case 'string':
      return `${data.result[1]}  @ ${at(data.result[0])}`;
    case 'vector':
      return data.result.length ? data.result.map((s) => `${labelText(s.metric)}  ${s.value[1]}  @ ${at(s.value[0])}`).join('\n') : '(no series)';
    case 'matrix': {
      const lines: string[] = [];
      for (const s of data.result) {
        lines.push(labelText(s.metric));
        for (const [t, v] of s.values) lines.push(`  ${at(t)}  ${v}`);
      }
      return lines.length ? lines.join('\n') : '(no series)';
    }
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The request a command line makes: Tidemark's range API for a bare metric name, the Prometheus API otherwise. */
export function requestOf(expr: string, opts: QueryOptions, nowS = Date.now() / 1000): { path: string; params: URLSearchParams; kind: 'range-api' | 'promql' } {
  const tidemarkOptions = opts.fn !== undefined || opts.by !== undefined || opts.match.length > 0;
  if (METRIC_NAME.test(expr) && !opts.promql) {
    if (opts.time) throw new InputError('--time', 'goes with a PromQL query (--promql); a metric name asks the range API: use --start/--end');
    const params = new URLSearchParams({ metric: expr, fn: opts.fn ?? 'avg' });
    for (const m of opts.match) params.append('match', m);
    if (opts.by) params.set('by', opts.by);
    for (const k of ['since', 'start', 'end', 'step'] as const) if (opts[k]) params.set(k, opts[k]!);
    return { path: '/api/v1/range', params, kind: 'range-api' };
  }
  if (tidemarkOptions) throw new InputError(opts.fn !== undefined ? '--fn' : opts.by !== undefined ? '--by' : '--match', 'goes with a bare metric name (Tidemark\'s range API); a PromQL expression says it itself, e.g. sum by (node) (rate(x[5m]))');
  const params = new URLSearchParams({ query: expr });
  if (opts.since === undefined && opts.start === undefined && opts.step === undefined) {
    if (opts.end) throw new InputError('--end', 'goes with a range (--since or --start); an instant query takes --time');
    if (opts.time) params.set('time', opts.time);
    return { path: '/api/v1/query', params, kind: 'promql' };
  }
  if (opts.time) throw new InputError('--time', 'goes with an instant query; a range takes --since or --start/--end');
  const end = opts.end ?? String(nowS);
  const start = opts.start ?? String(nowS - parseDuration(opts.since ?? '15m', '--since', { bareSeconds: true }) / 1000);
  const span = Number(end) - Number(start);
  // As the range API: about 240 points, in multiples of 15 s (times given as RFC 3339 fall back to 60 s).
  const step = opts.step ?? (Number.isFinite(span) ? String(Math.max(15, Math.ceil(span / 240 / 15) * 15)) : '60');
  params.set('start', start);
  params.set('end', end);
  params.set('step', step);
  return { path: '/api/v1/query_range', params, kind: 'promql' };
}

export function queryCommand(): Command {
  return new Command('query')
    .description('Ask a running engine: a PromQL expression (instant, or a range with --since/--step), or a metric over a time range')
    // Bad arguments (e.g. --fn median) are thrown to bin/tidemark.ts, which exits 2 like other bad CLI input;
    // a subcommand added with addCommand() does not inherit the program's exitOverride.
    .exitOverride()
    .argument('<expr>', 'PromQL, e.g. sum by (node) (rate(node_cpu_seconds_total[5m])); a bare metric name asks the range API (--fn, --by, --match) unless --promql')
    .option('--promql', 'treat a bare metric name as PromQL too')
    .option('--match <label=value>', 'range API: label matcher (=, !=, =~, !~); repeatable', (v: string, acc: string[]) => [...acc, v], [])
    .addOption(new Option('--fn <fn>', 'range API: aggregation (default avg)').choices([...AGGREGATIONS]))
    .option('--by <labels>', 'range API: group by these labels, comma-separated')
    .option('--since <duration>', 'a range from this long ago until now (range API default 15m)')
    .option('--start <time>', 'range start (unix seconds or RFC 3339)')
    .option('--end <time>', 'range end (unix seconds or RFC 3339; default now)')
    .option('--step <duration>', 'resolution, e.g. 60s (PromQL: makes it a range query)')
    .option('--time <time>', 'PromQL instant query: evaluation time (default now)')
    .option('--json', 'print the answer as JSON: PromQL\'s data ({"resultType":…,"result":…}), or the range API\'s {"series":[{"labels":{…},"points":[[unixSeconds,value],…]}]}')
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080')
    .action(async (expr: string, opts: QueryOptions) => {
      const { path, params, kind } = requestOf(expr, opts);
      let res: Response;
      try {
        res = await fetch(`${opts.url.replace(/\/$/, '')}${path}?${params}`, { headers: engineAuthHeaders() });
      } catch (e) {
        process.stderr.write(`tidemark query: cannot reach ${opts.url}: ${(e as Error).cause ?? (e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const body = (await res.json()) as QueryAnswer & { data?: PromQLData; error?: string; message?: string };
      if (!res.ok) {
        process.stderr.write(`tidemark query: ${body.message ?? body.error ?? res.statusText}\n`);
        process.exitCode = res.status >= 500 ? 1 : 2;
        return;
      }
      if (kind === 'promql') {
        process.stdout.write((opts.json ? JSON.stringify(body.data) : formatPromQL(body.data!)) + '\n');
        return;
      }
      const answer: QueryAnswer = { series: body.series };
      process.stdout.write((opts.json ? JSON.stringify(answer) : formatTable(answer)) + '\n');
    });
}
