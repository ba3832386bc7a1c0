// The aggregations a range query offers, on their own so that the command
// line can list them without loading the query engine (zod, the series
// hasher) at start-up.
export const AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'count', 'last', 'rate', 'p50', 'p90', 'p95', 'p99'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
