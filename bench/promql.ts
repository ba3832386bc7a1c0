// bench:promql — the same 24 hours of a fleet (test/helpers/fleet-fixture.ts:
// node_exporter, cAdvisor, kube-state-metrics, the API server's `up`,
// Tidemark's self-metrics) loaded into Tidemark (its store, rollups filled
// by the materialized views as in production), Debian's Prometheus
// (`promtool tsdb create-blocks-from openmetrics`, the backfill) and Debian's
// VictoriaMetrics (its /api/v1/import) in one run; then every Grafana
// dashboard query (dashboards/grafana/*.json, variables expanded to the
// fixture's values, the node variable as "All") and
// `avg by (node) (rate(node_cpu_seconds_total[5m]))` over the 24 hours at a
// 60 s step through each one's /api/v1/query_range, BENCH_ROUNDS rounds
// after a warm-up, the three asked in turn. Latency is to the last byte of
// the answer. Answers are checked: the series count of each answer must be
// the same from all three (`agreement`), and Tidemark's values are compared
// with Prometheus' (`values_agree_with_prometheus`).
//
// NODES (default 1000) nodes of 2 pods each, INTERVAL_S (default 60) between
// samples. At 1,000 nodes that is about 45 million samples, and the
// OpenMetrics text for Prometheus' backfill several GB: allow an hour; use
// NODES=100 for a run of a few minutes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { fleetFixture, loadIntoStore, openMetricsText, victoriaMetricsLines } from '../test/helpers/fleet-fixture.ts';
import { freePort, removeDir, startEngineProcess } from './engine-process.ts';

const NODES = Number(process.env['NODES'] ?? 1000);
const HOURS = Number(process.env['BENCH_HOURS'] ?? 24);
const INTERVAL_S = Number(process.env['INTERVAL_S'] ?? 60);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const STEP_S = 60;
if (!(NODES >= 1 && HOURS > 0 && INTERVAL_S > 0 && ROUNDS >= 1)) throw new Error('NODES, BENCH_HOURS, INTERVAL_S and BENCH_ROUNDS must be positive');

const end = Math.floor(Date.now() / 3600_000) * 3600; // a whole hour, unix seconds
const start = end - HOURS * 3600;
const fleet = fleetFixture({ clusters: ['prod-eu-west-1'], nodes: NODES, startS: start, endS: end, intervalS: INTERVAL_S });
const samples = fleet.series.length * fleet.points;
console.error(`promql: ${NODES} nodes, ${fleet.series.length} series × ${fleet.points} points = ${samples} samples over ${HOURS} h`);

// ---------------------------------------------------------------------------
// The queries: every dashboard panel's, variables expanded, and the issue's own.

function dashboardQueries(): string[] {
  const dir = new URL('../dashboards/grafana/', import.meta.url).pathname;
  const values: Record<string, string> = {
    cluster: fleet.example.cluster,
    namespace: fleet.example.namespace,
    workload: fleet.example.workload,
    node: '.*', // "All", as Grafana sends it for a variable without allValue… closely enough: a regex over every node
    instance: '127.0.0.1:8080',
    __rate_interval: '5m',
    __interval: `${STEP_S}s`,
    __range: `${HOURS * 3600}s`,
    __range_s: String(HOURS * 3600),
  };
  const out: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels: { targets?: { expr?: string }[] }[] };
    for (const p of d.panels) for (const t of p.targets ?? []) if (t.expr) out.push(t.expr.replace(/\$\{?(\w+)\}?/g, (m, name: string) => values[name] ?? m));
  }
  return out;
}
const QUERIES = ['avg by (node) (rate(node_cpu_seconds_total[5m]))', ...dashboardQueries()];

// ---------------------------------------------------------------------------
// The three, loaded.

interface Peer {
  name: string;
  url: string;
  loadSeconds: number;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, name: string, ms = 300_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    removeDir(dir);
  };
}

