import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parsePromQL } from './parse.ts';
import { findPushdowns } from './pushdown.ts';
import { StepAccumulator, seriesSteps } from './range-steps.ts';
import { Evaluator, labelsKey, type Sample, type SeriesData } from './evaluate.ts';

const STALE = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]!;

function seriesData(metric: Record<string, string>, points: [number, number, boolean][]): SeriesData {
  const t = Float64Array.from(points, (p) => p[0]);
  const v = Float64Array.from(points, (p) => (p[2] ? STALE : p[1]));
  const stale = Uint8Array.from(points, (p) => (p[2] ? 1 : 0));
  const keep = points.filter((p) => !p[2]);
  return { metric, t, v, stale, clean: { t: Float64Array.from(keep, (p) => p[0]), v: Float64Array.from(keep, (p) => p[1]) } };
}

/** The all-steps answer against the step-by-step evaluator's, on the same samples. */
function compare(src: string, series: SeriesData[], startMs: number, stepMs: number, count: number): void {
  const ast = parsePromQL(src);
  const [p] = findPushdowns(ast);
  if (!p) throw new Error(`${src} is not pushed down`);
  const acc = new StepAccumulator(p, { startMs, stepMs, count });
  for (const s of series) acc.add(s);
  const byStep = acc.byStep();
  const times = { startMs, endMs: startMs + (count - 1) * stepMs, lookbackMs: 300_000, intervalMs: 60_000 };
  const evaluator = new Evaluator({ ...times, data: new Map([[p.matrix.vector, series]]), pushed: new Map() });
  const sorted = (xs: Sample[]) => [...xs].sort((a, b) => (labelsKey(a.metric) < labelsKey(b.metric) ? -1 : 1)).map((s) => [labelsKey(s.metric), s.value]);
  for (let k = 0; k < count; k++) {
    const t = startMs + k * stepMs;
    const want = evaluator.eval(ast, t);
    if (want.type !== 'vector') throw new Error('expected a vector');
    const got = sorted(byStep.get(t) ?? []);
    const exp = sorted(want.samples);
    expect(got.map((g) => g[0]), `${src} at step ${k}`).toEqual(exp.map((g) => g[0]));
    got.forEach((g, i) => {
      const a = g[1] as number;
      const b = exp[i]![1] as number;
      if (Number.isNaN(b)) expect(a, `${src} at step ${k}`).toBeNaN();
      else expect(a === b || Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${src} at step ${k}: ${a} vs ${b}`).toBe(true);
    });
  }
}

const FUNCTIONS = ['instant', 'rate', 'increase', 'delta', 'sum_over_time', 'count_over_time', 'min_over_time', 'max_over_time', 'avg_over_time', 'last_over_time', 'present_over_time'];

describe('seriesSteps', () => {
  it('closes the window at both ends, [te − r, te], and needs two samples for a rate', () => {
    const t = Float64Array.from([0, 60_000, 120_000, 180_000]);
    const v = Float64Array.from([1, 2, 3, 4]);
    const out = new Float64Array(4);
    const has = new Uint8Array(4);
    expect(seriesSteps('count_over_time', t, v, { startMs: 0, stepMs: 60_000, count: 4 }, 60_000, 0, out, has)).toBe(4);
    expect([...out]).toEqual([1, 2, 2, 2]);
    expect(seriesSteps('increase', t, v, { startMs: 0, stepMs: 60_000, count: 4 }, 60_000, 0, out, has)).toBe(3);
    expect([...has]).toEqual([0, 1, 1, 1]);
    // offset moves every window back: at te = 180 s − 60 s the samples at 60 s and 120 s.
    expect(seriesSteps('last_over_time', t, v, { startMs: 180_000, stepMs: 60_000, count: 1 }, 60_000, 60_000, out, has)).toBe(1);
    expect(out[0]).toBe(3);
  });
});

describe('StepAccumulator', () => {
  const jobs = ['a', 'b', ''];
  const arbSeries = fc.array(
    fc.record({
      job: fc.constantFrom(...jobs),
      points: fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 200 }),
          fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 50 }).map((x) => x * 3), fc.constantFrom(NaN, Infinity, -Infinity, 0)),
          fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
        ),
        { maxLength: 60 },
      ),
    }),
    { minLength: 1, maxLength: 6 },
  );

  it('gives the step-by-step evaluator’s answer for every pushed function and aggregation, and for aggregated instant selectors (lookback, staleness markers)', () => {
    fc.assert(
      fc.property(arbSeries, fc.constantFrom(...FUNCTIONS), fc.constantFrom('', 'sum', 'avg', 'min', 'max', 'count', 'group'), fc.constantFrom('1m', '5m', '90s'), fc.constantFrom('', ' offset 2m'), (raw, fn, op, range, offset) => {
        const series = raw.map((r, i) => {
          // Times 15 s apart with jitter, ascending and distinct.
          const seen = new Set<number>();
          const points = r.points
            .map(([slot, value, stale]) => [slot * 15_000 + (slot % 3) * 1000, value, stale] as [number, number, boolean])
            .filter((p) => !seen.has(p[0]) && seen.add(p[0]))
            .sort((a, b) => a[0] - b[0]);
          return seriesData({ __name__: 'x', job: r.job, i: String(i) }, points);
        });
        const inner = fn === 'instant' ? `x${offset}` : `${fn}(x[${range}]${offset})`;
        const src = op ? `${op} by (job) (${inner})` : fn === 'instant' ? `sum without (i) (${inner})` : inner;
        compare(src, series, 300_000, 60_000, 50);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps __name__ for last_over_time only, and groups `without` as the evaluator does', () => {
    const s = [seriesData({ __name__: 'x', job: 'a', env: 'p' }, [[0, 1, false], [30_000, 2, false]]), seriesData({ __name__: 'x', job: 'b', env: 'p' }, [[0, 5, false]])];
    compare('last_over_time(x[1m])', s, 0, 30_000, 3);
    compare('sum without (job) (last_over_time(x[1m]))', s, 0, 30_000, 3);
    compare('max without (env) (rate(x[1m]))', s, 0, 30_000, 3);
    const [p] = findPushdowns(parsePromQL('last_over_time(x[1m])'));
    const acc = new StepAccumulator(p!, { startMs: 0, stepMs: 30_000, count: 1 });
    for (const x of s) acc.add(x);
    expect(acc.byStep().get(0)!.map((x) => x.metric['__name__'])).toEqual(['x', 'x']);
  });

  it('gives a whole-query answer as the engine’s series: sorted by labels, only the steps with a value, times in seconds', () => {
    const s = [seriesData({ __name__: 'x', job: 'b' }, [[0, 1, false], [60_000, 3, false]]), seriesData({ __name__: 'x', job: 'a' }, [[60_000, 5, false], [120_000, 8, false]])];
    const [p] = findPushdowns(parsePromQL('increase(x[1m])'));
    const acc = new StepAccumulator(p!, { startMs: 0, stepMs: 60_000, count: 3 });
    for (const x of s) acc.add(x);
    expect(acc.matrix(String)).toEqual([
      { metric: { job: 'a' }, values: [[120, '3']] },
      { metric: { job: 'b' }, values: [[60, '2']] },
    ]);
  });
});
