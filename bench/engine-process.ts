// Starts `tidemark up` as a child process on a free loopback port with a
// fresh data directory, for benchmarks that measure the engine from outside.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface EngineProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startEngineProcess(config: Record<string, unknown> = {}, env: Record<string, string> = {}, storePath?: string): Promise<EngineProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
  const configFile = join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ collector: { host: { enabled: false } }, ...config }));
  // BENCH_ENGINE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the engine under load.
  const nodeArgs = (process.env['BENCH_ENGINE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'bin/tidemark.js', 'up', '--port', String(port), '--data', storePath ?? join(dataDir, 'store'), '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TIDEMARK_LOG_LEVEL: 'warn', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`engine exited: ${stderr}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`engine not ready in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    dataDir,
    child,
    async stop() {
      // A child killed by a signal has a signalCode and no exitCode: it has exited all the same.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/** Samples of `metrics` stored by a Tidemark engine, counted through its own range API. */
export async function tidemarkSampleCount(url: string, metrics: readonly string[], startMs: number, endMs: number): Promise<number> {
  let total = 0;
  const start = Math.floor(startMs / 1000) - 60;
  const end = Math.ceil(endMs / 1000) + 60;
  for (const metric of metrics) {
    const q = new URLSearchParams({ metric, fn: 'count', by: '__name__', start: String(start), end: String(end), step: String(end - start) });
    const r = await fetch(`${url}/api/v1/range?${q}`);
    if (!r.ok) throw new Error(`count query failed: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as { series: { points: [number, number | null][] }[] };
    for (const s of body.series) for (const p of s.points) total += p[1] ?? 0;
  }
  return total;
}