async function tidemark(): Promise<Peer> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-promql-bench-'));
  const dataPath = join(dir, 'store');
  const store = await Store.open({ dataPath, database: 'tidemark' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 30, rollupRetentionDays: 400 }), metricsMigrations);
  await loadIntoStore(store, 'default', fleet);
  // Merged, as a store that has been running a while is (Prometheus' backfilled blocks are compacted too).
  for (const table of ['samples', 'samples_1m', 'samples_1h']) await store.command(`OPTIMIZE TABLE tidemark.${table} FINAL`);
  await store.close();
  const engine = await startEngineProcess({}, {}, dataPath);
  const loadSeconds = (performance.now() - t0) / 1000;
  return {
    name: 'tidemark',
    url: engine.url,
    loadSeconds,
    stop: async () => {
      await engine.stop();
      removeDir(engine.dataDir);
      removeDir(dir);
    },
  };
}

async function prometheus(): Promise<Peer> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-promql-prom-'));
  const text = join(dir, 'fleet.om');
  const out = createWriteStream(text);
  for (const chunk of openMetricsText(fleet)) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  const backfill = spawnSync('/usr/bin/promtool', ['tsdb', 'create-blocks-from', 'openmetrics', text, join(dir, 'tsdb')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (backfill.status !== 0) throw new Error(`promtool backfill failed: ${backfill.stderr.slice(-2000)}`);
  removeDir(text);
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global: { scrape_interval: 1h }\n');
  const child = spawn(
    '/usr/bin/prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=400d', '--log.level=error'],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, 'prometheus');
  return { name: 'prometheus', url, loadSeconds: (performance.now() - t0) / 1000, stop: stopper(child, dir) };
}

