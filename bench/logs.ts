// bench:logs — the same log lines pushed through the Loki push API to
// Tidemark and to VictoriaLogs (one at a time, each started on loopback
// and stopped after), then keyword, phrase and needle searches over the
// 24 hours the lines span, through each one's own query API, with the hit
// counts of the two checked equal.
//
// Load: LINES (default 10,000,000) lines from CONTAINERS (default 30,000)
// containers spread over 24 hours, in pushes of BATCH lines (default 5,000,
// Loki's JSON push format, grouped by stream as Promtail sends them) by
// SENDERS concurrent senders (default 8). The lines come from a seeded
// generator, batch by batch, so both targets get the very same lines: access
// and application logs with levels, IPs, durations, trace ids; one in 100 an
// upstream "timeout" (the keyword), one in 200 "connection refused" (the
// phrase), and a needle IP and a needle trace id planted in exactly
// NEEDLE_HITS lines each.
//
// Ingest is a stored rate: lines / (time to send + time until the target's
// own query API counts every line). Searches: SEARCH_ROUNDS (default 10)
// rounds of the keyword, the phrase and the two needles, each asking for
// the newest 100 lines over the 24 h (what a person searching waits for);
// p50/p99 over all of them. Hit counts are asked once per search (Tidemark:
// sum(count_over_time({__search__=…})), VictoriaLogs: `… | stats count()`).
// On disk: the data directory's size after the run, per line.
//
// VictoriaLogs v1.52.1 is built with `go install` into $TIDEMARK_CACHE (or
// ~/.cache/tidemark)/victorialogs-1.52.1 when not there yet (VICTORIALOGS_BIN
// overrides). Tidemark tokens searches by its text index (hasToken); the
// generated words avoid `_` next to a keyword, where the two tokenizers differ.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile } from 'simple-statistics';
import { mulberry32 } from '../core/hashing.ts';
import { freePort, removeDir, startEngineProcess } from './engine-process.ts';

const LINES = Number(process.env['LINES'] ?? 10_000_000);
const CONTAINERS = Number(process.env['CONTAINERS'] ?? 30_000);
const BATCH = Number(process.env['BATCH'] ?? 5000);
const SENDERS = Number(process.env['SENDERS'] ?? 8);
const SEARCH_ROUNDS = Number(process.env['SEARCH_ROUNDS'] ?? 10);
const NEEDLE_HITS = Number(process.env['NEEDLE_HITS'] ?? 3);
const SEND_DEADLINE_MS = Number(process.env['SEND_DEADLINE_MS'] ?? 3_600_000);
for (const [k, v] of Object.entries({ LINES, CONTAINERS, BATCH, SENDERS, SEARCH_ROUNDS, NEEDLE_HITS })) {
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${k} must be a whole number of at least 1`);
}

const SPAN_NS = 86_400_000_000_000n;
/** The lines span [T0, T0 + 24 h), ending ten minutes ago. */
const T0 = BigInt(Date.now() - 10 * 60_000) * 1_000_000n - SPAN_NS;
const NEEDLE_IP = '192.168.77.201';
const NEEDLE_TRACE = 'f00dfacecafebeef0123456789abcdef';
const KEYWORD = 'timeout';
const PHRASE = 'connection refused';

// ---------------------------------------------------------------------------
// The lines

interface Stream {
  stream: Record<string, string>;
  values: [string, string][];
}

const NAMESPACES = ['shop', 'payments', 'search', 'auth', 'kube-system', 'monitoring', 'ingest', 'batch'];
const WORKLOADS = ['api', 'web', 'worker', 'db', 'cache', 'gateway', 'scheduler', 'exporter'];

function containerLabels(c: number): Record<string, string> {
  const ns = NAMESPACES[c % NAMESPACES.length]!;
  const wl = `${WORKLOADS[Math.floor(c / NAMESPACES.length) % WORKLOADS.length]}-${Math.floor(c / 64)}`;
  return { cluster: `bench-${c % 3}`, namespace: ns, workload: wl, pod: `${wl}-7d9f8b6c5d-${(c * 7919).toString(36).slice(-5).padStart(5, 'x')}`, container: c % 5 === 0 ? 'sidecar' : 'app' };
}

/** Line indexes that carry a needle: spread over the span, one per NEEDLE_HITS-th of it. */
const needleAt = (k: number, salt: number): boolean => {
  const every = Math.floor(LINES / NEEDLE_HITS);
  return every > 0 && k % every === (salt * 7919) % every && k / every < NEEDLE_HITS;
};

const PATHS = ['/api/v1/items', '/api/v1/cart', '/checkout', '/login', '/healthz', '/search', '/static/app.js'];
const hex = (rnd: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rnd() * 16)];
  return s;
};

function lineText(k: number, rnd: () => number): string {
  const ip = needleAt(k, 1) ? NEEDLE_IP : `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const trace = needleAt(k, 2) ? NEEDLE_TRACE : hex(rnd, 32);
  const r = rnd();
  const ms = Math.floor(rnd() * 2000);
  if (r < 0.01) return `level=error msg="upstream ${KEYWORD} after ${ms}ms" upstream=db-${Math.floor(rnd() * 50)} client=${ip} trace=${trace}`;
  if (r < 0.015) return `level=warn msg="dial tcp ${ip}:5432: ${PHRASE}" retry=${Math.floor(rnd() * 5)} trace=${trace}`;
  if (r < 0.6) {
    const status = rnd() < 0.97 ? 200 : 503;
    return `${ip} - - "GET ${PATHS[Math.floor(rnd() * PATHS.length)]}?page=${Math.floor(rnd() * 100)} HTTP/1.1" ${status} ${Math.floor(rnd() * 50_000)} ${ms}ms trace=${trace}`;
  }
  return JSON.stringify({ level: rnd() < 0.9 ? 'info' : 'debug', msg: `processed batch ${Math.floor(rnd() * 1e6)}`, items: Math.floor(rnd() * 500), took_ms: ms, client: ip, trace });
}

