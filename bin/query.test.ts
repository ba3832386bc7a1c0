// `tidemark query`'s choice of API and its PromQL output, without an engine.
import { describe, expect, it } from 'vitest';
import { formatPromQL, requestOf } from './query.ts';
import { InputError } from '../core/errors.ts';

const base = { match: [] as string[], url: 'http://x' };

describe('tidemark query: which API a command line asks', () => {
  it('a PromQL expression is an instant query by default', () => {
    const r = requestOf('sum by (node) (rate(node_cpu_seconds_total[5m]))', base);
    expect(r.path).toBe('/api/v1/query');
    expect(Object.fromEntries(r.params)).toEqual({ query: 'sum by (node) (rate(node_cpu_seconds_total[5m]))' });
    expect(Object.fromEntries(requestOf('up{job="a"}', { ...base, time: '100' }).params)).toEqual({ query: 'up{job="a"}', time: '100' });
  });

  it('--since, --start or --step make it a range query, with a step of about 240 points', () => {
    const r = requestOf('rate(x[5m])', { ...base, since: '1h' }, 10_000);
    expect(r.path).toBe('/api/v1/query_range');
    expect(Object.fromEntries(r.params)).toEqual({ query: 'rate(x[5m])', start: '6400', end: '10000', step: '15' });
    expect(Object.fromEntries(requestOf('x + 1', { ...base, start: '0', end: '86400', step: '5m' }).params)).toMatchObject({ start: '0', end: '86400', step: '5m' });
    expect(Object.fromEntries(requestOf('x + 1', { ...base, step: '60' }, 10_000).params)).toMatchObject({ start: '9100', end: '10000', step: '60' });
  });

  it('a bare metric name keeps the range API (its old behaviour), unless --promql', () => {
    const r = requestOf('node_load1', { ...base, since: '5m', match: ['job=node'], by: 'node' });
    expect(r.path).toBe('/api/v1/range');
    expect(Object.fromEntries(r.params)).toEqual({ metric: 'node_load1', fn: 'avg', match: 'job=node', by: 'node', since: '5m' });
    expect(requestOf('node_load1', { ...base, promql: true }).path).toBe('/api/v1/query');
  });

  it('refuses options that do not go with the expression, naming them', () => {
    expect(() => requestOf('rate(x[5m])', { ...base, fn: 'avg' })).toThrow(InputError);
    expect(() => requestOf('rate(x[5m])', { ...base, by: 'node' })).toThrow(/--by/);
    expect(() => requestOf('rate(x[5m])', { ...base, since: '1h', time: '5' })).toThrow(/--time/);
    expect(() => requestOf('rate(x[5m])', { ...base, end: '5' })).toThrow(/--end/);
  });
});

describe('tidemark query: PromQL answers as text', () => {
  it('prints vectors, matrices and scalars', () => {
    expect(formatPromQL({ resultType: 'scalar', result: [0, '2'] })).toBe('2  @ 1970-01-01T00:00:00.000Z');
    expect(formatPromQL({ resultType: 'vector', result: [{ metric: { job: 'a' }, value: [60, '0.5'] }] })).toBe('{job="a"}  0.5  @ 1970-01-01T00:01:00.000Z');
    expect(formatPromQL({ resultType: 'matrix', result: [{ metric: {}, values: [[0, '1'], [15, 'NaN']] }] })).toBe('{}\n  1970-01-01T00:00:00.000Z  1\n  1970-01-01T00:00:15.000Z  NaN');
    expect(formatPromQL({ resultType: 'vector', result: [] })).toBe('(no series)');
  });
});
