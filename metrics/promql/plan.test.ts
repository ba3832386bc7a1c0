import { describe, expect, it } from 'vitest';
import { parsePromQL } from './parse.ts';
import { sampleRowsSql, selectorSpans, seriesListSql } from './plan.ts';

const times = { startMs: 1_000_000, endMs: 2_000_000, lookbackMs: 300_000, intervalMs: 60_000 };

function spans(src: string): { name: string | null; minMs: number; maxMs: number }[] {
  return [...selectorSpans(parsePromQL(src), times)].map(([vs, s]) => ({ name: vs.name, ...s }));
}

describe('selectorSpans', () => {
  it('reaches back by the lookback for instant selectors and by the range for range selectors', () => {
    expect(spans('a + rate(b[10m])')).toEqual([
      { name: 'a', minMs: 700_000, maxMs: 2_000_000 },
      { name: 'b', minMs: 400_000, maxMs: 2_000_000 },
    ]);
  });

  it('follows offsets (negative too) and @', () => {
    expect(spans('a offset 1m')).toEqual([{ name: 'a', minMs: 640_000, maxMs: 1_940_000 }]);
    expect(spans('a offset -1m')).toEqual([{ name: 'a', minMs: 760_000, maxMs: 2_060_000 }]);
    expect(spans('a @ 5000')).toEqual([{ name: 'a', minMs: 4_700_000, maxMs: 5_000_000 }]);
    expect(spans('b[1m] @ end()')).toEqual([{ name: 'b', minMs: 1_940_000, maxMs: 2_000_000 }]);
  });

  it('widens through subqueries', () => {
    expect(spans('max_over_time(rate(b[5m])[30m:1m] offset 10m)')).toEqual([{ name: 'b', minMs: 1_000_000 - 600_000 - 1_800_000 - 300_000, maxMs: 2_000_000 - 600_000 }]);
  });
});

describe('seriesListSql and sampleRowsSql', () => {
  it('filter on the tenant, pass values as parameters and anchor regexes', () => {
    const vs = parsePromQL('a{job=~"x|y", env!="prod"}');
    if (vs.kind !== 'vector') throw new Error('expected a selector');
    const q = seriesListSql((n) => `db.${n}`, 'acme', vs.matchers);
    expect(q.sql).toContain('tenant = {tenant:String}');
    expect(q.sql).toContain("match(labels[{m1n:String}], concat('^(?:', {m1v:String}, ')$'))");
    expect(q.sql).toContain('metric = {m0v:String}');
    expect(q.params).toMatchObject({ tenant: 'acme', m0v: 'a', m1n: 'job', m1v: 'x|y', m2n: 'env', m2v: 'prod' });
    expect(q.sql).not.toContain('acme');
  });

  it('read the given series, ids as 64-bit integers, each series’ samples as time-ordered arrays, at most the limit', () => {
    const q = sampleRowsSql((n) => `db.${n}`, 'acme', ['18446744073709551615', '7'], { minMs: 1.5, maxMs: 2.5 }, 100);
    expect(q.sql).toContain('series_id IN {ids:Array(UInt64)}');
    expect(q.sql).toContain('arraySort((v, t) -> t, groupArray(v), groupArray(t))');
    expect(q.sql).toContain('LIMIT {limit:UInt64}');
    expect(q.params).toEqual({ tenant: 'acme', ids: [18446744073709551615n, 7n], minMs: 1, maxMs: 3, limit: 100 });
  });
});
