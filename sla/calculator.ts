// The SLA calculator: from a period, outage windows by cause and charges, to
// availability, counted incidents and voucher compensation per instance.
// A pure function over plain data; parsing of external JSON lives in
// parseSlaInput so the CLI, the API and the monthly job share one edge.
import { z } from 'zod';
import { isoTimestamp } from './timestamp.ts';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { Fraction, decimalFraction, toCents, centsToNumber, roundedNumber } from './money.ts';

export const CAUSES = ['platform', 'maintenance', 'dependency', 'customer', 'third-party', 'force-majeure'] as const;
export type Cause = (typeof CAUSES)[number];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const timestamp = isoTimestamp;

const money = z.number().finite().nonnegative();

const outageSchema = z.object({
  start: timestamp,
  end: timestamp,
  cause: z.enum(CAUSES),
  /** Free text carried through to the report (why the window is excluded, who recorded it). */
  reason: z.string().optional(),
  recordedBy: z.string().optional(),
});

const chargeSchema = z.object({ start: timestamp, end: timestamp, amount: money });

const instanceSchema = z.object({
  id: z.string().min(1),
  outages: z.array(outageSchema).default([]),
  charges: z.array(chargeSchema).default([]),
  /** What the customer paid for the instance in the period; the cap on compensation. Absent: the charges pro-rated to the period. */
  paid: money.optional(),
});

export const slaInputSchema = z.object({
  period: z.object({ start: timestamp, end: timestamp }),
  commitment: z.number().finite().min(0).max(100).default(99.95),
  multiplier: money.default(100),
  minOutageMinutes: z.number().finite().nonnegative().default(10),
  instances: z.array(instanceSchema),
});

export type SlaInput = z.output<typeof slaInputSchema>;
export type InstanceInput = SlaInput['instances'][number];

/** Parses and checks calculator input; throws InputError naming the first bad field. */
export function parseSlaInput(raw: unknown): SlaInput {
  const input = parseInput(slaInputSchema, raw);
  if (input.period.end <= input.period.start) throw new InputError('period.end', 'must be after period.start (the period is empty)');
  input.instances.forEach((inst, i) => {
    inst.outages.forEach((o, j) => {
      if (o.end < o.start) throw new InputError(`instances[${i}].outages[${j}].end`, 'is before start');
    });
    inst.charges.forEach((c, j) => {
      // A zero-length charge cannot be pro-rated over time, so it is refused like an inverted one.
      if (c.end <= c.start) throw new InputError(`instances[${i}].charges[${j}].end`, c.end < c.start ? 'is before start' : 'must be after start');
    });
  });
  return input;
}

export interface Interval {
  start: number;
  end: number;
}

export interface Incident {
  start: string;
  end: string;
  minutes: number;
  counted: boolean;
  excludedBecause?: 'shorter-than-minimum';
  feePerMinute: number;
  compensation: number;
}

export interface Exclusion {
  start: string;
  end: string;
  cause: Exclude<Cause, 'platform'>;
  /** The window's length inside the period, rounded up to whole minutes. */
  minutes: number;
  /** Platform outage time this window removed, rounded up to whole minutes. */
  excludedOutageMinutes: number;
  reason?: string;
  recordedBy?: string;
}

export interface InstanceResult {
  id: string;
  periodMinutes: number;
  unavailableMinutes: number;
  availability: number;
  met: boolean;
  compensation: number;
  capped: boolean;
  paid: number;
  incidents: Incident[];
  exclusions: Exclusion[];
}

export interface SlaResult {
  instances: InstanceResult[];
}

/** Sorted, merged union of intervals; overlapping or touching ones become one. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = list.filter((w) => w.end > w.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Interval[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else out.push({ start: w.start, end: w.end });
  }
  return out;
}

/** `from` minus the union of `remove`; both may be unsorted. */
export function subtractIntervals(from: readonly Interval[], remove: readonly Interval[]): Interval[] {
  const cut = mergeIntervals(remove);
  const out: Interval[] = [];
  for (const w of mergeIntervals(from)) {
    let cursor = w.start;
    for (const c of cut) {
      if (c.end <= cursor || c.start >= w.end) continue;
      if (c.start > cursor) out.push({ start: cursor, end: c.start });
      cursor = Math.max(cursor, c.end);
      if (cursor >= w.end) break;
    }
    if (cursor < w.end) out.push({ start: cursor, end: w.end });
  }
  return out;
}

function clip(w: Interval, to: Interval): Interval {
  return { start: Math.max(w.start, to.start), end: Math.min(w.end, to.end) };
}

function overlap(a: Interval, b: Interval): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

/** ISO 8601 UTC, without milliseconds when they are zero. */
export function isoUtc(ms: number): string {
  const s = new Date(ms).toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
}

/**
 * The average fee per minute over the 24 hours before `at`: each charge's
 * amount pro-rated to its overlap with that window, divided by the minutes
 * the charges cover there (their union), so a short-lived instance is
 * averaged over its actual usage. Exact, in currency units per minute.
 */