async function victoriaMetrics(): Promise<Peer> {
  const t0 = performance.now();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-promql-vm-'));
  const child = spawn('/usr/bin/victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=1y', '-search.latencyOffset=0s', '-loggerLevel=ERROR'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/health`, child, 'victoria-metrics');
  let batch: string[] = [];
  const send = async () => {
    if (batch.length === 0) return;
    const r = await fetch(`${url}/api/v1/import`, { method: 'POST', body: batch.join('') });
    if (!r.ok) throw new Error(`victoria-metrics import: ${r.status} ${await r.text()}`);
    batch = [];
  };
  for (const line of victoriaMetricsLines(fleet)) {
    batch.push(line);
    if (batch.length >= 500) await send();
  }
  await send();
  await fetch(`${url}/internal/force_flush`);
  return { name: 'victoriametrics', url, loadSeconds: (performance.now() - t0) / 1000, stop: stopper(child, dir) };
}

// ---------------------------------------------------------------------------
// Asking.

interface Matrix {
  metric: Record<string, string>;
  values: [number, string][];
}

async function queryRange(peer: Peer, expr: string): Promise<{ ms: number; result: Matrix[] }> {
  const body = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(STEP_S) }).toString();
  const s = performance.now();
  const r = await fetch(`${peer.url}/api/v1/query_range`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const bytes = await r.arrayBuffer();
  const ms = performance.now() - s;
  const answer = JSON.parse(Buffer.from(bytes).toString('utf8')) as { status: string; data?: { result: Matrix[] }; error?: string };
  if (!r.ok || answer.status !== 'success') throw new Error(`${peer.name}: ${expr}: ${r.status} ${answer.error ?? ''}`);
  return { ms, result: answer.data!.result };
}

const keyOf = (m: Record<string, string>) =>
  JSON.stringify(
    Object.entries(m)
      .filter(([k]) => k !== '__name__')
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );

/** Whether two answers hold the same series with the same values (1e-6 relative), as far as both have points. */
function sameValues(a: Matrix[], b: Matrix[]): boolean {
  if (a.length !== b.length) return false;
  const byKey = new Map(b.map((s) => [keyOf(s.metric), s]));
  for (const s of a) {
    const other = byKey.get(keyOf(s.metric));
    if (!other) return false;
    const at = new Map(other.values.map(([t, v]) => [t, Number(v)]));
    for (const [t, v] of s.values) {
      const w = at.get(t);
      if (w === undefined) continue;
      const x = Number(v);
      if (Number.isNaN(x) && Number.isNaN(w)) continue;
      if (!(Math.abs(x - w) <= 1e-6 * Math.max(1, Math.abs(w)))) return false;
    }
  }
  return true;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

const peers: Peer[] = [];
try {
  // Loaded one after another: each load has the machine to itself.
  for (const launch of [tidemark, prometheus, victoriaMetrics]) {
    const peer = await launch();
    peers.push(peer);
    console.error(`${peer.name}: loaded and ready in ${peer.loadSeconds.toFixed(1)} s`);
  }
  const times: Record<string, number[]> = Object.fromEntries(peers.map((p) => [p.name, []]));
  const perQuery: { expr: string; p50: Record<string, number>; series: Record<string, number>; sameValues: boolean }[] = [];
  for (const expr of QUERIES) {
    const own: Record<string, number[]> = Object.fromEntries(peers.map((p) => [p.name, []]));
    const last: Record<string, Matrix[]> = {};
    for (let round = 0; round <= ROUNDS; round++) {
      for (const peer of peers) {
        const { ms, result } = await queryRange(peer, expr);
        // Round 0 warms each one's caches and pages up: not timed.
        if (round > 0) {
          own[peer.name]!.push(ms);
          times[peer.name]!.push(ms);
        }
        last[peer.name] = result;
      }
    }
    const row = {
      expr,
      p50: Object.fromEntries(peers.map((p) => [p.name, round1(pct(own[p.name]!, 50))])),
      series: Object.fromEntries(peers.map((p) => [p.name, last[p.name]!.length])),
      sameValues: sameValues(last['tidemark']!, last['prometheus']!),
    };
    perQuery.push(row);
    console.error(`${JSON.stringify(row.p50)} series ${JSON.stringify(row.series)}${row.sameValues ? '' : ' VALUES DIFFER from prometheus'}  ${expr}`);
  }
  const agreeing = perQuery.filter((q) => q.series['tidemark'] === q.series['prometheus'] && q.series['tidemark'] === q.series['victoriametrics']).length;
  const faster = perQuery.filter((q) => q.p50['tidemark']! < q.p50['prometheus']!).length;
  const tmP99 = pct(times['tidemark']!, 99);
  const vmP99 = pct(times['victoriametrics']!, 99);
  console.log(
    JSON.stringify({
      bench: 'promql',
      tidemark_p50_ms: round1(pct(times['tidemark']!, 50)),
      tidemark_p99_ms: round1(tmP99),
      prometheus_p99_ms: round1(pct(times['prometheus']!, 99)),
      victoriametrics_p99_ms: round1(vmP99),
      // Above 1: Tidemark's p99 is that many times faster than VictoriaMetrics'.
      vs_victoriametrics: Number((vmP99 / tmP99).toFixed(3)),
      agreement: `${agreeing}/${perQuery.length}`,
      values_agree_with_prometheus: `${perQuery.filter((q) => q.sameValues).length}/${perQuery.length}`,
      faster_than_prometheus_p50: `${faster}/${perQuery.length}`,
      prometheus_p50_ms: round1(pct(times['prometheus']!, 50)),
      victoriametrics_p50_ms: round1(pct(times['victoriametrics']!, 50)),
      queries: perQuery.length,
      rounds: ROUNDS,
      step_s: STEP_S,
      hours: HOURS,
      nodes: NODES,
      series: fleet.series.length,
      samples,
      series_per_answer: perQuery.map((q) => q.series['tidemark']),
      load_s: Object.fromEntries(peers.map((p) => [p.name, round1(p.loadSeconds)])),
    }),
  );
  // A fast wrong answer is no figure: the line is printed, and the run fails when Tidemark's series differ from Prometheus'.
  if (perQuery.some((q) => q.series['tidemark'] !== q.series['prometheus'])) process.exitCode = 1;
} finally {
  for (const p of peers) await p.stop();
}
