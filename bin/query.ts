// `tidemark query`: asks a running engine's range API and prints the answer.
import { Command, Option } from 'commander';
import { AGGREGATIONS } from '../metrics/aggregations.ts';
import { engineAuthHeaders } from '../core/cli.ts';

interface QueryOptions {
  match: string[];
  fn: string;
  by?: string;
  since?: string;
  start?: string;
  end?: string;
  step?: string;
  json?: boolean;
  url: string;
}

export interface QueryAnswer {
  series: { labels: Record<string, string>; points: [number, number | null][] }[];
}

export function formatTable(answer: QueryAnswer): string {
  const lines: string[] = [];
  for (const s of answer.series) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ');
    lines.push(`{${labels}}`);
    for (const [t, v] of s.points) lines.push(`  ${new Date(t * 1000).toISOString()}  ${v === null ? 'NaN' : v}`);
  }
  return lines.length ? lines.join('\n') : '(no series)';
}

export function queryCommand(): Command {
  return new Command('query')
    .description('Ask a running engine for a metric over a time range')
    // Bad arguments (e.g. --fn median) are thrown to bin/tidemark.ts, which exits 2 like other bad CLI input;
    // a subcommand added with addCommand() does not inherit the program's exitOverride.
    .exitOverride()
    .argument('<metric>', 'metric name, e.g. node_memory_MemAvailable_bytes')
    .option('--match <label=value>', 'label matcher (=, !=, =~, !~); repeatable', (v: string, acc: string[]) => [...acc, v], [])
    .addOption(new Option('--fn <fn>', 'aggregation').choices([...AGGREGATIONS]).default('avg'))
    .option('--by <labels>', 'group by these labels, comma-separated')
    .option('--since <duration>', 'from this long ago until now (default 15m)')
    .option('--start <time>', 'range start (unix seconds or RFC 3339)')
    .option('--end <time>', 'range end (unix seconds or RFC 3339; default now)')
    .option('--step <duration>', 'resolution, e.g. 60s')
    .option('--json', 'print {"series":[{"labels":{…},"points":[[unixSeconds,value],…]}]}')
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080')
    .action(async (metric: string, opts: QueryOptions) => {
      const params = new URLSearchParams({ metric, fn: opts.fn });
      for (const m of opts.match) params.append('match', m);
      if (opts.by) params.set('by', opts.by);
      if (opts.since) params.set('since', opts.since);
      if (opts.start) params.set('start', opts.start);
      if (opts.end) params.set('end', opts.end);
      if (opts.step) params.set('step', opts.step);
      let res: Response;
      try {
        res = await fetch(`${opts.url.replace(/\/$/, '')}/api/v1/range?${params}`, { headers: engineAuthHeaders() });
      } catch (e) {
        process.stderr.write(`tidemark query: cannot reach ${opts.url}: ${(e as Error).cause ?? (e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const body = (await res.json()) as QueryAnswer & { error?: string; message?: string };
      if (!res.ok) {
        process.stderr.write(`tidemark query: ${body.message ?? res.statusText}\n`);
        process.exitCode = res.status >= 500 ? 1 : 2;
        return;
      }
      const answer: QueryAnswer = { series: body.series };
      process.stdout.write((opts.json ? JSON.stringify(answer) : formatTable(answer)) + '\n');
    });
}
