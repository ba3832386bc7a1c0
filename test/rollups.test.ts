// The roll-up loop (metrics/rollups.ts) against a real embedded store: the
// rollups' answers equal the raw table's after late, duplicate, re-sent and
// out-of-order samples, after an ingester restart, and after a pass cut
// short at its worst points; the watermark says where raw stands in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTestStore, sampleBatch, type TestPoint, type TestStore } from './helpers/store.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { silentLogger } from '../core/log.ts';
import { runRangeQuery } from '../metrics/query.ts';
import { AnnouncementLedger, planRolls, rollUp, rollupWatermark, minutesOf } from '../metrics/rollups.ts';
import { mulberry32 } from '../core/hashing.ts';
import type { Aggregation } from '../metrics/aggregations.ts';
import type { SourceTable } from '../metrics/range-query.ts';

let t: TestStore;
const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000 });
const newIngester = () => new Ingester(t.store, ingesterMetrics(new Registry(), bus), silentLogger);
let token = 0;
async function ingest(ingester: Ingester, points: TestPoint[], tenant = 'default'): Promise<void> {
  await ingester.handle({ topic: 'metrics', payloads: [sampleBatch(points, tenant)], token: `rollups/${token++}` });
}

beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t?.close();
});

const T0 = Date.UTC(2026, 9, 2, 10, 0, 0);
// Not rate: from a rollup it runs over each bucket's last value by design (range-sql.ts), so it differs from raw where a counter resets inside a bucket.
const FNS: Aggregation[] = ['avg', 'min', 'max', 'count', 'sum', 'last', 'p50', 'p99'];

/** The same question from raw samples and from `table` (rollup rows before the watermark, raw after it). */
async function agree(metric: string, table: Exclude<SourceTable, 'samples'>, start: number, end: number, step: number, fn: Aggregation): Promise<void> {
  const q = { metric, matchers: [], fn, by: [], start, end, step };
  const raw = await runRangeQuery(t.store, 'default', { ...q, table: 'samples' });
  const rolled = await runRangeQuery(t.store, 'default', { ...q, table });
  expect(rolled.table).toBe(table);
  expect(raw.series.length).toBeGreaterThan(0);
  const round = (s: typeof raw.series) => s.map((x) => ({ ...x, points: x.points.map(([ts, v]) => [ts, v === null ? null : Number(v.toPrecision(12))]) }));
  expect(round(rolled.series), `${fn} ${table} step ${step}`).toEqual(round(raw.series));
}

/** Sum of `count` in each rollup and distinct non-stale (series, ts) in raw, for a metric. */
async function counts(metric: string): Promise<{ raw: number; m: number; h: number }> {
  const ids = `(SELECT series_id FROM tidemark_test.series WHERE metric = '${metric}')`;
  const [r] = await t.store.query<{ c: string }>(`SELECT uniqExact(series_id, ts) AS c FROM tidemark_test.samples WHERE series_id IN ${ids}`);
  const [m] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1m WHERE series_id IN ${ids}`);
  const [h] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1h WHERE series_id IN ${ids}`);
  return { raw: Number(r!.c), m: Number(m!.c), h: Number(h!.c) };
}

