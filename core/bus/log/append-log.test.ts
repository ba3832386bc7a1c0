import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppendLog } from './append-log.ts';
import { frameEntry, type LogEntry } from './entries.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-buslog-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `log${n++}`);
const handled = (through: number): LogEntry => ({ kind: 'handled', topic: 'metrics', through });
const payload = (size: number, fill = 1): LogEntry => ({ kind: 'payload', topic: 'metrics', bytes: Buffer.alloc(size, fill) });
const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

describe('the bus log on disk', () => {
  it('appends at increasing positions and reads the same entries at the same positions after a reopen', async () => {
    const dir = freshDir();
    const { log, entries } = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    expect(entries).toEqual([]);
    const a = log.append(payload(10));
    const b = log.append(handled(a.position));
    await Promise.all([a.durable, b.durable]);
    expect(a.position).toBe(0);
    expect(b.position).toBe(8 + 2 + 10);
    expect(log.end).toBe(b.position + 8 + 2 + 8);
    await log.close();
    const again = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    expect(again.log.identity).toBe(log.identity);
    expect(again.entries.map((e) => [e.kind, e.position])).toEqual([
      ['payload', 0],
      ['handled', 20],
    ]);
    expect(again.log.end).toBe(log.end);
    expect(again.torn).toEqual([]);
    await again.log.close();
  });

  it('groups appends made while a sync is under way into one write and fdatasync', async () => {
    const { log } = await AppendLog.open({ dir: freshDir(), segmentBytes: 1 << 30 });
    const appends = Array.from({ length: 200 }, () => log.append(payload(1000)));
    await Promise.all(appends.map((a) => a.durable));
    expect(log.stats.appends).toBe(200);
    // The first append starts a sync alone; the 199 made meanwhile share the next.
    expect(log.stats.syncs).toBeLessThanOrEqual(2);
    expect(log.stats.bytes).toBe(200 * (8 + 2 + 1000));
    // Appends made after a sync completed start another.
    await log.append(payload(1)).durable;
    expect(log.stats.syncs).toBeLessThanOrEqual(3);
    await log.close();
  });

  it('cuts off a torn tail (a kill -9 mid-write) and appends after the last whole entry', async () => {
    const dir = freshDir();
    const { log } = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    for (let i = 0; i < 3; i++) await log.append(payload(50, i)).durable;
    const end = log.end;
    await log.close();
    // Half a frame: its header and some of its body, as a write cut short leaves it.
    const half = Buffer.concat(frameEntry(payload(500))).subarray(0, 300);
    const file = join(dir, segments(dir)[0]!);
    appendFileSync(file, half);
    const opened = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    expect(opened.entries).toHaveLength(3);
    expect(opened.torn).toHaveLength(1);
    expect(opened.torn[0]).toMatch(/cut short at log position/);
    expect(statSync(file).size).toBe(end);
    expect(opened.log.end).toBe(end);
    const next = opened.log.append(payload(5, 9));
    await next.durable;
    expect(next.position).toBe(end);
    await opened.log.close();
    const third = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    expect(third.torn).toEqual([]);
    expect(third.entries.map((e) => e.position)).toEqual([...opened.entries.map((e) => e.position), end]);
    expect((third.entries[3] as { bytes: Buffer }).bytes).toEqual(Buffer.alloc(5, 9));
    await third.log.close();
  });

  it('rolls segments past their size and deletes those wholly before a position, keeping positions and identity', async () => {
    const dir = freshDir();
    const { log } = await AppendLog.open({ dir, segmentBytes: 100 });
    const positions: number[] = [];
    // Each append is synced before the next, so each segment holds two 60-byte entries before the roll.
    for (let i = 0; i < 10; i++) {
      const a = log.append(payload(50, i));
      positions.push(a.position);
      await a.durable;
    }
    expect(segments(dir)).toHaveLength(5);
    expect(segments(dir)[1]).toBe(`${String(positions[2]).padStart(20, '0')}.seg`);
    // Entries before the 5th are handled: the first two segments go, the third (holding the 5th) stays.
    expect(await log.deleteBefore(positions[4]!)).toBe(2);
    expect(segments(dir)).toHaveLength(3);
    // Never the segment being written.
    expect(await log.deleteBefore(log.end)).toBe(2);
    expect(segments(dir)).toHaveLength(1);
    await log.close();
    const again = await AppendLog.open({ dir, segmentBytes: 100 });
    expect(again.log.identity).toBe(log.identity);
    expect(again.entries.map((e) => e.position)).toEqual(positions.slice(8));
    expect(again.log.end).toBe(log.end);
    await again.log.close();
  });

  it('draws a new identity when it starts from no segment (positions start again at 0)', async () => {
    const dir = freshDir();
    const first = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    await first.log.append(payload(1)).durable;
    await first.log.close();
    for (const f of segments(dir)) unlinkSync(join(dir, f));
    const second = await AppendLog.open({ dir, segmentBytes: 1 << 20 });
    expect(second.log.identity).not.toBe(first.log.identity);
    expect(second.log.end).toBe(0);
    await second.log.close();
  });

  it('refuses appends once closed, and says why', async () => {
    const { log } = await AppendLog.open({ dir: freshDir(), segmentBytes: 1 << 20 });
    await log.close();
    await expect(log.append(payload(1)).durable).rejects.toThrow(/closed/);
  });
});
