// bench:kafka — the synthetic fleet through a real Kafka broker, with the
// collector (KafkaBus producer) and the ingester (KafkaBus consumer + the
// engine's Ingester into an embedded store) as separate processes, against
// the same load through the in-process memory bus (the engine's embedded
// default: group commit, the same Ingester and roll-up loop, in a process of
// its own) run first, so the line carries both rates and their ratio. The
// broker comes from scripts/kafka.sh; one this run started (none was
// running) is stopped at the end.
//
// Each phase publishes BENCH_ROUNDS rounds unpaced (throughput: first
// publish to last round stored), then, once those are stored, the next
// BENCH_PACED_ROUNDS rounds cut in BENCH_SLICES slices at a steady rate, the
// same for both buses (produce-to-queryable: publish to the moment the
// slice's last sample is stored, an insert the store has acknowledged being
// queryable). Lost/duplicated rows are counted in the store against rows
// sent where a duplicate would show: raw rows read without FINAL while
// merges are stopped (a ReplacingMergeTree merge would hide them), and the
// sum of the 1-minute rollup's `count` (where a duplicate doubles a sum for
// good). CPU seconds per million samples per process show what the broker
// and the collector cost on the same cores.
//
//   npm run bench:kafka            BENCH_ROUNDS (default 10), BENCH_PACED_ROUNDS (4), BENCH_SLICES (15),
//                                  BENCH_RATE (paced samples/s; default BENCH_PACED_FRACTION, 0.5, of the memory bus's rate),
//                                  BENCH_PARTITIONS (6), BENCH_COMPRESSION (snappy|gzip|none),
//                                  BENCH_FETCH_MIN_BYTES / BENCH_FETCH_WAIT_MS (consumer fetch), BENCH_DEBUG=1 (per delivery),
//                                  BENCH_PROFILE=<dir> (V8 CPU profiles per process)
//   npx tsx bench/kafka.ts produce-only   producer rate and stored size for none/snappy/gzip
// Last line: {"bench":"kafka","samples_per_s":…,"memory_samples_per_s":…,"vs_memory":…,"paced_samples_per_s":…,"partitions":…,
//   "produce_to_queryable_p99_s":…,"memory_p99_s":…,"unpaced_p99_s":…,"memory_unpaced_p99_s":…,"deliveries":…,"memory_deliveries":…,
//   "lag_at_end":…,"sent":…,"distinct":…,"raw_rows":…,"rollup_count":…,"lost":…,"duplicated":…,"duplicated_rollup":…,
//   "cpu_s_per_million":{"memory","ingester","collector","broker"},"memory_lost":…,"memory_duplicated":…,"broker_stopped":…}
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
  /** Rounds published as fast as the bus takes them: the throughput. */
  rounds: number;
  /** Rounds published after those, paced (rate from the parent) and cut in slices: the produce-to-queryable latency at a steady load. */
  pacedRounds: number;
  slices: number;
  /** Partitions of the topics: each is a stream of its own deliveries (inserts) in the ingester. */
  partitions: number;
  firstTs: number;
  compression: KafkaCompression;
  dataDir: string;
}

/**
 * Samples are keyed by their timestamp: round r's is firstTs + r·15 s, and
 * slice k of a paced round adds k ms, so the store side can say when each
 * published unit is wholly stored by counting runs of equal timestamps.
 */
type ChildEvent =
  | { event: 'ready'; series: number }
  | { event: 'published'; key: number; at: number }
  | { event: 'sent'; part: 'unpaced' | 'paced'; samples: number; seconds: number; cpuSeconds: number }
  | { event: 'stored'; key: number; n: number; at: number }
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
    partitions: plan.partitions,
    replicationFactor: 1,
    compression: plan.compression,
    registry: new Registry(),
    logger: createLogger(`bench-${clientId}`),
    lagIntervalMs: 1_000,
    // Let the broker gather more per fetch: each delivery is one insert, and inserts amortise their fixed cost.
    consumer: { minBytes: Number(process.env['BENCH_FETCH_MIN_BYTES'] ?? 4 * 1024 * 1024), maxWaitTimeInMs: Number(process.env['BENCH_FETCH_WAIT_MS'] ?? 400) },
  });
}

