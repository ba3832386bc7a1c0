// The PromQL functions Tidemark knows, with their argument and return types
// as Prometheus 2.42 declares them (promql/parser/functions.go), plus
// mad_over_time (Prometheus 2.51). The parser checks calls against this
// table; the evaluator's implementations are in functions.ts.
import type { ValueType } from './ast.ts';

export interface FunctionType {
  readonly args: readonly ValueType[];
  /** How many trailing arguments may be left out (-1: the last one repeats any number of times). */
  readonly variadic: number;
  readonly returns: ValueType;
}

const v = 'vector' as const;
const m = 'matrix' as const;
const s = 'scalar' as const;
const str = 'string' as const;

const fn = (args: ValueType[], returns: ValueType = v, variadic = 0): FunctionType => ({ args, returns, variadic });

export const FUNCTIONS: Readonly<Record<string, FunctionType>> = {
  abs: fn([v]),
  absent: fn([v]),
  absent_over_time: fn([m]),
  acos: fn([v]),
  acosh: fn([v]),
  asin: fn([v]),
  asinh: fn([v]),
  atan: fn([v]),
  atanh: fn([v]),
  avg_over_time: fn([m]),
  ceil: fn([v]),
  changes: fn([m]),
  clamp: fn([v, s, s]),
  clamp_max: fn([v, s]),
  clamp_min: fn([v, s]),
  cos: fn([v]),
  cosh: fn([v]),
  count_over_time: fn([m]),
  days_in_month: fn([v], v, 1),
  day_of_month: fn([v], v, 1),
  day_of_week: fn([v], v, 1),
  day_of_year: fn([v], v, 1),
  deg: fn([v]),
  delta: fn([m]),
  deriv: fn([m]),
  exp: fn([v]),
  floor: fn([v]),
  histogram_count: fn([v]),
  histogram_sum: fn([v]),
  histogram_fraction: fn([s, s, v]),
  histogram_quantile: fn([s, v]),
  holt_winters: fn([m, s, s]),
  hour: fn([v], v, 1),
  idelta: fn([m]),
  increase: fn([m]),
  irate: fn([m]),
  label_replace: fn([v, str, str, str, str]),
  label_join: fn([v, str, str, str], v, -1),
  last_over_time: fn([m]),
  ln: fn([v]),
  log10: fn([v]),
  log2: fn([v]),
  mad_over_time: fn([m]),
  max_over_time: fn([m]),
  min_over_time: fn([m]),
  minute: fn([v], v, 1),
  month: fn([v], v, 1),
  pi: fn([], s),
  predict_linear: fn([m, s]),
  present_over_time: fn([m]),
  quantile_over_time: fn([s, m]),
  rad: fn([v]),
  rate: fn([m]),
  resets: fn([m]),
  round: fn([v, s], v, 1),
  scalar: fn([v], s),
  sgn: fn([v]),
  sin: fn([v]),
  sinh: fn([v]),
  sort: fn([v]),
  sort_desc: fn([v]),
  sqrt: fn([v]),
  stddev_over_time: fn([m]),
  stdvar_over_time: fn([m]),
  sum_over_time: fn([m]),
  tan: fn([v]),
  tanh: fn([v]),
  time: fn([], s),
  timestamp: fn([v]),
  vector: fn([s]),
  year: fn([v], v, 1),
};
