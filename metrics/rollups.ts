// The 1-minute and 1-hour rollups, kept by a bulk loop of ours instead of
// per-insert materialized views (those cost about 8x on every insert).
//
// The ingester announces every insert before making it: one
// `rollup_pending` row per tenant naming the minutes its samples fall in,
// written before the raw insert, so no stored sample is ever without an
// announcement. The loop takes the announcements whose minutes are closed
// (older than a grace period), rolls those minutes up from the raw table
// (each (series, ts) once, stale markers skipped), announces their hours
// for the hourly rollup, and only then deletes the announcements it handled.
// The hourly rollup is rolled from the 1-minute one the same way once its
// hours are closed. A bucket that may already hold rows (per tenant and
// rollup, `rollup_progress.rolled_to`, written before each roll's insert)
// is deleted before it is rolled again, so a re-roll replaces and never
// adds: a late, replayed or re-sent sample, or a process killed anywhere in
// between, costs a re-roll and never a double count or a loss.
//
// What a reader sees: a rollup is complete (it agrees with the raw table)
// before `rollupWatermark`, the oldest bucket still announced; readers take
// rollup rows before it and raw samples from it on (`rollupSourceSql`).
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import { NOT_STALE } from './schema.ts';
import { addStage } from './ingest-stages.ts';

export type RollupName = '1m' | '1h';

interface Level {
  name: RollupName;
  table: 'samples_1m' | 'samples_1h';
  width: number;
  fn: 'toStartOfMinute' | 'toStartOfHour';
  values: boolean;
}

const MINUTE: Level = { name: '1m', table: 'samples_1m', width: 60, fn: 'toStartOfMinute', values: true };
const HOUR: Level = { name: '1h', table: 'samples_1h', width: 3600, fn: 'toStartOfHour', values: false };

/** Bucket starts (unix seconds) per query text: keeps the inlined lists near 400 KB. */
const BUCKETS_PER_STATEMENT = 30_000;
const BIG_QUERY = { max_query_size: String(1 << 23) } as const;

/** The distinct minute starts (unix seconds, ascending) of timestamps in ms (pure). */
export function minutesOf(timestampsMs: ArrayLike<number>, into: Set<number> = new Set()): Set<number> {
  let last = NaN;
  for (let i = 0; i < timestampsMs.length; i++) {
    const m = Math.floor(timestampsMs[i]! / 60_000) * 60;
    // Samples come in runs of one scrape time: skip the set when the minute repeats.
    if (m !== last) {
      into.add(m);
      last = m;
    }
  }
  return into;
}

export interface Announcement {
  tenant: string;
  /** Bucket starts, unix seconds. */
  buckets: Iterable<number>;
}

/** The rows announcing buckets to be rolled (pure): one per tenant with any, each with an id of its own. */
export function announcementRows(rollup: RollupName, announcements: readonly Announcement[], source: string): Pending[] {
  return announcements
    .map((a) => ({ tenant: a.tenant, rollup, buckets: [...a.buckets].sort((x, y) => x - y), source, id: crypto.randomUUID() }))
    .filter((r) => r.buckets.length > 0);
}

/** Writes announcement rows (before the raw insert that fills their buckets). */
export async function writeAnnouncements(store: Store, rows: readonly Pending[]): Promise<void> {
  // A replayed insert of these rows (same content) must not be dropped: each announcement is its own.
  await store.insertRows('rollup_pending', rows as unknown as Record<string, unknown>[], { insert_deduplicate: 0 });
}

/** Announces buckets to be rolled (before the raw insert that fills them); returns what it wrote. */
export async function announce(store: Store, rollup: RollupName, announcements: readonly Announcement[], source: string): Promise<Pending[]> {
  const rows = announcementRows(rollup, announcements, source);
  await writeAnnouncements(store, rows);
  return rows;
}

