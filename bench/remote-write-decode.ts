// Decode throughput of the remote_write receiver's decoder alone: snappy
// block decompress + WriteRequest decode into a SampleBatch, for a realistic
// request (1,000 series x 1 sample, node_exporter- and cAdvisor-like labels),
// once with every series new to the decoder and then with known series.
// Each phase is timed in CPU time (steadier than wall time on a shared
// machine) and printed as nanoseconds per sample: snappy alone, the
// protobuf walk with its label-section hash and cache probe (known series),
// both together, and on first sight the label decode, validation and id
// hash (`resolve`, per new series). Also the series cache's bytes per
// series at BENCH_CACHE_SERIES (144,000: bench:ingest's fleet). Then the
// worker pool: samples/s through 1 and 2 decoding threads, and what is left
// on the main thread per sample.
import snappy from 'snappy';
import { readFileSync } from 'node:fs';
import { RemoteWriteDecoder } from '../collector/remote-write.ts';
import { createRemoteWriteDecoding } from '../collector/remote-write-pool.ts';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';
import { fleetSeries } from '../collector/synthetic-fleet.ts';

const SERIES = Number(process.env['BENCH_SERIES'] ?? 1000);
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 3000);
const CACHE_SERIES = Number(process.env['BENCH_CACHE_SERIES'] ?? 144_000);

const labels = fleetSeries(SERIES);
const bodies: Buffer[] = [];
const start = Date.parse('2026-01-01T00:00:00Z');
for (let r = 0; r < 16; r++) {
  // Series in a different order in each request, as Prometheus' shards send them, so label sections move.
  const order = labels.map((_, i) => labels[(i * 7 + r * 131) % labels.length]!);
  bodies.push(encodeWriteRequest(order.map((l, i) => ({ labels: l, samples: [{ value: i * 1.5 + r, timestamp: start + r * 15_000 + (i % 3) }] }))));
}
const raws = bodies.map((b) => snappy.uncompressSync(b, { asBuffer: true }) as Buffer);

/** CPU seconds (user + system) spent in fn. */
function cpuSeconds(fn: () => void): number {
  const cpu0 = process.cpuUsage();
  fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1e6;
}

const ns = (seconds: number, samples: number): number => Math.round((seconds / samples) * 1e9);

// New series every request: a fresh decoder each time defines all of them. `resolve` is the
// decoder's own (wall-clock) count of its cache misses, `decode_new` the CPU time net of it.
const COLD = 50;
let coldResolve = 0;
const coldDecoders = Array.from({ length: COLD }, () => new RemoteWriteDecoder({ tenant: 'default' }));
const coldWall0 = performance.now();
const coldCpu = cpuSeconds(() => {
  for (let r = 0; r < COLD; r++) {
    coldDecoders[r]!.decode(bodies[r % bodies.length]!);
    coldResolve += coldDecoders[r]!.resolveSeconds;
  }
});
// Wall time stretches on a busy machine: the resolve share is scaled to CPU time.
coldResolve *= Math.min(1, coldCpu / ((performance.now() - coldWall0) / 1000));
const coldSamples = COLD * SERIES;

const decoder = new RemoteWriteDecoder({ tenant: 'default' });
for (let r = 0; r < 200; r++) decoder.decode(bodies[r % bodies.length]!).commit(); // warm-up, and every series known
let samples = 0;
const t0 = process.hrtime.bigint();
const knownCpu = cpuSeconds(() => {
  for (let r = 0; r < REQUESTS; r++) samples += decoder.decode(bodies[r % bodies.length]!).batch.length;
});
const knownWall = Number(process.hrtime.bigint() - t0) / 1e9;
const snappyCpu = cpuSeconds(() => {
  for (let r = 0; r < REQUESTS; r++) snappy.uncompressSync(bodies[r % bodies.length]!, { asBuffer: true, copyOutputData: true });
});
const walkCpu = cpuSeconds(() => {
  for (let r = 0; r < REQUESTS; r++) decoder.decodeWriteRequest(raws[r % raws.length]!);
});

