// Billing input: per-cluster charges (what was billed for which stretch of
// time), from the API as JSON or from a CSV export. A whole import is
// checked before anything is stored, and re-importing a line replaces it.
import { z } from 'zod';
import { isoTimestamp } from './timestamp.ts';
import type { Store } from '../core/store.ts';
import { InputError } from '../core/errors.ts';
import { parseUnder } from './input.ts';
import { chTime, type Period } from './period.ts';
import { Fraction, decimalFraction } from './money.ts';

const timestamp = isoTimestamp;

/** Amounts are kept as decimal text to the micro-unit so nothing is lost between the export and the store. */
const amount = z
  .union([z.number().finite().nonnegative().transform((n) => String(n)), z.string().trim()])
  .pipe(z.string().regex(/^\d{1,12}(\.\d{1,6})?$/, 'expected a non-negative amount below 10^12 with at most 6 decimals (the store keeps Decimal(18, 6))'));

export const chargeSchema = z.object({
  cluster: z.string().min(1),
  item: z.string().default(''),
  start: timestamp,
  end: timestamp,
  amount,
});

export type Charge = z.output<typeof chargeSchema>;

export function parseCharges(raw: unknown): Charge[] {
  const list = parseUnder(z.array(chargeSchema), raw, 'charges');
  list.forEach((c, i) => {
    if (!Number.isFinite(c.start)) throw new InputError(`charges[${i}].start`, 'not a valid date');
    if (!Number.isFinite(c.end) || c.end <= c.start) throw new InputError(`charges[${i}].end`, 'must be a valid date after start');
  });
  return list;
}

/** Splits one CSV line, honouring double-quoted fields with "" escapes. */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

/** CSV with a header naming at least cluster, start, end, amount (item optional). Errors name the line and column. */
export function parseChargesCsv(text: string): Charge[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new InputError('csv', 'empty file: expected a header line cluster,start,end,amount[,item]');
  const header = csvFields(lines[0]!).map((h) => h.toLowerCase());
  for (const col of ['cluster', 'start', 'end', 'amount']) {
    if (!header.includes(col)) throw new InputError('csv.header', `missing column "${col}"`);
  }
  const rows = lines.slice(1).map((line) => {
    const fields = csvFields(line);
    return Object.fromEntries(header.map((h, i) => [h, fields[i] ?? '']));
  });
  try {
    return parseCharges(rows);
  } catch (e) {
    if (e instanceof InputError) {
      // charges[3].amount → line 5 (the header is line 1), column amount
      const m = /^charges\.?\[(\d+)\]\.?(.*)$/.exec(e.field);
      if (m) throw new InputError(`csv line ${Number(m[1]) + 2}${m[2] ? ` column ${m[2]}` : ''}`, e.message.replace(/^[^:]*: /, ''));
    }
    throw e;
  }
}

export async function storeCharges(store: Store, tenant: string, charges: readonly Charge[], source: string, now = Date.now()): Promise<number> {
  await store.insertRows(
    'sla_charges',
    charges.map((c) => ({ tenant, cluster: c.cluster, item: c.item, starts_at: chTime(c.start), ends_at: chTime(c.end), amount: c.amount, source, imported_at: chTime(now) })),
  );
  return charges.length;
}

export interface StoredCharge {
  start: number;
  end: number;
  amount: number;
}

/** Charges overlapping [from, to), per cluster. */
export async function chargesByCluster(store: Store, tenant: string, window: Period): Promise<Map<string, StoredCharge[]>> {
  const rows = await store.query<{ cluster: string; s: string; e: string; amount: string }>(
    `SELECT cluster, toString(toUnixTimestamp64Milli(starts_at)) AS s, toString(toUnixTimestamp64Milli(ends_at)) AS e, toString(amount) AS amount
     FROM ${store.table('sla_charges')} FINAL
     WHERE tenant = {tenant:String}
       AND starts_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC') AND ends_at > fromUnixTimestamp64Milli({from:Int64}, 'UTC')
     ORDER BY cluster, starts_at`,
    { tenant, from: window.start, to: window.end },
  );
  const out = new Map<string, StoredCharge[]>();
  for (const r of rows) {
    let list = out.get(r.cluster);
    if (!list) out.set(r.cluster, (list = []));
    list.push({ start: Number(r.s), end: Number(r.e), amount: Number(r.amount) });
  }
  return out;
}

