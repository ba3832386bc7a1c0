// bench:peers — the same remote_write load, in one run, sent to Tidemark,
// Debian's VictoriaMetrics and Debian's Prometheus (remote-write receiver
// on), one peer at a time, each started on loopback and stopped after.
//
// The load is issue 13's shape: 100,000 cAdvisor-like series, 10,000
// samples a request. A warm-up round (untimed) creates every series and is
// waited for until the peer's own query API counts it; then BENCH_ROUNDS
// (default 20) steady-state rounds are sent back to back by BENCH_SHARDS
// (default 10) concurrent senders, each series on one sender in time order,
// as Prometheus' remote_write shards do. Timed: `send_s` from the first
// timed request to the last answer, `visible_s` from then until the peer's
// own query API counts every sample sent. The rate is a stored rate:
// samples of the timed rounds / (send_s + visible_s). Tidemark runs with
// BENCH_ENGINE_CONFIG (a JSON config) and BENCH_ACK (`stored`, the default,
// or `logged`: its memory bus's bus.acknowledge).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { cadvisorLabelSets, encodeRounds, sendSharded, waitForCount, type SendResult } from './fleet.ts';
import { freePort, startEngineProcess, tidemarkSampleCount, removeDir } from './engine-process.ts';

const series = Number(process.env['BENCH_SERIES'] ?? 100_000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 20);
const shards = Number(process.env['BENCH_SHARDS'] ?? 10);
const samplesPerRequest = Number(process.env['BENCH_SAMPLES_PER_REQUEST'] ?? 10_000);
const intervalSeconds = 15;
const engineConfig = JSON.parse(process.env['BENCH_ENGINE_CONFIG'] ?? '{}') as Record<string, unknown> & { bus?: Record<string, unknown> };
if (process.env['BENCH_ACK']) engineConfig.bus = { ...engineConfig.bus, acknowledge: process.env['BENCH_ACK'] };
const acknowledge = String(engineConfig.bus?.['acknowledge'] ?? 'stored');
if (!(rounds >= 1 && series >= 1 && shards >= 1 && samplesPerRequest >= 1)) throw new Error('BENCH_SERIES, BENCH_ROUNDS, BENCH_SHARDS, BENCH_SAMPLES_PER_REQUEST must be positive');

// Round 0 is the warm-up; the timed rounds follow it in time.
const load = encodeRounds(cadvisorLabelSets(series), rounds + 1, intervalSeconds, samplesPerRequest);
const warmUp = load.roundBodies.slice(0, 1);
const timed = load.roundBodies.slice(1);
const timedSamples = series * rounds;
console.error(`peers: ${series} series, warm-up round + ${rounds} timed rounds of ${timed[0]!.length} requests (${samplesPerRequest} samples each), ${shards} shards`);

interface Target {
  url: string;
  count(): Promise<number>;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, name: string): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`${name} not ready`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    // A child killed by a signal has a signalCode and no exitCode: it has exited all the same.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
}

/** Samples stored by a Prometheus-API peer over the load's time range, by its own PromQL. */
async function promqlCount(base: string): Promise<number> {
  const windowS = Math.ceil((load.lastTimestampMs - load.firstTimestampMs) / 1000) + 2;
  const at = (load.lastTimestampMs + 1000) / 1000;
  let total = 0;
  // One query per metric: count_over_time drops the name, and Prometheus refuses a result whose series then collide.
  for (const metric of load.metrics) {
    const query = `sum(count_over_time(${metric}[${windowS}s]))`;
    const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(at) })}`);
    if (!r.ok) throw new Error(`count query failed: ${r.status}`);
    const body = (await r.json()) as { data?: { result: { value: [number, string] }[] } };
    total += Number(body.data?.result[0]?.value[1] ?? 0);
  }
  return total;
}

async function victoriaMetrics(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-vm-'));
  // latencyOffset 0 and no cache: a sample counts as soon as VictoriaMetrics can return it, not 30 s later.
  const child = spawn('/usr/bin/victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=1y', '-search.latencyOffset=0s', '-search.disableCache', '-loggerLevel=ERROR'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/health`, child, 'victoria-metrics');
  return { url: `${url}/api/v1/write`, count: () => promqlCount(url), stop: stopper(child, dir) };
}

