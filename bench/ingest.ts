// bench:ingest — the synthetic fleet as remote_write requests over loopback
// HTTP through the receiver, bus and ingester into the embedded store, once
// per acknowledgement mode of the memory bus in one run: 'stored' (the
// default: a 2xx once the insert carrying the request is done), then
// 'logged' (a 2xx once the request is durably in the bus log; stored a
// moment later). Each mode's rate is a stored rate: samples counted by the
// engine's own query API / time from the first request until that count is
// complete. Then the engine's own INSERT … SELECT of the same rows into the
// raw table for comparison (no per-insert rollup views since metrics
// migration 3), where the engine's time went per stage (seconds per million
// samples stored, from its tidemark_ingest_stage_seconds_total), how large
// its inserts were, what the bus log's syncs cost (logged), and peak RSS.
// Last line: one JSON figure line (top level: the default mode; `logged`:
// the same figures in logged mode).
import { Store } from '../core/store.ts';
import { buildFleetLoad, DEFAULT_FLEET, peakRssMb, sendAll, waitForCount } from './fleet.ts';
import { removeDir, startEngineProcess, tidemarkSampleCount } from './engine-process.ts';
import { join } from 'node:path';

type Acknowledge = 'stored' | 'logged';

const rounds = Number(process.env['BENCH_ROUNDS'] ?? DEFAULT_FLEET.rounds);
const load = buildFleetLoad({ ...DEFAULT_FLEET, rounds });
console.error(`fleet: ${load.series} series x ${rounds} rounds = ${load.samples} samples in ${load.bodies.length} requests`);
const baseConfig = JSON.parse(process.env['BENCH_ENGINE_CONFIG'] ?? '{}') as Record<string, unknown> & { bus?: Record<string, unknown> };

/** The engine's counters and histogram sums by name (and stage label), from its /metrics. */
async function engineMetrics(url: string): Promise<{ stages: Record<string, number>; values: Record<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const stages: Record<string, number> = {};
  for (const m of text.matchAll(/^tidemark_ingest_stage_seconds_total\{stage="(\w+)"\} ([0-9.e+-]+)$/gm)) stages[m[1]!] = Number(m[2]);
  const values: Record<string, number> = {};
  for (const m of text.matchAll(/^(tidemark_(?:bus_log_\w+|ingest_batch_samples_(?:sum|count)))(?:\{\})? ([0-9.e+-]+)$/gm)) values[m[1]!] = Number(m[2]);
  return { stages, values };
}

interface ModeFigures {
  samples_per_s: number;
  stored: number;
  statuses: Record<number, number>;
  /** From the first request to the last 2xx. */
  send_s: number;
  /** From the last 2xx until the engine's query API counts every sample. */
  visible_lag_s: number;
  peak_rss_mb: number;
  /** Inserts the ingester made and their mean size in samples (deliveries, split per tenant). */
  inserts: number;
  mean_insert_samples: number;
  /** Logged mode: write+fdatasync rounds of the bus log, entries per round, mean ms per fdatasync and per round (write, sync, hand-offs), MB written. */
  bus_log?: { syncs: number; appends_per_sync: number; mean_sync_ms: number; mean_round_ms: number; mb: number };
  seconds_per_million: Record<string, number>;
}

