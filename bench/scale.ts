// bench:scale — how cost grows with active series. For each size (default
// 100,000 and 1,000,000 node_exporter-like series; SCALE_SIZES, e.g.
// "100000,1000000,3000000"), a fresh engine takes SCALE_ROUNDS scrapes of
// every series by remote_write over loopback; then a churn phase sends
// SCALE_CHURN distinct series (default 1,000,000; the issue's figure is
// 10,000,000) through a window of SCALE_CHURN_ACTIVE active ones (default
// 100,000; half replaced each round) spread over the past day, as pods come
// and go. Per phase: samples/s stored (all rounds, and the rounds after the
// first: steady state), the engine's RSS per active series (above its idle
// RSS), bytes on disk per sample in the raw table (system.parts, after a
// merge) with its columns (system.parts_columns), and series-lookup time (the
// series API selecting one instance, median of 5). Last, the disk figure
// for node_exporter-like data at a realistic depth: SCALE_DISK_SERIES
// series x SCALE_DISK_SAMPLES samples (an hour at 15 s) written by
// ClickHouse itself into the same table layout. Last line: one JSON line.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Store } from '../core/store.ts';
import { containerSeries, nodeSeries } from '../collector/synthetic-fleet.ts';
import type { Labels } from '../core/bus/samples.ts';
import { encodeRounds, sendAll, waitForCount } from './fleet.ts';
import { removeDir, startEngineProcess, tidemarkSampleCount, type EngineProcess } from './engine-process.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const sizes = (process.env['SCALE_SIZES'] ?? '100000,1000000').split(',').map(Number).filter((n) => n > 0);
const rounds = Number(process.env['SCALE_ROUNDS'] ?? 4);
const churnTotal = Number(process.env['SCALE_CHURN'] ?? 1_000_000);
const churnActive = Number(process.env['SCALE_CHURN_ACTIVE'] ?? 100_000);
const diskSeries = Number(process.env['SCALE_DISK_SERIES'] ?? 20_000);
const diskSamples = Number(process.env['SCALE_DISK_SAMPLES'] ?? 240);
const perRequest = 10_000;
const deadlineMs = Number(process.env['SCALE_DEADLINE_S'] ?? 1800) * 1000;

