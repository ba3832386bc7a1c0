// The memory bus's logged acknowledgement: a publish resolves once its
// payload is durably in the bus log, before any consumer handles it; a
// restart replays what was not handled, a delivery that was in flight with
// the same payloads and token; torn tails are cut; handled segments go.
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, closeSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus, type MemoryBusOptions } from './memory-bus.ts';
import { SampleBatchBuilder } from './samples.ts';
import type { Delivery } from './bus.ts';
import type { LogRecord } from './records.ts';
import { readEntries } from './log/entries.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-loggedbus-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `bus${n++}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = () => new Promise<never>(() => {});
/** Waits until `ready()` holds (bounded: a shared machine can be slow), then lets the assertions say what is wrong. */
async function until(ready: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready() && Date.now() < end) await sleep(10);
}

/** A batch of `size` samples whose first value names it. */
function batch(name: number, size = 1) {
  const b = new SampleBatchBuilder('acme');
  for (let i = 0; i < size; i++) b.add(1n, i, name);
  return b.build();
}
const names = (d: Delivery<'metrics'>) => d.payloads.map((p) => p.values[0]!);
const options = (dir: string, more: Partial<MemoryBusOptions> = {}): MemoryBusOptions => ({
  capacity: 1000,
  maxDelivery: 1000,
  lingerMs: 0,
  acknowledge: 'logged',
  log: { dir, segmentBytes: 1 << 20 },
  ...more,
});

