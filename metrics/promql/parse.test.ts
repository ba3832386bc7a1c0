import { describe, expect, it } from 'vitest';
import { parsePromQL, parseDuration, ParseError } from './parse.ts';
import { checkPromQL, formatPromQL, PromQLError } from './engine.ts';
import { formatValue } from './format.ts';

function reason(src: string): string {
  try {
    parsePromQL(src);
  } catch (e) {
    if (e instanceof ParseError) return e.message;
    throw e;
  }
  return 'parsed';
}

describe('parsePromQL', () => {
  it('builds selectors with the name as a matcher, offsets and @', () => {
    const e = parsePromQL('rate(foo{a="b", c=~"x.*"}[5m] offset -1m @ 100)');
    expect(e).toEqual({
      kind: 'call',
      fn: 'rate',
      args: [
        {
          kind: 'matrix',
          rangeMs: 300_000,
          vector: {
            kind: 'vector',
            name: 'foo',
            matchers: [
              { name: '__name__', op: '=', value: 'foo' },
              { name: 'a', op: '=', value: 'b' },
              { name: 'c', op: '=~', value: 'x.*' },
            ],
            offsetMs: -60_000,
            at: { kind: 'time', ms: 100_000 },
          },
        },
      ],
    });
  });

  it('reads aggregations, matching and bool', () => {
    const e = parsePromQL('sum by (job) (a) / on (job) group_left (x) b');
    expect(e).toMatchObject({ kind: 'binary', op: '/', matching: { card: 'many-to-one', on: true, labels: ['job'], include: ['x'] }, lhs: { kind: 'aggregate', op: 'sum', grouping: ['job'], without: false } });
    expect(parsePromQL('a > bool 1')).toMatchObject({ kind: 'binary', bool: true, matching: null });
    expect(parsePromQL('x[10m:1m] offset 5m')).toMatchObject({ kind: 'subquery', rangeMs: 600_000, stepMs: 60_000, offsetMs: 300_000 });
  });

  it('reads number literals as Prometheus does', () => {
    expect(parsePromQL('0x1F')).toEqual({ kind: 'number', value: 31 });
    expect(parsePromQL('-Inf')).toEqual({ kind: 'number', value: -Infinity });
    expect(parsePromQL('1.5e3')).toEqual({ kind: 'number', value: 1500 });
    expect((parsePromQL('NaN') as { value: number }).value).toBeNaN();
  });

  it("refuses what Prometheus 2.42 refuses, with its messages and positions", () => {
    expect(reason('rate(foo)')).toBe('1:6: parse error: expected type range vector in call to function "rate", got instant vector');
    expect(reason('1 > 2')).toBe('1:3: parse error: comparisons between scalars must use BOOL modifier');
    expect(reason('{a=""}')).toBe('1:1: parse error: vector selector must contain at least one non-empty matcher');
    expect(reason('foo offset 5m offset 1m')).toBe('1:1: parse error: offset may not be set multiple times');
    expect(reason('rate(foo[5m]) offset 1m')).toBe('1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
    expect(reason('foo[0s]')).toBe('1:5: parse error: duration must be greater than 0');
    expect(reason('bar{__name__="x"}')).toBe('1:1: parse error: metric name must not be set twice: "bar" or "x"');
    expect(reason('foo and 1')).toBe('1:1: parse error: set operator "and" not allowed in binary scalar expression');
    expect(reason('foo + bool bar')).toBe('1:5: parse error: bool modifier can only be used on comparison operators');
    expect(reason('topk("a", x)')).toBe('1:6: parse error: expected type scalar in aggregation parameter, got string');
    expect(reason('limitk(1, x)')).toMatch(/parse error/);
    expect(reason('sort_by_label(x)')).toBe('1:1: parse error: unknown function with name "sort_by_label"');
    expect(reason('sum(foo')).toMatch(/^1:\d+: parse error: /);
  });

  it('knows durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5x')).toBeNull();
  });
});

describe('the engine interface', () => {
  it('checkPromQL throws bad_data with status 400', () => {
    expect(() => checkPromQL('sum(')).toThrow(PromQLError);
    try {
      checkPromQL('rate(x)');
    } catch (e) {
      expect((e as PromQLError).errorType).toBe('bad_data');
      expect((e as PromQLError).status).toBe(400);
    }
    expect(() => checkPromQL('sum by (a) (rate(x[5m]))')).not.toThrow();
  });

  it('formats expressions in canonical form', () => {
    expect(formatPromQL('sum(rate(foo{a="b"}[1h30m]))by(job)')).toBe('sum by (job) (rate(foo{a="b"}[1h30m]))');
    expect(formatPromQL('a+on(b)group_left(c)d')).toBe('a + on (b) group_left (c) d');
  });
});

describe('formatValue', () => {
  it('writes numbers as Go strconv.FormatFloat(v, f, -1, 64)', () => {
    expect(formatValue(1e21)).toBe('1000000000000000000000');
    expect(formatValue(1e-7)).toBe('0.0000001');
    expect(formatValue(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(formatValue(-2.5e-10)).toBe('-0.00000000025');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(31)).toBe('31');
  });
});
