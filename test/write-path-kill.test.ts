// The write path across process lives, with real engine processes on one
// data directory, in both acknowledgement modes of the memory bus
// (bus.acknowledge 'stored': a 2xx once the insert is done; 'logged': once
// the request is durably in the bus log). Six lives: each pushes samples of
// its own metric, then runs concurrent pushers; the first ends with SIGTERM
// under load, the other five with kill -9 at a random point under load
// (logged: then a seventh life replays what the last kill left in the log,
// and ends with SIGTERM). Afterwards every sample answered 2xx is stored
// (delivery tokens never repeat across restarts, and a replayed delivery
// keeps its token; SIGTERM drains), each once in the raw table and once in
// the rollups (once the roll-up loop has caught up), although clients
// re-send to the next life what got no answer. Engine start dominates the
// runtime (a few seconds a life on an idle machine).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../bench/engine-process.ts';
import { Store } from '../core/store.ts';
import { mulberry32 } from '../core/hashing.ts';
import { rollUp } from '../metrics/rollups.ts';

type Acknowledge = 'stored' | 'logged';

interface Life {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** One push request: `n` samples of one series, values unique across the whole test (they identify the sample). */
interface Request {
  metric: string;
  pusher: string;
  values: number[];
}

const tsBase = Math.floor(Date.now() / 1000) - 3600;
/** Sample value v is at tsBase + v ms: unique (series, ts) per value within a pusher's series. */
function body(r: Request): string {
  return JSON.stringify({ series: [{ labels: { __name__: r.metric, pusher: r.pusher }, samples: r.values.map((v) => [tsBase + v / 1000, v]) }] });
}

async function send(url: string, r: Request): Promise<number> {
  try {
    const res = await fetch(`${url}/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(r) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // no answer: connection refused or reset by the kill
  }
}

async function countOf(url: string, metric: string): Promise<number> {
  const q = new URLSearchParams({ metric, fn: 'count', since: '3h', step: '4h' });
  const res = await fetch(`${url}/api/v1/range?${q}`);
  const answer = (await res.json()) as { series: { points: [number, number | null][] }[] };
  return answer.series.reduce((n, s) => n + s.points.reduce((m, p) => m + (p[1] ?? 0), 0), 0);
}

/** Logged: whether a start after kill -9 replayed what the bus log held unstored (the engine says so at start). */
function replayedAtStart(life: Life): boolean {
  return life.stderr().includes('bus log replayed');
}

function tally(statuses: number[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const s of statuses) t[s] = (t[s] ?? 0) + 1;
  return t;
}

/** One data directory and one client's view of it (what got a 2xx, what to send again) across lives. */
function writePath(acknowledge: Acknowledge) {
  const dir = mkdtempSync(join(tmpdir(), `tidemark-writepath-${acknowledge}-`));
  const storePath = join(dir, 'store');
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ collector: { host: { enabled: false } }, sla: { report: { outputDir: join(dir, 'reports') } }, bus: { acknowledge } }));
  let current: Life | null = null;
  const acknowledged = new Set<number>();
  /** Requests that got no 2xx: a client sends them again to the next life. */
  let unanswered: Request[] = [];
  let nextValue = 1;

  async function startLife(): Promise<Life> {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/tidemark.js', 'up', '--port', String(port), '--data', storePath, '--config', configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TIDEMARK_LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`engine exited: ${stderr}`);
      const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`engine not ready in 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    current = { url, child, exited, stderr: () => stderr };
    return current;
  }

  function newRequest(metric: string, pusher: string, n: number): Request {
    const values = Array.from({ length: n }, () => nextValue++);
    return { metric, pusher, values };
  }

  async function sendTracked(url: string, r: Request): Promise<number> {
    const status = await send(url, r);
    if (status >= 200 && status < 300) for (const v of r.values) acknowledged.add(v);
    else unanswered.push(r);
    return status;
  }

  /** Concurrent pushers until `stop()` or their bound; each counts what got a 2xx. */
  function load(url: string, pushers: number, perRequest: number, maxRequests: number): { stop(): void; done: Promise<number[]> } {
    let stopped = false;
    const statuses: number[] = [];
    const worker = async (p: number) => {
      for (let i = 0; i < maxRequests && !stopped; i++) {
        const status = await sendTracked(url, newRequest('wp_load', `p${p}`, perRequest));
        statuses.push(status);
        if (status === 0) return; // the process is gone
      }
    };
    const done = Promise.all(Array.from({ length: pushers }, (_, p) => worker(p))).then(() => statuses);
    return { stop: () => (stopped = true), done };
  }

  /** Sends again what got no answer in an earlier life, as a client would. */
  async function resendUnanswered(url: string): Promise<void> {
    const again = unanswered;
    unanswered = [];
    for (const r of again) expect(await sendTracked(url, r)).toBe(204);
  }

  /** Stored: queryable when answered. Logged: queryable a moment after (the insert follows the log). */
  async function expectCount(url: string, metric: string, n: number): Promise<void> {
    const deadline = Date.now() + (acknowledge === 'logged' ? 30_000 : 0);
    let count = await countOf(url, metric);
    while (count !== n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      count = await countOf(url, metric);
    }
    expect(count).toBe(n);
  }

  async function cleanUp(): Promise<void> {
    // A failed assertion must not leave an engine holding the data directory.
    const life = current as Life | null;
    if (life && life.child.exitCode === null && life.child.signalCode === null) {
      life.child.kill('SIGKILL');
      await life.exited;
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }

  return { storePath, acknowledged, startLife, newRequest, sendTracked, load, resendUnanswered, expectCount, cleanUp };
}

describe.each<Acknowledge>(['stored', 'logged'])('the write path across process lives on one data directory (bus.acknowledge %s)', (acknowledge) => {
  const wp = writePath(acknowledge);
  afterAll(() => wp.cleanUp());

  it('SIGTERM then five kill -9 at random points under load: every sample answered 2xx in every life is stored, each once in raw and rollups', async () => {
    const { acknowledged } = wp;
    const random = mulberry32(20261129);
    const lives: { life: number; end: string; exit: number | null; loadAcknowledged: number; statuses: Record<number, number>; replayed: boolean }[] = [];
    for (let n = 1; n <= 6; n++) {
      const life = await wp.startLife();
      // What got no answer in the previous life, sent again as a client would.
      await wp.resendUnanswered(life.url);
      // Samples of this life's own metric, each answered before the next is sent.
      for (let k = 0; k < 5; k++) expect(await wp.sendTracked(life.url, wp.newRequest(`run${n}`, 'r', 20))).toBe(204);
      await wp.expectCount(life.url, `run${n}`, 100);
      const before = acknowledged.size;
      const pushing = wp.load(life.url, 6, 200, 300);
      const end = n === 1 ? 'SIGTERM' : 'SIGKILL';
      await new Promise((r) => setTimeout(r, end === 'SIGTERM' ? 800 : 300 + random() * 1200));
      life.child.kill(end);
      const exit = await life.exited;
      pushing.stop();
      const statuses = await pushing.done;
      lives.push({ life: n, end, exit, loadAcknowledged: acknowledged.size - before, statuses: tally(statuses), replayed: replayedAtStart(life) });
      // SIGTERM drains and exits 0, answering the requests in flight.
      if (end === 'SIGTERM') expect(exit, life.stderr()).toBe(0);
    }
    // Load was running at every kill: requests were answered in each life.
    for (const l of lives) expect(l.loadAcknowledged, JSON.stringify(lives)).toBeGreaterThan(0);
    if (acknowledge === 'logged') {
      // What the last kill left acknowledged but not yet stored is in the bus log: the next start replays it, SIGTERM drains it.
      const last = await wp.startLife();
      last.child.kill('SIGTERM');
      expect(await last.exited, last.stderr()).toBe(0);
      const replayed = replayedAtStart(last);
      // Killed under load, some life found acknowledged samples only in the log: the replay was exercised.
      expect([...lives.map((l) => l.replayed), replayed].filter(Boolean).length, JSON.stringify(lives)).toBeGreaterThan(0);
    } else {
      expect(lives.some((l) => l.replayed)).toBe(false);
    }

    const store = await Store.open({ dataPath: wp.storePath, database: 'tidemark' });
    try {
      await store.command('SYSTEM STOP MERGES tidemark.samples');
      // The last life was killed: let the roll-up loop catch up with what it stored (each life also rolled as it ran).
      await rollUp(store, { all: true });
      // Every life's own samples: pushed before a SIGTERM or a SIGKILL restart, all there.
      const perLife = await store.query<{ metric: string; c: number }>(
        `SELECT s.metric AS metric, count() AS c FROM tidemark.samples AS x
         INNER JOIN (SELECT DISTINCT series_id, metric FROM tidemark.series WHERE metric LIKE 'run%') AS s USING series_id
         GROUP BY metric ORDER BY metric`,
      );
      expect(perLife).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ metric: `run${n}`, c: 100 })));
      const ids = `(SELECT series_id FROM tidemark.series WHERE metric IN ('wp_load', 'run1', 'run2', 'run3', 'run4', 'run5', 'run6'))`;
      const values = await store.query<{ v: number }>(`SELECT value AS v FROM tidemark.samples WHERE series_id IN ${ids}`);
      const stored = new Set(values.map((r) => r.v));
      const lost = [...acknowledged].filter((v) => !stored.has(v));
      expect(lost.length, `acknowledged but not stored, of ${acknowledged.size}: ${JSON.stringify(lives)}`).toBe(0);
      expect(acknowledged.size).toBeGreaterThan(1000);
      // Without FINAL, merges stopped: each (series, ts) once in the raw table...
      const [raw] = await store.query<{ rows: number; distinct: number }>(
        `SELECT count() AS rows, uniqExact(series_id, ts) AS distinct FROM tidemark.samples WHERE series_id IN ${ids}`,
      );
      expect(raw!.rows).toBe(raw!.distinct);
      expect(raw!.distinct).toBeGreaterThanOrEqual(acknowledged.size);
      // ...and once in each rollup (a duplicate would add to the count column, merged or not).
      for (const table of ['samples_1m', 'samples_1h']) {
        const [r] = await store.query<{ c: number }>(`SELECT sum(count) AS c FROM tidemark.${table} WHERE series_id IN ${ids}`);
        expect(Number(r!.c), table).toBe(raw!.distinct);
      }
    } finally {
      await store.close();
    }
  }, 480_000);
});