async function run(acknowledge: Acknowledge): Promise<{ figures: ModeFigures; dataDir: string }> {
  const engine = await startEngineProcess({ ...baseConfig, bus: { ...baseConfig.bus, acknowledge } });
  // An engine that dies mid-run would leave the senders retrying for minutes: say so, with its last words.
  let stderr = '';
  engine.child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  engine.child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${acknowledge}: the engine exited mid-run (code ${code}, signal ${signal}): ${stderr}`);
  });
  let stopping = false;
  try {
    const started = performance.now();
    const sent = await sendAll(`${engine.url}/api/v1/write`, load.bodies, 8);
    const sentAt = performance.now();
    const done = await waitForCount(() => tidemarkSampleCount(engine.url, load.metrics, load.firstTimestampMs, load.lastTimestampMs), load.samples, 120_000, 200);
    const stored = done.count;
    const seconds = (done.atMs - started) / 1000;
    const rss = await peakRssMb(engine.child.pid!);
    const { stages, values } = await engineMetrics(engine.url);
    console.error(`${acknowledge}: sent in ${sent.seconds.toFixed(2)} s (statuses ${JSON.stringify(sent.statuses)}), ${stored} queryable after ${seconds.toFixed(2)} s`);
    const inserts = values['tidemark_ingest_batch_samples_count'] ?? 0;
    const syncs = values['tidemark_bus_log_syncs_total'] ?? 0;
    const figures: ModeFigures = {
      samples_per_s: Math.round(stored / seconds),
      stored,
      statuses: sent.statuses,
      send_s: Number(((sentAt - started) / 1000).toFixed(2)),
      visible_lag_s: Number((Math.max(0, done.atMs - sentAt) / 1000).toFixed(2)),
      peak_rss_mb: Math.round(rss),
      inserts,
      mean_insert_samples: Math.round((values['tidemark_ingest_batch_samples_sum'] ?? 0) / Math.max(inserts, 1)),
      ...(acknowledge === 'logged'
        ? {
            bus_log: {
              syncs,
              appends_per_sync: Number(((values['tidemark_bus_log_appends_total'] ?? 0) / Math.max(syncs, 1)).toFixed(1)),
              mean_sync_ms: Number((((values['tidemark_bus_log_sync_seconds_total'] ?? 0) / Math.max(syncs, 1)) * 1000).toFixed(2)),
              mean_round_ms: Number((((values['tidemark_bus_log_round_seconds_total'] ?? 0) / Math.max(syncs, 1)) * 1000).toFixed(2)),
              mb: Math.round((values['tidemark_bus_log_bytes_total'] ?? 0) / 2 ** 20),
            },
          }
        : {}),
      // Seconds of engine time per million samples stored, by stage (decode net of resolve; rollup: the loop's passes).
      seconds_per_million: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Number(((v / Math.max(stored, 1)) * 1e6).toFixed(3))])),
    };
    return { figures, dataDir: engine.dataDir };
  } finally {
    stopping = true;
    await engine.stop();
  }
}

const stored = await run('stored');

// The engine's own insert rate for the same rows, through the same table.
const store = await Store.open({ dataPath: join(stored.dataDir, 'store'), database: 'tidemark' });
const t0 = performance.now();
await store.command(`INSERT INTO tidemark.samples SELECT tenant, series_id, ts + INTERVAL 1 DAY, value FROM tidemark.samples`);
const engineSeconds = (performance.now() - t0) / 1000;
const rows = (await store.query<{ c: number }>(`SELECT count() AS c FROM tidemark.samples WHERE ts > now64() + INTERVAL 12 HOUR`))[0]!.c;
await store.close();
removeDir(stored.dataDir);
const engineRowsPerSecond = rows / engineSeconds;

const logged = await run('logged');
removeDir(logged.dataDir);

console.log(
  JSON.stringify({
    bench: 'ingest',
    samples: load.samples,
    stored: stored.figures.stored,
    samples_per_s: stored.figures.samples_per_s,
    engine_rows_per_s: Math.round(engineRowsPerSecond),
    ratio: Number((stored.figures.samples_per_s / engineRowsPerSecond).toFixed(3)),
    peak_rss_mb: stored.figures.peak_rss_mb,
    statuses: stored.figures.statuses,
    visible_lag_s: stored.figures.visible_lag_s,
    inserts: stored.figures.inserts,
    mean_insert_samples: stored.figures.mean_insert_samples,
    seconds_per_million: stored.figures.seconds_per_million,
    logged: { ...logged.figures, ratio: Number((logged.figures.samples_per_s / engineRowsPerSecond).toFixed(3)) },
    logged_vs_stored: Number((logged.figures.samples_per_s / Math.max(stored.figures.samples_per_s, 1)).toFixed(2)),
  }),
);
if (stored.figures.stored < load.samples || logged.figures.stored < load.samples) process.exitCode = 1;
