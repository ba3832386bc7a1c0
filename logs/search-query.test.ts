import { describe, expect, it } from 'vitest';
import { histogramStepSeconds, indexTokens, linesSql, parseTerms, searchWhere } from './search-query.ts';
import { parseSearchParams } from './search.ts';

describe('search terms', () => {
  it('splits keywords and "quoted phrases", with the index tokens of each', () => {
    expect(parseTerms('error "connection reset" 10.0.0.12')).toEqual([
      { text: 'error', tokens: ['error'] },
      { text: 'connection reset', tokens: ['connection', 'reset'] },
      { text: '10.0.0.12', tokens: ['10', '0', '0', '12'] },
    ]);
    expect(parseTerms('"unclosed phrase')).toEqual([{ text: 'unclosed phrase', tokens: ['unclosed', 'phrase'] }]);
    expect(parseTerms('  ""  ')).toEqual([]);
  });

  it('lowercases tokens and leaves non-ASCII terms to the substring check', () => {
    expect(indexTokens('Order-ID=ABC')).toEqual(['order', 'id', 'abc']);
    expect(indexTokens('héllo')).toEqual([]);
    expect(indexTokens('---')).toEqual([]);
  });

  it('builds a tenant-scoped WHERE with the index call and the substring check, values as parameters', () => {
    const { where, params } = searchWhere({ tenant: 't1', selector: { namespace: "sh'op" }, terms: parseTerms('"reset by peer" héllo'), window: { startMs: 1000, endMs: 2000 } });
    expect(where).toContain('tenant = {tenant:String}');
    expect(where).toContain('hasAllTokens(lower(line), {t0:Array(String)})');
    expect(where).not.toContain('{t1:Array(String)}');
    expect(where).toContain('positionCaseInsensitiveUTF8(line, {k1:String}) > 0');
    expect(where).not.toContain("sh'op");
    expect(params).toMatchObject({ tenant: 't1', start: '1000000000', end: '2000999999', ln0: 'namespace', lv0: "sh'op", t0: ['reset', 'by', 'peer'], k0: 'reset by peer', k1: 'héllo' });
  });

  it('orders newest first with the limit', () => {
    const { sql } = linesSql({ database: 'tm', rawRetentionDays: 1, rollupRetentionDays: 1 }, { tenant: 't', selector: {}, terms: [], window: { startMs: 0, endMs: 1 } }, 50);
    expect(sql).toMatch(/FROM tm\.logs WHERE .* ORDER BY ts DESC LIMIT 50$/);
  });

  it('picks a round histogram step giving at most 60 buckets', () => {
    expect(histogramStepSeconds({ startMs: 0, endMs: 3_600_000 })).toBe(60);
    expect(histogramStepSeconds({ startMs: 0, endMs: 86_400_000 })).toBe(1800);
    expect(histogramStepSeconds({ startMs: 0, endMs: 0 })).toBe(1);
  });
});

describe('parseSearchParams', () => {
  const now = Date.UTC(2026, 10, 29, 12);
  it('reads labels, window, limit and q', () => {
    const r = parseSearchParams({ namespace: 'shop', workload: 'web', label: ['user=alice', 'verb=get'], since: '15m', limit: '10', q: 'timeout' }, 't', now);
    expect(r.limit).toBe(10);
    expect(r.question.selector).toEqual({ namespace: 'shop', workload: 'web', user: 'alice', verb: 'get' });
    expect(r.question.window).toEqual({ startMs: now - 900_000, endMs: now });
    expect(r.question.terms.map((t) => t.text)).toEqual(['timeout']);
  });

  it('defaults to the last hour and 100 lines; start without end runs to now', () => {
    expect(parseSearchParams({}, 't', now)).toMatchObject({ limit: 100, question: { window: { startMs: now - 3_600_000, endMs: now } } });
    expect(parseSearchParams({ start: '2026-11-29T11:00:00Z' }, 't', now).question.window).toEqual({ startMs: now - 3_600_000, endMs: now });
  });

  it.each([
    [{ since: '1h', start: '0' }, 'since'],
    [{ end: '100' }, 'start'],
    [{ limit: '5001' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ since: '20y' }, 'since'],
    [{ namespace: ['a', 'b'] }, 'namespace'],
  ])('refuses %o naming %s', (q, field) => {
    expect(() => parseSearchParams(q, 't', now)).toThrow(expect.objectContaining({ field }));
  });
});
