import { describe, expect, it } from 'vitest';
import { bucketOf, evaluateMetric, rangeSeries, type BucketRow } from './metric.ts';
import { parseLogql } from './parse.ts';
import type { StepGrid } from './plan.ts';
import type { MetricQuery } from './ast.ts';

const S = 1_000_000_000n;

function rowsAt(labels: Record<string, string>, grid: StepGrid, seconds: number[], bytes = 10): BucketRow[] {
  return seconds.map((s) => ({ labels, bucket: bucketOf(BigInt(s) * S, grid), lines: 1, bytes }));
}

/** Brute force: lines in (t - offset - range, t - offset] for each step. */
function bruteCount(grid: StepGrid, seconds: number[]): (number | null)[] {
  const out: (number | null)[] = [];
  for (let i = 0; i < grid.n; i++) {
    const t = grid.startNs + BigInt(i) * grid.stepNs - grid.offsetNs;
    const n = seconds.filter((s) => BigInt(s) * S > t - grid.rangeNs && BigInt(s) * S <= t).length;
    out.push(n === 0 ? null : n);
  }
  return out;
}

describe('range aggregations over buckets', () => {
  it('counts each step over its own window (range larger than step), as a brute force does', () => {
    const grid: StepGrid = { startNs: 60n * S, stepNs: 30n * S, n: 3, rangeNs: 60n * S, offsetNs: 0n };
    const at = [10, 35, 60, 61, 90, 150];
    const [s] = rangeSeries('count_over_time', rowsAt({ app: 'a' }, grid, at), grid);
    expect(s!.values).toEqual(bruteCount(grid, at));
    expect(s!.values).toEqual([3, 4, 2]);
  });

  it('handles ranges that are not a multiple of the step, offsets and empty windows', () => {
    for (const [step, range, offset] of [
      [7, 60, 0],
      [60, 45, 0],
      [15, 60, 30],
      [1, 1, 0],
    ] as const) {
      const grid: StepGrid = { startNs: 100n * S, stepNs: BigInt(step) * S, n: 20, rangeNs: BigInt(range) * S, offsetNs: BigInt(offset) * S };
      const at = [1, 2, 40, 41, 59, 70, 99, 100, 101, 130, 131, 160, 200, 250];
      const series = rangeSeries('count_over_time', rowsAt({}, grid, at), grid);
      const expected = bruteCount(grid, at);
      expect(series.length ? series[0]!.values : expected.map(() => null)).toEqual(expected);
    }
  });

  it('rate and bytes divide by the window in seconds; bytes sum the line sizes', () => {
    const grid: StepGrid = { startNs: 60n * S, stepNs: 60n * S, n: 1, rangeNs: 60n * S, offsetNs: 0n };
    const rows = rowsAt({}, grid, [1, 2, 3], 100);
    expect(rangeSeries('rate', rows, grid)[0]!.values).toEqual([3 / 60]);
    expect(rangeSeries('bytes_over_time', rows, grid)[0]!.values).toEqual([300]);
    expect(rangeSeries('bytes_rate', rows, grid)[0]!.values).toEqual([5]);
  });
});

describe('bounds', () => {
  it('refuses more series x steps than a query may hold, as a 400', () => {
    const grid: StepGrid = { startNs: 0n, stepNs: S, n: 10_000, rangeNs: S, offsetNs: 0n };
    const rows = Array.from({ length: 600 }, (_, i) => ({ labels: { pod: `p-${i}` }, bucket: 1, lines: 1, bytes: 1 }));
    expect(() => rangeSeries('count_over_time', rows, grid)).toThrow(/600 series of 10000 steps/);
  });
});

describe('vector aggregations', () => {
  const grid: StepGrid = { startNs: 60n * S, stepNs: 60n * S, n: 2, rangeNs: 60n * S, offsetNs: 0n };
  const rows = [
    ...rowsAt({ app: 'a', pod: 'a-1' }, grid, [10, 20, 70]),
    ...rowsAt({ app: 'a', pod: 'a-2' }, grid, [30]),
    ...rowsAt({ app: 'b', pod: 'b-1' }, grid, [80, 90, 100, 110]),
  ];
  const run = (q: string) => evaluateMetric(parseLogql(q) as MetricQuery, rows, grid);

  it('sum by, sum without, plain sum, count, avg, max', () => {
    expect(run('sum by (app) (count_over_time({x="y"}[1m]))')).toEqual([
      { labels: { app: 'a' }, values: [3, 1] },
      { labels: { app: 'b' }, values: [null, 4] },
    ]);
    expect(run('sum without (pod) (count_over_time({x="y"}[1m]))')).toEqual(run('sum by (app) (count_over_time({x="y"}[1m]))'));
    expect(run('sum(count_over_time({x="y"}[1m]))')).toEqual([{ labels: {}, values: [3, 5] }]);
    expect(run('count(count_over_time({x="y"}[1m]))')).toEqual([{ labels: {}, values: [2, 2] }]);
    expect(run('avg by (app) (count_over_time({x="y"}[1m]))')[0]).toEqual({ labels: { app: 'a' }, values: [1.5, 1] });
    expect(run('max(count_over_time({x="y"}[1m]))')).toEqual([{ labels: {}, values: [2, 4] }]);
  });

  it('a query and a number: arithmetic, comparisons that filter, bool', () => {
    expect(run('sum(count_over_time({x="y"}[1m])) * 10')).toEqual([{ labels: {}, values: [30, 50] }]);
    expect(run('100 / sum(count_over_time({x="y"}[1m]))')).toEqual([{ labels: {}, values: [100 / 3, 20] }]);
    expect(run('sum by (app) (count_over_time({x="y"}[1m])) > 2')).toEqual([
      { labels: { app: 'a' }, values: [3, null] },
      { labels: { app: 'b' }, values: [null, 4] },
    ]);
    expect(run('sum by (app) (count_over_time({x="y"}[1m])) > bool 2')).toEqual([
      { labels: { app: 'a' }, values: [1, 0] },
      { labels: { app: 'b' }, values: [null, 1] },
    ]);
  });

  it('topk keeps the k largest series at each step', () => {
    const top = run('topk(1, count_over_time({x="y"}[1m]))');
    expect(top).toEqual([
      { labels: { app: 'a', pod: 'a-1' }, values: [2, null] },
      { labels: { app: 'b', pod: 'b-1' }, values: [null, 4] },
    ]);
  });
});
