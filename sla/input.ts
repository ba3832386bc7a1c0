// parseInput with a root name for arrays: core's root join gives
// "charges.[0].amount" for an array, and our errors should read
// "charges[0].amount" like the paths the calculator names.
import type { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';

export function parseUnder<S extends z.ZodType>(schema: S, input: unknown, root: string): z.output<S> {
  try {
    return parseInput(schema, input);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const field = e.field === '(root)' ? root : e.field.startsWith('[') ? `${root}${e.field}` : `${root}.${e.field}`;
    throw new InputError(field, e.message.slice(e.field.length + 2), e.code);
  }
}