async function prometheus(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global: { scrape_interval: 1h }\n');
  const child = spawn('/usr/bin/prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--log.level=error'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, 'prometheus');
  return { url: `${url}/api/v1/write`, count: () => promqlCount(url), stop: stopper(child, dir) };
}

async function tidemark(): Promise<Target> {
  // A request of 10,000 samples is well under the default body limit (32 MiB).
  const engine = await startEngineProcess(engineConfig);
  return {
    url: `${engine.url}/api/v1/write`,
    count: () => tidemarkSampleCount(engine.url, load.metrics, load.firstTimestampMs, load.lastTimestampMs),
    stop: async () => {
      await engine.stop();
      removeDir(engine.dataDir);
    },
  };
}

interface PeerFigures {
  samples_per_s: number;
  send_samples_per_s: number;
  send_s: number;
  visible_s: number;
  warm_up_s: number;
  sent: number;
  stored: number;
  failures: number;
  statuses: Record<string, number>;
}

function addStatuses(into: Record<string, number>, from: SendResult['statuses']): void {
  for (const [status, n] of Object.entries(from)) into[status] = (into[status] ?? 0) + n;
}

async function measure(name: string, start: () => Promise<Target>): Promise<PeerFigures> {
  const target = await start();
  try {
    const statuses: Record<string, number> = {};
    // Warm-up: creates every series; not timed, but waited for until it is all queryable.
    const warmBegan = performance.now();
    const warm = await sendSharded(target.url, warmUp, shards);
    addStatuses(statuses, warm.statuses);
    const warmDone = await waitForCount(target.count, series, 300_000, 250);
    if (warmDone.count < series) throw new Error(`${name}: warm-up round not queryable: ${warmDone.count}/${series}; statuses ${JSON.stringify(statuses)}${warmDone.lastError ? `; last count error: ${warmDone.lastError}` : ''}`);
    const warmUpS = (warmDone.atMs - warmBegan) / 1000;

    const began = performance.now();
    const sent = await sendSharded(target.url, timed, shards);
    const sentAt = performance.now();
    addStatuses(statuses, sent.statuses);
    const expected = series + timedSamples;
    const done = await waitForCount(target.count, expected, 300_000, 250);
    const sendS = (sentAt - began) / 1000;
    const visibleS = Math.max(0, done.atMs - sentAt) / 1000;
    const storedTimed = Math.max(0, done.count - series);
    console.error(`${name}: warm-up ${warmUpS.toFixed(2)} s; ${rounds} rounds sent in ${sendS.toFixed(2)} s, all visible ${visibleS.toFixed(2)} s later; stored ${done.count}/${expected}; statuses ${JSON.stringify(statuses)}`);
    return {
      // Stored rate: only what the peer's own query API returned counts.
      samples_per_s: Math.round(Math.min(storedTimed, timedSamples) / (sendS + visibleS)),
      send_samples_per_s: Math.round(timedSamples / sendS),
      send_s: Number(sendS.toFixed(3)),
      visible_s: Number(visibleS.toFixed(3)),
      warm_up_s: Number(warmUpS.toFixed(3)),
      sent: expected,
      stored: done.count,
      failures: warm.failures + sent.failures,
      statuses,
    };
  } finally {
    await target.stop();
  }
}

const tm = await measure('tidemark', tidemark);
const vm = await measure('victoriametrics', victoriaMetrics);
const prom = await measure('prometheus', prometheus);
const complete = [tm, vm, prom].every((p) => p.stored === p.sent && p.failures === 0);
console.log(
  JSON.stringify({
    bench: 'peers',
    series,
    rounds,
    samples_per_request: samplesPerRequest,
    shards,
    tidemark_acknowledge: acknowledge,
    samples: timedSamples,
    tidemark_samples_per_s: tm.samples_per_s,
    victoriametrics_samples_per_s: vm.samples_per_s,
    prometheus_samples_per_s: prom.samples_per_s,
    vs_victoriametrics: Number((tm.samples_per_s / vm.samples_per_s).toFixed(3)),
    vs_prometheus: Number((tm.samples_per_s / prom.samples_per_s).toFixed(3)),
    complete,
    tidemark: tm,
    victoriametrics: vm,
    prometheus: prom,
  }),
);
if (!complete) process.exitCode = 1;
