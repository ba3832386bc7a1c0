import { describe, expect, it } from 'vitest';
import { bucketQuantile, extrapolatedRate, madOverTime, quantile } from './functions.ts';
import { Evaluator, type SeriesData } from './evaluate.ts';
import { parsePromQL } from './parse.ts';

const w = (t: number[], v: number[]) => ({ t, v, n: t.length });

describe('range functions', () => {
  it('mad_over_time is the median of absolute deviations from the median (Prometheus 2.51)', () => {
    expect(madOverTime(w([1, 2, 3, 4, 5], [1, 2, 3, 4, 100]))).toBe(1);
    expect(madOverTime(w([1], [7]))).toBe(0);
  });

  it('rate extrapolates to the window edges within 1.1 average intervals, and not below a counter zero', () => {
    // Samples 15 s apart from 5 s to 290 s in a [0, 300] window, +1 each: extrapolated over the whole 300 s.
    const t = Array.from({ length: 20 }, (_, i) => 5_000 + i * 15_000);
    const v = t.map((_, i) => 100 + i);
    expect(extrapolatedRate(w(t, v), 0, 300_000, true, true)).toBeCloseTo((19 * (300 / 285)) / 300, 12);
    // From 0.5 at 10 s, the counter's zero point is 7.5 s before its first sample: the start extrapolates 7.5 s, not 10 s.
    const late = t.map((x) => x + 5_000);
    const fromHalf = t.map((_, i) => 0.5 + i);
    expect(extrapolatedRate(w(late, fromHalf), 0, 300_000, true, false)).toBeCloseTo((19 * (285 + 7.5 + 5)) / 285, 12);
    // A reset adds the value before it.
    expect(extrapolatedRate(w([0, 10_000, 20_000], [5, 8, 2]), 0, 20_000, true, false)).toBeCloseTo(5, 12);
    expect(extrapolatedRate(w([0], [1]), 0, 1, true, true)).toBeNull();
  });

  it('quantiles interpolate between ranks as Prometheus does', () => {
    expect(quantile(0.5, [1, 2, 3, 4])).toBe(2.5);
    expect(quantile(2, [1])).toBe(Infinity);
    expect(bucketQuantile(0.5, [{ upperBound: 1, count: 10 }, { upperBound: 2, count: 20 }, { upperBound: Infinity, count: 20 }])).toBe(1);
    expect(bucketQuantile(0.75, [{ upperBound: 1, count: 10 }, { upperBound: 2, count: 20 }, { upperBound: Infinity, count: 20 }])).toBe(1.5);
    expect(bucketQuantile(0.5, [{ upperBound: 1, count: 10 }])).toBeNaN();
  });
});

describe('the evaluator', () => {
  const series = (name: string, values: number[]): SeriesData => {
    const t = Float64Array.from(values.map((_, i) => i * 15_000));
    const v = Float64Array.from(values);
    return { metric: { __name__: name, job: 'a' }, t, v, stale: new Uint8Array(values.length), clean: { t, v } };
  };

  it('answers mad_over_time and drops __name__', () => {
    const e = parsePromQL('mad_over_time(x[1m])');
    if (e.kind !== 'call' || e.args[0]!.kind !== 'matrix') throw new Error('expected a call');
    const ev = new Evaluator({ startMs: 60_000, endMs: 60_000, lookbackMs: 300_000, intervalMs: 60_000, data: new Map([[e.args[0].vector, [series('x', [1, 2, 3, 4, 100])]]]), pushed: new Map() });
    expect(ev.eval(e, 60_000)).toEqual({ type: 'vector', samples: [{ metric: { job: 'a' }, value: 1 }] });
  });

  it('refuses many-to-many matching with an execution error', () => {
    const e = parsePromQL('x * on(job) y');
    if (e.kind !== 'binary' || e.lhs.kind !== 'vector' || e.rhs.kind !== 'vector') throw new Error('expected a binary');
    const twice = [series('y', [1]), { ...series('y', [2]), metric: { __name__: 'y', job: 'a', i: '2' } }];
    const ev = new Evaluator({ startMs: 0, endMs: 0, lookbackMs: 300_000, intervalMs: 60_000, data: new Map([[e.lhs, [series('x', [1])]], [e.rhs, twice]]), pushed: new Map() });
    expect(() => ev.eval(e, 0)).toThrow(/many-to-many matching not allowed/);
  });
});
