// bench:query — 24 hours of a 1,000-node fleet's CPU and memory at a 15 s
// scrape interval, written into the store by ClickHouse itself (rollups
// filled by the materialized views as in production), then range queries
// through the engine's HTTP API from a separate process. Every timed query's
// answer is also checked against values computed here from the same
// formulas (exit 1 if one is wrong): a fast wrong answer is no figure.
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { seriesId } from '../metrics/series.ts';
import { insertSeries } from '../metrics/sample-writes.ts';
import { removeDir, startEngineProcess } from './engine-process.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const NODES = 1000;
const NAMESPACES = 40;
const HOURS = Number(process.env['BENCH_HOURS'] ?? 24);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 20);
const end = Math.floor(Date.now() / 3600_000) * 3600; // a whole hour, unix seconds
const start = end - HOURS * 3600;

const dir = mkdtempSync(join(tmpdir(), 'tidemark-query-bench-'));
const dataPath = join(dir, 'store');
const store = await Store.open({ dataPath, database: 'tidemark' });
await migrate(store, schemaContext(store, { rawRetentionDays: 30, rollupRetentionDays: 400 }), metricsMigrations);

const metrics = [
  { name: 'node_memory_MemAvailable_bytes', labels: (n: number) => ({ instance: `10.0.${n >> 8}.${n & 255}:9100`, node: `node-${n}` }), expr: 'base * 8e9 + 2e9 * sin(t / 3600 + base * 6)' },
  {
    name: 'container_memory_working_set_bytes',
    labels: (n: number) => ({ namespace: `team-${n % NAMESPACES}`, pod: `app-${n}-7d9f8c6b5d-x${n}`, container: 'app', node: `node-${n}` }),
    expr: 'base * 2e9 + 5e8 * sin(t / 1800 + base * 6)',
  },
  {
    name: 'container_cpu_usage_seconds_total',
    labels: (n: number) => ({ namespace: `team-${n % NAMESPACES}`, pod: `app-${n}-7d9f8c6b5d-x${n}`, container: 'app', node: `node-${n}` }),
    expr: '(t - {start:Float64}) * (0.2 + base)',
  },
];

const t0 = performance.now();
for (const m of metrics) {
  const defs = Array.from({ length: NODES }, (_, n) => {
    const labels = { __name__: m.name, ...m.labels(n) };
    return { id: seriesId(labels), labels };
  });
  await insertSeries(store, 'default', defs);
  // Every series, every 15 s: ClickHouse generates the rows and the materialized views roll them up.
  await store.command(
    `INSERT INTO tidemark.samples (tenant, series_id, ts, value)
     WITH [${defs.map((d) => d.id.toString()).join(',')}] AS ids
     SELECT 'default', ids[(number % ${NODES}) + 1] AS series_id,
            toDateTime64({start:Float64} + intDiv(number, ${NODES}) * 15, 3, 'UTC') AS ts,
            ${m.expr.replace(/\bt\b/g, 'toFloat64(intDiv(number, ' + NODES + ') * 15 + {start:Float64})').replace(/\bbase\b/g, '((number % ' + NODES + ') / ' + NODES + ')')} AS value
     FROM numbers(${NODES * HOURS * 240})`,
    { start },
    { max_insert_threads: '2' },
  );
}
const loadSeconds = (performance.now() - t0) / 1000;
const rows = (await store.query<{ c: number }>('SELECT count() AS c FROM tidemark.samples'))[0]!.c;
await store.command('OPTIMIZE TABLE tidemark.samples_1m FINAL');
await store.close();
console.error(`loaded ${rows} samples in ${loadSeconds.toFixed(1)} s`);

const engine = await startEngineProcess({}, {}, dataPath);
interface Timing {
  p50: number;
  p99: number;
  table: string;
  series: number;
  points: number;
  answer: RangeAnswer;
}
interface RangeAnswer {
  table: string;
  series: { labels: Record<string, string>; points: [number, number | null][] }[];
}

// What the generator wrote (the SQL expressions above, in JavaScript): node n's base is n / NODES, t the sample's unix seconds.
const base = (n: number) => n / NODES;
const memAvailable = (n: number, t: number) => base(n) * 8e9 + 2e9 * Math.sin(t / 3600 + base(n) * 6);
const workingSet = (n: number, t: number) => base(n) * 2e9 + 5e8 * Math.sin(t / 1800 + base(n) * 6);
const nodesOf = (namespace: number) => Array.from({ length: NODES }, (_, n) => n).filter((n) => n % NAMESPACES === namespace);

