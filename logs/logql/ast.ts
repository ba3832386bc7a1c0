// The typed LogQL syntax tree: what a query means once Grafana's grammar
// (@grafana/lezer-logql) has parsed it and parse.ts has walked the tree.
// Plain data, no behaviour: the planner (plan.ts) turns it into SQL and the
// pipeline (pipeline.ts) runs what SQL cannot.

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

/**
 * A stream selector. `search` holds Tidemark's keyword searches (the
 * `__search__` pseudo-label, a bare `"needle"` query): each entry's words
 * must appear in the line as whole tokens, answered from the full-text index.
 */
export interface Selector {
  readonly matchers: readonly LabelMatcher[];
  readonly search: readonly string[];
}

export type LineFilterOp = '|=' | '!=' | '|~' | '!~';

/** `|= "a" or "b"`: the line contains (or, negated, contains none of) the values. */
export interface LineFilter {
  readonly kind: 'line';
  readonly op: LineFilterOp;
  readonly values: readonly string[];
}

export interface ParserStage {
  readonly kind: 'json' | 'logfmt';
  /** `json a="b.c"`: only these labels, from these paths; empty: every field, flattened with `_`. */
  readonly extractions: readonly { readonly label: string; readonly path: string }[];
}

export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type LabelPredicate =
  | { readonly kind: 'match'; readonly matcher: LabelMatcher }
  | { readonly kind: 'compare'; readonly name: string; readonly op: CompareOp; readonly value: number; readonly unit: 'number' | 'duration' | 'bytes' }
  | { readonly kind: 'and' | 'or'; readonly left: LabelPredicate; readonly right: LabelPredicate };

export interface LabelFilterStage {
  readonly kind: 'labelFilter';
  readonly predicate: LabelPredicate;
}

export interface LineFormatStage {
  readonly kind: 'lineFormat';
  readonly template: string;
}

/** `| drop a, b="x"` / `| keep a, b`: labels removed (or all but these kept); a matcher touches only a label it matches. */
export interface LabelsStage {
  readonly kind: 'drop' | 'keep';
  readonly names: readonly string[];
  readonly matchers: readonly LabelMatcher[];
}

/** `| label_format dst=src, dst2="{{.a}}-{{.b}}"`: a rename (src dropped) or a template, all read from the labels before the stage. */
export interface LabelFormatStage {
  readonly kind: 'labelFormat';
  readonly formats: readonly ({ readonly dst: string; readonly rename: string } | { readonly dst: string; readonly template: string })[];
}

/** `| decolorize`: ANSI colour sequences removed from the line. */
export interface DecolorizeStage {
  readonly kind: 'decolorize';
}

export type Stage = LineFilter | ParserStage | LabelFilterStage | LineFormatStage | LabelsStage | LabelFormatStage | DecolorizeStage;

export interface LogQuery {
  readonly kind: 'log';
  readonly selector: Selector;
  readonly pipeline: readonly Stage[];
}

export type RangeOp = 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate' | 'absent_over_time';

export interface RangeAggregation {
  readonly kind: 'range';
  readonly op: RangeOp;
  readonly log: LogQuery;
  /** The window, in nanoseconds. */
  readonly rangeNs: bigint;
  readonly offsetNs: bigint;
}

export type VectorOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'stddev' | 'stdvar' | 'topk' | 'bottomk';

export interface VectorAggregation {
  readonly kind: 'vector';
  readonly op: VectorOp;
  readonly grouping: { readonly mode: 'by' | 'without'; readonly labels: readonly string[] } | null;
  /** topk/bottomk's k. */
  readonly param: number | null;
  readonly inner: MetricQuery;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^';

/**
 * A query and a number: `sum(rate(…)) * 100`, `count_over_time(…) > 10`
 * (a comparison keeps the values for which it holds; with `bool`, 1 or 0).
 */
export interface ScalarOperation {
  readonly kind: 'scalar';
  readonly op: ArithmeticOp | CompareOp;
  readonly bool: boolean;
  readonly inner: MetricQuery;
  readonly scalar: number;
  /** The number is the left operand (`100 * rate(…)`). */
  readonly scalarLeft: boolean;
}

export type MetricQuery = RangeAggregation | VectorAggregation | ScalarOperation;

export type Query = LogQuery | MetricQuery;
