// bench:ingest — the synthetic fleet as remote_write requests over loopback
// HTTP through the receiver, bus and ingester into the embedded store, then
// the engine's own INSERT … SELECT of the same rows into the raw table for
// comparison (no per-insert rollup views since metrics migration 3), where
// the engine's time went per stage (seconds per million samples stored, from
// its tidemark_ingest_stage_seconds_total), and its peak RSS. Last line: one
// JSON figure line.
import { Store } from '../core/store.ts';
import { buildFleetLoad, DEFAULT_FLEET, peakRssMb, sendAll, waitForCount } from './fleet.ts';
import { removeDir, startEngineProcess, tidemarkSampleCount } from './engine-process.ts';
import { join } from 'node:path';

const rounds = Number(process.env['BENCH_ROUNDS'] ?? DEFAULT_FLEET.rounds);
const load = buildFleetLoad({ ...DEFAULT_FLEET, rounds });
console.error(`fleet: ${load.series} series x ${rounds} rounds = ${load.samples} samples in ${load.bodies.length} requests`);

const engine = await startEngineProcess(JSON.parse(process.env['BENCH_ENGINE_CONFIG'] ?? '{}') as Record<string, unknown>);
let samplesPerSecond = 0;
let rss = NaN;
let stored = 0;
let stages: Record<string, number> = {};

/** The engine's seconds per ingest stage, from its /metrics. */
async function stageSeconds(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tidemark_ingest_stage_seconds_total\{stage="(\w+)"\} ([0-9.e+-]+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
try {
  const started = performance.now();
  const sent = await sendAll(`${engine.url}/api/v1/write`, load.bodies, 8);
  const done = await waitForCount(() => tidemarkSampleCount(engine.url, load.metrics, load.firstTimestampMs, load.lastTimestampMs), load.samples, 120_000, 200);
  stored = done.count;
  const seconds = (done.atMs - started) / 1000;
  samplesPerSecond = stored / seconds;
  rss = await peakRssMb(engine.child.pid!);
  stages = await stageSeconds(engine.url);
  console.error(`sent in ${sent.seconds.toFixed(2)} s (statuses ${JSON.stringify(sent.statuses)}), ${stored} queryable after ${seconds.toFixed(2)} s`);
} finally {
  await engine.stop();
}

// The engine's own insert rate for the same rows, through the same table and its rollups.
const store = await Store.open({ dataPath: join(engine.dataDir, 'store'), database: 'tidemark' });
const t0 = performance.now();
await store.command(`INSERT INTO tidemark.samples SELECT tenant, series_id, ts + INTERVAL 1 DAY, value FROM tidemark.samples`);
const engineSeconds = (performance.now() - t0) / 1000;
const rows = (await store.query<{ c: number }>(`SELECT count() AS c FROM tidemark.samples WHERE ts > now64() + INTERVAL 12 HOUR`))[0]!.c;
await store.close();
removeDir(engine.dataDir);

const engineRowsPerSecond = rows / engineSeconds;
console.log(
  JSON.stringify({
    bench: 'ingest',
    samples: load.samples,
    stored,
    samples_per_s: Math.round(samplesPerSecond),
    engine_rows_per_s: Math.round(engineRowsPerSecond),
    ratio: Number((samplesPerSecond / engineRowsPerSecond).toFixed(3)),
    peak_rss_mb: Math.round(rss),
    // Seconds of engine time per million samples stored, by stage (decode net of resolve; rollup: the loop's passes).
    seconds_per_million: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Number(((v / Math.max(stored, 1)) * 1e6).toFixed(3))])),
  }),
);