let checked = 0;
const wrong: string[] = [];
function check(what: string, got: number | null | undefined, want: number): void {
  checked++;
  const ok = typeof got === 'number' && Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want));
  if (!ok) wrong.push(`${what}: got ${got}, want ${want}`);
}
function pointAt(answer: RangeAnswer, label: string, value: string, t: number): number | null | undefined {
  return answer.series.find((s) => s.labels[label] === value)?.points.find((p) => p[0] === t)?.[1];
}
async function time(params: Record<string, string>): Promise<Timing> {
  const q = new URLSearchParams(params).toString();
  const times: number[] = [];
  let table = '';
  let series = 0;
  let points = 0;
  let answer: RangeAnswer = { table: '', series: [] };
  for (let i = 0; i < RUNS + 2; i++) {
    // Latency is to the last byte of the answer, as curl would time it; parsing it is the client's own work.
    const s = performance.now();
    const r = await fetch(`${engine.url}/api/v1/range?${q}`);
    const bytes = await r.arrayBuffer();
    const ms = performance.now() - s;
    const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as RangeAnswer & { message?: string };
    if (!r.ok) throw new Error(body.message);
    answer = body;
    if (i >= 2) times.push(ms); // two warm-up runs
    table = body.table;
    series = body.series.length;
    points = body.series.reduce((a, x) => a + x.points.length, 0);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
  return { p50: pct(50), p99: pct(99), table, series, points, answer };
}
try {
  const day = await time({ metric: 'node_memory_MemAvailable_bytes', fn: 'avg', by: 'node', start: String(start), end: String(end), step: '60' });
  console.error(`24 h avg by node, 60 s step: ${day.series} series, ${day.points} points from ${day.table}: p50 ${day.p50.toFixed(0)} ms, p99 ${day.p99.toFixed(0)} ms`);
  const hour = await time({ metric: 'container_memory_working_set_bytes', fn: 'p95', by: 'namespace', start: String(end - 3600), end: String(end), step: '15' });
  console.error(`1 h p95 by namespace, 15 s step: ${hour.series} series, ${hour.points} points from ${hour.table}: p50 ${hour.p50.toFixed(0)} ms, p99 ${hour.p99.toFixed(0)} ms`);
  const rate = await time({ metric: 'container_cpu_usage_seconds_total', fn: 'rate', by: 'namespace', start: String(end - 3600), end: String(end), step: '60' });
  console.error(`1 h rate by namespace, 60 s step: ${rate.series} series from ${rate.table}: p50 ${rate.p50.toFixed(0)} ms, p99 ${rate.p99.toFixed(0)} ms`);
  const all = await time({ metric: 'node_memory_MemAvailable_bytes', fn: 'count', start: String(start), end: String(end), step: String(end - start) });

  // Shapes: every series and every bucket of the range, and every sample counted once.
  check('samples stored', rows, NODES * HOURS * 240 * metrics.length);
  check('24 h avg: series', day.series, NODES);
  check('24 h avg: points', day.points, NODES * HOURS * 60);
  check('1 h p95: series', hour.series, NAMESPACES);
  check('1 h p95: points', hour.points, NAMESPACES * 240);
  check('1 h rate: series', rate.series, NAMESPACES);
  check('count over the whole range', all.answer.series.reduce((a, x) => a + x.points.reduce((b, p) => b + (p[1] ?? 0), 0), 0), NODES * HOURS * 240);
  // Values: a minute's average is the mean of its four 15 s samples, at a few nodes and minutes.
  for (const n of [0, 1, 517, NODES - 1]) {
    for (const t of [start, start + 60 * 37, end - 60]) {
      check(`24 h avg node-${n} at ${t}`, pointAt(day.answer, 'node', `node-${n}`, t), [0, 15, 30, 45].reduce((a, d) => a + memAvailable(n, t + d), 0) / 4);
    }
  }
  // A 15 s bucket holds one sample a series: p95 of a namespace's 25 values, as quantileExact picks it (the floor(0.95 n)-th smallest).
  for (const ns of [0, 7, NAMESPACES - 1]) {
    for (const t of [end - 3600, end - 1800, end - 15]) {
      const values = nodesOf(ns).map((n) => workingSet(n, t)).sort((a, b) => a - b);
      check(`1 h p95 team-${ns} at ${t}`, pointAt(hour.answer, 'namespace', `team-${ns}`, t), values[Math.floor(0.95 * values.length)]!);
    }
  }
  // The counters grow at (0.2 + base) per second: a namespace's rate is the sum of its nodes' slopes, in every bucket
  // after the first (read from the 1-minute rollup, the first bucket has no earlier minute in range: it answers null).
  for (const ns of [0, 13, NAMESPACES - 1]) {
    const want = nodesOf(ns).reduce((a, n) => a + 0.2 + base(n), 0);
    for (const t of [end - 3600 + 60, end - 1800, end - 60]) check(`1 h rate team-${ns} at ${t}`, pointAt(rate.answer, 'namespace', `team-${ns}`, t), want);
  }
  for (const w of wrong) console.error(`WRONG ${w}`);
  console.log(
    JSON.stringify({
      bench: 'query',
      samples: rows,
      p50_ms: Math.round(day.p50),
      p99_ms: Math.round(day.p99),
      table: day.table,
      series: day.series,
      points: day.points,
      p95_by_namespace_1h_p50_ms: Math.round(hour.p50),
      p95_by_namespace_1h_p99_ms: Math.round(hour.p99),
      p95_table: hour.table,
      checked,
      wrong: wrong.length,
    }),
  );
  if (wrong.length > 0) process.exitCode = 1;
} finally {
  await engine.stop();
  removeDir(dir);
}
