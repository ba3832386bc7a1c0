import { describe, expect, it } from 'vitest';
import { parsePromQL } from './parse.ts';
import { chooseRollup, chunksFor, findPushdowns, mergePartials, partialColumns, pushdownSql, toPartial } from './pushdown.ts';

describe('findPushdowns', () => {
  it('pushes an aggregation over a range function of a named selector down whole', () => {
    const e = parsePromQL('avg by (node) (rate(node_cpu_seconds_total[5m]))');
    const [p, ...rest] = findPushdowns(e);
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ expr: e, fn: 'rate', aggregation: { op: 'avg', grouping: ['node'], without: false } });
  });

  it('pushes each side of a binary operator, and the range function alone under other aggregations', () => {
    expect(findPushdowns(parsePromQL('sum(rate(a[5m])) / sum(rate(b[5m]))')).map((p) => p.matrix.vector.name)).toEqual(['a', 'b']);
    expect(findPushdowns(parsePromQL('topk(3, rate(a[5m]))')).map((p) => [p.fn, p.aggregation])).toEqual([['rate', null]]);
  });

  it('pushes an aggregation over an instant selector, its window the lookback', () => {
    const [p, ...rest] = findPushdowns(parsePromQL('sum by (ns) ((x{a="b"} offset 1m))'), 120_000);
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ fn: 'instant', matrix: { rangeMs: 120_000, vector: { name: 'x', offsetMs: 60_000 } }, aggregation: { op: 'sum', grouping: ['ns'] } });
    for (const src of ['sum(x @ 100)', 'topk(2, x)', 'x', 'sum(x + 1)']) expect(findPushdowns(parsePromQL(src)), src).toEqual([]);
  });

  it('leaves to Node what ClickHouse does not compute exactly here', () => {
    for (const src of ['rate({__name__=~"a|b"}[5m])', 'irate(a[5m])', 'max_over_time(rate(a[5m])[10m:1m])', 'rate(a[5m] @ 100)', 'quantile_over_time(0.5, a[5m])', 'a']) {
      expect(findPushdowns(parsePromQL(src))).toEqual([]);
    }
  });
});

describe('pushdownSql', () => {
  it('reads min/max from a rollup: filters on the tenant, splits by series hash when chunked, fans buckets out to the steps whose closed window holds them', () => {
    const [p] = findPushdowns(parsePromQL('max by (job) (max_over_time(x{job="a"}[5m] offset 1m))'));
    const q = pushdownSql(p!, (n) => `db.${n}`, 'acme', { startMs: 600_000, stepMs: 60_000, count: 50 }, { table: 'samples_1m', bucketMs: 60_000 }, { index: 2, of: 4 });
    expect(q.sql).toContain('tenant = {tenant:String}');
    expect(q.sql).toContain('FROM db.samples_1m');
    expect(q.sql).toContain('series_id % {chunkOf:UInt64} = {chunkIndex:UInt64}');
    expect(q.sql).toContain('floor((b + {off:Int64} + {r:Int64} - {startMs:Int64}) / {stepMs:Int64})');
    expect(q.params).toMatchObject({ tenant: 'acme', off: 60_000, r: 300_000, minMs: 600_000 - 60_000 - 300_000, maxMs: 600_000 + 49 * 60_000 - 60_000, lastK: 49, chunkOf: 4, chunkIndex: 2, grouping: ['job'] });
  });

  it('refuses what a rollup cannot answer', () => {
    const [p] = findPushdowns(parsePromQL('sum(rate(x[5m]))'));
    expect(() => pushdownSql(p!, (n) => `db.${n}`, 'acme', { startMs: 0, stepMs: 60_000, count: 5 }, { table: 'samples_1m', bucketMs: 60_000 })).toThrow(/rate/);
  });
});

