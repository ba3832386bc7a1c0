import { describe, it, expect } from 'vitest';
import { computeSla, parseSlaInput, mergeIntervals, subtractIntervals, feePerMinute, type InstanceResult } from './calculator.ts';
import { InputError } from '../core/errors.ts';

const OCT = { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' };
const NOV = { start: '2026-11-01T00:00:00Z', end: '2026-12-01T00:00:00Z' };

type Outage = { start: string; end: string; cause: string; reason?: string };
type Charge = { start: string; end: string; amount: number };

function run(instance: { outages?: Outage[]; charges?: Charge[]; paid?: number }, extra: Record<string, unknown> = {}, period = OCT): InstanceResult {
  const input = parseSlaInput({ period, instances: [{ id: 'cls-1', ...instance }], ...extra });
  return computeSla(input).instances[0]!;
}

/** Hourly charges of `perHour` from `from` for `hours` hours. */
function hourly(from: string, hours: number, perHour: number): Charge[] {
  const t0 = Date.parse(from);
  return Array.from({ length: hours }, (_, i) => ({
    start: new Date(t0 + i * 3_600_000).toISOString(),
    end: new Date(t0 + (i + 1) * 3_600_000).toISOString(),
    amount: perHour,
  }));
}

function at(day: number, hh: number, mm: number, ss = 0, month = '10'): string {
  return `2026-${month}-${String(day).padStart(2, '0')}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}Z`;
}

describe('period length', () => {
  it('counts a 31-day month as 44,640 minutes and a 30-day month as 43,200', () => {
    expect(run({}).periodMinutes).toBe(44_640);
    expect(run({}, {}, NOV).periodMinutes).toBe(43_200);
  });
  it('counts February as 28 days, and 29 in a leap year', () => {
    expect(run({}, {}, { start: '2026-02-01T00:00:00Z', end: '2026-03-01T00:00:00Z' }).periodMinutes).toBe(40_320);
    expect(run({}, {}, { start: '2028-02-01T00:00:00Z', end: '2028-03-01T00:00:00Z' }).periodMinutes).toBe(41_760);
  });
  it('accepts a period that is not a whole month', () => {
    const r = run({}, {}, { start: '2026-10-05T12:00:00Z', end: '2026-10-06T12:00:00Z' });
    expect(r.periodMinutes).toBe(1440);
    expect(r.availability).toBe(100);
  });
});

describe('availability and the commitment', () => {
  it('meets 99.95% in a 30-day month with 21 minutes down, misses it with 22 (21.6 allowed)', () => {
    const met = run({ outages: [{ start: at(3, 10, 0, 0, '11'), end: at(3, 10, 21, 0, '11'), cause: 'platform' }] }, {}, NOV);
    expect(met.unavailableMinutes).toBe(21);
    expect(met.availability).toBe(99.9514);
    expect(met.met).toBe(true);
    const missed = run({ outages: [{ start: at(3, 10, 0, 0, '11'), end: at(3, 10, 22, 0, '11'), cause: 'platform' }] }, {}, NOV);
    expect(missed.availability).toBe(99.9491);
    expect(missed.met).toBe(false);
  });
  it('treats availability exactly equal to the commitment as met', () => {
    // 43,200 × (1 − 0.9995) = 21.6 minutes: with commitment 99.95 over 1,440 min a day, 0.72 min; use 1 % of a 100-minute period instead.
    const r = run({ outages: [{ start: '2026-10-01T00:00:00Z', end: '2026-10-01T00:10:00Z', cause: 'platform' }] }, { commitment: 90 }, { start: '2026-10-01T00:00:00Z', end: '2026-10-01T01:40:00Z' });
    expect(r.availability).toBe(90);
    expect(r.met).toBe(true);
  });
  it('rounds availability to 4 decimals', () => {
    const r = run({ outages: [{ start: at(1, 0, 0), end: at(1, 0, 34), cause: 'platform' }] });
    expect(r.availability).toBe(99.9238);
  });
});

describe('minimum outage length and rounding up', () => {
  it('does not count 9 min 59 s, counts 10 min 0 s', () => {
    const short = run({ outages: [{ start: at(2, 5, 0, 0), end: at(2, 5, 9, 59), cause: 'platform' }] });
    expect(short.unavailableMinutes).toBe(0);
    expect(short.incidents).toEqual([
      { start: at(2, 5, 0), end: at(2, 5, 9, 59), minutes: 10, counted: false, excludedBecause: 'shorter-than-minimum', feePerMinute: 0, compensation: 0 },
    ]);
    const exact = run({ outages: [{ start: at(2, 5, 0, 0), end: at(2, 5, 10, 0), cause: 'platform' }] });
    expect(exact.unavailableMinutes).toBe(10);
    expect(exact.incidents[0]!.counted).toBe(true);
    expect(exact.incidents[0]!.excludedBecause).toBeUndefined();
  });
  it('rounds a counted stretch up to whole minutes (10 min 1 s is 11)', () => {
    const r = run({ outages: [{ start: at(2, 5, 0, 0), end: at(2, 5, 10, 1), cause: 'platform' }] });
    expect(r.unavailableMinutes).toBe(11);
  });
  it('honours a custom minOutageMinutes', () => {
    const r = run({ outages: [{ start: at(2, 5, 0), end: at(2, 5, 1, 1), cause: 'platform' }] }, { minOutageMinutes: 1 });
    expect(r.unavailableMinutes).toBe(2);
  });
});

describe('merging, clipping and exclusions', () => {
  it('merges overlapping and touching platform windows into one incident', () => {
    const r = run({
      outages: [
        { start: at(4, 1, 0), end: at(4, 1, 6), cause: 'platform' },
        { start: at(4, 1, 6), end: at(4, 1, 10), cause: 'platform' },
        { start: at(4, 1, 8), end: at(4, 1, 12), cause: 'platform' },
      ],
    });
    expect(r.incidents).toHaveLength(1);
    expect(r.incidents[0]).toMatchObject({ start: at(4, 1, 0), end: at(4, 1, 12), minutes: 12, counted: true });
  });
  it('keeps windows separated by a gap apart, even when each alone is short', () => {
    const r = run({
      outages: [
        { start: at(4, 1, 0), end: at(4, 1, 6), cause: 'platform' },
        { start: at(4, 1, 7), end: at(4, 1, 13), cause: 'platform' },
      ],
    });
    expect(r.incidents.map((i) => i.counted)).toEqual([false, false]);
    expect(r.unavailableMinutes).toBe(0);
  });
  it('splits a platform window around a maintenance window, and each stretch is judged alone', () => {
    const r = run({
      outages: [
        { start: at(5, 2, 0), end: at(5, 2, 30), cause: 'platform' },
        { start: at(5, 2, 12), end: at(5, 2, 25), cause: 'maintenance', reason: 'upgrade 1.31' },
      ],
    });
    expect(r.incidents.map((i) => [i.start, i.end, i.minutes, i.counted])).toEqual([
      [at(5, 2, 0), at(5, 2, 12), 12, true],
      [at(5, 2, 25), at(5, 2, 30), 5, false],
    ]);
    expect(r.unavailableMinutes).toBe(12);
    expect(r.exclusions).toEqual([
      { start: at(5, 2, 12), end: at(5, 2, 25), cause: 'maintenance', minutes: 13, excludedOutageMinutes: 13, reason: 'upgrade 1.31' },
    ]);
  });
  it('removes time covered by every non-platform cause', () => {
    for (const cause of ['maintenance', 'dependency', 'customer', 'third-party', 'force-majeure']) {
      const r = run({
        outages: [
          { start: at(6, 0, 0), end: at(6, 1, 0), cause: 'platform' },
          { start: at(6, 0, 0), end: at(6, 1, 0), cause },
        ],
      });
      expect(r.incidents, cause).toEqual([]);
      expect(r.unavailableMinutes, cause).toBe(0);
      expect(r.exclusions[0]!.cause).toBe(cause);
    }
  });
  it('splits into three stretches around two exclusions', () => {
    const r = run({
      outages: [
        { start: at(7, 0, 0), end: at(7, 1, 0), cause: 'platform' },
        { start: at(7, 0, 15), end: at(7, 0, 20), cause: 'dependency' },
        { start: at(7, 0, 40), end: at(7, 0, 41), cause: 'customer' },
      ],
    });
    expect(r.incidents.map((i) => i.minutes)).toEqual([15, 20, 19]);
    expect(r.unavailableMinutes).toBe(54);
  });
  it('clips windows across the period start and end', () => {
    const r = run({
      outages: [
        { start: '2026-09-30T23:50:00Z', end: '2026-10-01T00:05:00Z', cause: 'platform' },
        { start: '2026-10-31T23:45:00Z', end: '2026-11-01T01:00:00Z', cause: 'platform' },
      ],
    });
    expect(r.incidents.map((i) => [i.start, i.end, i.minutes, i.counted])).toEqual([
      ['2026-10-01T00:00:00Z', '2026-10-01T00:05:00Z', 5, false],
      ['2026-10-31T23:45:00Z', '2026-11-01T00:00:00Z', 15, true],
    ]);
  });
  it('ignores windows entirely outside the period', () => {
    const r = run({ outages: [{ start: '2026-09-01T00:00:00Z', end: '2026-09-02T00:00:00Z', cause: 'platform' }, { start: '2026-11-01T00:00:00Z', end: '2026-11-01T02:00:00Z', cause: 'maintenance' }] });
    expect(r.incidents).toEqual([]);
    expect(r.exclusions).toEqual([]);
    expect(r.availability).toBe(100);
  });
});

describe('compensation', () => {
  // 34 minutes down on 31 Oct at 12:00, hourly charges of 21.78 (0.363/min) the whole day before.
  const outage = { start: at(31, 12, 0), end: at(31, 12, 34), cause: 'platform' };
  it('pays feePerMinute × minutes × multiplier when the commitment is missed', () => {
    const r = run({ outages: [outage], charges: hourly('2026-10-30T00:00:00Z', 60, 21.78), paid: 9000 });
    expect(r.met).toBe(false);
    expect(r.incidents[0]!.feePerMinute).toBe(0.363);
    expect(r.incidents[0]!.compensation).toBe(1234.2);
    expect(r.compensation).toBe(1234.2);
    expect(r.capped).toBe(false);
  });
  it('pays nothing when the commitment is met', () => {
    const r = run({ outages: [{ start: at(31, 12, 0), end: at(31, 12, 15), cause: 'platform' }], charges: hourly('2026-10-30T00:00:00Z', 60, 21.78) });
    expect(r.met).toBe(true);
    expect(r.compensation).toBe(0);
    expect(r.incidents[0]!.compensation).toBe(0);
    expect(r.incidents[0]!.counted).toBe(true);
  });
  it('caps the total at what was paid and says so', () => {
    const r = run({ outages: [outage], charges: hourly('2026-10-30T00:00:00Z', 60, 21.78), paid: 1000 });
    expect(r.compensation).toBe(1000);
    expect(r.capped).toBe(true);
    expect(r.incidents[0]!.compensation).toBe(1234.2);
  });
  it('caps at the charges inside the period when paid is absent', () => {
    // 10 hourly charges of 1.0 on 31 Oct before the outage: 10.00 paid in October.
    const r = run({ outages: [outage], charges: hourly('2026-10-31T02:00:00Z', 10, 1) });
    expect(r.paid).toBe(10);
    expect(r.compensation).toBe(10);
    expect(r.capped).toBe(true);
  });
  it('averages over actual usage when the instance ran less than 24 hours', () => {
    // 5 hours of 6.00/h = 30.00 over 300 minutes = 0.10/min; 34 min × 100 → 340.00.
    const r = run({ outages: [outage], charges: hourly('2026-10-31T07:00:00Z', 5, 6), paid: 9000 });
    expect(r.incidents[0]!.feePerMinute).toBe(0.1);
    expect(r.incidents[0]!.compensation).toBe(340);
  });
  it('pro-rates a charge that straddles the 24-hour window', () => {
    // A 48-hour charge of 96 ending at the outage: 48 of it falls in the window, over 1,440 covered minutes.
    const fee = feePerMinute([{ start: Date.parse(at(29, 12, 0)), end: Date.parse(at(31, 12, 0)), amount: 96 }], Date.parse(at(31, 12, 0)));
    expect(Number(fee.n) / Number(fee.d)).toBeCloseTo(48 / 1440, 12);
  });
  it('counts overlapping charges fully but their covered minutes once (union)', () => {
    const t = Date.parse(at(31, 12, 0));
    const fee = feePerMinute(
      [
        { start: t - 3_600_000, end: t, amount: 6 },
        { start: t - 3_600_000, end: t, amount: 3 },
      ],
      t,
    );
    expect(Number(fee.n) / Number(fee.d)).toBeCloseTo(9 / 60, 12);
  });
  it('ignores charges after the outage began and pays 0 without charges in the window', () => {
    const r = run({ outages: [outage], charges: hourly('2026-10-31T12:00:00Z', 5, 6), paid: 9000 });
    expect(r.incidents[0]!.feePerMinute).toBe(0);
    expect(r.incidents[0]!.compensation).toBe(0);
  });
  it('rounds each stretch half-up to the cent and sums the rounded values', () => {
    // 0.5/60 per minute: 1 charge of 0.5 over the hour before. 11 minutes × 1 = 0.091666… → 0.09; 15 → 0.125 → 0.13.
    const first = at(31, 12, 0);
    const second = at(31, 14, 0);
    const charges = [
      { start: at(31, 11, 0), end: first, amount: 0.5 },
      { start: at(31, 13, 0), end: second, amount: 0.5 },
    ];
    const r = run(
      {
        outages: [
          { start: first, end: at(31, 12, 11), cause: 'platform' },
          { start: second, end: at(31, 14, 15), cause: 'platform' },
        ],
        charges,
        paid: 100,
      },
      { multiplier: 1, commitment: 100 },
    );
    expect(r.incidents.map((i) => i.compensation)).toEqual([0.09, 0.13]);
    expect(r.compensation).toBe(0.22);
  });
  it('is exact where floating point is not (0.1 + 0.2 style amounts)', () => {
    // Three charges of 0.1 over 3 minutes before the outage: exactly 0.1/min; 10 min × 100 → 100.00 (floats give 100.00000000000001).
    const s = at(31, 12, 0);
    const charges = [
      { start: at(31, 11, 57), end: at(31, 11, 58), amount: 0.1 },
      { start: at(31, 11, 58), end: at(31, 11, 59), amount: 0.1 },
      { start: at(31, 11, 59), end: s, amount: 0.1 },
    ];
    const r = run({ outages: [{ start: s, end: at(31, 12, 10), cause: 'platform' }], charges, paid: 1000 }, { commitment: 100 });
    expect(r.compensation).toBe(100);
  });
  it('uses the 24 hours before each stretch separately for split stretches', () => {
    const r = run(
      {
        outages: [
          { start: at(31, 12, 0), end: at(31, 13, 0), cause: 'platform' },
          { start: at(31, 12, 20), end: at(31, 12, 40), cause: 'maintenance' },
        ],
        charges: [
          { start: at(30, 12, 0), end: at(31, 12, 0), amount: 144 },
          { start: at(31, 12, 0), end: at(31, 12, 40), amount: 400 },
        ],
        paid: 1e6,
      },
      { multiplier: 1, commitment: 100 },
    );
    // First stretch: 144 over 1440 min = 0.1/min × 20 = 2. Second (from 12:40): 40 min at 10/min + 23h20m of the first charge.
    expect(r.incidents[0]!.compensation).toBe(2);
    const secondFee = (400 + (144 * 1400) / 1440) / 1440;
    expect(r.incidents[1]!.feePerMinute).toBeCloseTo(secondFee, 6);
    expect(r.incidents[1]!.compensation).toBe(Math.round(secondFee * 20 * 100) / 100);
  });
  it('returns instances in input order, each computed alone', () => {
    const input = parseSlaInput({
      period: OCT,
      instances: [
        { id: 'b', outages: [{ start: at(1, 0, 0), end: at(1, 1, 0), cause: 'platform' }] },
        { id: 'a' },
      ],
    });
    const out = computeSla(input).instances;
    expect(out.map((i) => [i.id, i.unavailableMinutes])).toEqual([
      ['b', 60],
      ['a', 0],
    ]);
  });
});

describe('more edges', () => {
  it('accepts offsets and fractional seconds and answers in UTC', () => {
    const r = run({ outages: [{ start: '2026-10-02T12:00:00+02:00', end: '2026-10-02T12:10:00.500+02:00', cause: 'platform' }] });
    expect(r.incidents[0]).toMatchObject({ start: '2026-10-02T10:00:00Z', end: '2026-10-02T10:10:00.500Z', minutes: 11, counted: true });
  });
  it('lists exclusions with no platform outage under them, with 0 outage minutes excluded', () => {
    const r = run({ outages: [{ start: at(8, 0, 0), end: at(8, 2, 0), cause: 'force-majeure', reason: 'flood' }] });
    expect(r.incidents).toEqual([]);
    expect(r.exclusions).toEqual([{ start: at(8, 0, 0), end: at(8, 2, 0), cause: 'force-majeure', minutes: 120, excludedOutageMinutes: 0, reason: 'flood' }]);
    expect(r.availability).toBe(100);
  });
  it('handles overlapping exclusions of different causes as one removed stretch', () => {
    const r = run({
      outages: [
        { start: at(9, 0, 0), end: at(9, 1, 0), cause: 'platform' },
        { start: at(9, 0, 10), end: at(9, 0, 30), cause: 'dependency' },
        { start: at(9, 0, 20), end: at(9, 0, 40), cause: 'third-party' },
      ],
    });
    expect(r.incidents.map((i) => [i.start, i.end, i.minutes])).toEqual([
      [at(9, 0, 0), at(9, 0, 10), 10],
      [at(9, 0, 40), at(9, 1, 0), 20],
    ]);
  });
  it('takes a decimal multiplier exactly', () => {
    // 0.1/min over the hour before; 10 minutes × 0.1 × 2.5 = 2.50.
    const r = run({ outages: [{ start: at(31, 12, 0), end: at(31, 12, 10), cause: 'platform' }], charges: [{ start: at(31, 11, 0), end: at(31, 12, 0), amount: 6 }], paid: 100 }, { multiplier: 2.5, commitment: 100 });
    expect(r.compensation).toBe(2.5);
  });
  it('counts every stretch with minOutageMinutes 0', () => {
    const r = run({ outages: [{ start: at(2, 0, 0, 0), end: at(2, 0, 0, 1), cause: 'platform' }] }, { minOutageMinutes: 0 });
    expect(r.unavailableMinutes).toBe(1);
  });
  it('caps at a paid of 0 to no compensation at all', () => {
    const r = run({ outages: [{ start: at(31, 12, 0), end: at(31, 13, 0), cause: 'platform' }], charges: hourly('2026-10-30T00:00:00Z', 36, 6), paid: 0 });
    expect(r.incidents[0]!.compensation).toBeGreaterThan(0);
    expect(r.compensation).toBe(0);
    expect(r.capped).toBe(true);
  });
  it('uses charges from before the period for an outage in its first day', () => {
    // 30 Sept hourly charges of 6 (0.1/min) feed an outage at 1 Oct 02:00; paid is capped by October's charges only (none).
    const r = run({ outages: [{ start: at(1, 2, 0), end: at(1, 2, 30), cause: 'platform' }], charges: hourly('2026-09-30T00:00:00Z', 26, 6) });
    expect(r.incidents[0]!.feePerMinute).toBe(0.1);
    expect(r.incidents[0]!.compensation).toBe(300);
    expect(r.paid).toBe(12);
    expect(r.compensation).toBe(12);
  });
});

describe('input checks', () => {
  function fieldOf(raw: unknown): string {
    try {
      parseSlaInput(raw);
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return (e as InputError).field;
    }
    throw new Error('expected an InputError');
  }
  it('rejects an empty or inverted period', () => {
    expect(fieldOf({ period: { start: OCT.start, end: OCT.start }, instances: [] })).toBe('period.end');
    expect(fieldOf({ period: { start: OCT.end, end: OCT.start }, instances: [] })).toBe('period.end');
  });
  it('rejects an outage ending before it starts, naming it', () => {
    expect(fieldOf({ period: OCT, instances: [{ id: 'x', outages: [{ start: at(2, 0, 0), end: at(1, 0, 0), cause: 'platform' }] }] })).toBe('instances[0].outages[0].end');
  });
  it('rejects an unknown cause', () => {
    expect(fieldOf({ period: OCT, instances: [{ id: 'x', outages: [{ start: at(1, 0, 0), end: at(1, 1, 0), cause: 'gremlins' }] }] })).toBe('instances[0].outages[0].cause');
  });
  it('rejects a negative amount and a negative paid', () => {
    expect(fieldOf({ period: OCT, instances: [{ id: 'x', charges: [{ start: at(1, 0, 0), end: at(1, 1, 0), amount: -1 }] }] })).toBe('instances[0].charges[0].amount');
    expect(fieldOf({ period: OCT, instances: [{ id: 'x', paid: -5 }] })).toBe('instances[0].paid');
  });
  it('rejects a malformed timestamp', () => {
    expect(fieldOf({ period: { start: 'yesterday', end: OCT.end }, instances: [] })).toBe('period.start');
  });
  it('rejects dates that do not exist instead of rolling them over', () => {
    expect(fieldOf({ period: { start: '2026-02-01T00:00:00Z', end: '2026-02-30T00:00:00Z' }, instances: [] })).toBe('period.end');
    expect(fieldOf({ period: { start: '2026-02-01T24:00:00Z', end: OCT.end }, instances: [] })).toBe('period.start');
    expect(parseSlaInput({ period: { start: '2028-02-29T00:00:00Z', end: '2028-03-01T00:00:00Z' }, instances: [] }).period.start).toBe(Date.UTC(2028, 1, 29));
    expect(fieldOf({ period: { start: '2026-02-29T00:00:00Z', end: '2026-03-01T00:00:00Z' }, instances: [] })).toBe('period.start');
  });
  it('applies the defaults', () => {
    const input = parseSlaInput({ period: OCT, instances: [] });
    expect([input.commitment, input.multiplier, input.minOutageMinutes]).toEqual([99.95, 100, 10]);
  });
});

describe('interval helpers', () => {
  it('merges touching intervals and subtracts to split', () => {
    expect(mergeIntervals([{ start: 5, end: 7 }, { start: 0, end: 5 }, { start: 9, end: 10 }])).toEqual([{ start: 0, end: 7 }, { start: 9, end: 10 }]);
    expect(subtractIntervals([{ start: 0, end: 10 }], [{ start: 2, end: 3 }, { start: 5, end: 12 }])).toEqual([{ start: 0, end: 2 }, { start: 3, end: 5 }]);
  });
});
