import { describe, expect, it } from 'vitest';
import { parseDuration } from '../core/duration.ts';
import { parseMatcher, parseTime, validateRangeQuery } from './range-query.ts';
import { chooseTable } from './range-sql.ts';
import { rangeQueryFromParams } from './routes.ts';
import { InputError } from '../core/errors.ts';
import { workloadOf } from './utilisation.ts';

describe('parseMatcher', () => {
  it.each([
    ['namespace=shop', { name: 'namespace', op: '=', value: 'shop' }],
    ['pod!=web-1', { name: 'pod', op: '!=', value: 'web-1' }],
    ['pod=~"web-.*"', { name: 'pod', op: '=~', value: 'web-.*' }],
    ['mode!~idle|iowait', { name: 'mode', op: '!~', value: 'idle|iowait' }],
    ['container=', { name: 'container', op: '=', value: '' }],
  ])('%s', (text, expected) => {
    expect(parseMatcher(text)).toEqual(expected);
  });

  it('names the field of a malformed matcher', () => {
    expect(() => parseMatcher('1abc=x', 'match[2]')).toThrow(InputError);
    expect(() => parseMatcher('1abc=x', 'match[2]')).toThrow(/^match\[2\]:/);
    expect(() => parseMatcher('pod=~(', 'match[0]')).toThrow(/regular expression/);
  });
});

describe('chooseTable', () => {
  it('reads the coarsest table whose resolution divides the step', () => {
    expect(chooseTable(15)).toBe('samples');
    expect(chooseTable(90)).toBe('samples');
    expect(chooseTable(60)).toBe('samples_1m');
    expect(chooseTable(300)).toBe('samples_1m');
    expect(chooseTable(5400)).toBe('samples_1m');
    expect(chooseTable(3600)).toBe('samples_1h');
    expect(chooseTable(86400)).toBe('samples_1h');
  });

  it('answers quantiles at hourly steps from the 1-minute rollup, which keeps quantile states', () => {
    expect(chooseTable(3600, 'p95')).toBe('samples_1m');
    expect(chooseTable(3600, 'avg')).toBe('samples_1h');
  });
});

describe('durations and times', () => {
  it('parses Prometheus-style durations', () => {
    expect(parseDuration('15s', 'step', { bareSeconds: true }) / 1000).toBe(15);
    expect(parseDuration('5m', 'since', { bareSeconds: true }) / 1000).toBe(300);
    expect(parseDuration('2h', 'since', { bareSeconds: true }) / 1000).toBe(7200);
    expect(parseDuration('60', 'step', { bareSeconds: true }) / 1000).toBe(60);
    expect(() => parseDuration('soon', 'since', { bareSeconds: true })).toThrow(/^since:/);
  });

  it('parses unix seconds and RFC 3339', () => {
    expect(parseTime('1700000000', 'start')).toBe(1700000000);
    expect(parseTime('2026-11-01T00:00:00Z', 'start')).toBe(Date.UTC(2026, 10, 1) / 1000);
    expect(() => parseTime('yesterday', 'end')).toThrow(/^end:/);
  });
});

describe('range query parameters', () => {
  it('turns since into a window ending now with a default step', () => {
    const q = validateRangeQuery(rangeQueryFromParams({ metric: 'up', since: '1h' }, 10_000));
    expect(q.start).toBe(10_000 - 3600);
    expect(q.end).toBe(10_000);
    expect(q.step).toBe(15);
    expect(q.fn).toBe('avg');
  });

  it('rejects an end before the start, naming end', () => {
    expect(() => validateRangeQuery(rangeQueryFromParams({ metric: 'up', start: '200', end: '100' }))).toThrow(/^end:/);
  });

  it('rejects an unknown aggregation, naming fn', () => {
    expect(() => validateRangeQuery(rangeQueryFromParams({ metric: 'up', fn: 'median' }))).toThrow(/^fn:/);
  });

  it('rejects too many points, naming step', () => {
    expect(() => validateRangeQuery(rangeQueryFromParams({ metric: 'up', since: '30d', step: '1s' }))).toThrow(/^step:/);
  });

  it('rejects an invalid group-by label', () => {
    expect(() => validateRangeQuery(rangeQueryFromParams({ metric: 'up', by: 'node,1x' }))).toThrow(/^by\[1\]:/);
  });
});

describe('workloadOf', () => {
  it.each([
    ['web-5d8f7c9b6-x2k4p', 'web'],
    ['api-gateway-7c9f8d6b5c-abcde', 'api-gateway'],
    ['db-0', 'db'],
    ['fluentd-x7k2p', 'fluentd'],
    ['standalone', 'standalone'],
  ])('%s belongs to %s', (pod, workload) => {
    expect(workloadOf(pod)).toBe(workload);
  });
});