describe('logged acknowledgement', () => {
  it('resolves a publish once logged, while the consumer has not handled it yet', async () => {
    const bus = await MemoryBus.open(options(freshDir()));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: number[] = [];
    await bus.consume('metrics', async (d) => {
      await gate;
      handled.push(...names(d));
    });
    await Promise.all([1, 2, 3].map((i) => bus.publish('metrics', batch(i))));
    expect(handled).toEqual([]);
    expect(bus.depth().metrics).toBe(3);
    // Many publishes rode on few syncs.
    expect(bus.logStats()!.syncs).toBeLessThan(bus.logStats()!.appends);
    release();
    await bus.close();
    expect(handled.sort()).toEqual([1, 2, 3]);
  });

  it('replays after a crash: the delivery in flight with the same payloads and token, then the rest, nothing handled twice', async () => {
    const dir = freshDir();
    const first = await MemoryBus.open(options(dir, { maxDelivery: 3 }));
    const seen: Delivery<'metrics'>[] = [];
    await first.consume('metrics', async (d) => {
      seen.push(d);
      if (seen.length === 2) return never(); // the process dies while storing the second delivery
    });
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => first.publish('metrics', batch(i))));
    await until(() => seen.length >= 2);
    // The first delivery's handled mark is on disk (it is written after its handler resolved, without waiting).
    const segment = join(dir, readdirSync(dir).find((f) => f.endsWith('.seg'))!);
    await until(() => readEntries(readFileSync(segment), 0).entries.some((e) => e.kind === 'handled'));
    expect(seen.map(names)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    // No close: as after kill -9. A second life opens the same log.
    const second = await MemoryBus.open(options(dir, { maxDelivery: 100 }));
    expect(second.recovery).toMatchObject({ torn: [], replayed: 5, announced: 1 });
    const replayed: Delivery<'metrics'>[] = [];
    await second.consume('metrics', async (d) => void replayed.push(d));
    await second.publish('metrics', batch(9));
    await until(() => replayed.flatMap(names).length >= 6);
    // The announced delivery exactly as before (same boundaries, same token), before anything new.
    expect(replayed[0]!.token).toBe(seen[1]!.token);
    expect(names(replayed[0]!)).toEqual([4, 5, 6]);
    expect(replayed.slice(1).flatMap(names)).toEqual([7, 8, 9]);
    expect(new Set(replayed.map((d) => d.token)).size).toBe(replayed.length);
    expect(replayed[0]!.token).toMatch(/^log\/[0-9a-f-]{36}\/metrics\/\d+-\d+$/);
    await second.close();
    // Everything handled and recorded: a third life replays nothing.
    const third = await MemoryBus.open(options(dir));
    expect(third.recovery).toMatchObject({ replayed: 0 });
    await third.close();
  });

  it('cuts a torn tail, keeping every acknowledged payload', async () => {
    const dir = freshDir();
    const first = await MemoryBus.open(options(dir));
    for (let i = 1; i <= 3; i++) await first.publish('metrics', batch(i, 10));
    const segment = readdirSync(dir).filter((f) => f.endsWith('.seg'))[0]!;
    // A write cut short by kill -9: a frame header announcing more than follows.
    appendFileSync(join(dir, segment), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 1, 1, 9, 9]));
    const second = await MemoryBus.open(options(dir));
    expect(second.recovery!.torn).toHaveLength(1);
    expect(second.recovery!.replayed).toBe(3);
    const got: number[] = [];
    await second.consume('metrics', async (d) => void got.push(...names(d)));
    await second.close();
    expect(got).toEqual([1, 2, 3]);
  });

  it('deletes segments once every payload in them is handled', async () => {
    const dir = freshDir();
    const bus = await MemoryBus.open(options(dir, { log: { dir, segmentBytes: 2048 }, maxDelivery: 50 }));
    await bus.consume('metrics', async () => {});
    for (let i = 0; i < 40; i++) await bus.publish('metrics', batch(i, 20));
    const files = () => readdirSync(dir).filter((f) => f.endsWith('.seg')).length;
    await until(() => bus.depth().metrics === 0 && bus.logStats()!.segmentsDeleted > 5 && files() <= 2);
    const stats = bus.logStats()!;
    expect(stats.bytes).toBeGreaterThan(10 * 2048);
    expect(stats.segmentsDeleted).toBeGreaterThan(5);
    expect(files()).toBeLessThanOrEqual(2);
    await bus.close();
  });

  it('carries log records and probe results in the same log, replayed per topic', async () => {
    const dir = freshDir();
    const first = await MemoryBus.open(options(dir));
    const line: LogRecord = { tenant: 't', timestamp: 1, cluster: 'c', namespace: 'n', workload: 'w', pod: 'p', container: 'x', stream: 'stdout', message: 'hello' };
    await first.publish('logs', [line, { ...line, message: 'again' }]);
    await first.publish('metrics', batch(1));
    const second = await MemoryBus.open(options(dir));
    const logs: LogRecord[] = [];
    await second.consume('logs', async (d) => void logs.push(...d.payloads.flat()));
    await second.close();
    expect(logs.map((l) => l.message)).toEqual(['hello', 'again']);
    // The metrics topic had no consumer in that life: its payload is still there for the next.
    const third = await MemoryBus.open(options(dir));
    expect(third.depth()).toEqual({ metrics: 1, logs: 0, probes: 0 });
    await third.close();
  });

  it('keeps the capacity backpressure: publishers wait while the logged queue is full', async () => {
    const bus = await MemoryBus.open(options(freshDir(), { capacity: 10 }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.consume('metrics', async () => gate);
    await bus.publish('metrics', batch(1, 10));
    expect(bus.saturated()).toBe(true);
    let done = false;
    const waiting = bus.publish('metrics', batch(2, 5)).then(() => (done = true));
    await sleep(50);
    expect(done).toBe(false);
    release();
    await waiting;
    await bus.close();
  });

  it('refuses publishes once the log cannot be written, and is not ready, saying why (receivers answer 503, nothing stalls)', async () => {
    const bus = await MemoryBus.open(options(freshDir()));
    await bus.publish('metrics', batch(1));
    expect(bus.ready()).toBe(true);
    // The segment's descriptor closed behind the log's back: its next write fails (EBADF), as a failing disk's would.
    closeSync((bus as unknown as { log: { fh: { fd: number } } }).log.fh.fd);
    await expect(bus.publish('metrics', batch(2))).rejects.toThrow(/EBADF|bad file descriptor/i);
    const queued = bus.depth().metrics;
    await expect(bus.publish('metrics', batch(3))).rejects.toThrow(/EBADF|bad file descriptor/i);
    // Refused before queueing: nothing of a refused request is stored later.
    expect(bus.depth().metrics).toBe(queued);
    expect(bus.ready()).toBe(false);
    expect(bus.problem()).toMatch(/bus log cannot be written/);
  });
});
