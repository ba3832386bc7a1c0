// bench:peers — the same remote_write fleet load, in one run, sent to
// Debian's VictoriaMetrics, Debian's Prometheus (remote-write receiver on)
// and Tidemark, each started on loopback and stopped after. A target's
// samples count as stored only when its own query API returns them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { buildFleetLoad, DEFAULT_FLEET, sendAll, waitForCount, type FleetLoad } from './fleet.ts';
import { freePort, startEngineProcess, tidemarkSampleCount, removeDir } from './engine-process.ts';

const rounds = Number(process.env['BENCH_ROUNDS'] ?? DEFAULT_FLEET.rounds);
const load = buildFleetLoad({ ...DEFAULT_FLEET, rounds });
console.error(`fleet: ${load.series} series x ${rounds} rounds = ${load.samples} samples in ${load.bodies.length} requests`);

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
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
}

/** Samples stored by a Prometheus-API peer over the load's time range, by its own PromQL. */
async function promqlCount(base: string, l: FleetLoad): Promise<number> {
  const windowS = Math.ceil((l.lastTimestampMs - l.firstTimestampMs) / 1000) + 2;
  const at = (l.lastTimestampMs + 1000) / 1000;
  let total = 0;
  // One query per metric: count_over_time drops the name, and Prometheus refuses a result whose series then collide.
  for (const metric of l.metrics) {
    const query = `sum(count_over_time(${metric}[${windowS}s]))`;
    const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(at) })}`);
    const body = (await r.json()) as { data?: { result: { value: [number, string] }[] } };
    total += Number(body.data?.result[0]?.value[1] ?? 0);
  }
  return total;
}

async function victoriaMetrics(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-vm-'));
  const child = spawn('/usr/bin/victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-retentionPeriod=1y', '-search.latencyOffset=0s', '-search.disableCache', '-loggerLevel=ERROR'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/health`, child, 'victoria-metrics');
  return { url: `${url}/api/v1/write`, count: () => promqlCount(url, load), stop: stopper(child, dir) };
}

async function prometheus(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global: { scrape_interval: 1h }\n');
  const child = spawn('/usr/bin/prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--log.level=error'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, 'prometheus');
  return { url: `${url}/api/v1/write`, count: () => promqlCount(url, load), stop: stopper(child, dir) };
}

async function tidemark(): Promise<Target> {
  const engine = await startEngineProcess();
  return {
    url: `${engine.url}/api/v1/write`,
    count: () => tidemarkSampleCount(engine.url, load.metrics, load.firstTimestampMs, load.lastTimestampMs),
    stop: async () => {
      await engine.stop();
      removeDir(engine.dataDir);
    },
  };
}

async function measure(name: string, start: () => Promise<Target>): Promise<number> {
  const target = await start();
  try {
    const began = performance.now();
    const sent = await sendAll(target.url, load.bodies, 8);
    const done = await waitForCount(target.count, load.samples, 180_000, 500);
    const seconds = (done.atMs - began) / 1000;
    console.error(`${name}: sent in ${sent.seconds.toFixed(2)} s (${JSON.stringify(sent.statuses)}), ${done.count}/${load.samples} queryable after ${seconds.toFixed(2)} s`);
    return done.count >= load.samples ? load.samples / seconds : done.count / seconds;
  } finally {
    await target.stop();
  }
}

const tm = await measure('tidemark', tidemark);
const vm = await measure('victoriametrics', victoriaMetrics);
const prom = await measure('prometheus', prometheus);
console.log(
  JSON.stringify({
    bench: 'peers',
    samples: load.samples,
    tidemark_samples_per_s: Math.round(tm),
    victoriametrics_samples_per_s: Math.round(vm),
    prometheus_samples_per_s: Math.round(prom),
    vs_victoriametrics: Number((tm / vm).toFixed(3)),
    vs_prometheus: Number((tm / prom).toFixed(3)),
  }),
);
