// bench:kafka — the synthetic fleet through a real Kafka broker, with the
// collector (KafkaBus producer) and the ingester (KafkaBus consumer + the
// engine's Ingester into an embedded store) as separate processes. The
// broker comes from scripts/kafka.sh. Measures the end-to-end rate, the
// time from a round's publish to the moment its last sample is stored (an
// insert the store has acknowledged is queryable), the consumer lag at the
// end, and lost/duplicated rows counted in the store against rows sent
// where a duplicate would show: raw rows read without FINAL while merges
// are stopped (a ReplacingMergeTree merge would hide them), and the sum of
// the 1-minute rollup's `count` (where a duplicate doubles a sum for good).
// A broker this run started (none was running) is stopped at the end.
//
//   npm run bench:kafka            BENCH_ROUNDS (default 10), BENCH_COMPRESSION (snappy|gzip|none),
//                                  BENCH_RATE (samples/s the collector paces to; default unpaced),
//                                  BENCH_FETCH_MIN_BYTES / BENCH_FETCH_WAIT_MS (consumer fetch), BENCH_DEBUG=1 (per delivery)
//   npx tsx bench/kafka.ts produce-only   producer rate and stored size for none/snappy/gzip
// Last line: {"bench":"kafka","samples_per_s":…,"produce_to_queryable_p99_s":…,"lag_at_end":…,"sent":…,"distinct":…,"raw_rows":…,"rollup_count":…,"lost":…,"duplicated":…,"duplicated_rollup":…,"broker_stopped":…}
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { KafkaBus, type KafkaCompression } from '../core/bus/kafka/kafka-bus.ts';
import { SampleBatchBuilder } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { RollupLoop, rollUp } from '../metrics/rollups.ts';
import { createLogger } from '../core/log.ts';
import { DEFAULT_FLEET, fleetLabelSets } from './fleet.ts';

const ROOT = resolve(import.meta.dirname, '..');
const INTERVAL_MS = 15_000;

interface Plan {
  brokers: string[];
  prefix: string;
  groupId: string;
  rounds: number;
  firstTs: number;
  compression: KafkaCompression;
  rate: number;
  dataDir: string;
}

type ChildEvent =
  | { event: 'ready'; series: number }
  | { event: 'published'; round: number; at: number }
  | { event: 'sent'; samples: number; seconds: number }
  | { event: 'stored'; round: number; at: number }
  | { event: 'final'; rows: number; distinct: number; rollupCount: number; rollupCatchUpSeconds: number; lag: number; ingestSeconds: number };

