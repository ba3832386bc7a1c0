import { describe, expect, it } from 'vitest';
import { innerTokens, likeLiteral, planBuckets, planLines, tokensOf } from './plan.ts';
import { parseLogql } from './parse.ts';
import type { LogQuery } from './ast.ts';

const log = (q: string) => parseLogql(q) as LogQuery;
const RANGE = { start: 1n, end: 2n };

describe('the plan of a log query', () => {
  it('puts every value in a parameter, never in the SQL text', () => {
    const evil = "x'; DROP TABLE logs; --";
    const plan = planLines('db.logs', 'acme', log(`{app=${JSON.stringify(evil)}, ${'e'}=~${JSON.stringify('a.*')}} |= ${JSON.stringify(evil)} |~ "b+"`), RANGE, 'backward', 100);
    expect(plan.sql).not.toContain('DROP');
    expect(Object.values(plan.params)).toContain(evil);
    expect(Object.values(plan.params)).toContain('acme');
    expect(Object.values(plan.params)).toContain('^(?s:a.*)$');
    expect(plan.sql).toMatch(/ORDER BY ts DESC LIMIT \{p\d+:UInt64\}$/);
    expect(plan.rest).toEqual([]);
  });

  it('pushes line filters before the first parser to ClickHouse and leaves the rest', () => {
    const plan = planLines('db.logs', 't', log('{a="b"} |= "x" != "y" | json |= "z"'), RANGE, 'forward', 10);
    expect(plan.sql).toMatch(/NOT like\(line/);
    expect(plan.rest.map((s) => s.kind)).toEqual(['json', 'line']);
    expect(plan.sql).toMatch(/ORDER BY ts ASC/);
  });

  it("answers Tidemark's search from the text index: hasToken over lower(line), phrases checked as written", () => {
    const needle = planLines('db.logs', 't', log('"4BF92F3577"'), RANGE, 'backward', 10);
    expect(needle.sql).toMatch(/hasToken\(lower\(line\), \{p\d+:String\}\)/);
    expect(Object.values(needle.params)).toContain('4bf92f3577');
    expect(needle.sql).not.toMatch(/match\(line/);
    const phrase = planLines('db.logs', 't', log('"connection refused"'), RANGE, 'backward', 10);
    expect(phrase.sql.match(/hasToken/g)).toHaveLength(2);
    expect(Object.values(phrase.params)).toContain('(?i)(?:^|[^A-Za-z0-9\\x{80}-\\x{10FFFF}])connection refused(?:$|[^A-Za-z0-9\\x{80}-\\x{10FFFF}])');
  });

  it('gives a |= needle its inner tokens for the index, keeping substring semantics', () => {
    expect(innerTokens('10.1.2.3')).toEqual(['1', '2']);
    expect(innerTokens('GET /api/v1/items ')).toEqual(['api', 'v1', 'items']);
    expect(innerTokens('error')).toEqual([]);
    expect(tokensOf('a-b_c ü')).toEqual(['a', 'b', 'c', 'ü']);
    expect(likeLiteral('50%_a\\b')).toBe('50\\%\\_a\\\\b');
    const plan = planLines('db.logs', 't', log('{a="b"} |= "10.1.2.3"'), RANGE, 'backward', 10);
    expect(plan.sql).toMatch(/\(hasToken\(lower\(line\), \{p\d+:String\}\) AND hasToken\(lower\(line\), \{p\d+:String\}\) AND like\(line, \{p\d+:String\}\)\)/);
    expect(Object.values(plan.params)).toContain('%10.1.2.3%');
  });

  it('groups metric buckets by stream, or by the labels of an outer sum by/without', () => {
    const grid = { startNs: 100n, stepNs: 10n, n: 5, rangeNs: 30n, offsetNs: 0n };
    const byStream = planBuckets('db.logs', 't', log('{a="b"}'), grid, { kind: 'stream' }, 1000);
    expect(byStream.sql).toMatch(/SELECT stream_id AS grouped/);
    const by = planBuckets('db.logs', 't', log('{a="b"}'), grid, { kind: 'by', labels: ['app'] }, 1000);
    expect(by.sql).toMatch(/mapFilter\(\(k, v\) -> has\(\{p\d+:Array\(String\)\}, k\), labels\) AS grouped/);
    // The bucket width is gcd(step, range) = 10; the window reaches back one range before the first step.
    expect(Object.values(by.params)).toContain('10');
    expect(Object.values(by.params)).toContain('71');
  });
});
