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
// The same load first goes through the in-process memory bus (the engine's
// embedded default: group commit, the same Ingester and roll-up loop, in a
// process of its own), so the line carries both rates and their ratio.
//
//   npm run bench:kafka            BENCH_ROUNDS (default 10), BENCH_COMPRESSION (snappy|gzip|none),
//                                  BENCH_RATE (samples/s the collector paces to; default unpaced),
//                                  BENCH_FETCH_MIN_BYTES / BENCH_FETCH_WAIT_MS (consumer fetch), BENCH_DEBUG=1 (per delivery),
//                                  BENCH_PROFILE=<dir> (a V8 CPU profile per process)
//   npx tsx bench/kafka.ts produce-only   producer rate and stored size for none/snappy/gzip
// Last line: {"bench":"kafka","samples_per_s":…,"memory_samples_per_s":…,"vs_memory":…,"produce_to_queryable_p99_s":…,"memory_p99_s":…,"lag_at_end":…,"sent":…,"distinct":…,"raw_rows":…,"rollup_count":…,"lost":…,"duplicated":…,"duplicated_rollup":…,"broker_stopped":…}
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
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
import { ingestStageSeconds } from '../metrics/ingest-stages.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import type { Bus, Delivery } from '../core/bus/bus.ts';
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
  | { event: 'sent'; samples: number; seconds: number; cpuSeconds: number }
  | { event: 'stored'; round: number; at: number }
  | { event: 'final'; rows: number; distinct: number; rollupCount: number; rollupCatchUpSeconds: number; lag: number; ingestSeconds: number; deliveries: number; handlerSeconds: number; stages: Record<string, number>; cpuSeconds: number };

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
  const cpu = process.cpuUsage();
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
  emit({ event: 'sent', samples: ids.length * plan.rounds, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSince(cpu) });
  await bus.close();
}

/** CPU seconds (user + system, every thread of this process: chDB's too) since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

// ---- the store side, shared by the Kafka ingester and the memory-bus run ----
interface StoreSide {
  store: Store;
  rollups: RollupLoop;
  /** The handler: the engine's Ingester, then which rounds are now wholly stored. */
  handle: (delivery: Delivery<'metrics'>) => Promise<void>;
  series: number;
  /** Marks the start of the measured window (CPU seconds count from here). */
  ready: () => void;
  /** Counts the store (raw rows without FINAL, distinct, the rollup's count) once everything is in. */
  count: (lag: () => Promise<number>) => Promise<Extract<ChildEvent, { event: 'final' }>>;
}

async function storeSide(plan: Plan, bus: Bus, dataDir: string): Promise<StoreSide> {
  const series = fleetLabelSets(DEFAULT_FLEET).length;
  const store = await Store.open({ dataPath: dataDir, database: 'tidemark' });
  await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), metricsMigrations);
  // No merges while the bench runs: a duplicate row must still be there to be counted.
  // Not in the rollups: their merges sum counts (a duplicate stays counted) and the roll-up loop's re-rolls need the merge pool.
  await store.command('SYSTEM STOP MERGES tidemark.samples');
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
  let handled = 0;
  let handling = 0;
  let cpu = process.cpuUsage();
  const handle = async (delivery: Delivery<'metrics'>): Promise<void> => {
    const t0 = performance.now();
    await engineIngester.handle(delivery);
    handled++;
    handling += performance.now() - t0;
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
  };
  const count = async (lag: () => Promise<number>): Promise<Extract<ChildEvent, { event: 'final' }>> => {
    const cpuSeconds = cpuSince(cpu);
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
    return {
      event: 'final',
      rows: Number(row!.rows),
      distinct: Number(row!.distinct),
      rollupCount: Number(rollup!.n),
      rollupCatchUpSeconds: catchUpSeconds,
      lag: await lag(),
      ingestSeconds: (lastAt - firstAt) / 1000,
      deliveries: handled,
      handlerSeconds: handling / 1000,
      stages: Object.fromEntries(Object.entries(ingestStageSeconds).map(([k, v]) => [k, Number(v.toFixed(2))])),
      cpuSeconds,
    };
  };
  return { store, rollups, handle, count, series, ready: () => void (cpu = process.cpuUsage()) };
}

/** Waits for the parent's word that every round is in (or its deadline passed). */
async function untilFinish(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) if (line.trim() === 'finish') return;
}

// ---- ingester process: the engine's Ingester behind a KafkaBus consumer ----
async function ingester(plan: Plan): Promise<void> {
  const bus = busFor(plan, 'bench-ingester');
  const side = await storeSide(plan, bus, plan.dataDir);
  await bus.consume('metrics', side.handle);
  await bus.whenReady(60_000);
  while (bus.assignment('metrics').length === 0) await new Promise((r) => setTimeout(r, 100));
  side.ready();
  emit({ event: 'ready', series: side.series });
  await untilFinish();
  emit(await side.count(async () => (await bus.refreshLag()).metrics));
  await bus.close();
  await side.store.close();
}

