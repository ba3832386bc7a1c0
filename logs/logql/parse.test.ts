import { describe, expect, it } from 'vitest';
import { LogqlError, parseLogql } from './parse.ts';

function parseError(q: string): LogqlError {
  try {
    parseLogql(q);
  } catch (e) {
    expect(e).toBeInstanceOf(LogqlError);
    return e as LogqlError;
  }
  throw new Error(`"${q}" parsed`);
}

describe('parseLogql', () => {
  it('reads selectors, chained line filters, parsers, label filters and line_format', () => {
    const q = parseLogql('{app="web", env=~"prod|stage", tier!="db", zone!~"eu.*"} |= "error" != "debug" |~ "time(out)?" !~ "health" | json | status >= 500 | level="error" | line_format "{{.msg}}"');
    expect(q).toEqual({
      kind: 'log',
      selector: {
        matchers: [
          { name: 'app', op: '=', value: 'web' },
          { name: 'env', op: '=~', value: 'prod|stage' },
          { name: 'tier', op: '!=', value: 'db' },
          { name: 'zone', op: '!~', value: 'eu.*' },
        ],
        search: [],
      },
      pipeline: [
        { kind: 'line', op: '|=', values: ['error'] },
        { kind: 'line', op: '!=', values: ['debug'] },
        { kind: 'line', op: '|~', values: ['time(out)?'] },
        { kind: 'line', op: '!~', values: ['health'] },
        { kind: 'json', extractions: [] },
        { kind: 'labelFilter', predicate: { kind: 'compare', name: 'status', op: '>=', value: 500, unit: 'number' } },
        { kind: 'labelFilter', predicate: { kind: 'match', matcher: { name: 'level', op: '=', value: 'error' } } },
        { kind: 'lineFormat', template: '{{.msg}}' },
      ],
    });
  });

  it('reads logfmt, json extractions, or-chained filters, and/or label filters with units', () => {
    const q = parseLogql('{a="b"} |= "x" or "y" | logfmt | json code="resp.code", d | level="error" or took > 1.5s and size <= 10KB');
    expect(q.kind).toBe('log');
    if (q.kind !== 'log') return;
    expect(q.pipeline[0]).toEqual({ kind: 'line', op: '|=', values: ['x', 'y'] });
    expect(q.pipeline[1]).toEqual({ kind: 'logfmt', extractions: [] });
    expect(q.pipeline[2]).toEqual({ kind: 'json', extractions: [{ label: 'code', path: 'resp.code' }, { label: 'd', path: 'd' }] });
    expect(q.pipeline[3]).toEqual({
      kind: 'labelFilter',
      predicate: {
        kind: 'or',
        left: { kind: 'match', matcher: { name: 'level', op: '=', value: 'error' } },
        right: {
          kind: 'and',
          left: { kind: 'compare', name: 'took', op: '>', value: 1.5, unit: 'duration' },
          right: { kind: 'compare', name: 'size', op: '<=', value: 10_000, unit: 'bytes' },
        },
      },
    });
  });

  it('reads metric queries: range aggregations with offset, sum by, without, topk', () => {
    expect(parseLogql('sum by (app, pod) (rate({app="web"} |~ "x" [5m]))')).toEqual({
      kind: 'vector',
      op: 'sum',
      grouping: { mode: 'by', labels: ['app', 'pod'] },
      param: null,
      inner: {
        kind: 'range',
        op: 'rate',
        log: { kind: 'log', selector: { matchers: [{ name: 'app', op: '=', value: 'web' }], search: [] }, pipeline: [{ kind: 'line', op: '|~', values: ['x'] }] },
        rangeNs: 300_000_000_000n,
        offsetNs: 0n,
      },
    });
    const off = parseLogql('count_over_time({a="b"}[1m] offset 1h)');
    expect(off).toMatchObject({ kind: 'range', op: 'count_over_time', rangeNs: 60_000_000_000n, offsetNs: 3_600_000_000_000n });
    expect(parseLogql('sum(bytes_rate({a="b"}[30s])) without (pod)')).toMatchObject({ op: 'sum', grouping: { mode: 'without', labels: ['pod'] }, inner: { op: 'bytes_rate' } });
    expect(parseLogql('topk(3, bytes_over_time({a="b"}[1h]))')).toMatchObject({ op: 'topk', param: 3, inner: { op: 'bytes_over_time', rangeNs: 3_600_000_000_000n } });
  });

  it('reads a query and a number: arithmetic and comparisons, with bool', () => {
    expect(parseLogql('sum(rate({a="b"}[1m])) * 100')).toMatchObject({ kind: 'scalar', op: '*', scalar: 100, scalarLeft: false, bool: false, inner: { kind: 'vector', op: 'sum' } });
    expect(parseLogql('count_over_time({a="b"}[5m]) > bool 10')).toMatchObject({ kind: 'scalar', op: '>', scalar: 10, bool: true, inner: { kind: 'range' } });
    expect(parseLogql('1 - count_over_time({a="b"}[5m])')).toMatchObject({ kind: 'scalar', op: '-', scalar: 1, scalarLeft: true });
  });

  it('reads Go string escapes and raw strings as Loki does', () => {
    const q = parseLogql('{a="x\\"y\\u00e9"} |= `c:\\dir` |= "\\x41\\t"');
    expect(q).toMatchObject({ selector: { matchers: [{ value: 'x"yé' }] }, pipeline: [{ values: ['c:\\dir'] }, { values: ['A\t'] }] });
  });

  it("takes Tidemark's searches beyond Loki: {} and bare quoted strings", () => {
    expect(parseLogql('{}')).toEqual({ kind: 'log', selector: { matchers: [], search: [] }, pipeline: [] });
    expect(parseLogql('{ } |= "needle"')).toEqual({ kind: 'log', selector: { matchers: [], search: [] }, pipeline: [{ kind: 'line', op: '|=', values: ['needle'] }] });
    expect(parseLogql('"10.1.2.3"')).toEqual({ kind: 'log', selector: { matchers: [], search: ['10.1.2.3'] }, pipeline: [] });
    expect(parseLogql(' "timed out" `db-7` ')).toEqual({ kind: 'log', selector: { matchers: [], search: ['timed out', 'db-7'] }, pipeline: [] });
    expect(parseLogql('sum(count_over_time({__search__="4bf92f3577b34da6", namespace="shop"}[24h]))')).toMatchObject({
      inner: { log: { selector: { matchers: [{ name: 'namespace', op: '=', value: 'shop' }], search: ['4bf92f3577b34da6'] } } },
    });
    // A string literal holding {} is left alone.
    expect(parseLogql('{a="b"} |= "{}"')).toMatchObject({ pipeline: [{ values: ['{}'] }] });
  });

  it('answers a syntax error with its line and column, as Loki does', () => {
    const e = parseError('{app="web" |= "x"');
    expect(e.message).toBe('parse error at line 1, col 12: syntax error: unexpected "|="');
    expect(e.field).toBe('query');
    expect(parseError('{app="web"}\n| json |').message).toMatch(/^parse error at line 2, col 9: /);
    expect(parseError('rate({a="b"})').message).toMatch(/^parse error at line 1, col \d+: syntax error/);
    // Positions after a rewritten {} are the user's.
    expect(parseError('{} |= "x" |').message).toMatch(/^parse error at line 1, col 12: /);
    expect(parseError('').message).toMatch(/empty query/);
  });

  it('refuses what RE2 cannot compile and what we do not run, with the position', () => {
    expect(parseError('{a=~"(?<=x)y"}').message).toMatch(/^parse error at line 1, col 5: .*RE2/);
    expect(parseError('{a="b"} |~ "a{2,2000}"').message).toMatch(/RE2/);
    expect(parseError('{a="b"} | pattern "<ip> <_>"').message).toMatch(/not supported/);
    expect(parseError('sum_over_time({a="b"} | unwrap x [1m])').message).toMatch(/not supported/);
    expect(parseError('{a="b"} | label_format x="{{if .y}}"').message).toMatch(/^parse error at line 1, col 26: template/);
    expect(parseError('rate({a="b"}[1m]) / rate({a="c"}[1m])').message).toMatch(/^parse error at line 1, col 19: binary operations between two queries is not supported/);
    expect(parseError('rate({a="b"}[1m]) + bool 1').message).toMatch(/bool modifier can only be used on comparison operators/);
    expect(parseError('{a="b"} > 1').message).toMatch(/parse error|log query cannot/);
    expect(parseError('{a="b"} | line_format "{{range .x}}"').message).toMatch(/^parse error at line 1, col 23: template/);
    expect(parseError('{__search__!="x"}').message).toMatch(/takes only =/);
    expect(parseError('count_over_time({a="b"}[999999999w])').message).toMatch(/^parse error at line 1, col 25: .*ten years/);
    expect(parseError('rate({a="b"}[1m] offset 5000y)').message).toMatch(/ten years/);
  });
});