describe('planning a roll (pure)', () => {
  it('takes announcements whose minutes are all closed, and replaces buckets that may hold rows', () => {
    const pending = [
      { id: 'a', tenant: 't', rollup: '1m' as const, buckets: [600, 660] },
      { id: 'b', tenant: 't', rollup: '1m' as const, buckets: [660, 720] },
      { id: 'c', tenant: 'u', rollup: '1m' as const, buckets: [60] },
    ];
    const plans = planRolls(pending, new Map([['t', 660]]), 60, () => 720);
    expect(plans).toEqual([
      { tenant: 't', buckets: [600, 660], replace: [600], rolledTo: 720, settled: ['a'] },
      { tenant: 'u', buckets: [60], replace: [], rolledTo: 120, settled: ['c'] },
    ]);
    expect(planRolls(pending, new Map(), 60, () => 600)).toEqual([{ tenant: 'u', buckets: [60], replace: [], rolledTo: 120, settled: ['c'] }]);
  });

  it('lets a bucket rolled moments ago rest: late trickles into it wait, first rolls never do', () => {
    const pending = [
      { id: 'late', tenant: 't', rollup: '1m' as const, buckets: [600] },
      { id: 'new', tenant: 't', rollup: '1m' as const, buckets: [900] },
    ];
    const resting = (_: string, b: number) => b === 600 || b === 900;
    expect(planRolls(pending, new Map([['t', 720]]), 60, () => 1200, resting).map((p) => p.settled)).toEqual([['new']]);
    expect(planRolls(pending, new Map([['t', 720]]), 60, () => 1200).map((p) => p.settled)).toEqual([['late', 'new']]);
  });

  it('finds the distinct minutes of millisecond timestamps', () => {
    expect([...minutesOf([0, 59_999, 60_000, 61_000, 0, 3_600_000])].sort((a, b) => a - b)).toEqual([0, 60, 3600]);
  });
});

describe('rollups agree with the raw table', () => {
  const metric = 'roll_mix';
  const labels = (i: number) => ({ __name__: metric, s: `s${i}` });
  // Three series, 10 s samples over three hours, as counters with a reset so rate has work to do.
  const all: TestPoint[] = [];
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3 * 360; k++) all.push({ labels: labels(i), ts: T0 + k * 10_000, value: k === 500 ? 3 : k * (i + 1) + (k > 500 ? 0 : 1000) });
  }

  beforeAll(async () => {
    const random = mulberry32(13);
    const shuffled = [...all].sort(() => random() - 0.5);
    let ing = newIngester();
    // In order first: the first two hours, rolled up (the loop's ordinary pass).
    await ingest(ing, all.filter((p) => p.ts < T0 + 2 * 3600_000 && p.ts % 20_000 === 0));
    await rollUp(t.store, { nowMs: T0 + 4 * 3600_000 });
    // Then the rest out of order in small deliveries, with rolls in between: late samples land in rolled minutes and hours.
    for (let i = 0; i < shuffled.length; i += 400) {
      await ingest(ing, shuffled.slice(i, i + 400));
      if (i % 1200 === 0) await rollUp(t.store, { nowMs: T0 + 4 * 3600_000 });
      // An ingester restart halfway: its duplicate memory is gone, the store has to answer.
      if (i === 1600) ing = newIngester();
    }
    // Duplicates: re-sent by a fresh ingester (the client's retry after no answer) and by the same one.
    await ingest(newIngester(), all.slice(0, 700));
    await ingest(ing, all.slice(300, 900));
    await rollUp(t.store, { nowMs: T0 + 4 * 3600_000 });
  });

  it('counts every distinct sample once in the raw table and in each rollup', async () => {
    const c = await counts(metric);
    expect(c.raw).toBe(all.length);
    expect(c).toEqual({ raw: all.length, m: all.length, h: all.length });
    expect(await rollupWatermark(t.store, 'default')).toEqual({ '1m': Infinity, '1h': Infinity });
  });

  it('answers every aggregation the same from raw samples, the 1-minute and the 1-hour rollup', async () => {
    const start = T0 / 1000;
    for (const fn of FNS) {
      await agree(metric, 'samples_1m', start, start + 3 * 3600, 60, fn);
      await agree(metric, 'samples_1m', start, start + 3 * 3600, 600, fn);
      if (!fn.startsWith('p')) await agree(metric, 'samples_1h', start, start + 3 * 3600, 3600, fn);
    }
  });
});

