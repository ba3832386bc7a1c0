// Parsing external input at the edge with zod: one function that turns a
// schema failure into an InputError naming the first offending field.
import type { z } from 'zod';
import { InputError, describeIssuePath } from './errors.ts';

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, root = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = describeIssuePath(issue.path);
  const field = root ? (path === '(root)' ? root : path.startsWith('[') ? `${root}${path}` : `${root}.${path}`) : path;
  throw new InputError(field, issue.message);
}
