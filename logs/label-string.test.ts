import { describe, expect, it } from 'vitest';
import { parseLabelString } from './label-string.ts';

describe('parseLabelString', () => {
  it('reads Prometheus label-set syntax with Go string escapes', () => {
    expect(parseLabelString('{job="varlogs", namespace="shop"}', 'f')).toEqual({ job: 'varlogs', namespace: 'shop' });
    expect(parseLabelString(' { a = "x\\"y\\\\z\\n" ,b="\\u00e9\\x41\\101" , } ', 'f')).toEqual({ a: 'x"y\\z\n', b: 'éAA' });
    expect(parseLabelString('{a="\\xc3\\xa9"}', 'f')).toEqual({ a: 'é' });
    expect(parseLabelString('{}', 'f')).toEqual({});
  });

  it.each([
    ['job="x"', /expected "\{"/],
    ['{job="x"', /expected "," or "}"|unterminated/],
    ['{job=x}', /quoted label value/],
    ['{1job="x"}', /label name/],
    ['{a="b"} trailing', /unexpected text/],
    ['{a="b", a="c"}', /given twice/],
    ['{a="\\xff"}', /invalid UTF-8/],
    ['{a="\\q"}', /unknown escape/],
    ['{a="\\ud800"}', /bad unicode escape/],
  ])('refuses %s naming the field and position', (text, why) => {
    expect(() => parseLabelString(text, 'streams[0].labels')).toThrow(why);
    expect(() => parseLabelString(text, 'streams[0].labels')).toThrow(/^streams\[0\]\.labels: .* at position \d+/);
  });
});