describe('before a minute is rolled up', () => {
  it('the watermark stops at the oldest unrolled minute, and queries read raw samples from there on', async () => {
    const metric = 'roll_tail';
    const base = T0 + 24 * 3600_000;
    const points = Array.from({ length: 240 }, (_, k) => ({ labels: { __name__: metric }, ts: base + k * 15_000, value: k }));
    await ingest(newIngester(), points.slice(0, 120));
    await rollUp(t.store, { nowMs: base + 30 * 60_000, graceMs: 0 });
    await ingest(newIngester(), points.slice(120));
    // Minutes 0-29 rolled; 30-59 announced but not rolled yet.
    const wm = await rollupWatermark(t.store, 'default');
    expect(wm['1m']).toBe(base / 1000 + 30 * 60);
    expect(wm['1h']).toBe(Math.floor(base / 3_600_000) * 3600);
    const [m] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1m WHERE series_id IN (SELECT series_id FROM tidemark_test.series WHERE metric = '${metric}')`);
    expect(Number(m!.c)).toBe(120);
    for (const fn of FNS) await agree(metric, 'samples_1m', base / 1000, base / 1000 + 3600, 300, fn);
    await agree(metric, 'samples_1h', base / 1000, base / 1000 + 3600, 3600, 'count');
    const r = await runRangeQuery(t.store, 'default', { metric, matchers: [], fn: 'count', by: [], start: base / 1000, end: base / 1000 + 3600, step: 3600 });
    expect(r.series[0]!.points).toEqual([[base / 1000, 240]]);
    // An open minute waits for its grace period, and an announcement is taken whole: minutes 30-59 wait for minute 59.
    await rollUp(t.store, { nowMs: base + 59 * 60_000 + 50_000, graceMs: 30_000 });
    expect((await rollupWatermark(t.store, 'default'))['1m']).toBe(base / 1000 + 30 * 60);
    await rollUp(t.store, { nowMs: base + 2 * 3600_000 });
    expect(await rollupWatermark(t.store, 'default')).toEqual({ '1m': Infinity, '1h': Infinity });
    expect(await counts(metric)).toEqual({ raw: 240, m: 240, h: 240 });
    // A late sample into a minute rolled moments ago waits out the re-roll period, read from raw meanwhile.
    const lastRolled = new Map<string, number>();
    const now = base + 3 * 3600_000;
    await ingest(newIngester(), [{ labels: { __name__: metric }, ts: base + 5_000, value: 1000 }]);
    await rollUp(t.store, { nowMs: now, lastRolled, rerollAfterMs: 60_000 });
    await ingest(newIngester(), [{ labels: { __name__: metric }, ts: base + 6_000, value: 1001 }]);
    await rollUp(t.store, { nowMs: now + 10_000, lastRolled, rerollAfterMs: 60_000 });
    expect((await rollupWatermark(t.store, 'default'))['1m']).toBe(base / 1000);
    await agree(metric, 'samples_1m', base / 1000, base / 1000 + 3600, 60, 'count');
    await rollUp(t.store, { nowMs: now + 70_000, lastRolled, rerollAfterMs: 60_000 });
    expect(await counts(metric)).toEqual({ raw: 242, m: 242, h: 242 });
  });
});

describe('a pass cut short', () => {
  it('never double-counts or loses: replayed announcements replace their buckets, a bound written without its insert costs nothing', async () => {
    const metric = 'roll_crash';
    const base = T0 + 48 * 3600_000;
    const points = Array.from({ length: 200 }, (_, k) => ({ labels: { __name__: metric, k: String(k % 4) }, ts: base + k * 20_000, value: k }));
    await ingest(newIngester(), points);
    // Killed after the inserts but before the announcements were deleted: they are all still there next pass.
    const before = await t.store.query<Record<string, unknown>>(`SELECT * FROM tidemark_test.rollup_pending`);
    expect(before.length).toBeGreaterThan(0);
    await rollUp(t.store, { all: true });
    expect(await counts(metric)).toEqual({ raw: 200, m: 200, h: 200 });
    await t.store.insertRows('rollup_pending', before);
    await rollUp(t.store, { all: true });
    expect(await counts(metric)).toEqual({ raw: 200, m: 200, h: 200 });
    // Killed after a pass wrote its bound but before its insert: the next pass deletes nothing it needs and rolls again.
    await t.store.command(`INSERT INTO tidemark_test.rollup_progress (tenant, rollup, rolled_to, at) VALUES ('default', '1m', toDateTime(${base / 1000 + 7200}, 'UTC'), now64(3))`);
    await t.store.insertRows('rollup_pending', before);
    await rollUp(t.store, { all: true });
    expect(await counts(metric)).toEqual({ raw: 200, m: 200, h: 200 });
    await agree(metric, 'samples_1m', base / 1000, base / 1000 + 7200, 60, 'avg');
  });

  it('keeps tenants apart', async () => {
    const base = T0 + 72 * 3600_000;
    await ingest(newIngester(), [{ labels: { __name__: 'roll_tenant' }, ts: base, value: 1 }], 'other');
    expect((await rollupWatermark(t.store, 'other'))['1m']).toBe(base / 1000);
    expect((await rollupWatermark(t.store, 'default'))['1m']).toBe(Infinity);
    await rollUp(t.store, { all: true });
    const [row] = await t.store.query<{ tenant: string; c: number }>(`SELECT tenant, sum(count) AS c FROM tidemark_test.samples_1h WHERE ts = toDateTime(${base / 1000}, 'UTC') GROUP BY tenant`);
    expect(row).toEqual({ tenant: 'other', c: 1 });
  });
});

describe('announcing once per roll (the ledger shared with the loop in this process)', () => {
  it('announces a minute once until the loop takes it, and again after', () => {
    const ledger = new AnnouncementLedger();
    const held: string[] = [];
    expect(ledger.cover('t', [60, 120], held)).toEqual([60, 120]);
    ledger.written({ id: 'a', tenant: 't', rollup: '1m', buckets: [60, 120] });
    expect(ledger.cover('t', [60, 120, 180], held)).toEqual([180]);
    expect(held).toEqual(['a']);
    expect(ledger.cover('u', [60], [])).toEqual([60]);
    expect(ledger.isHeld('a')).toBe(true);
    ledger.release(held);
    expect(ledger.isHeld('a')).toBe(false);
    ledger.taken(['a']);
    expect(ledger.cover('t', [60], [])).toEqual([60]);
    expect(ledger.size).toBe(0);
  });

  it('writes no announcement for a minute already announced and not taken; one after the loop took it', async () => {
    const metric = 'roll_ledger';
    const base = T0 + 96 * 3600_000;
    const ledger = new AnnouncementLedger();
    const ing = new Ingester(t.store, ingesterMetrics(new Registry(), bus), silentLogger, { ledger });
    const rows = async () => Number((await t.store.query<{ c: string }>(`SELECT count() AS c FROM tidemark_test.rollup_pending WHERE tenant = 'ledger'`))[0]!.c);
    for (let k = 0; k < 4; k++) await ingest(ing, [{ labels: { __name__: metric }, ts: base + k * 10_000, value: k }], 'ledger');
    expect(await rows()).toBe(1);
    await rollUp(t.store, { all: true, ledger });
    expect(await rows()).toBe(0);
    await ingest(ing, [{ labels: { __name__: metric }, ts: base + 45_000, value: 9 }], 'ledger');
    expect(await rows()).toBe(1);
    await rollUp(t.store, { all: true, ledger });
    const [c] = await t.store.query<{ raw: string; m: string }>(
      `SELECT (SELECT count() FROM tidemark_test.samples WHERE tenant = 'ledger') AS raw, (SELECT sum(count) FROM tidemark_test.samples_1m WHERE tenant = 'ledger') AS m`,
    );
    expect({ raw: Number(c!.raw), m: Number(c!.m) }).toEqual({ raw: 5, m: 5 });
  });

  it('a pass running while an insert relies on an announcement leaves it for the next pass, so no sample is rolled short', async () => {
    const metric = 'roll_race';
    const base = T0 + 120 * 3600_000;
    const tenant = 'race';
    const ledger = new AnnouncementLedger();
    // The raw insert of the second delivery waits at a gate, as a slow insert would, while a pass runs.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let gated = false;
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const slow = Object.create(t.store) as typeof t.store;
    slow.insertNative = async (...args: Parameters<typeof t.store.insertNative>) => {
      if (gated && args[0] === 'samples') {
        reached();
        await gate;
      }
      return t.store.insertNative(...args);
    };
    const ing = new Ingester(slow, ingesterMetrics(new Registry(), bus), silentLogger, { ledger });
    await ingest(ing, [{ labels: { __name__: metric }, ts: base, value: 1 }], tenant);
    gated = true;
    const second = ingest(ing, [{ labels: { __name__: metric }, ts: base + 20_000, value: 2 }], tenant);
    await atGate;
    // The announcement the first delivery wrote covers the second one's minute, and the second holds it.
    const during = await rollUp(t.store, { all: true, ledger });
    expect(during.minutes).toBe(0);
    open();
    await second;
    await rollUp(t.store, { all: true, ledger });
    const [m] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1m WHERE tenant = '${tenant}'`);
    expect(Number(m!.c)).toBe(2);
    expect(await rollupWatermark(t.store, tenant)).toEqual({ '1m': Infinity, '1h': Infinity });
    // Taken: the next insert into that minute announces again, and its sample is rolled too.
    await ingest(ing, [{ labels: { __name__: metric }, ts: base + 40_000, value: 3 }], tenant);
    expect((await rollupWatermark(t.store, tenant))['1m']).toBe(base / 1000);
    await rollUp(t.store, { all: true, ledger });
    const [m2] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1m WHERE tenant = '${tenant}'`);
    expect(Number(m2!.c)).toBe(3);
  });
});

describe('statements per pass', () => {
  it('a pass with nothing closed reads once; an open hour is announced once however many of its minutes roll', async () => {
    const metric = 'roll_statements';
    const tenant = 'hours';
    const base = T0 + 144 * 3600_000;
    const statements: string[] = [];
    const counted = Object.create(t.store) as typeof t.store;
    counted.query = async (sql: string, ...rest: unknown[]) => (statements.push(sql), (t.store.query as (...a: unknown[]) => Promise<never[]>)(sql, ...rest));
    counted.command = async (sql: string, ...rest: unknown[]) => (statements.push(sql), (t.store.command as (...a: unknown[]) => Promise<void>)(sql, ...rest));
    counted.insertRows = async (table: string, rows: readonly unknown[], ...rest: unknown[]) => {
      if (rows.length > 0) statements.push(`insert ${table}`);
      return (t.store.insertRows as (...a: unknown[]) => Promise<void>)(table, rows, ...rest);
    };
    const ing = newIngester();
    await ingest(ing, [{ labels: { __name__: metric }, ts: base + 5_000, value: 1 }], tenant);
    // Minute 0 still open (within its grace): one read, nothing else.
    await rollUp(counted, { nowMs: base + 70_000, graceMs: 30_000 });
    expect(statements).toHaveLength(1);
    const hourRows = async () =>
      Number((await t.store.query<{ c: string }>(`SELECT count() AS c FROM tidemark_test.rollup_pending WHERE tenant = '${tenant}' AND rollup = '1h'`))[0]!.c);
    await rollUp(counted, { nowMs: base + 10 * 60_000 });
    expect(await hourRows()).toBe(1);
    for (let k = 1; k < 4; k++) {
      await ingest(ing, [{ labels: { __name__: metric }, ts: base + k * 60_000 + 5_000, value: k }], tenant);
      statements.length = 0;
      await rollUp(counted, { nowMs: base + 10 * 60_000 });
      expect(statements.filter((s) => s === 'insert rollup_pending'), statements.join('\n')).toHaveLength(0);
    }
    expect(await hourRows()).toBe(1);
    await rollUp(t.store, { nowMs: base + 2 * 3600_000 });
    expect(await hourRows()).toBe(0);
    const [h] = await t.store.query<{ c: string }>(`SELECT sum(count) AS c FROM tidemark_test.samples_1h WHERE tenant = '${tenant}'`);
    expect(Number(h!.c)).toBe(4);
  });
});
