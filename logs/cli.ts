// `tidemark logs push` and `tidemark logs search`: clients of a running
// engine's Loki push API and log search API (TIDEMARK_URL, TIDEMARK_TOKEN).
// Cheap to load: no store, no bus.
import { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { engineAuthHeaders } from '../core/cli.ts';

const DEFAULT_URL = () => process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080';
/** Lines per push request. */
const PUSH_BATCH = 5000;
/** How often `search --follow` asks, and how far back each time (late lines still show). */
const FOLLOW_EVERY_MS = 2000;
const FOLLOW_OVERLAP_MS = 120_000;

function collect(v: string, acc: string[]): string[] {
  return [...acc, v];
}

/** `k=v` pairs into labels; throws naming the bad one. */
export function parseLabelPairs(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(pair.slice(0, eq))) throw new Error(`--label "${pair}" is not name=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

async function send(url: string, path: string, init: RequestInit): Promise<Response> {
  return fetch(`${url.replace(/\/$/, '')}${path}`, { ...init, headers: { ...engineAuthHeaders(), ...(init.headers as Record<string, string> | undefined) } });
}

async function failure(command: string, res: Response): Promise<void> {
  const text = await res.text();
  let message = text;
  try {
    const body = JSON.parse(text) as { message?: string };
    message = body.message ?? text;
  } catch {
    // not JSON: the text as it is
  }
  process.stderr.write(`tidemark logs ${command}: ${res.status === 401 ? 'unauthorized (set TIDEMARK_TOKEN)' : message || res.statusText}\n`);
  process.exitCode = res.status >= 500 ? 1 : 2;
}

interface PushOptions {
  label: string[];
  url: string;
}

interface SearchOptions {
  cluster?: string;
  namespace?: string;
  workload?: string;
  pod?: string;
  container?: string;
  label: string[];
  since?: string;
  start?: string;
  end?: string;
  limit?: string;
  json?: boolean;
  follow?: boolean;
  url: string;
}

interface FoundLine {
  ts: string;
  time: string;
  labels: Record<string, string>;
  line: string;
}

interface SearchAnswer {
  lines: FoundLine[];
  histogram: { stepSeconds: number; buckets: [number, number][] };
  total: number;
}

const SHOWN_LABELS = ['cluster', 'namespace', 'pod', 'container'];

export function formatLine(l: FoundLine): string {
  const where = SHOWN_LABELS.map((k) => l.labels[k]).filter(Boolean).join('/');
  return `${l.time}  ${where || JSON.stringify(l.labels)}  ${l.line}`;
}

/** A one-line bar chart of the histogram, and the counts. */
export function formatHistogram(answer: SearchAnswer): string {
  const counts = answer.histogram.buckets.map(([, n]) => n);
  const max = Math.max(1, ...counts);
  const bars = '▁▂▃▄▅▆▇█';
  const chart = counts.map((n) => bars[Math.min(bars.length - 1, Math.floor((n / max) * (bars.length - 1)))]).join('');
  return `${answer.total} matching lines (${answer.histogram.buckets.length} buckets of ${answer.histogram.stepSeconds}s) ${chart}`;
}

export function logsCommand(): Command {
  const logs = new Command('logs').description('Push log lines to a running engine and search its logs');
  logs
    .command('push')
    .description('Send lines from FILE (stdin when absent) to the engine\'s Loki push API, one log line per input line')
    .exitOverride()
    .argument('[file]', 'a text file; stdin when absent')
    .option('--label <name=value>', 'a stream label; repeatable (default source=cli)', collect, [])
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', DEFAULT_URL())
    .action(async (file: string | undefined, opts: PushOptions) => {
      let labels: Record<string, string>;
      try {
        labels = parseLabelPairs(opts.label);
      } catch (e) {
        process.stderr.write(`tidemark logs push: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      if (Object.keys(labels).length === 0) labels = { source: 'cli' };
      const input = createInterface({ input: file ? createReadStream(file) : process.stdin, crlfDelay: Infinity });
      let batch: [string, string][] = [];
      let sent = 0;
      // Lines of one run keep their order: each a nanosecond after the one before.
      let ns = BigInt(Date.now()) * 1_000_000n;
      const flush = async (): Promise<boolean> => {
        if (batch.length === 0) return true;
        let res: Response;
        try {
          res = await send(opts.url, '/loki/api/v1/push', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ streams: [{ stream: labels, values: batch }] }) });
        } catch (e) {
          process.stderr.write(`tidemark logs push: cannot reach ${opts.url}: ${(e as Error).cause ?? (e as Error).message}\n`);
          process.exitCode = 1;
          return false;
        }
        if (!res.ok) {
          await failure('push', res);
          return false;
        }
        sent += batch.length;
        batch = [];
        return true;
      };
      try {
        for await (const line of input) {
          batch.push([(ns++).toString(), line]);
          if (batch.length >= PUSH_BATCH && !(await flush())) return;
        }
      } catch (e) {
        process.stderr.write(`tidemark logs push: cannot read ${file ?? 'stdin'}: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      if (!(await flush())) return;
      process.stderr.write(`pushed ${sent} lines\n`);
    });

  logs
    .command('search')
    .description('Search a running engine\'s logs by labels, time and keywords or "a phrase"; newest first')
    .exitOverride()
    .argument('[query]', 'keywords and "quoted phrases", all of which must occur (whole words, any case)')
    .option('--cluster <name>')
    .option('--namespace <name>')
    .option('--workload <name>', 'Deployment, StatefulSet, DaemonSet, Job or CronJob name (derived from pod names)')
    .option('--pod <name>')
    .option('--container <name>')
    .option('--label <name=value>', 'any other label, e.g. user=alice for audit events; repeatable', collect, [])
    .option('--since <duration>', 'from this long ago until now (default 1h)')
    .option('--start <time>', 'unix seconds or RFC 3339')
    .option('--end <time>', 'unix seconds or RFC 3339 (default now)')
    .option('--limit <n>', 'most lines shown (default 100)')
    .option('--json', 'print the answer as JSON: {"lines":[…],"histogram":{…},"total":n}')
    .option('--follow', 'keep printing new matching lines as they arrive (Ctrl-C stops)')
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', DEFAULT_URL())
    .action(async (query: string | undefined, opts: SearchOptions) => {
      const params = new URLSearchParams();
      for (const k of ['cluster', 'namespace', 'workload', 'pod', 'container', 'since', 'start', 'end', 'limit'] as const) if (opts[k] !== undefined) params.set(k, opts[k]!);
      for (const l of opts.label) params.append('label', l);
      if (query) params.set('q', query);
      const ask = async (p: URLSearchParams): Promise<SearchAnswer | null> => {
        let res: Response;
        try {
          res = await send(opts.url, `/api/v1/logs/search?${p}`, {});
        } catch (e) {
          process.stderr.write(`tidemark logs search: cannot reach ${opts.url}: ${(e as Error).cause ?? (e as Error).message}\n`);
          process.exitCode = 1;
          return null;
        }
        if (!res.ok) {
          await failure('search', res);
          return null;
        }
        return (await res.json()) as SearchAnswer;
      };
      // Follow: each round asks for the last FOLLOW_OVERLAP_MS (lines arrive late: shippers batch,
      // clocks differ) and prints what it has not printed, oldest first. What was there when it
      // started counts as printed, whether or not the first answer (up to --limit) showed it.
      const key = (l: FoundLine) => `${l.ts}\u0000${JSON.stringify(l.labels)}\u0000${l.line}`;
      const shown = new Map<string, bigint>();
      const followParams = () => {
        const p = new URLSearchParams(params);
        p.delete('since');
        p.delete('end');
        p.set('start', ((Date.now() - FOLLOW_OVERLAP_MS) / 1000).toFixed(3));
        p.set('limit', '5000');
        return p;
      };
      if (opts.follow) {
        const seen = await ask(followParams());
        if (!seen) return;
        for (const l of seen.lines) shown.set(key(l), BigInt(l.ts));
      }
      const answer = await ask(params);
      if (!answer) return;
      if (opts.json) process.stdout.write(`${JSON.stringify(answer)}\n`);
      else {
        process.stdout.write(`${formatHistogram(answer)}\n`);
        for (const l of answer.lines) process.stdout.write(`${formatLine(l)}\n`);
      }
      if (!opts.follow) return;
      for (const l of answer.lines) shown.set(key(l), BigInt(l.ts));
      for (;;) {
        await new Promise((r) => setTimeout(r, FOLLOW_EVERY_MS));
        const p = followParams();
        const more = await ask(p);
        if (!more) return;
        for (const l of [...more.lines].reverse()) {
          const k = key(l);
          if (shown.has(k)) continue;
          shown.set(k, BigInt(l.ts));
          process.stdout.write(opts.json ? `${JSON.stringify(l)}\n` : `${formatLine(l)}\n`);
        }
        // Forget what has left the window.
        const oldest = BigInt(Math.floor(Number(p.get('start')) * 1000)) * 1_000_000n;
        for (const [k, ts] of shown) if (ts < oldest) shown.delete(k);
      }
    });
  return logs;
}