function emit(e: ChildEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

function busFor(plan: Plan, clientId: string): KafkaBus {
  return new KafkaBus({
    brokers: plan.brokers,
    clientId,
    groupId: plan.groupId,
    topicPrefix: plan.prefix,
    partitions: 6,
    replicationFactor: 1,
    compression: plan.compression,
    registry: new Registry(),
    logger: createLogger(`bench-${clientId}`),
    lagIntervalMs: 1_000,
    // Let the broker gather more per fetch: each delivery is one insert, and inserts amortise their fixed cost.
    consumer: { minBytes: Number(process.env['BENCH_FETCH_MIN_BYTES'] ?? 4 * 1024 * 1024), maxWaitTimeInMs: Number(process.env['BENCH_FETCH_WAIT_MS'] ?? 400) },
  });
}

// ---- collector process: publishes the fleet round by round ----
async function collector(plan: Plan): Promise<void> {
  const sets = fleetLabelSets(DEFAULT_FLEET);
  const ids = sets.map((l) => seriesId(l));
  const bus = busFor(plan, 'bench-collector');
  await bus.whenReady(60_000);
  const started = performance.now();
  // Two rounds in flight: the next is encoded while the previous one is being acknowledged.
  let inFlight: Promise<void>[] = [];
  for (let r = 0; r < plan.rounds; r++) {
    const b = new SampleBatchBuilder('bench', ids.length);
    if (r === 0) sets.forEach((labels, i) => b.define({ id: ids[i]!, labels }));
    const ts = plan.firstTs + r * INTERVAL_MS;
    for (let i = 0; i < ids.length; i++) b.add(ids[i]!, ts, (r + 1) * 1000 + (i % 977));
    if (plan.rate > 0) {
      const due = started + ((r * ids.length) / plan.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
    emit({ event: 'published', round: r, at: Date.now() });
    inFlight.push(bus.publish('metrics', b.build()));
    if (inFlight.length >= 2) {
      await inFlight.shift();
    }
  }
  await Promise.all(inFlight);
  inFlight = [];
  emit({ event: 'sent', samples: ids.length * plan.rounds, seconds: (performance.now() - started) / 1000 });
  await bus.close();
}

// ---- ingester process: the engine's Ingester behind a KafkaBus consumer ----
async function ingester(plan: Plan): Promise<void> {
  const series = fleetLabelSets(DEFAULT_FLEET).length;
  const store = await Store.open({ dataPath: plan.dataDir, database: 'tidemark' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), metricsMigrations);
  // No merges while the bench runs: a duplicate row must still be there to be counted.
  // Not in the rollups: their merges sum counts (a duplicate stays counted) and the roll-up loop's re-rolls need the merge pool.
  await store.command('SYSTEM STOP MERGES tidemark.samples');
  const bus = busFor(plan, 'bench-ingester');
  const registry = new Registry();
  const engineIngester = new Ingester(store, ingesterMetrics(registry, bus), createLogger('bench-ingester'));
  // The roll-up loop runs beside the ingester as in the engine's ingester role.
  const rollups = new RollupLoop(store, createLogger('bench-rollups'), { everyMs: 5_000, graceMs: 30_000 });
  rollups.start();
  const perRound = new Map<number, number>();
  const tokens = new Set<string>();
  let firstAt = 0;
  let lastAt = 0;
  const debug = process.env['BENCH_DEBUG'] === '1';
  await bus.consume('metrics', async (delivery) => {
    const t0 = performance.now();
    await engineIngester.handle(delivery);
    if (debug) console.error(`delivery ${delivery.token}: ${delivery.payloads.reduce((n, b) => n + b.length, 0)} samples, ${delivery.payloads.reduce((n, b) => n + b.series.length, 0)} definitions, handled in ${(performance.now() - t0).toFixed(0)} ms`);
    if (tokens.has(delivery.token)) return;
    tokens.add(delivery.token);
    const now = Date.now();
    if (!firstAt) firstAt = now;
    lastAt = now;
    for (const batch of delivery.payloads) {
      // Samples of a batch share one timestamp per round: count runs, not samples one by one.
      for (let i = 0; i < batch.length; ) {
        const ts = batch.timestamps[i]!;
        let j = i + 1;
        while (j < batch.length && batch.timestamps[j] === ts) j++;
        const round = Math.round((ts - plan.firstTs) / INTERVAL_MS);
        const n = (perRound.get(round) ?? 0) + (j - i);
        perRound.set(round, n);
        if (n === series) emit({ event: 'stored', round, at: now });
        i = j;
      }
    }
  });
  await bus.whenReady(60_000);
  while (bus.assignment('metrics').length === 0) await new Promise((r) => setTimeout(r, 100));
  emit({ event: 'ready', series });
  // The parent says when to count (all rounds stored, or its deadline passed).
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'finish') continue;
    // Raw rows without FINAL (merges are stopped), distinct (series, ts), and the rollup's count of samples.
    const [row] = await store.query<{ rows: string; distinct: string }>(
      `SELECT count() AS rows, uniqExact(series_id, ts) AS distinct FROM tidemark.samples WHERE tenant = 'bench'`,
    );
    await rollups.stop();
    // What the loop had not rolled yet (the last minutes), rolled now, so the rollup counts everything stored.
    const rollStarted = performance.now();
    await rollUp(store, { all: true });
    const catchUpSeconds = (performance.now() - rollStarted) / 1000;
    const [rollup] = await store.query<{ n: string }>(`SELECT sum(count) AS n FROM tidemark.samples_1m WHERE tenant = 'bench'`);
    const lag = (await bus.refreshLag()).metrics;
    emit({ event: 'final', rows: Number(row!.rows), distinct: Number(row!.distinct), rollupCount: Number(rollup!.n), rollupCatchUpSeconds: catchUpSeconds, lag, ingestSeconds: (lastAt - firstAt) / 1000 });
    break;
  }
  await bus.close();
  await store.close();
}

// ---- `bench/kafka.ts produce-only`: producer throughput and stored size per compression codec ----
async function produceOnly(address: string): Promise<void> {
  const sets = fleetLabelSets(DEFAULT_FLEET);
  const ids = sets.map((l) => seriesId(l));
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 8);
  for (const compression of ['none', 'snappy', 'gzip'] as KafkaCompression[]) {
    const prefix = `bench.produce.${compression}.${randomUUID().slice(0, 8)}.`;
    const bus = busFor({ brokers: [address], prefix, groupId: prefix, rounds, firstTs: 0, compression, rate: 0, dataDir: '' }, 'bench-produce');
    await bus.whenReady(60_000);
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let r = 0; r < rounds; r++) {
      const b = new SampleBatchBuilder('bench', ids.length);
      for (let i = 0; i < ids.length; i++) b.add(ids[i]!, 1_700_000_000_000 + r * INTERVAL_MS, (r + 1) * 1000 + (i % 977));
      inFlight.push(bus.publish('metrics', b.build()));
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    await bus.close();
    // What the broker stored: the compressed record batches in its log segments.
    const runDir = execFileSync('bash', ['-c', 'echo ${TIDEMARK_KAFKA_RUN:-${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/kafka-run}'], { encoding: 'utf8' }).trim();
    const onDisk = Number(execFileSync('bash', ['-c', `cat ${runDir}/data/${prefix}metrics-*/*.log | wc -c`], { encoding: 'utf8' }).trim());
    console.log(JSON.stringify({ compression, samples: ids.length * rounds, samples_per_s: Math.round((ids.length * rounds) / seconds), encoded_mb: Number(((ids.length * rounds * 24) / 1e6).toFixed(1)), stored_mb: Number((onDisk / 1e6).toFixed(1)) }));
  }
}

