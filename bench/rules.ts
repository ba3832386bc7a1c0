// bench:rules — BENCH_RULES alerting and recording rules (default 1,000:
// half each, in groups of 10) over a 1,000-node fleet (BENCH_NODES) of
// node_exporter series at a 15 s scrape interval, written into the store by
// ClickHouse itself for the last BENCH_MINUTES (default 30), then
// BENCH_ROUNDS evaluation rounds every BENCH_INTERVAL_MS (default 15 s), all
// groups at once as the engine's timers fire them at one aligned time. Each
// round: every rule's PromQL instant query, recorded series and ALERTS
// written back through the bus into the store, state changes recorded, and
// firing alerts posted to an Alertmanager stand-in (a loopback HTTP server
// counting what it gets). Prints eval_p99_ms (a round's evaluation, wall
// time) and notify_p99_ms (a round's history and Alertmanager posts), with
// the counts a reader needs to check them.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { seriesId } from '../metrics/series.ts';
import { insertSeries } from '../metrics/sample-writes.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { silentLogger } from '../core/log.ts';
import { loadConfig } from '../bin/config.ts';
import { alertingMigrations } from '../alerting/schema.ts';
import { parseRuleFile } from '../alerting/rule-file.ts';
import { buildGroups } from '../alerting/rule-groups.ts';
import { RuleService } from '../alerting/service.ts';

const NODES = Number(process.env['BENCH_NODES'] ?? 1000);
const RULES = Number(process.env['BENCH_RULES'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const INTERVAL_MS = Number(process.env['BENCH_INTERVAL_MS'] ?? 15_000);
const MINUTES = Number(process.env['BENCH_MINUTES'] ?? 30);
const SHARDS = 50;
const GROUP_SIZE = 10;
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 1e9);

const dir = mkdtempSync(join(tmpdir(), 'tidemark-rules-bench-'));
const store = await Store.open({ dataPath: join(dir, 'store'), database: 'tidemark' });
await migrate(store, schemaContext(store, { rawRetentionDays: 30, rollupRetentionDays: 400 }), [...metricsMigrations, ...alertingMigrations]);

// The fleet: each node's series carry a shard label (node % 50), so each rule reads 1/50 of the fleet.
const now = Math.floor(Date.now() / 15_000) * 15;
const start = now - MINUTES * 60;
const fleet = [
  { name: 'up', labels: { job: 'node-exporter' } as Record<string, string>, expr: 'if((number % 97) = 0 AND ts > {start:Float64} + 600, 0, 1)' },
  { name: 'node_cpu_seconds_total', labels: { mode: 'idle' }, expr: '(t - {start:Float64}) * (0.05 + base * 0.95)' },
  { name: 'node_memory_MemAvailable_bytes', labels: {}, expr: '8e9 * base + 1e8' },
  { name: 'node_memory_MemTotal_bytes', labels: {}, expr: '8e9' },
];
const t0 = performance.now();
for (const m of fleet) {
  const defs = Array.from({ length: NODES }, (_, n) => {
    const labels: Record<string, string> = { __name__: m.name, instance: `10.0.${n >> 8}.${n & 255}:9100`, node: `node-${n}`, shard: `s${n % SHARDS}`, ...m.labels };
    return { id: seriesId(labels), labels };
  });
  await insertSeries(store, 'default', defs);
  const t = `toFloat64(intDiv(number, ${NODES}) * 15 + {start:Float64})`;
  const base = `((number % ${NODES}) / ${NODES})`;
  await store.command(
    `INSERT INTO tidemark.samples (tenant, series_id, ts, value)
     WITH [${defs.map((d) => d.id.toString()).join(',')}] AS ids
     SELECT 'default', ids[(number % ${NODES}) + 1], toDateTime64(${t}, 3, 'UTC') AS ts,
            ${m.expr.replace(/\bts\b/g, t).replace(/\bt\b/g, t).replace(/\bbase\b/g, base)}
     FROM numbers(${NODES * MINUTES * 4})`,
    { start },
    { max_insert_threads: '2' },
  );
}
const loadSeconds = (performance.now() - t0) / 1000;
const [{ c: samples } = { c: 0 }] = await store.query<{ c: number }>("SELECT count() AS c FROM tidemark.samples WHERE tenant = 'default'");

// The rules: recording and alerting in turn, each over one shard.
const lines = ['groups:'];
for (let g = 0; g < Math.ceil(RULES / GROUP_SIZE); g++) {
  lines.push(`- name: bench-${g}`, '  rules:');
  for (let r = 0; r < GROUP_SIZE && g * GROUP_SIZE + r < RULES; r++) {
    const i = g * GROUP_SIZE + r;
    const shard = `s${i % SHARDS}`;
    if (i % 2 === 0) {
      lines.push(`  - record: bench:cpu_busy:rate5m_${i}`, `    expr: 1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle", shard="${shard}"}[5m]))`);
    } else if (i % 4 === 1) {
      lines.push(`  - alert: BenchMemoryLow${i}`, `    expr: node_memory_MemAvailable_bytes{shard="${shard}"} / on (instance) node_memory_MemTotal_bytes{shard="${shard}"} < 0.${(i % 9) + 1}`, '    for: 1m', '    labels: {severity: warning}', "    annotations: {summary: '{{ $labels.instance }} has {{ $value | humanizePercentage }} free'}");
    } else {
      lines.push(`  - alert: BenchNodeDown${i}`, `    expr: up{job="node-exporter", shard="${shard}"} == 0`, '    labels: {severity: page}');
    }
  }
}
const specs = parseRuleFile(lines.join('\n'), 'bench.rules.yml');
const groups = buildGroups(specs, INTERVAL_MS).map((g) => ({ ...g, restored: true }));

// An Alertmanager stand-in: counts alerts posted to /api/v2/alerts.
let posted = 0;
let posts = 0;
const am = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    posts++;
    posted += (JSON.parse(body) as unknown[]).length;
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => am.listen(0, '127.0.0.1', r));
const amUrl = `http://127.0.0.1:${(am.address() as { port: number }).port}`;