/**
 * What the ingester and the roll-up loop of one process share so that a
 * minute is announced once per roll, not once per insert: which minutes
 * (per tenant) an announcement row the loop has not taken yet covers, and
 * which announcements an insert still in flight relies on.
 *
 * An insert holds the announcements covering its minutes (the ones it
 * found here, and the ones it writes: held before they are written) until
 * its raw insert is done; it announces only the minutes nothing covers. The
 * loop, in the same synchronous step as it plans, skips announcements that
 * are held and forgets the minutes of those it takes. So a pass never rolls
 * a minute from raw while an insert relying on its announcement is still
 * running, and an insert that comes after the take finds nothing and
 * announces again. Only valid when the loop in this process is the only one
 * that takes announcements of the store (`ingester.rollup` on in one process).
 */
export class AnnouncementLedger {
  /** `${tenant}\n${minute}` -> the announcement covering it. */
  private readonly covering = new Map<string, string>();
  /** Announcement -> the keys it covers. */
  private readonly keys = new Map<string, string[]>();
  /** Announcement -> inserts in flight relying on it. */
  private readonly holds = new Map<string, number>();

  /** For an insert into `minutes`: holds the announcements covering them (adds their ids to `held`); returns the minutes still to announce. */
  cover(tenant: string, minutes: Iterable<number>, held: string[]): number[] {
    const missing: number[] = [];
    const seen = new Set<string>();
    for (const m of minutes) {
      const id = this.covering.get(`${tenant}\n${m}`);
      if (id === undefined) {
        missing.push(m);
        continue;
      }
      if (seen.has(id)) continue;
      seen.add(id);
      this.hold(id);
      held.push(id);
    }
    return missing;
  }

  /** Holds an announcement (before it is written, so the loop cannot take it before the insert relying on it is done). */
  hold(id: string): void {
    this.holds.set(id, (this.holds.get(id) ?? 0) + 1);
  }

  release(ids: readonly string[]): void {
    for (const id of ids) {
      const n = (this.holds.get(id) ?? 0) - 1;
      if (n > 0) this.holds.set(id, n);
      else this.holds.delete(id);
    }
  }

  /** A written announcement: later inserts into its buckets rely on it until the loop takes it. */
  written(row: Pending): void {
    const keys = row.buckets.map((b) => `${row.tenant}\n${b}`);
    for (const k of keys) {
      const before = this.covering.get(k);
      // One announcement per minute is enough; the newer one covers it from now on.
      if (before !== undefined) this.untrack(before, k);
      this.covering.set(k, row.id);
    }
    this.keys.set(row.id, keys);
  }

  private untrack(id: string, key: string): void {
    const list = this.keys.get(id);
    if (!list) return;
    const i = list.indexOf(key);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.keys.delete(id);
  }

  isHeld(id: string): boolean {
    return this.holds.has(id);
  }

  /** The loop took these announcements: an insert into their minutes from now on announces again. */
  taken(ids: Iterable<string>): void {
    for (const id of ids) {
      for (const k of this.keys.get(id) ?? []) if (this.covering.get(k) === id) this.covering.delete(k);
      this.keys.delete(id);
    }
  }

  /** Minutes covered (a gauge of its size). */
  get size(): number {
    return this.covering.size;
  }
}

export interface Pending {
  id: string;
  tenant: string;
  rollup: RollupName;
  buckets: number[];
}

async function pendingRows(store: Store): Promise<Pending[]> {
  return store.query<Pending>(`SELECT toString(id) AS id, tenant, rollup, arrayMap(b -> toUInt32(b), buckets) AS buckets FROM ${store.table('rollup_pending')}`);
}

/** Per rollup and tenant, the buckets before which the rollup may hold rows (rolled_to only grows, so the largest is current). */
async function progress(store: Store): Promise<Record<RollupName, Map<string, number>>> {
  const rows = await store.query<{ tenant: string; rollup: RollupName; rolled: number }>(
    `SELECT tenant, rollup, toUInt32(max(rolled_to)) AS rolled FROM ${store.table('rollup_progress')} GROUP BY tenant, rollup`,
  );
  const out: Record<RollupName, Map<string, number>> = { '1m': new Map(), '1h': new Map() };
  for (const r of rows) out[r.rollup]?.set(r.tenant, Number(r.rolled));
  return out;
}