/** `n` distinct node_exporter-like label sets: the fleet's node series, as many nodes as it takes. */
function nodeExporterSets(n: number): Labels[] {
  const out: Labels[] = [];
  const seen = new Set<string>();
  for (let node = 0; out.length < n; node++) {
    for (let v = 0; v < 80 && out.length < n; v++) {
      const l = nodeSeries(node, v);
      const key = JSON.stringify(l);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(l);
    }
    // Keys of earlier nodes never repeat: keep the set small.
    seen.clear();
  }
  return out;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function lookupMs(url: string, metric: string, match: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const [name, value] = match.split('=') as [string, string];
    const r = await fetch(`${url}/api/v1/series?${new URLSearchParams({ 'match[]': `${metric}{${name}=${JSON.stringify(value)}}` })}`);
    const body = (await r.json()) as { data?: unknown[] };
    if (!r.ok || !body.data || body.data.length === 0) throw new Error(`series lookup failed: ${r.status} ${JSON.stringify(body).slice(0, 200)}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Number(times[2]!.toFixed(1));
}

interface DiskFigures {
  rows: number;
  bytes_per_sample: number;
  column_bytes_per_sample: Record<string, number> | null;
}

/** Raw-table bytes on disk per sample for a tenant's rows, after merging the table's parts. */
async function diskFigures(store: Store): Promise<DiskFigures> {
  await store.command('OPTIMIZE TABLE tidemark.samples FINAL');
  const [rows] = await store.query<{ c: number }>('SELECT count() AS c FROM tidemark.samples');
  const [parts] = await store.query<{ b: number }>(`SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE database = 'tidemark' AND table = 'samples' AND active`);
  const columns = await store.query<{ name: string; b: number }>(
    `SELECT column AS name, sum(column_data_compressed_bytes) AS b FROM system.parts_columns WHERE database = 'tidemark' AND table = 'samples' AND active GROUP BY column`,
  );
  const n = Number(rows!.c);
  return {
    rows: n,
    bytes_per_sample: Number((Number(parts!.b) / n).toFixed(3)),
    // Compact parts (small ones) keep no per-column sizes: null then.
    column_bytes_per_sample: columns.some((c) => Number(c.b) > 0) ? Object.fromEntries(columns.map((c) => [c.name, Number((Number(c.b) / n).toFixed(3))])) : null,
  };
}

interface PhaseFigures {
  series: number;
  samples: number;
  stored: number;
  samples_per_s: number;
  steady_samples_per_s: number;
  rss_mb: number;
  rss_bytes_per_active_series: number;
  lookup_ms: number;
  disk: DiskFigures;
}

/** Sends the rounds, the first alone (series creation) and the rest timed as the steady state; then measures. */
async function runPhase(label: string, activeSeries: number, roundBodies: readonly Buffer[][], samplesPerRound: readonly number[], metrics: string[], range: [number, number], lookup: [string, string]): Promise<PhaseFigures> {
  const engine: EngineProcess = await startEngineProcess({ ingester: { maxBatch: 2_000_000 } });
  const idleRss = rssBytes(engine.child.pid!);
  const total = samplesPerRound.reduce((a, b) => a + b, 0);
  let stored = 0;
  try {
    const started = performance.now();
    const first = await sendAll(`${engine.url}/api/v1/write`, roundBodies[0]!, 8, deadlineMs);
    const firstDone = performance.now();
    const rest = await sendAll(`${engine.url}/api/v1/write`, roundBodies.slice(1).flat(), 8, deadlineMs);
    const done = await waitForCount(() => tidemarkSampleCount(engine.url, metrics, range[0], range[1]), total, 120_000, 500);
    stored = done.count;
    const seconds = (done.atMs - started) / 1000;
    const steadySeconds = (done.atMs - firstDone) / 1000;
    const rss = rssBytes(engine.child.pid!);
    const lookup_ms = await lookupMs(engine.url, lookup[0], lookup[1]);
    console.error(
      `${label}: ${activeSeries} active series, ${total} samples (${stored} stored) in ${seconds.toFixed(1)} s; first round ${((firstDone - started) / 1000).toFixed(1)} s (statuses ${JSON.stringify(first.statuses)}), the rest ${JSON.stringify(rest.statuses)}; RSS ${(rss / 2 ** 20).toFixed(0)} MiB (idle ${(idleRss / 2 ** 20).toFixed(0)}); lookup ${lookup_ms} ms`,
    );
    await engine.stop();
    const store = await Store.open({ dataPath: join(engine.dataDir, 'store'), database: 'tidemark' });
    const disk = await diskFigures(store);
    await store.close();
    return {
      series: activeSeries,
      samples: total,
      stored,
      samples_per_s: Math.round(stored / seconds),
      steady_samples_per_s: Math.round((total - samplesPerRound[0]!) / steadySeconds),
      rss_mb: Math.round(rss / 2 ** 20),
      rss_bytes_per_active_series: Math.round((rss - idleRss) / activeSeries),
      lookup_ms,
      disk,
    };
  } finally {
    await engine.stop();
    removeDir(engine.dataDir);
  }
}

const figures: Record<string, unknown> = { bench: 'scale', rounds };

for (const n of sizes) {
  const sets = nodeExporterSets(n);
  const load = encodeRounds(sets, rounds, 15, perRequest);
  const target = sets[Math.floor(n / 2)]!;
  figures[`series_${n}`] = await runPhase(`${n} series`, n, load.roundBodies, load.roundBodies.map(() => n), load.metrics, [load.firstTimestampMs, load.lastTimestampMs], [
    target['__name__']!,
    `instance=${target['instance']}`,
  ]);
}

// Churn: a window of active container series sliding over `churnTotal` distinct ones across the past day.
{
  const step = Math.max(1, Math.floor(churnActive / 2));
  const churnRounds = Math.max(2, Math.ceil((churnTotal - churnActive) / step) + 1);
  const interval = Math.floor(86_400 / churnRounds);
  const endMs = Date.now() - 60_000;
  const roundBodies: Buffer[][] = [];
  const perRound: number[] = [];
  const metrics = new Set<string>();
  let firstTs = Infinity;
  let lastTs = -Infinity;
  for (let r = 0; r < churnRounds; r++) {
    const from = r * step;
    const sets = Array.from({ length: Math.min(churnActive, churnTotal - from) }, (_, i) => containerSeries((from + i) >> 2, (from + i) & 3));
    // One round at its own time of day: encodeRounds puts a single round `interval` before its end.
    const load = encodeRounds(sets, 1, interval, perRequest, endMs - (churnRounds - 1 - r) * interval * 1000);
    roundBodies.push(load.roundBodies[0]!);
    perRound.push(sets.length);
    for (const m of load.metrics) metrics.add(m);
    firstTs = Math.min(firstTs, load.firstTimestampMs);
    lastTs = Math.max(lastTs, load.lastTimestampMs);
  }
  const probe = containerSeries(((churnRounds - 1) * step) >> 2, 0);
  figures['churn'] = {
    distinct_series: Math.min(churnTotal, (churnRounds - 1) * step + churnActive),
    rounds: churnRounds,
    ...(await runPhase(`churn of ${churnTotal}`, churnActive, roundBodies, perRound, [...metrics].sort(), [firstTs, lastTs], [probe['__name__']!, `pod=${probe['pod']}`])),
  };
}

// Bytes per sample at a realistic depth, node_exporter-like values, written by ClickHouse itself.
{
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-scale-disk-'));
  const store = await Store.open({ dataPath: dir, database: 'tidemark' });
  try {
    await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), metricsMigrations);
    const start = Math.floor(Date.now() / 1000) - diskSamples * 15 - 3600;
    // Per series a kind: CPU-seconds counters (1/100 s resolution), byte counters, byte gauges in pages, small gauges.
    await store.command(
      `INSERT INTO tidemark.samples (tenant, series_id, ts, value)
       SELECT 'disk', cityHash64(s) AS series_id, toDateTime64(${start} + k * 15 + intDiv(s % 1000, 100) / 1000, 3, 'UTC') AS ts,
         multiIf(s % 4 = 0, round(k * 15 * (0.05 + (s % 37) / 100) + (k * 7919 % 13) / 100, 2),
                 s % 4 = 1, toFloat64(1e6 * (s % 50) + k * (120000 + (k * 104729 % 4096))),
                 s % 4 = 2, toFloat64(4096 * (2000000 + (s % 1000) * 100 + (k * 31 % 50))),
                 round(0.5 + (s % 7) / 10 + (k % 20) / 100, 2)) AS value
       FROM (SELECT number % ${diskSeries} AS s, intDiv(number, ${diskSeries}) AS k FROM numbers(${diskSeries * diskSamples}))`,
    );
    figures['disk_node_exporter'] = { series: diskSeries, samples_per_series: diskSamples, ...(await diskFigures(store)) };
  } finally {
    await store.close();
    removeDir(dir);
  }
}

console.log(JSON.stringify(figures));