export function feePerMinute(charges: readonly { start: number; end: number; amount: number }[], at: number): Fraction {
  const window = { start: at - DAY, end: at };
  let total = Fraction.ZERO;
  const covered: Interval[] = [];
  for (const c of charges) {
    const o = overlap(c, window);
    if (o <= 0) continue;
    total = total.add(decimalFraction(c.amount).mul(new Fraction(BigInt(o), BigInt(c.end - c.start))));
    covered.push(clip(c, window));
  }
  const coveredMs = mergeIntervals(covered).reduce((s, w) => s + (w.end - w.start), 0);
  if (coveredMs === 0) return Fraction.ZERO;
  return total.mul(new Fraction(BigInt(MINUTE), BigInt(coveredMs)));
}

/** Charges pro-rated to the part of them inside the period. */
function chargedInPeriod(charges: readonly { start: number; end: number; amount: number }[], period: Interval): Fraction {
  let total = Fraction.ZERO;
  for (const c of charges) {
    const o = overlap(c, period);
    if (o > 0) total = total.add(decimalFraction(c.amount).mul(new Fraction(BigInt(o), BigInt(c.end - c.start))));
  }
  return total;
}

export function computeInstance(
  inst: InstanceInput,
  options: { period: Interval; commitment: number; multiplier: number; minOutageMinutes: number },
): InstanceResult {
  const { period } = options;
  const periodMs = period.end - period.start;
  const platform: Interval[] = [];
  const excluded: (Interval & { cause: Exclude<Cause, 'platform'>; reason?: string; recordedBy?: string })[] = [];
  for (const o of inst.outages) {
    const w = clip(o, period);
    if (w.end <= w.start) continue;
    if (o.cause === 'platform') platform.push(w);
    else excluded.push({ ...w, cause: o.cause, reason: o.reason, recordedBy: o.recordedBy });
  }
  const merged = mergeIntervals(platform);
  const stretches = subtractIntervals(merged, excluded);
  const minMs = options.minOutageMinutes * MINUTE;

  const counted = stretches.map((s) => {
    const ms = s.end - s.start;
    return { ...s, minutes: Math.ceil(ms / MINUTE), counted: ms >= minMs };
  });
  const unavailableMinutes = counted.reduce((sum, s) => sum + (s.counted ? s.minutes : 0), 0);

  // availability = (P − U)/P × 100, with P in ms to stay exact for periods that are not whole minutes.
  const P = BigInt(periodMs);
  const availableShare = new Fraction((P - BigInt(unavailableMinutes) * BigInt(MINUTE)) * 100n, P);
  const met = availableShare.compare(decimalFraction(options.commitment)) >= 0;

  const multiplier = decimalFraction(options.multiplier);
  const incidents: Incident[] = [];
  let totalCents = 0n;
  for (const s of counted) {
    let fee = Fraction.ZERO;
    let cents = 0n;
    // The fee only matters for compensation, so it is worked out (and shown) only when the commitment was missed.
    if (s.counted && !met) {
      fee = feePerMinute(inst.charges, s.start);
      cents = toCents(fee.mul(new Fraction(BigInt(s.minutes))).mul(multiplier));
    }
    totalCents += cents;
    incidents.push({
      start: isoUtc(s.start),
      end: isoUtc(s.end),
      minutes: s.minutes,
      counted: s.counted,
      ...(s.counted ? {} : { excludedBecause: 'shorter-than-minimum' as const }),
      feePerMinute: roundedNumber(fee, 6),
      compensation: centsToNumber(cents),
    });
  }

  const paidUnits = inst.paid !== undefined ? decimalFraction(inst.paid) : chargedInPeriod(inst.charges, period);
  // The cap is what was paid, never rounded up: a voucher must not exceed it even by half a cent.
  const paidCents = paidUnits.mul(new Fraction(100n)).floor();
  const capped = totalCents > paidCents;
  const compensation = capped ? paidCents : totalCents;

  const exclusions: Exclusion[] = excluded
    .sort((a, b) => a.start - b.start || a.end - b.end)
    .map((e) => ({
      start: isoUtc(e.start),
      end: isoUtc(e.end),
      cause: e.cause,
      minutes: Math.ceil((e.end - e.start) / MINUTE),
      excludedOutageMinutes: Math.ceil(merged.reduce((sum, w) => sum + overlap(w, e), 0) / MINUTE),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e.recordedBy !== undefined ? { recordedBy: e.recordedBy } : {}),
    }));

  return {
    id: inst.id,
    periodMinutes: periodMs / MINUTE,
    unavailableMinutes,
    availability: roundedNumber(availableShare, 4),
    met,
    compensation: centsToNumber(compensation),
    capped,
    paid: centsToNumber(paidCents),
    incidents,
    exclusions,
  };
}

/** The calculator: one result per instance, in input order. */
export function computeSla(input: SlaInput): SlaResult {
  const period = { start: input.period.start, end: input.period.end };
  const options = { period, commitment: input.commitment, multiplier: input.multiplier, minOutageMinutes: input.minOutageMinutes };
  return { instances: input.instances.map((inst) => computeInstance(inst, options)) };
}