describe('chunks', () => {
  it('split so that a chunk holds about a million (series, step) groups', () => {
    expect(chunksFor(100, 1441)).toBe(1);
    expect(chunksFor(64_000, 1441)).toBe(93);
    expect(chunksFor(0, 10)).toBe(1);
  });

  it('merge partial aggregates as Prometheus aggregates', () => {
    const parts: [number, number, number, number, number][] = [
      [6, 2, 1, 5, 2],
      [NaN, 2, 3, 3, 1],
    ];
    expect(mergePartials('sum', parts)).toBeNaN();
    expect(mergePartials('count', parts)).toBe(4);
    expect(mergePartials('min', parts)).toBe(1);
    expect(mergePartials('max', parts)).toBe(5);
    expect(mergePartials('avg', [[6, 2, 1, 5, 2], [4, 2, 1, 3, 2]])).toBe(2.5);
    expect(mergePartials('max', [[NaN, 1, NaN, NaN, 0]])).toBeNaN();
    expect(mergePartials('group', parts)).toBe(1);
  });

  it('compute and send only the partials the aggregation merges, the rest filled with their merge identity', () => {
    expect(partialColumns('avg')).toEqual(['ps_sum', 'ps_count']);
    expect(partialColumns('sum')).toEqual(['ps_sum']);
    expect(partialColumns('min')).toEqual(['ps_min', 'ps_num']);
    expect(toPartial('avg', [6, 2])).toEqual([6, 2, NaN, NaN, 0]);
    expect(toPartial('max', [5, 1])).toEqual([0, 0, NaN, 5, 1]);
    expect(toPartial('count', [3])).toEqual([0, 3, NaN, NaN, 0]);
    // Merged from trimmed partials, each operation gives what the full partials give.
    const full: [number, number, number, number, number][] = [
      [6, 2, 1, 5, 2],
      [4, 3, -1, 3, 2],
      [NaN, 1, NaN, NaN, 0],
    ];
    const index = { ps_sum: 0, ps_count: 1, ps_min: 2, ps_max: 3, ps_num: 4 } as const;
    for (const op of ['sum', 'avg', 'min', 'max', 'count', 'group'] as const) {
      const trimmed = full.map((part) => toPartial(op, partialColumns(op).map((c) => part[index[c]])));
      expect(Object.is(mergePartials(op, trimmed), mergePartials(op, full)), op).toBe(true);
    }
    const [p] = findPushdowns(parsePromQL('avg by (node) (max_over_time(x[5m]))'));
    const q = pushdownSql(p!, (n) => `db.${n}`, 'acme', { startMs: 600_000, stepMs: 60_000, count: 50 }, { table: 'samples_1m', bucketMs: 60_000 });
    expect(q.sql).toContain('groupArray((k, ps_sum, ps_count))');
    expect(q.sql).not.toContain('ps_min');
  });
});

describe('chooseRollup', () => {
  const pd = (src: string) => findPushdowns(parsePromQL(src))[0]!;
  const steps = (startMs: number, stepMs: number, count = 100) => ({ startMs, stepMs, count });

  it('takes the coarsest rollup whose buckets the window and every step end fall on, for min/max only', () => {
    expect(chooseRollup(pd('max_over_time(x[1h])'), steps(7_200_000, 3_600_000))).toEqual({ table: 'samples_1h', bucketMs: 3_600_000 });
    expect(chooseRollup(pd('max_over_time(x[1h])'), steps(7_200_000, 60_000))).toEqual({ table: 'samples_1m', bucketMs: 60_000 });
    expect(chooseRollup(pd('min_over_time(x[5m] offset 1m)'), steps(600_000, 120_000))).toEqual({ table: 'samples_1m', bucketMs: 60_000 });
    expect(chooseRollup(pd('max by (a) (max_over_time(x[10m]))'), steps(600_000, 60_000))).toEqual({ table: 'samples_1m', bucketMs: 60_000 });
  });

  it('reads raw when a rollup could answer differently', () => {
    expect(chooseRollup(pd('max_over_time(x[90s])'), steps(600_000, 60_000))).toBeNull();
    // A bucket would fan out to more than MAX_FANOUT steps in the statement: raw samples through range-steps.ts instead.
    expect(chooseRollup(pd('max_over_time(x[2h])'), steps(7_200_000, 60_000))).toBeNull();
    expect(chooseRollup(pd('max_over_time(x[5m])'), steps(600_500, 60_000))).toBeNull();
    expect(chooseRollup(pd('max_over_time(x[5m])'), steps(600_000, 15_000))).toBeNull();
    expect(chooseRollup(pd('max_over_time(x[5m] offset 30s)'), steps(600_000, 60_000))).toBeNull();
    // Sums and counts would count a sample delivered twice before a merge twice; rates need every sample.
    for (const fn of ['sum_over_time', 'count_over_time', 'avg_over_time', 'rate', 'last_over_time']) {
      expect(chooseRollup(pd(`${fn}(x[5m])`), steps(600_000, 60_000))).toBeNull();
    }
  });
});