// ---- parent: broker, the two processes, the figures ----
function startChild(role: 'collector' | 'ingester', plan: Plan, onEvent: (e: ChildEvent) => void): ChildProcess {
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [import.meta.filename, role], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_KAFKA_PLAN: JSON.stringify(plan), TIDEMARK_LOG_LEVEL: process.env['TIDEMARK_LOG_LEVEL'] ?? 'warn' },
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) onEvent(JSON.parse(line) as ChildEvent);
  });
  return child;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function until(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench:kafka: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The shared broker's address, starting it when none is running; `started` says whether this run did (and so must stop it). */
function brokerAddress(): { address: string; started: boolean } {
  try {
    return { address: execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'status'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(), started: false };
  } catch {
    return { address: execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!, started: true };
  }
}

/** Stops the broker this run started; one that was already running (someone else's) is left alone. */
function stopBrokerIfStarted(broker: { started: boolean }): boolean {
  if (!broker.started) return false;
  execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'stop'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return true;
}

async function parent(): Promise<void> {
  const broker = brokerAddress();
  try {
    await measure(broker);
  } finally {
    stopBrokerIfStarted(broker);
  }
}

async function measure(broker: { address: string; started: boolean }): Promise<void> {
  const { address } = broker;
  const id = randomUUID().slice(0, 8);
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 10);
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-bench-kafka-'));
  const plan: Plan = {
    brokers: [address],
    prefix: `bench.${id}.`,
    groupId: `bench-${id}`,
    rounds,
    firstTs: Math.floor(Date.now() / 1000 - rounds * (INTERVAL_MS / 1000)) * 1000,
    compression: (process.env['BENCH_COMPRESSION'] ?? 'snappy') as KafkaCompression,
    rate: Number(process.env['BENCH_RATE'] ?? 0),
    dataDir,
  };
  const published = new Map<number, number>();
  const stored = new Map<number, number>();
  let series = 0;
  let sent: Extract<ChildEvent, { event: 'sent' }> | null = null;
  let final: Extract<ChildEvent, { event: 'final' }> | null = null;
  const children: ChildProcess[] = [];
  try {
    const ing = startChild('ingester', plan, (e) => {
      if (e.event === 'ready') series = e.series;
      if (e.event === 'stored') stored.set(e.round, e.at);
      if (e.event === 'final') final = e;
    });
    children.push(ing);
    await until('the ingester to join its group', 120_000, () => series > 0);
    console.error(`broker ${address}; fleet ${series} series x ${rounds} rounds = ${series * rounds} samples; compression ${plan.compression}`);
    const col = startChild('collector', plan, (e) => {
      if (e.event === 'published') published.set(e.round, e.at);
      if (e.event === 'sent') sent = e;
    });
    children.push(col);
    await until('every round stored', 600_000, () => stored.size === rounds || ing.exitCode !== null);
    await until('the collector to finish', 60_000, () => sent !== null);
    ing.stdin!.write('finish\n');
    await until('the final count', 120_000, () => final !== null);
  } finally {
    for (const c of children) if (c.exitCode === null) await new Promise((r) => { c.once('exit', r); setTimeout(() => (c.kill('SIGTERM'), r(null)), 20_000); });
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
  const f = final as Extract<ChildEvent, { event: 'final' }> | null;
  const s = sent as Extract<ChildEvent, { event: 'sent' }> | null;
  if (!f || !s) throw new Error('bench:kafka: a process ended without its figures');
  const latencies = [...stored].map(([round, at]) => (at - published.get(round)!) / 1000);
  const first = Math.min(...published.values());
  const last = Math.max(...stored.values());
  const total = series * rounds;
  console.error(`collector sent ${s.samples} samples in ${s.seconds.toFixed(2)} s; store holds ${f.rows} raw rows with merges stopped (${f.distinct} distinct), rollup count ${f.rollupCount}; per-round publish→stored: ${latencies.map((l) => l.toFixed(2)).join(' ')} s`);
  const figures = {
    bench: 'kafka',
    samples_per_s: Math.round(total / ((last - first) / 1000)),
    produce_to_queryable_p99_s: Number(percentile(latencies, 99).toFixed(3)),
    lag_at_end: f.lag,
    sent: total,
    distinct: f.distinct,
    raw_rows: f.rows,
    rollup_count: f.rollupCount,
    rollup_catch_up_s: Number(f.rollupCatchUpSeconds.toFixed(2)),
    lost: total - f.distinct,
    duplicated: f.rows - f.distinct,
    duplicated_rollup: f.rollupCount - f.distinct,
    broker_stopped: broker.started,
  };
  console.log(JSON.stringify(figures));
  if (figures.lost !== 0 || figures.duplicated !== 0 || figures.duplicated_rollup !== 0) process.exitCode = 1;
}

const role = process.argv[2];
if (role === 'collector' || role === 'ingester') {
  const plan = JSON.parse(process.env['BENCH_KAFKA_PLAN'] ?? 'null') as Plan;
  await (role === 'collector' ? collector(plan) : ingester(plan));
  process.exit(0);
} else if (role === 'produce-only') {
  const broker = brokerAddress();
  try {
    await produceOnly(broker.address);
  } finally {
    stopBrokerIfStarted(broker);
  }
  process.exit(0);
} else {
  await parent();
}