// The series cache at a fleet's size: CACHE_SERIES series sent in requests of 2,000, each
// committed. Heap plus array buffers (the cache's tables, the hasher's memory, the columns)
// after collection, per series known; the requests' own garbage is gone by then.
const gc = (globalThis as { gc?: () => void }).gc;
const fleet = fleetSeries(CACHE_SERIES);
const chunks: Buffer[] = [];
for (let i = 0; i < fleet.length; i += 2000) chunks.push(encodeWriteRequest(fleet.slice(i, i + 2000).map((l) => ({ labels: l, samples: [{ value: 1, timestamp: start }] }))));
const memory = (): number => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const memory0 = memory();
const cacheDecoder = new RemoteWriteDecoder({ tenant: 'default' });
for (const chunk of chunks) cacheDecoder.decode(chunk).commit();
const perSeries = {
  process: gc ? Math.round((memory() - memory0) / cacheDecoder.knownSeries) : null,
  table: 'cacheBytes' in cacheDecoder ? Math.round((cacheDecoder as { cacheBytes: number }).cacheBytes / cacheDecoder.knownSeries) : null,
};

// The worker pool: requests decoded by 1 and 2 worker threads, 4 in flight, as a receiver would
// hand them over. What counts for the main thread is its own CPU time per sample (posting the
// body, taking the batch and its definitions back; from /proc, Linux only: wall-clock measures
// such as event-loop utilisation count the time a busy machine keeps the thread waiting),
// against the full decode on the main thread above; and the samples/s the pool reaches in wall
// time, which on a loaded machine mostly measures how soon each thread is scheduled again.
/** CPU seconds of this process's main thread so far (user + system, from /proc), or NaN elsewhere. */
function mainThreadCpuSeconds(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

interface PoolFigures {
  samples_per_s: number;
  main_thread_ns_per_sample: number;
  main_thread_ns_per_sample_new_series: number;
}
async function poolRun(workers: number): Promise<PoolFigures> {
  const pool = createRemoteWriteDecoding({ workers });
  await pool.started();
  // Known series: every body decoded and committed once first.
  for (const b of bodies) (await pool.decode('default', Buffer.from(b))).commit();
  await new Promise((r) => setTimeout(r, 200));
  const requests = Math.min(REQUESTS, 2000);
  const timedRun = async (tenant: (r: number) => string, count: number): Promise<{ samples: number; wall: number; active: number }> => {
    let next = 0;
    let total = 0;
    const cpu0 = mainThreadCpuSeconds();
    const w0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count) {
          const r = next++;
          total += (await pool.decode(tenant(r), Buffer.from(bodies[r % bodies.length]!))).batch!.length;
        }
      }),
    );
    const wall = (performance.now() - w0) / 1000;
    return { samples: total, wall, active: mainThreadCpuSeconds() - cpu0 };
  };
  const known = await timedRun(() => 'default', requests);
  // New series: a tenant per request, so every series is new to the worker and its definition crosses back.
  const cold = await timedRun((r) => `cold-${r}`, 200);
  await pool.close();
  return {
    samples_per_s: Math.round(known.samples / known.wall),
    main_thread_ns_per_sample: ns(known.active, known.samples),
    main_thread_ns_per_sample_new_series: ns(cold.active, cold.samples),
  };
}
const pools = { workers_1: await poolRun(1), workers_2: await poolRun(2) };

const phases = {
  snappy: ns(snappyCpu, samples),
  walk: ns(walkCpu, samples),
  decode_known: ns(knownCpu, samples),
  decode_new: ns(coldCpu - coldResolve, coldSamples),
  resolve_per_new_series: ns(coldResolve, COLD * SERIES),
};
const bytes = bodies[0]!.length;
console.log(
  `request: ${SERIES} series, ${bytes} bytes snappy; known series ${Math.round(samples / knownWall)} samples/s (${Math.round(samples / knownCpu)} per CPU second); ns per sample: ${JSON.stringify(phases)}; cache bytes per series at ${CACHE_SERIES}: ${JSON.stringify(perSeries)}; pool: ${JSON.stringify(pools)}${gc ? '' : ' (process: run with node --expose-gc --import tsx)'}`,
);
console.log(
  JSON.stringify({
    bench: 'remote-write-decode',
    samples_per_s: Math.round(samples / knownWall),
    samples_per_cpu_s: Math.round(samples / knownCpu),
    new_series_samples_per_cpu_s: Math.round(coldSamples / coldCpu),
    ns_per_sample: phases,
    cache_bytes_per_series: perSeries,
    pool: pools,
    request_bytes: bytes,
    series_per_request: SERIES,
  }),
);