/** What one tenant's roll of one rollup does (pure): the buckets to roll, which of them to delete first, the announcements it settles. */
export interface RollPlan {
  tenant: string;
  buckets: number[];
  /** Buckets that may already hold rows: deleted before the roll. */
  replace: number[];
  /** The new rolled_to, written before the insert. */
  rolledTo: number;
  /** Announcements settled by this roll (deleted after it). */
  settled: string[];
}

/**
 * Plans one rollup's roll for every tenant (pure). An announcement is taken
 * once all its buckets end at or before `closedTo` (unix seconds; Infinity
 * takes all), so an insert into the current minute waits for the minute to
 * close; a bucket before `rolledTo` is replaced rather than added to.
 */
export function planRolls(
  pending: readonly Pending[],
  rolledTo: ReadonlyMap<string, number>,
  width: number,
  closedTo: (tenant: string) => number,
  /** A bucket rolled so recently that re-rolling it now would be wasted: announcements touching it wait. */
  resting: (tenant: string, bucket: number) => boolean = () => false,
): RollPlan[] {
  const byTenant = new Map<string, { buckets: Set<number>; settled: string[] }>();
  for (const p of pending) {
    if (p.buckets.length === 0) continue;
    const last = Math.max(...p.buckets);
    if (last + width > closedTo(p.tenant)) continue;
    const before = rolledTo.get(p.tenant) ?? 0;
    if (p.buckets.some((b) => b < before && resting(p.tenant, b))) continue;
    let t = byTenant.get(p.tenant);
    if (!t) byTenant.set(p.tenant, (t = { buckets: new Set(), settled: [] }));
    for (const b of p.buckets) t.buckets.add(b);
    t.settled.push(p.id);
  }
  const plans: RollPlan[] = [];
  for (const [tenant, t] of byTenant) {
    const buckets = [...t.buckets].sort((a, b) => a - b);
    const before = rolledTo.get(tenant) ?? 0;
    plans.push({
      tenant,
      buckets,
      replace: buckets.filter((b) => b < before),
      rolledTo: Math.max(before, buckets[buckets.length - 1]! + width),
      settled: t.settled,
    });
  }
  return plans;
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Where a DELETE goes: the local tables on a cluster (a Distributed table takes no DELETE). */
function deletable(store: Store, table: string): string {
  const cluster = store.options.cluster;
  return cluster ? `${store.table(table)}_local ON CLUSTER ${cluster}` : store.table(table);
}

/** The rollup's rows for some buckets of one tenant, from the raw table (minutes) or the 1-minute rollup (hours). */
function rollSql(store: Store, level: Level, list: string): string {
  if (level.name === '1m') {
    return `INSERT INTO ${store.table('samples_1m')} (tenant, series_id, ts, sum, count, min, max, first, last, values)
      SELECT tenant, series_id, toStartOfMinute(sample_ts) AS bucket, sum(value), count(), min(value), max(value),
             (min(sample_ts), argMin(value, sample_ts)), (max(sample_ts), argMax(value, sample_ts)), groupArray(value)
      FROM (
        SELECT tenant, series_id, ts AS sample_ts, any(value) AS value FROM ${store.table('samples')}
        WHERE tenant = {tenant:String} AND ts >= toDateTime64({from:UInt32}, 3, 'UTC') AND ts < toDateTime64({to:UInt32}, 3, 'UTC')
          AND toUInt32(toStartOfMinute(ts)) IN (${list})
        GROUP BY tenant, series_id, sample_ts)
      WHERE ${NOT_STALE}
      GROUP BY tenant, series_id, bucket`;
  }
  return `INSERT INTO ${store.table('samples_1h')} (tenant, series_id, ts, sum, count, min, max, first, last)
    SELECT tenant, series_id, toStartOfHour(ts) AS bucket, sum(sum), sum(count), min(min), max(max), min(first), max(last)
    FROM ${store.table('samples_1m')}
    WHERE tenant = {tenant:String} AND ts >= toDateTime({from:UInt32}, 'UTC') AND ts < toDateTime({to:UInt32}, 'UTC')
      AND toUInt32(toStartOfHour(ts)) IN (${list})
    GROUP BY tenant, series_id, bucket`;
}

/**
 * Rolls one tenant's buckets of one rollup; returns the hour announcements a minute roll made: only for
 * hours no announcement read this pass covers (`hoursAnnounced`, `${tenant}/${hour}`, which it extends).
 */
async function applyPlan(store: Store, level: Level, plan: RollPlan, hoursAnnounced: Set<string> = new Set()): Promise<Pending[]> {
  const { tenant } = plan;
  // First the bound, so that a crash after the insert below leaves its buckets marked as holding rows.
  await store.command(
    `INSERT INTO ${store.table('rollup_progress')} (tenant, rollup, rolled_to, at) SELECT {tenant:String}, {rollup:String}, toDateTime({to:UInt32}, 'UTC'), now64(3)`,
    { tenant, rollup: level.name, to: plan.rolledTo },
    { insert_deduplicate: 0 },
  );
  for (const part of chunks(plan.replace, BUCKETS_PER_STATEMENT)) {
    await store.command(`DELETE FROM ${deletable(store, level.table)} WHERE tenant = {tenant:String} AND toUInt32(ts) IN (${part.join(',')})`, { tenant }, BIG_QUERY);
  }
  for (const part of chunks(plan.buckets, BUCKETS_PER_STATEMENT)) {
    const params = { tenant, from: part[0]!, to: part[part.length - 1]! + level.width };
    // A re-roll may repeat an earlier insert's rows exactly; it must not be dropped as a replay. (Measured:
    // insert_deduplicate = 0 alone did not stop chDB dropping an INSERT … SELECT whose block matched a
    // deleted part's; a token of its own per roll does.)
    // optimize_on_insert = 0: the roll's rows are one per (series, bucket) already, so the engine's own
    // aggregation of the inserted block finds nothing to merge; measured 4-8x the rest of the insert
    // (one minute of 144,000 series written: 1,172-2,010 ms with it, 135-514 ms without, same rows).
    await store.command(rollSql(store, level, part.join(',')), params, {
      ...BIG_QUERY,
      insert_deduplicate: 1,
      insert_deduplication_token: `rollup/${crypto.randomUUID()}`,
      optimize_on_insert: 0,
    });
  }
  let hours: Pending[] = [];
  if (level.name === '1m') {
    // An hour already announced stays announced until its roll, which reads these minutes (it comes after them).
    const fresh = new Set(plan.buckets.map((m) => Math.floor(m / 3600) * 3600).filter((h) => !hoursAnnounced.has(`${tenant}/${h}`)));
    if (fresh.size > 0) hours = await announce(store, '1h', [{ tenant, buckets: fresh }], 'rollup 1m');
    for (const h of fresh) hoursAnnounced.add(`${tenant}/${h}`);
  }
  await settle(store, plan.settled);
  return hours;
}

/** Deletes handled announcements (only after their rolls: deleting later only costs a re-roll). */
async function settle(store: Store, ids: readonly string[]): Promise<void> {
  for (const part of chunks(ids, 5_000)) {
    await store.command(`DELETE FROM ${deletable(store, 'rollup_pending')} WHERE id IN (${part.map((id) => `'${id}'`).join(',')})`, undefined, BIG_QUERY);
  }
}

export interface RollupOptions {
  /** Now, in ms (tests pass their own). */
  nowMs?: number;
  /** How long after a minute ends before it is rolled: samples of it still arriving then cost a re-roll. */
  graceMs?: number;
  /** Roll everything announced, closed or not (tests, and a catch-up before counting). */
  all?: boolean;
  /**
   * When each (tenant, bucket) was last rolled (ms), kept by the caller across passes: a bucket is not
   * re-rolled within `rerollAfterMs` of its last roll, so samples of one minute trickling in late (a
   * sender far behind) cost one re-roll a period, not one a pass. Readers are unaffected (raw tail).
   */
  lastRolled?: Map<string, number>;
  rerollAfterMs?: number;
  /** The ledger shared with this process's ingester: held announcements wait, taken ones are forgotten there. */
  ledger?: AnnouncementLedger;
}

export interface RollupResult {
  minutes: number;
  hours: number;
  tenants: number;
}

/**
 * One pass of the loop: rolls every closed announced minute, then every
 * hour whose minutes are all rolled. Safe to run from one process at a
 * time per store; safe to kill anywhere.
 */
export async function rollUp(store: Store, options: RollupOptions = {}): Promise<RollupResult> {
  const now = options.nowMs ?? Date.now();
  const closed = options.all ? Infinity : Math.floor((now - (options.graceMs ?? 30_000)) / 60_000) * 60;
  const result: RollupResult = { minutes: 0, hours: 0, tenants: 0 };
  const tenants = new Set<string>();
  // One read when there is nothing to do (most passes of a quiet store).
  const pending = await pendingRows(store);
  // Nothing closed yet (most passes while only the current minute is written): no more statements.
  const closable = (p: Pending) => p.buckets.length > 0 && Math.max(...p.buckets) + (p.rollup === '1m' ? MINUTE.width : HOUR.width) <= closed;
  if (!pending.some(closable)) return result;
  const rolled = await progress(store);
  const lastRolled = options.all ? undefined : options.lastRolled;
  const rerollAfter = options.rerollAfterMs ?? 60_000;
  const resting = (level: RollupName) => (tenant: string, bucket: number) => now - (lastRolled?.get(`${tenant}/${level}/${bucket}`) ?? -Infinity) < rerollAfter;
  const rolledNow = (level: RollupName, plan: RollPlan) => {
    if (!lastRolled) return;
    for (const b of plan.buckets) lastRolled.set(`${plan.tenant}/${level}/${b}`, now);
    // Bounded: entries older than the period no longer rest anything.
    if (lastRolled.size > 100_000) for (const [k, at] of lastRolled) if (now - at >= rerollAfter) lastRolled.delete(k);
  };
  // From here to the ledger's update no await: an insert either holds its announcement before this plan
  // (and the announcement waits) or finds its minutes forgotten after it (and announces again).
  const ledger = options.ledger;
  const minutePending = pending.filter((p) => p.rollup === '1m' && !ledger?.isHeld(p.id));
  const minutePlans = planRolls(minutePending, rolled['1m'], MINUTE.width, () => closed, resting('1m'));
  for (const plan of minutePlans) ledger?.taken(plan.settled);
  const settled = new Set<string>();
  const hourPending = pending.filter((p) => p.rollup === '1h');
  const hoursAnnounced = new Set(hourPending.flatMap((p) => p.buckets.map((h) => `${p.tenant}/${h}`)));
  for (const plan of minutePlans) {
    hourPending.push(...(await applyPlan(store, MINUTE, plan, hoursAnnounced)));
    rolledNow('1m', plan);
    for (const id of plan.settled) settled.add(id);
    result.minutes += plan.buckets.length;
    tenants.add(plan.tenant);
  }
  // An hour is rolled once it is closed and no minute of it is still announced (as of this pass's read;
  // a minute announced since re-announces its hour when it is rolled).
  const stillPending = new Map<string, number>();
  for (const p of pending) {
    if (p.rollup !== '1m' || settled.has(p.id)) continue;
    for (const b of p.buckets) stillPending.set(p.tenant, Math.min(stillPending.get(p.tenant) ?? Infinity, b));
  }
  const hourPlans = planRolls(hourPending, rolled['1h'], HOUR.width, (tenant) => Math.min(closed, stillPending.get(tenant) ?? Infinity), resting('1h'));
  for (const plan of hourPlans) {
    await applyPlan(store, HOUR, plan);
    rolledNow('1h', plan);
    result.hours += plan.buckets.length;
    tenants.add(plan.tenant);
  }
  result.tenants = tenants.size;
  return result;
}

/** Up to where (unix seconds, exclusive) each rollup of a tenant agrees with the raw table; Infinity when nothing is waiting to be rolled. */
export interface RollupWatermark {
  '1m': number;
  '1h': number;
}

/**
 * The rollups' completeness for a tenant: every bucket before the watermark
 * is rolled (the oldest bucket still announced bounds it; an hour waits for
 * its minutes). Readers read rollup rows before it and raw samples from it on.
 */
export async function rollupWatermark(store: Store, tenant: string): Promise<RollupWatermark> {
  const rows = await store.query<{ rollup: RollupName; oldest: number }>(
    `SELECT rollup, toUInt32(min(arrayMin(buckets))) AS oldest FROM ${store.table('rollup_pending')}
     WHERE tenant = {tenant:String} AND notEmpty(buckets) GROUP BY \`rollup\``,
    { tenant },
  );
  const oldest = new Map(rows.map((r) => [r.rollup, Number(r.oldest)]));
  const minute = oldest.get('1m') ?? Infinity;
  return { '1m': minute, '1h': Math.min(oldest.get('1h') ?? Infinity, Math.floor(minute / 3600) * 3600) };
}

/**
 * A rollup table as a reader should see it: its rows before `{wm:UInt32}`
 * and, from there on, the raw samples (each (series, ts) once, stale markers
 * skipped) shaped as rollup rows of their bucket. Same columns as the table;
 * `seriesFilter` narrows the raw read (e.g. `series_id IN (…)`); the range is
 * `{start:Float64}` to `{end:Float64}` seconds.
 */
export function rollupSourceSql(store: Store, table: 'samples_1m' | 'samples_1h', seriesFilter: string): string {
  const level = table === 'samples_1m' ? MINUTE : HOUR;
  const values = level.values ? ', values' : '';
  const rolled = `SELECT tenant, series_id, ts, toFloat64(sum) AS sum, toUInt64(count) AS count, toFloat64(min) AS min, toFloat64(max) AS max, first, last${values}
    FROM ${store.table(table)}
    WHERE tenant = {tenant:String} AND ${seriesFilter} AND ts < toDateTime({wm:UInt32}, 'UTC')
      AND ts >= toDateTime64({start:Float64} - ${level.width}, 3, 'UTC') AND ts < toDateTime64({end:Float64}, 3, 'UTC')`;
  const raw = `SELECT tenant, series_id, toDateTime(${level.fn}(sample_ts), 'UTC') AS ts, value AS sum, toUInt64(1) AS count, value AS min, value AS max,
      (sample_ts, value) AS first, (sample_ts, value) AS last${level.values ? ', [value] AS values' : ''}
    FROM (
      SELECT tenant, series_id, ts AS sample_ts, any(value) AS value FROM ${store.table('samples')}
      WHERE tenant = {tenant:String} AND ${seriesFilter} AND ts >= toDateTime64({wm:UInt32}, 3, 'UTC')
        AND ts >= toDateTime64({start:Float64} - ${level.width}, 3, 'UTC') AND ts < toDateTime64({end:Float64} + ${level.width}, 3, 'UTC')
      GROUP BY tenant, series_id, sample_ts)
    WHERE ${NOT_STALE}`;
  return `(${rolled} UNION ALL ${raw})`;
}

/** The loop: a pass every `everyMs`, one at a time; a failed pass is logged and tried again next time. */
export class RollupLoop {
  private timer: NodeJS.Timeout | null = null;
  /** Passes run one after another, the loop's and any asked for. */
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** When each (tenant, rollup, bucket) was last rolled by this loop: late trickles re-roll a bucket once a period. */
  private readonly lastRolled = new Map<string, number>();
  /** Passes completed and buckets rolled since start. */
  passes = 0;
  minutes = 0;
  hours = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly options: { everyMs: number; graceMs: number; rerollAfterMs?: number; ledger?: AnnouncementLedger },
  ) {}

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      void this.pass().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.everyMs);
      });
    };
    this.timer = setTimeout(tick, this.options.everyMs);
  }

  /** Runs one pass (after the one in progress); null when it failed. */
  pass(options: RollupOptions = {}): Promise<RollupResult | null> {
    const run = this.chain.then(async () => {
      const started = performance.now();
      try {
        const r = await rollUp(this.store, { graceMs: this.options.graceMs, lastRolled: this.lastRolled, rerollAfterMs: this.options.rerollAfterMs, ledger: this.options.ledger, ...options });
        addStage('rollup', started);
        this.passes++;
        this.minutes += r.minutes;
        this.hours += r.hours;
        return r;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'rollup pass failed; retried next pass');
        return null;
      }
    });
    this.chain = run;
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.chain;
  }
}
