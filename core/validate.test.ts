import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseInput } from './validate.ts';
import { InputError } from './errors.ts';

const schema = z.array(z.object({ amount: z.number().nonnegative() }));

describe('parseInput', () => {
  it('returns the parsed value', () => {
    expect(parseInput(schema, [{ amount: 1 }])).toEqual([{ amount: 1 }]);
  });

  it('names the first offending field in JS notation', () => {
    expect(() => parseInput(schema, [{ amount: 1 }, { amount: -2 }])).toThrow(InputError);
    expect(() => parseInput(schema, [{ amount: 1 }, { amount: -2 }], 'charges')).toThrow(expect.objectContaining({ field: 'charges[1].amount' }));
    expect(() => parseInput(z.object({ a: z.object({ b: z.string() }) }), { a: { b: 1 } }, 'body')).toThrow(expect.objectContaining({ field: 'body.a.b' }));
  });
});
