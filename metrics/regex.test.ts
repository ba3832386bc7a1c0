import { describe, expect, it } from 'vitest';
import { MAX_REGEX_LENGTH, regexProblem } from './regex.ts';
import { parseMatcher, validateRangeQuery } from './range-query.ts';
import { InputError } from '../core/errors.ts';

describe('regex matchers under RE2 rules', () => {
  it('accepts what RE2 compiles, anchored as the query runs it', () => {
    for (const ok of ['web-.*', '\\d+', '(?i)abc', 'a{1000}', 'a|b', '\\p{Greek}+', '(?P<x>a)', '']) expect(regexProblem(ok)).toBeNull();
  });

  it('refuses what JavaScript accepts and RE2 (and so ClickHouse) does not', () => {
    for (const bad of ['(?n)node', '(n)\\1', 'a{1001}', '(a{1000}){1000}', 'a(?=b)', 'a(?!b)', '(?<=a)b']) {
      expect(() => new RegExp(bad.replace('(?n)', ''))).not.toThrow();
      expect(regexProblem(bad), bad).toMatch(/not a regular expression RE2 accepts/);
    }
    expect(regexProblem('x'.repeat(MAX_REGEX_LENGTH + 1))).toMatch(/longer than/);
  });

  it('names the matcher parameter in GET form and the matcher value in POST form', () => {
    let caught: unknown;
    try {
      parseMatcher('job=~(n)\\1', 'match[2]');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).field).toBe('match[2]');
    const post = { metric: 'up', matchers: [{ name: 'job', op: '=', value: 'x' }, { name: 'job', op: '=~', value: 'a{1001}' }], fn: 'avg', by: [], start: 1000, end: 2000, step: 60 };
    expect(() => validateRangeQuery(post)).toThrow(expect.objectContaining({ field: 'matchers[1].value' }));
  });

  it('refuses range times the store cannot hold', () => {
    const q = { metric: 'up', matchers: [], fn: 'avg', by: [], start: 1000, end: 2000, step: 60 };
    expect(() => validateRangeQuery({ ...q, start: -1 })).toThrow(expect.objectContaining({ field: 'start' }));
    expect(() => validateRangeQuery({ ...q, end: 1e15 })).toThrow(expect.objectContaining({ field: 'end' }));
  });
});