/** Lines from the parent on stdin, one at a time (`paced <rate>`, `finish`). */
function parentLines(): () => Promise<string> {
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: process.stdin }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line.trim());
    else queue.push(line.trim());
  });
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r)));
}

/** The fleet's series and their ids, computed once per process. */
function fleet(): { sets: ReturnType<typeof fleetLabelSets>; ids: bigint[] } {
  const sets = fleetLabelSets(DEFAULT_FLEET);
  return { sets, ids: sets.map((l) => seriesId(l)) };
}

/** Slice k of `n` series cut in `slices`: [start, end). */
function sliceBounds(n: number, slices: number, k: number): [number, number] {
  const size = Math.ceil(n / slices);
  return [Math.min(n, k * size), Math.min(n, (k + 1) * size)];
}

/**
 * Publishes the fleet: the unpaced rounds as fast as the bus takes them
 * (`inFlight` publishes outstanding), then, on the parent's `paced <rate>`,
 * the paced rounds slice by slice at that rate, each publish timed.
 */
async function publishFleet(plan: Plan, bus: Bus, inFlight: number, next: () => Promise<string>): Promise<void> {
  const { sets, ids } = fleet();
  const pending: Promise<void>[] = [];
  const publish = async (key: number, batch: ReturnType<SampleBatchBuilder['build']>): Promise<void> => {
    emit({ event: 'published', key, at: Date.now() });
    pending.push(bus.publish('metrics', batch));
    if (pending.length >= inFlight) await pending.shift();
  };
  const build = (r: number, from: number, to: number, offset: number): ReturnType<SampleBatchBuilder['build']> => {
    const b = new SampleBatchBuilder('bench', to - from);
    if (r === 0) for (let i = from; i < to; i++) b.define({ id: ids[i]!, labels: sets[i]! });
    const ts = plan.firstTs + r * INTERVAL_MS + offset;
    for (let i = from; i < to; i++) b.add(ids[i]!, ts, (r + 1) * 1000 + (i % 977));
    return b.build();
  };
  let started = performance.now();
  let cpu = process.cpuUsage();
  for (let r = 0; r < plan.rounds; r++) await publish(plan.firstTs + r * INTERVAL_MS, build(r, 0, ids.length, 0));
  await Promise.all(pending.splice(0));
  emit({ event: 'sent', part: 'unpaced', samples: ids.length * plan.rounds, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSince(cpu) });
  const command = await next();
  const rate = Number(command.split(' ')[1]);
  if (!command.startsWith('paced') || !(rate > 0)) throw new Error(`bench:kafka: expected "paced <rate>", got ${command}`);
  started = performance.now();
  cpu = process.cpuUsage();
  let published = 0;
  for (let r = plan.rounds; r < plan.rounds + plan.pacedRounds; r++) {
    for (let k = 0; k < plan.slices; k++) {
      const [from, to] = sliceBounds(ids.length, plan.slices, k);
      const batch = build(r, from, to, k);
      const wait = started + (published / rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      await publish(plan.firstTs + r * INTERVAL_MS + k, batch);
      published += to - from;
    }
  }
  await Promise.all(pending.splice(0));
  emit({ event: 'sent', part: 'paced', samples: published, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSince(cpu) });
}

// ---- collector process: publishes the fleet through Kafka ----
async function collector(plan: Plan): Promise<void> {
  const next = parentLines();
  const bus = busFor(plan, 'bench-collector');
  await bus.whenReady(60_000);
  // Two publishes in flight: the next is encoded while the previous one is being acknowledged.
  await publishFleet(plan, bus, 2, next);
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
  /** The handler: the engine's Ingester, then how many samples of each published unit it stored. */
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
  const tokens = new Set<string>();
  const handedThrough = new Map<number, number>();
  let firstAt = 0;
  let lastAt = 0;
  const debug = process.env['BENCH_DEBUG'] === '1';
  let handled = 0;
  let handling = 0;
  let cpu = process.cpuUsage();
  const handle = async (delivery: Delivery<'metrics'>): Promise<void> => {
    const t0 = performance.now();
    const outcome = await engineIngester.handle(delivery);
    if (outcome?.rejected?.size) console.error(`delivery ${delivery.token}: the store refused ${outcome.rejected.size} payload(s): ${[...outcome.rejected.values()][0]}`);
    handled++;
    handling += performance.now() - t0;
    if (debug) console.error(`delivery ${delivery.token}: ${delivery.payloads.reduce((n, b) => n + b.length, 0)} samples, ${delivery.payloads.reduce((n, b) => n + b.series.length, 0)} definitions, handled in ${(performance.now() - t0).toFixed(0)} ms`);
    if (tokens.has(delivery.token)) return;
    tokens.add(delivery.token);
    // A Kafka token names partition and offsets: a range handed over twice under another token would be counted twice here.
    const range = /\/(\d+)\/(\d+)-(\d+)$/.exec(delivery.token);
    if (range) {
      const [partition, from, to] = [Number(range[1]), Number(range[2]), Number(range[3])];
      const through = handedThrough.get(partition) ?? -1;
      if (from <= through) console.error(`delivery ${delivery.token} overlaps offsets already handed over (through ${through})`);
      handedThrough.set(partition, Math.max(through, to));
    }
    const now = Date.now();
    if (!firstAt) firstAt = now;
    lastAt = now;
    // Samples of a published unit share one timestamp: count runs, not samples one by one.
    const perKey = new Map<number, number>();
    for (const [index, batch] of delivery.payloads.entries()) {
      if (outcome?.rejected?.has(index)) continue;
      for (let i = 0; i < batch.length; ) {
        const ts = batch.timestamps[i]!;
        let j = i + 1;
        while (j < batch.length && batch.timestamps[j] === ts) j++;
        perKey.set(ts, (perKey.get(ts) ?? 0) + (j - i));
        i = j;
      }
    }
    for (const [key, n] of perKey) emit({ event: 'stored', key, n, at: now });
  };
  const count = async (lag: () => Promise<number>): Promise<Extract<ChildEvent, { event: 'final' }>> => {
    const cpuSeconds = cpuSince(cpu);
    // Raw rows without FINAL (merges are stopped), distinct (series, ts), and the rollup's count of samples.
    const [row] = await store.query<{ rows: string; distinct: string }>(
      `SELECT count() AS rows, uniqExact(series_id, ts) AS distinct FROM tidemark.samples WHERE tenant = 'bench'`,
    );
    if (debug) {
      const perTs = await store.query<{ t: string; n: string }>(`SELECT toUnixTimestamp64Milli(ts) AS t, count() AS n FROM tidemark.samples WHERE tenant = 'bench' GROUP BY t ORDER BY t`);
      console.error(`stored per timestamp: ${perTs.map((r) => `${Number(r.t) - plan.firstTs}:${r.n}`).join(' ')}`);
    }
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

/** Waits for the parent's word that everything is in (or its deadline passed). */
async function untilFinish(next: () => Promise<string>): Promise<void> {
  while ((await next()) !== 'finish');
}

// ---- ingester process: the engine's Ingester behind a KafkaBus consumer ----
async function ingester(plan: Plan): Promise<void> {
  const next = parentLines();
  const bus = busFor(plan, 'bench-ingester');
  const side = await storeSide(plan, bus, plan.dataDir);
  await bus.consume('metrics', side.handle);
  await bus.whenReady(60_000);
  while (bus.assignment('metrics').length === 0) await new Promise((r) => setTimeout(r, 100));
  side.ready();
  emit({ event: 'ready', series: side.series });
  await untilFinish(next);
  emit(await side.count(async () => (await bus.refreshLag()).metrics));
  await bus.close();
  await side.store.close();
}

// ---- memory process: the same load through the in-process memory bus, as the embedded engine runs it ----
async function memory(plan: Plan): Promise<void> {
  const next = parentLines();
  // bin/engine.ts's memory bus with the default config: group commit, maxBatch 2,000,000, linger min(maxWait, 200 ms).
  const bus = new MemoryBus({ capacity: 4_000_000, maxDelivery: 2_000_000, lingerMs: 200, acknowledge: 'stored' });
  const side = await storeSide(plan, bus, `${plan.dataDir}-memory`);
  await bus.consume('metrics', side.handle);
  side.ready();
  emit({ event: 'ready', series: side.series });
  // Publishers wait for their samples to be stored (group commit): as many in flight as bench:ingest has senders.
  await publishFleet(plan, bus, 8, next);
  await untilFinish(next);
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
    const bus = busFor({ brokers: [address], prefix, groupId: prefix, rounds, pacedRounds: 0, slices: 1, partitions: 6, firstTs: 0, compression, dataDir: '' }, 'bench-produce');
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

/** What one phase (memory bus or Kafka) measured: when each published unit was published and wholly stored, and the store's final count. */
interface Phase {
  published: Map<number, number>;
  /** When each unit was wholly stored. */
  stored: Map<number, number>;
  series: number;
  unpaced: Extract<ChildEvent, { event: 'sent' }>;
  paced: Extract<ChildEvent, { event: 'sent' }>;
  final: Extract<ChildEvent, { event: 'final' }>;
  /** CPU seconds of the broker during the unpaced part (null: unknown). */
  brokerCpu: number | null;
}

/** The published units and their sizes: whole rounds unpaced, then the paced rounds' slices. */
function units(plan: Plan, series: number): { unpaced: Map<number, number>; paced: Map<number, number> } {
  const unpaced = new Map<number, number>();
  const paced = new Map<number, number>();
  for (let r = 0; r < plan.rounds; r++) unpaced.set(plan.firstTs + r * INTERVAL_MS, series);
  for (let r = plan.rounds; r < plan.rounds + plan.pacedRounds; r++) {
    for (let k = 0; k < plan.slices; k++) {
      const [from, to] = sliceBounds(series, plan.slices, k);
      if (to > from) paced.set(plan.firstTs + r * INTERVAL_MS + k, to - from);
    }
  }
  return { unpaced, paced };
}

/**
 * Runs one phase: the store-side process (and, for Kafka, the collector
 * process); the unpaced rounds until all are stored, then the paced rounds
 * at `pacedRate(unpaced samples/s)`, then the count.
 */
async function runPhase(kind: 'memory' | 'kafka', plan: Plan, pacedRate: (unpacedRate: number) => number): Promise<Phase> {
  const published = new Map<number, number>();
  const counts = new Map<number, number>();
  const stored = new Map<number, number>();
  let expected = new Map<number, number>();
  let series = 0;
  const sent: Partial<Record<'unpaced' | 'paced', Extract<ChildEvent, { event: 'sent' }>>> = {};
  let final: Extract<ChildEvent, { event: 'final' }> | null = null;
  const children: ChildProcess[] = [];
  let brokerCpu: number | null = null;
  let all: ReturnType<typeof units> = { unpaced: new Map(), paced: new Map() };
  const onEvent = (e: ChildEvent): void => {
    if (e.event === 'ready') {
      series = e.series;
      all = units(plan, series);
      expected = new Map([...all.unpaced, ...all.paced]);
    }
    if (e.event === 'published') published.set(e.key, e.at);
    if (e.event === 'sent') sent[e.part] = e;
    if (e.event === 'final') final = e;
    if (e.event === 'stored') {
      const n = (counts.get(e.key) ?? 0) + e.n;
      counts.set(e.key, n);
      if (n > (expected.get(e.key) ?? Infinity)) console.error(`bench:kafka: ${kind}: ${n} samples stored at ${e.key - plan.firstTs} ms, more than the ${expected.get(e.key)} published`);
      if (n >= (expected.get(e.key) ?? Infinity) && !stored.has(e.key)) stored.set(e.key, e.at);
    }
  };
  try {
    const side = startChild(kind === 'memory' ? 'memory' : 'ingester', plan, onEvent);
    children.push(side);
    await until(`the ${kind} store side to be ready`, 120_000, () => series > 0 || side.exitCode !== null);
    const brokerBefore = brokerCpuSeconds();
    const publisher = kind === 'kafka' ? startChild('collector', plan, onEvent) : side;
    if (kind === 'kafka') children.push(publisher);
    const done = (keys: Map<number, number>): boolean => [...keys.keys()].every((k) => stored.has(k));
    // The collector exits once it has published everything: only a failed one ends the wait early.
    const failed = (): boolean => side.exitCode !== null || (publisher.exitCode !== null && publisher.exitCode !== 0);
    await until(`every unpaced round stored (${kind})`, 600_000, () => done(all.unpaced) || failed());
    const brokerAfter = brokerCpuSeconds();
    if (kind === 'kafka' && brokerBefore !== null && brokerAfter !== null) brokerCpu = brokerAfter - brokerBefore;
    await until(`the ${kind} publisher's unpaced rounds`, 60_000, () => sent.unpaced !== undefined);
    const rate = Math.max(1_000, Math.round(pacedRate(rateOf(all.unpaced, published, stored))));
    publisher.stdin!.write(`paced ${rate}\n`);
    await until(`every paced slice stored (${kind})`, 600_000, () => done(all.paced) || failed());
    await until(`the ${kind} publisher's paced rounds`, 60_000, () => sent.paced !== undefined);
    side.stdin!.write('finish\n');
    await until(`the final count (${kind})`, 120_000, () => final !== null);
  } finally {
    for (const c of children) if (c.exitCode === null) await new Promise((r) => { c.once('exit', r); setTimeout(() => (c.kill('SIGTERM'), r(null)), 20_000); });
  }
  if (!final || !sent.unpaced || !sent.paced) throw new Error(`bench:kafka: a ${kind} process ended without its figures`);
  return { published, stored, series, unpaced: sent.unpaced, paced: sent.paced, final, brokerCpu };
}

/** Samples per second from the first publish of `keys` to the last of them stored. */
function rateOf(keys: Map<number, number>, published: Map<number, number>, stored: Map<number, number>): number {
  let total = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const [key, n] of keys) {
    total += n;
    first = Math.min(first, published.get(key) ?? Infinity);
    last = Math.max(last, stored.get(key) ?? -Infinity);
  }
  return total / ((last - first) / 1000);
}

/** Publish→stored seconds of each of `keys`. */
function latencies(keys: Map<number, number>, p: Phase): number[] {
  return [...keys.keys()].map((k) => (p.stored.get(k)! - p.published.get(k)!) / 1000);
}

function perMillion(seconds: number, samples: number): number {
  return Number(((seconds / samples) * 1e6).toFixed(2));
}

async function measure(broker: { address: string; started: boolean }): Promise<void> {
  const { address } = broker;
  const id = randomUUID().slice(0, 8);
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 10);
  const pacedRounds = Number(process.env['BENCH_PACED_ROUNDS'] ?? 4);
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-bench-kafka-'));
  const plan: Plan = {
    brokers: [address],
    prefix: `bench.${id}.`,
    groupId: `bench-${id}`,
    rounds,
    pacedRounds,
    slices: Number(process.env['BENCH_SLICES'] ?? 15),
    partitions: Number(process.env['BENCH_PARTITIONS'] ?? 6),
    firstTs: Math.floor(Date.now() / 1000 - (rounds + pacedRounds) * (INTERVAL_MS / 1000)) * 1000,
    compression: (process.env['BENCH_COMPRESSION'] ?? 'snappy') as KafkaCompression,
    dataDir,
  };
  // The paced load, the same for both phases: BENCH_RATE samples/s, else BENCH_PACED_FRACTION (default half) of the memory bus's unpaced rate.
  const fraction = Number(process.env['BENCH_PACED_FRACTION'] ?? 0.5);
  let pacedRate = Number(process.env['BENCH_RATE'] ?? 0);
  let mem: Phase;
  let kafka: Phase;
  try {
    // The memory bus first, the same load into a store of its own: the rate the Kafka path is measured against.
    mem = await runPhase('memory', plan, (rate) => (pacedRate ||= rate * fraction));
    rmSync(`${dataDir}-memory`, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    console.error(`broker ${address}; fleet ${mem.series} series x ${rounds} unpaced rounds + ${pacedRounds} paced rounds in ${plan.slices} slices at ${Math.round(pacedRate)} samples/s; ${plan.partitions} partitions, compression ${plan.compression}`);
    kafka = await runPhase('kafka', plan, () => pacedRate);
  } finally {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    rmSync(`${dataDir}-memory`, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
  const all = units(plan, kafka.series);
  const total = kafka.series * (rounds + pacedRounds);
  const figuresOf = (p: Phase) => ({
    rate: Math.round(rateOf(all.unpaced, p.published, p.stored)),
    unpacedP99: Number(percentile(latencies(all.unpaced, p), 99).toFixed(3)),
    pacedP99: Number(percentile(latencies(all.paced, p), 99).toFixed(3)),
    pacedP50: Number(percentile(latencies(all.paced, p), 50).toFixed(3)),
    lost: total - p.final.distinct,
    duplicated: p.final.rows - p.final.distinct,
    duplicatedRollup: p.final.rollupCount - p.final.distinct,
  });
  const m = figuresOf(mem);
  const k = figuresOf(kafka);
  const f = kafka.final;
  const show = (values: number[]): string => values.map((l) => l.toFixed(2)).join(' ');
  console.error(`memory bus: ${mem.final.deliveries} deliveries, handler ${mem.final.handlerSeconds.toFixed(2)} s (stages ${JSON.stringify(mem.final.stages)}); unpaced rounds publish→stored: ${show(latencies(all.unpaced, mem))} s; paced p50 ${m.pacedP50} s`);
  console.error(`kafka: collector sent ${kafka.unpaced.samples} samples unpaced in ${kafka.unpaced.seconds.toFixed(2)} s; ${f.deliveries} deliveries, handler ${f.handlerSeconds.toFixed(2)} s (stages ${JSON.stringify(f.stages)}); store holds ${f.rows} raw rows with merges stopped (${f.distinct} distinct), rollup count ${f.rollupCount}; unpaced rounds publish→stored: ${show(latencies(all.unpaced, kafka))} s; paced p50 ${k.pacedP50} s`);
  const figures = {
    bench: 'kafka',
    samples_per_s: k.rate,
    memory_samples_per_s: m.rate,
    vs_memory: Number((k.rate / m.rate).toFixed(3)),
    // Publish→stored of the paced slices: the steady load, the same for both buses.
    paced_samples_per_s: Math.round(pacedRate),
    partitions: plan.partitions,
    produce_to_queryable_p99_s: k.pacedP99,
    memory_p99_s: m.pacedP99,
    // Publish→stored of the unpaced rounds: the backlog an unpaced burst builds.
    unpaced_p99_s: k.unpacedP99,
    memory_unpaced_p99_s: m.unpacedP99,
    deliveries: f.deliveries,
    memory_deliveries: mem.final.deliveries,
    lag_at_end: f.lag,
    sent: total,
    distinct: f.distinct,
    raw_rows: f.rows,
    rollup_count: f.rollupCount,
    rollup_catch_up_s: Number(f.rollupCatchUpSeconds.toFixed(2)),
    lost: k.lost,
    duplicated: k.duplicated,
    duplicated_rollup: k.duplicatedRollup,
    // CPU seconds per million samples on the shared cores (whole phase): memory-bus process; Kafka ingester, collector and broker (unpaced part).
    cpu_s_per_million: {
      memory: perMillion(mem.final.cpuSeconds, total),
      ingester: perMillion(f.cpuSeconds, total),
      collector: perMillion(kafka.unpaced.cpuSeconds + kafka.paced.cpuSeconds, total),
      broker: kafka.brokerCpu === null ? null : perMillion(kafka.brokerCpu, all.unpaced.size * kafka.series),
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