/** Batch b's push body (Loki JSON), the same every time it is made. */
function batchBody(b: number): { body: Buffer; lines: number } {
  const rnd = mulberry32(0x5eed + b);
  const from = b * BATCH;
  const to = Math.min(LINES, from + BATCH);
  const streams = new Map<number, Stream>();
  for (let k = from; k < to; k++) {
    const c = Math.floor(rnd() * CONTAINERS);
    let s = streams.get(c);
    if (!s) streams.set(c, (s = { stream: containerLabels(c), values: [] }));
    s.values.push([String(T0 + (BigInt(k) * SPAN_NS) / BigInt(LINES)), lineText(k, rnd)]);
  }
  return { body: Buffer.from(JSON.stringify({ streams: [...streams.values()] })), lines: to - from };
}

// ---------------------------------------------------------------------------
// Sending

function poster(url: string, connections: number): { post(body: Buffer): Promise<number>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
  const post = (body: Buffer) =>
    new Promise<number>((resolve) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

interface Sent {
  seconds: number;
  lines: number;
  failedBatches: number;
  statuses: Record<number, number>;
}

async function pushAll(url: string): Promise<Sent> {
  const { post, close } = poster(url, SENDERS);
  const batches = Math.ceil(LINES / BATCH);
  const statuses: Record<number, number> = {};
  let next = 0;
  let lines = 0;
  let failedBatches = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < batches && performance.now() - started < SEND_DEADLINE_MS) {
      const { body, lines: n } = batchBody(next++);
      let ok = false;
      // 429/5xx/no answer retried with back-off (bounded), as Promtail does; another 4xx is a failure.
      for (let attempt = 0; attempt < 30 && !ok; attempt++) {
        const status = await post(body);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) ok = true;
        else if (status >= 400 && status < 500 && status !== 429) break;
        else await new Promise((r) => setTimeout(r, 100 * Math.min(attempt + 1, 10)));
      }
      if (ok) lines += n;
      else failedBatches++;
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, worker));
  close();
  return { seconds: (performance.now() - started) / 1000, lines, failedBatches, statuses };
}