const config = loadConfig({ env: {}, overrides: [{ path: ['alerting', 'alertmanagers'], value: [amUrl] }, { path: ['rules', 'interval'], value: `${INTERVAL_MS}ms` }] });
const bus = new MemoryBus({ capacity: 4_000_000, maxDelivery: 200_000, lingerMs: 5, acknowledge: 'stored' });
const ingester = new Ingester(store, ingesterMetrics(new Registry(), bus), silentLogger);
await ingester.start(bus);
const service = new RuleService(store, bus, config, silentLogger);

const evalMs: number[] = [];
const notifyMs: number[] = [];
let sent = 0;
for (let round = 0; round < ROUNDS; round++) {
  const ts = Math.floor(Date.now() / INTERVAL_MS) * INTERVAL_MS;
  const before = performance.now();
  // BENCH_CONCURRENCY groups evaluated at once (default: all, as the engine's timers fire them).
  const results: Awaited<ReturnType<typeof service.evaluate>>[] = [];
  const queue = [...groups];
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, groups.length) }, async () => {
      for (let g = queue.shift(); g; g = queue.shift()) results.push(await service.evaluate('default', g, ts));
    }),
  );
  const wall = performance.now() - before;
  const notify = Math.max(...results.map((r) => r.notifyMs));
  evalMs.push(wall - notify);
  notifyMs.push(notify);
  sent += results.reduce((n, r) => n + r.sent, 0);
  console.error(`round ${round + 1}: ${wall.toFixed(0)} ms (notify ${notify.toFixed(0)} ms)`);
  const wait = ts + INTERVAL_MS - Date.now();
  if (round < ROUNDS - 1 && wait > 0) await new Promise((r) => setTimeout(r, wait));
}
const ruleHealth = groups.flatMap((g) => g.rules).reduce((acc, r) => ({ ...acc, [r.health]: (acc[r.health] ?? 0) + 1 }), {} as Record<string, number>);
const firing = groups.flatMap((g) => g.rules).reduce((n, r) => n + [...r.active.values()].filter((a) => a.state === 'firing').length, 0);
const [{ c: recorded } = { c: 0 }] = await store.query<{ c: number }>(
  "SELECT count() AS c FROM tidemark.samples WHERE tenant = 'default' AND series_id IN (SELECT series_id FROM tidemark.series WHERE tenant = 'default' AND (startsWith(metric, 'bench:') OR metric = 'ALERTS'))",
);
await bus.close();
await store.close();
am.close();
rmSync(dir, { recursive: true, force: true });

const p = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! * 10) / 10;
};
console.log(
  JSON.stringify({
    bench: 'rules',
    rules: RULES,
    eval_p99_ms: p(evalMs, 0.99),
    notify_p99_ms: p(notifyMs, 0.99),
    eval_p50_ms: p(evalMs, 0.5),
    rounds: ROUNDS,
    interval_ms: INTERVAL_MS,
    concurrency: Math.min(CONCURRENCY, groups.length),
    groups: groups.length,
    nodes: NODES,
    fleet_samples: Number(samples),
    load_seconds: Math.round(loadSeconds * 10) / 10,
    rule_health: ruleHealth,
    alerts_firing: firing,
    alerts_sent: sent,
    alertmanager_posts: posts,
    alertmanager_alerts: posted,
    samples_written_back: Number(recorded),
    target_round_ms: 1000,
  }),
);