// ---- memory process: the same load through the in-process memory bus, as the embedded engine runs it ----
async function memory(plan: Plan): Promise<void> {
  const sets = fleetLabelSets(DEFAULT_FLEET);
  const ids = sets.map((l) => seriesId(l));
  // bin/engine.ts's memory bus with the default config: group commit, maxBatch 2,000,000, linger min(maxWait, 200 ms).
  const bus = new MemoryBus({ capacity: 4_000_000, maxDelivery: 2_000_000, lingerMs: 200, acknowledge: 'stored' });
  const side = await storeSide(plan, bus, `${plan.dataDir}-memory`);
  await bus.consume('metrics', side.handle);
  side.ready();
  emit({ event: 'ready', series: ids.length });
  const started = performance.now();
  // Publishers wait for their samples to be stored (group commit): as many in flight as bench:ingest has senders.
  const inFlight: Promise<void>[] = [];
  for (let r = 0; r < plan.rounds; r++) {
    const b = new SampleBatchBuilder('bench', ids.length);
    if (r === 0) sets.forEach((labels, i) => b.define({ id: ids[i]!, labels }));
    const ts = plan.firstTs + r * INTERVAL_MS;
    for (let i = 0; i < ids.length; i++) b.add(ids[i]!, ts, (r + 1) * 1000 + (i % 977));
    emit({ event: 'published', round: r, at: Date.now() });
    inFlight.push(bus.publish('metrics', b.build()));
    if (inFlight.length >= 8) await inFlight.shift();
  }
  await Promise.all(inFlight);
  emit({ event: 'sent', samples: ids.length * plan.rounds, seconds: (performance.now() - started) / 1000, cpuSeconds: 0 });
  await untilFinish();
  emit(await side.count(async () => bus.depth().metrics));
  await bus.close();
  await side.store.close();
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

// ---- parent: broker, the memory-bus process, then the two Kafka processes, the figures ----
function startChild(role: 'collector' | 'ingester' | 'memory', plan: Plan, onEvent: (e: ChildEvent) => void): ChildProcess {
  const profile = process.env['BENCH_PROFILE'];
  // BENCH_PROFILE=<dir>: each process writes V8 CPU profiles (one per thread) into <dir>/<role> (where the JavaScript time goes).
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profile, role)}`] : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', import.meta.filename, role], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      BENCH_KAFKA_PLAN: JSON.stringify(plan),
      TIDEMARK_LOG_LEVEL: process.env['TIDEMARK_LOG_LEVEL'] ?? 'warn',
    },
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

/** CPU seconds the broker's JVM has used so far (null when its pid cannot be read): what the broker costs on the same cores. */
function brokerCpuSeconds(): number | null {
  try {
    const runDir = process.env['TIDEMARK_KAFKA_RUN'] ?? join(process.env['TIDEMARK_CACHE'] ?? join(homedir(), '.cache', 'tidemark'), 'kafka-run');
    const pid = readFileSync(join(runDir, 'pid'), 'utf8').trim();
    // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): utime and stime in clock ticks (100 per second).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** What one phase (memory bus or Kafka) measured: per-round publish and stored times and the store's final count. */
interface Phase {
  published: Map<number, number>;
  stored: Map<number, number>;
  series: number;
  sent: Extract<ChildEvent, { event: 'sent' }>;
  final: Extract<ChildEvent, { event: 'final' }>;
  /** CPU seconds of the broker during the phase (null: unknown). */
  brokerCpu: number | null;
}

/** Runs one phase: the store-side process (and, for Kafka, the collector process), until every round is stored and counted. */
async function runPhase(kind: 'memory' | 'kafka', plan: Plan): Promise<Phase> {
  const published = new Map<number, number>();
  const stored = new Map<number, number>();
  let series = 0;
  let sent: Extract<ChildEvent, { event: 'sent' }> | null = null;
  let final: Extract<ChildEvent, { event: 'final' }> | null = null;
  const children: ChildProcess[] = [];
  let brokerCpu: number | null = null;
  const onEvent = (e: ChildEvent): void => {
    if (e.event === 'ready') series = e.series;
    if (e.event === 'stored') stored.set(e.round, e.at);
    if (e.event === 'final') final = e;
    if (e.event === 'published') published.set(e.round, e.at);
    if (e.event === 'sent') sent = e;
  };
  try {
    const side = startChild(kind === 'memory' ? 'memory' : 'ingester', plan, onEvent);
    children.push(side);
    await until(`the ${kind} store side to be ready`, 120_000, () => series > 0 || side.exitCode !== null);
    const brokerBefore = brokerCpuSeconds();
    if (kind === 'kafka') children.push(startChild('collector', plan, onEvent));
    await until(`every round stored (${kind})`, 600_000, () => stored.size === plan.rounds || side.exitCode !== null);
    const brokerAfter = brokerCpuSeconds();
    if (kind === 'kafka' && brokerBefore !== null && brokerAfter !== null) brokerCpu = brokerAfter - brokerBefore;
    await until(`the ${kind} publisher to finish`, 60_000, () => sent !== null);
    side.stdin!.write('finish\n');
    await until(`the final count (${kind})`, 120_000, () => final !== null);
  } finally {
    for (const c of children) if (c.exitCode === null) await new Promise((r) => { c.once('exit', r); setTimeout(() => (c.kill('SIGTERM'), r(null)), 20_000); });
  }
  if (!final || !sent) throw new Error(`bench:kafka: a ${kind} process ended without its figures`);
  return { published, stored, series, sent, final, brokerCpu };
}

/** Rate from the first publish to the last round stored, p99 of per-round publish→stored, and the count checks. */
function phaseFigures(p: Phase, rounds: number) {
  const latencies = [...p.stored].map(([round, at]) => (at - p.published.get(round)!) / 1000);
  const first = Math.min(...p.published.values());
  const last = Math.max(...p.stored.values());
  const total = p.series * rounds;
  return {
    samplesPerSecond: Math.round(total / ((last - first) / 1000)),
    p99: Number(percentile(latencies, 99).toFixed(3)),
    latencies,
    total,
    lost: total - p.final.distinct,
    duplicated: p.final.rows - p.final.distinct,
    duplicatedRollup: p.final.rollupCount - p.final.distinct,
  };
}

function perMillion(seconds: number, samples: number): number {
  return Number(((seconds / samples) * 1e6).toFixed(2));
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
  let mem: Phase;
  let kafka: Phase;
  try {
    // The memory bus first, the same load into a store of its own: the rate the Kafka path is measured against.
    mem = await runPhase('memory', plan);
    rmSync(`${dataDir}-memory`, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    console.error(`broker ${address}; fleet ${mem.series} series x ${rounds} rounds = ${mem.series * rounds} samples; compression ${plan.compression}`);
    kafka = await runPhase('kafka', plan);
  } finally {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    rmSync(`${dataDir}-memory`, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
  const m = phaseFigures(mem, rounds);
  const k = phaseFigures(kafka, rounds);
  const f = kafka.final;
  console.error(`memory bus: ${mem.final.deliveries} deliveries, handler ${mem.final.handlerSeconds.toFixed(2)} s (stages ${JSON.stringify(mem.final.stages)}); per-round publish→stored: ${m.latencies.map((l) => l.toFixed(2)).join(' ')} s`);
  console.error(`kafka: collector sent ${kafka.sent.samples} samples in ${kafka.sent.seconds.toFixed(2)} s; ${f.deliveries} deliveries, handler ${f.handlerSeconds.toFixed(2)} s (stages ${JSON.stringify(f.stages)}); store holds ${f.rows} raw rows with merges stopped (${f.distinct} distinct), rollup count ${f.rollupCount}; per-round publish→stored: ${k.latencies.map((l) => l.toFixed(2)).join(' ')} s`);
  const figures = {
    bench: 'kafka',
    samples_per_s: k.samplesPerSecond,
    memory_samples_per_s: m.samplesPerSecond,
    vs_memory: Number((k.samplesPerSecond / m.samplesPerSecond).toFixed(3)),
    produce_to_queryable_p99_s: k.p99,
    memory_p99_s: m.p99,
    deliveries: f.deliveries,
    memory_deliveries: mem.final.deliveries,
    lag_at_end: f.lag,
    sent: k.total,
    distinct: f.distinct,
    raw_rows: f.rows,
    rollup_count: f.rollupCount,
    rollup_catch_up_s: Number(f.rollupCatchUpSeconds.toFixed(2)),
    lost: k.lost,
    duplicated: k.duplicated,
    duplicated_rollup: k.duplicatedRollup,
    // CPU seconds per million samples on the shared cores: memory-bus process; Kafka ingester, collector and broker.
    cpu_s_per_million: {
      memory: perMillion(mem.final.cpuSeconds, m.total),
      ingester: perMillion(f.cpuSeconds, k.total),
      collector: perMillion(kafka.sent.cpuSeconds, k.total),
      broker: kafka.brokerCpu === null ? null : perMillion(kafka.brokerCpu, k.total),
    },
    memory_lost: m.lost,
    memory_duplicated: m.duplicated,
    broker_stopped: broker.started,
  };
  console.log(JSON.stringify(figures));
  if ([k.lost, k.duplicated, k.duplicatedRollup, m.lost, m.duplicated, m.duplicatedRollup].some((n) => n !== 0)) process.exitCode = 1;
}

const role = process.argv[2];
if (role === 'collector' || role === 'ingester' || role === 'memory') {
  const plan = JSON.parse(process.env['BENCH_KAFKA_PLAN'] ?? 'null') as Plan;
  await (role === 'collector' ? collector(plan) : role === 'ingester' ? ingester(plan) : memory(plan));
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