async function waitForCount(count: () => Promise<number>, expected: number, deadlineMs: number): Promise<{ count: number; seconds: number; lastError?: string }> {
  const started = performance.now();
  let last = 0;
  let lastError: string | undefined;
  while (performance.now() - started < deadlineMs) {
    try {
      last = await count();
      lastError = undefined;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (last >= expected) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return { count: last, seconds: (performance.now() - started) / 1000, ...(lastError ? { lastError } : {}) };
}

// ---------------------------------------------------------------------------
// The targets

interface Search {
  name: string;
  kind: 'keyword' | 'phrase' | 'needle';
  /** The words, as Tidemark's __search__ takes them and VictoriaLogs' LogsQL (quoted phrase or word). */
  text: string;
}

const SEARCHES: Search[] = [
  { name: 'keyword', kind: 'keyword', text: KEYWORD },
  { name: 'phrase', kind: 'phrase', text: PHRASE },
  { name: 'needle_ip', kind: 'needle', text: NEEDLE_IP },
  { name: 'needle_trace', kind: 'needle', text: NEEDLE_TRACE },
];

interface Target {
  name: string;
  pushUrl: string;
  dataDir: string;
  count(): Promise<number>;
  /** Makes what it holds in memory reach the disk, before the data directory is measured. */
  flush(): Promise<void>;
  /** Lines of the newest 100 hits, over the 24 h. */
  search(s: Search): Promise<number>;
  hits(s: Search): Promise<number>;
  stop(): Promise<void>;
}

const START_S = Number(T0 / 1_000_000_000n) - 1;
const END_S = Number((T0 + SPAN_NS) / 1_000_000_000n) + 1;

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function tidemarkTarget(): Promise<Target> {
  const engine = await startEngineProcess();
  const api = (path: string, params: Record<string, string>) => getJson(`${engine.url}${path}?${new URLSearchParams(params)}`);
  const instantCount = async (selector: string): Promise<number> => {
    const body = (await api('/loki/api/v1/query', { query: `sum(count_over_time(${selector}[25h]))`, time: String(END_S) })) as { data: { result: { value: [number, string] }[] } };
    return Number(body.data.result[0]?.value[1] ?? 0);
  };
  const selector = (s: Search) => `{__search__=${JSON.stringify(s.text)}}`;
  return {
    name: 'tidemark',
    pushUrl: `${engine.url}/loki/api/v1/push`,
    dataDir: engine.dataDir,
    count: () => instantCount('{cluster=~"bench-.*"}'),
    // Inserts are on disk when answered (group commit); merges go on, and the size is measured as it stands.
    flush: async () => {},
    async search(s) {
      const body = (await api('/loki/api/v1/query_range', { query: selector(s), start: String(START_S), end: String(END_S), limit: '100' })) as { data: { result: { values: unknown[] }[] } };
      return body.data.result.reduce((a, r) => a + r.values.length, 0);
    },
    hits: (s) => instantCount(selector(s)),
    stop: () => engine.stop(),
  };
}

function victoriaLogsBinary(): string {
  const override = process.env['VICTORIALOGS_BIN'];
  if (override) return override;
  const cache = join(process.env['TIDEMARK_CACHE'] ?? join(homedir(), '.cache', 'tidemark'), 'victorialogs-1.52.1');
  const bin = join(cache, 'bin', 'victoria-logs');
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  console.error(`logs: building VictoriaLogs v1.52.1 into ${cache} (go install)`);
  const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
  execFileSync(go, ['install', 'github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1'], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: join(cache, 'bin'), GOPATH: join(cache, 'gopath'), GOCACHE: join(cache, 'gocache'), GOFLAGS: '-modcacherw' },
  });
  return bin;
}

