// A range query as the API takes it: label matchers, times, the step and
// the aggregation, parsed and validated once at the edge (pure; the SQL is
// built in range-sql.ts and run in query.ts).
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { AGGREGATIONS, type Aggregation } from './aggregations.ts';
import { isValidLabelName } from './series.ts';
import { regexProblem } from './regex.ts';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}


export type SourceTable = 'samples' | 'samples_1m' | 'samples_1h';

export interface RangeQuery {
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
  readonly fn: Aggregation;
  /** Labels to group by; empty: one series per input series for avg/min/max/last/rate, one overall otherwise. */
  readonly by: readonly string[];
  /** Unix seconds, start inclusive, end exclusive. */
  readonly start: number;
  readonly end: number;
  /** Seconds. */
  readonly step: number;
  /** Read this table instead of the coarsest that fits the step (raw for exact short-window figures). */
  readonly table?: SourceTable;
}

export interface SeriesPoints {
  labels: Record<string, string>;
  points: [number, number | null][];
}

/** Parses `name=value`, `name!=value`, `name=~regex`, `name!~regex`. */
export function parseMatcher(text: string, field = 'match'): LabelMatcher {
  const m = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/.exec(text);
  if (!m) throw new InputError(field, `"${text}" is not a matcher such as namespace=shop or pod=~"web-.*"`);
  let value = m[3]!;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  const op = m[2] as MatchOp;
  if (op === '=~' || op === '!~') {
    const problem = regexProblem(value);
    if (problem) throw new InputError(field, problem);
  }
  return { name: m[1]!, op, value };
}

/** 2200-01-01T00:00:00Z in Unix seconds. */
const MAX_QUERY_TIME = 7_258_118_400;

/** Parses unix seconds or an RFC 3339 time into unix seconds. */
export function parseTime(text: string, field: string): number {
  const n = Number(text);
  const seconds = text.trim() !== '' && Number.isFinite(n) ? n : Date.parse(text) / 1000;
  if (Number.isNaN(seconds)) throw new InputError(field, `"${text}" is not a unix timestamp or RFC 3339 time`);
  // Beyond these a time is no date at all (1e300 s) or outside anything the store holds.
  if (seconds < 0 || seconds > MAX_QUERY_TIME) throw new InputError(field, `"${text}" is outside 1970-01-01 to 2200-01-01`);
  return seconds;
}


const rangeQuerySchema = z
  .object({
    metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'not a valid metric name'),
    matchers: z.array(
      z
        .object({ name: z.string().refine(isValidLabelName, 'not a valid label name'), op: z.enum(['=', '!=', '=~', '!~']), value: z.string() })
        .superRefine((m, issues) => {
          const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : null;
          if (problem) issues.addIssue({ code: 'custom', message: problem, path: ['value'] });
        }),
    ),
    fn: z.enum(AGGREGATIONS),
    by: z.array(z.string().refine(isValidLabelName, 'not a valid label name')),
    // Unix seconds the store's DateTime64 can hold (1970 up to 2200): beyond, ClickHouse refuses the query.
    start: z.number().min(0).max(MAX_QUERY_TIME),
    end: z.number().min(0).max(MAX_QUERY_TIME),
    step: z.number().positive().max(86400 * 31),
  })
  .refine((q) => q.end > q.start, { message: 'end must be after start', path: ['end'] })
  .refine((q) => (q.end - q.start) / q.step <= 11_000, { message: 'too many points per series (at most 11,000): raise the step', path: ['step'] });

export function validateRangeQuery(input: unknown): RangeQuery {
  return parseInput(rangeQuerySchema, input);
}