/**
 * Charges overlapping any of the given windows (the 24 hours before each
 * compensated outage). Fetching only these, instead of a month of charges
 * for every cluster, keeps the monthly job fast at a thousand clusters.
 */
export async function chargesForWindows(store: Store, tenant: string, windows: readonly { cluster: string; start: number; end: number }[]): Promise<Map<string, StoredCharge[]>> {
  const out = new Map<string, StoredCharge[]>();
  if (windows.length === 0) return out;
  const rows = await store.query<{ cluster: string; s: string; e: string; amount: string }>(
    `SELECT DISTINCT c.cluster AS cluster, c.item AS item, toString(toUnixTimestamp64Milli(c.starts_at)) AS s, toString(toUnixTimestamp64Milli(c.ends_at)) AS e, toString(c.amount) AS amount
     FROM (SELECT cluster, item, starts_at, ends_at, amount FROM ${store.table('sla_charges')} FINAL
           WHERE tenant = {tenant:String} AND has({wc:Array(String)}, cluster)) AS c
     INNER JOIN (SELECT w.1 AS wc, w.2 AS wf, w.3 AS wt FROM (SELECT arrayJoin(arrayZip({wc:Array(String)}, {wf:Array(Int64)}, {wt:Array(Int64)})) AS w)) AS win
       ON c.cluster = win.wc
     WHERE toUnixTimestamp64Milli(c.starts_at) < win.wt AND toUnixTimestamp64Milli(c.ends_at) > win.wf
     ORDER BY cluster, s, item`,
    { tenant, wc: windows.map((w) => w.cluster), wf: windows.map((w) => w.start), wt: windows.map((w) => w.end) },
  );
  for (const r of rows) {
    let list = out.get(r.cluster);
    if (!list) out.set(r.cluster, (list = []));
    list.push({ start: Number(r.s), end: Number(r.e), amount: Number(r.amount) });
  }
  return out;
}

/**
 * What each cluster was charged for the period, exact: charges wholly inside
 * are summed as Decimal in ClickHouse; the few crossing a period edge are
 * pro-rated here on fractions. Floored to the cent, the compensation cap.
 */
export async function paidByCluster(store: Store, tenant: string, period: Period): Promise<Map<string, number>> {
  const params = { tenant, from: period.start, to: period.end };
  const overlapping = `tenant = {tenant:String} AND starts_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC') AND ends_at > fromUnixTimestamp64Milli({from:Int64}, 'UTC')`;
  const inside = `starts_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ends_at <= fromUnixTimestamp64Milli({to:Int64}, 'UTC')`;
  const [sums, edges] = await Promise.all([
    store.query<{ cluster: string; total: string }>(
      `SELECT cluster, toString(sumIf(amount, ${inside})) AS total FROM ${store.table('sla_charges')} FINAL WHERE ${overlapping} GROUP BY cluster`,
      params,
    ),
    store.query<{ cluster: string; s: string; e: string; amount: string }>(
      `SELECT cluster, toString(toUnixTimestamp64Milli(starts_at)) AS s, toString(toUnixTimestamp64Milli(ends_at)) AS e, toString(amount) AS amount
       FROM ${store.table('sla_charges')} FINAL WHERE ${overlapping} AND NOT (${inside})`,
      params,
    ),
  ]);
  const totals = new Map<string, Fraction>();
  for (const r of sums) totals.set(r.cluster, decimalFraction(r.total));
  for (const r of edges) {
    const s = Number(r.s);
    const e = Number(r.e);
    const part = Math.min(e, period.end) - Math.max(s, period.start);
    const prorated = decimalFraction(r.amount).mul(new Fraction(BigInt(part), BigInt(e - s)));
    totals.set(r.cluster, (totals.get(r.cluster) ?? Fraction.ZERO).add(prorated));
  }
  const out = new Map<string, number>();
  for (const [cluster, f] of totals) out.set(cluster, Number(f.mul(new Fraction(100n)).floor()) / 100);
  return out;
}