async function victoriaLogsTarget(): Promise<Target> {
  const bin = victoriaLogsBinary();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-bench-vlogs-'));
  const child: ChildProcess = spawn(bin, [`-storageDataPath=${join(dataDir, 'data')}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=30d', '-loggerLevel=ERROR', '-loki.disableMessageParsing'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`victoria-logs exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error('victoria-logs not ready in 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const logsql = async (query: string, extra: Record<string, string> = {}): Promise<string> => {
    const r = await fetch(`${url}/select/logsql/query?${new URLSearchParams({ query, start: String(START_S), end: String(END_S), ...extra })}`);
    const text = await r.text();
    if (!r.ok) throw new Error(`${r.status} ${text.slice(0, 300)}`);
    return text;
  };
  const statsCount = async (filter: string): Promise<number> => {
    const text = await logsql(`${filter} | stats count() n`);
    const row = text.trim().split('\n').filter(Boolean)[0];
    return row ? Number((JSON.parse(row) as { n: string }).n) : 0;
  };
  const filterOf = (s: Search) => (s.kind === 'keyword' ? s.text : JSON.stringify(s.text));
  return {
    name: 'victorialogs',
    // Lines kept as the message, as Tidemark keeps them (VictoriaLogs would otherwise split JSON lines into fields, out of a plain search's reach).
    pushUrl: `${url}/insert/loki/api/v1/push?disable_message_parsing=1`,
    dataDir,
    count: () => statsCount('*'),
    flush: async () => {
      await fetch(`${url}/internal/force_flush`);
    },
    async search(s) {
      const text = await logsql(filterOf(s), { limit: '100' });
      return text.trim() === '' ? 0 : text.trim().split('\n').length;
    },
    hits: (s) => statsCount(filterOf(s)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  };
}

function diskBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

interface Result {
  sent: Sent;
  stored: number;
  visibleSeconds: number;
  linesPerSecond: number;
  searchMs: number[];
  searchMsByName: Record<string, number[]>;
  searchLines: Record<string, number>;
  hits: Record<string, number>;
  bytesPerLine: number;
  countError?: string;
}

async function run(target: Target): Promise<Result> {
  try {
    console.error(`logs: pushing ${LINES} lines to ${target.name}`);
    const sent = await pushAll(target.pushUrl);
    const visible = await waitForCount(() => target.count(), sent.lines, 300_000);
    const linesPerSecond = visible.count >= sent.lines ? sent.lines / (sent.seconds + visible.seconds) : 0;
    console.error(`logs: ${target.name} stored ${visible.count}/${sent.lines} (send ${sent.seconds.toFixed(1)} s, visible after ${visible.seconds.toFixed(1)} s more)`);
    const hits: Record<string, number> = {};
    for (const s of SEARCHES) hits[s.name] = await target.hits(s);
    const searchMs: number[] = [];
    const searchMsByName: Record<string, number[]> = Object.fromEntries(SEARCHES.map((s) => [s.name, []]));
    const searchLines: Record<string, number> = {};
    for (let round = 0; round < SEARCH_ROUNDS; round++) {
      for (const s of SEARCHES) {
        const t = performance.now();
        searchLines[s.name] = await target.search(s);
        searchMs.push(performance.now() - t);
        searchMsByName[s.name]!.push(performance.now() - t);
      }
    }
    await target.flush();
    const bytes = diskBytes(target.dataDir);
    return { sent, stored: visible.count, visibleSeconds: visible.seconds, linesPerSecond, searchMs, searchMsByName, searchLines, hits, bytesPerLine: visible.count > 0 ? bytes / visible.count : 0, ...(visible.lastError ? { countError: visible.lastError } : {}) };
  } finally {
    await target.stop();
    removeDir(target.dataDir);
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const p = (xs: number[], q: number) => (xs.length ? round1(quantile(xs, q)) : null);

console.error(`logs: ${LINES} lines from ${CONTAINERS} containers over 24 h, ${BATCH} lines a push, ${SENDERS} senders`);
const tidemark = await run(await tidemarkTarget());
const vlogs = await run(await victoriaLogsTarget());
const hitsEqual = SEARCHES.every((s) => tidemark.hits[s.name] === vlogs.hits[s.name]);
const detail = {
  lines_sent: LINES,
  containers: CONTAINERS,
  tidemark: {
    lines_accepted: tidemark.sent.lines,
    lines_stored: tidemark.stored,
    send_s: round1(tidemark.sent.seconds),
    visible_after_s: round1(tidemark.visibleSeconds),
    statuses: tidemark.sent.statuses,
    failed_batches: tidemark.sent.failedBatches,
    hits: tidemark.hits,
    search_lines: tidemark.searchLines,
    search_p50_ms: p(tidemark.searchMs, 0.5),
    search_p50_ms_by_kind: Object.fromEntries(Object.entries(tidemark.searchMsByName).map(([k, v]) => [k, p(v, 0.5)])),
    ...(tidemark.countError ? { count_error: tidemark.countError } : {}),
  },
  victorialogs: {
    lines_accepted: vlogs.sent.lines,
    lines_stored: vlogs.stored,
    send_s: round1(vlogs.sent.seconds),
    visible_after_s: round1(vlogs.visibleSeconds),
    statuses: vlogs.sent.statuses,
    failed_batches: vlogs.sent.failedBatches,
    hits: vlogs.hits,
    search_lines: vlogs.searchLines,
    search_p50_ms: p(vlogs.searchMs, 0.5),
    search_p50_ms_by_kind: Object.fromEntries(Object.entries(vlogs.searchMsByName).map(([k, v]) => [k, p(v, 0.5)])),
    bytes_per_line_on_disk: round1(vlogs.bytesPerLine),
    ...(vlogs.countError ? { count_error: vlogs.countError } : {}),
  },
  hits_equal: hitsEqual,
  searches: SEARCHES.length * SEARCH_ROUNDS,
  load_average: loadavg().map((x) => Math.round(x * 10) / 10),
};
console.error(JSON.stringify(detail));
console.log(
  JSON.stringify({
    bench: 'logs',
    lines_per_s: Math.round(tidemark.linesPerSecond),
    victorialogs_lines_per_s: Math.round(vlogs.linesPerSecond),
    search_p99_ms: p(tidemark.searchMs, 0.99),
    victorialogs_search_p99_ms: p(vlogs.searchMs, 0.99),
    bytes_per_line_on_disk: round1(tidemark.bytesPerLine),
    ...detail,
  }),
);
if (!hitsEqual || tidemark.stored !== LINES || vlogs.stored !== LINES) process.exitCode = 1;
