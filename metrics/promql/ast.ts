// The PromQL syntax tree as plain data: what parse.ts builds from the
// Prometheus grammar's lezer tree, and what the planner and evaluator read.
// Times are milliseconds; nothing here refers to the parser's node objects.

/** A series' label set, __name__ included. */
export type Labels = Record<string, string>;

import type { LabelMatcher, MatchOp } from '../range-query.ts';

export type { MatchOp };
/** A label matcher: the same shape the range API reads. */
export type Matcher = LabelMatcher;

/** The `@` modifier: a fixed time (ms), or the query's start or end. */
export type AtModifier = { readonly kind: 'time'; readonly ms: number } | { readonly kind: 'start' } | { readonly kind: 'end' };

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

export interface VectorSelector {
  readonly kind: 'vector';
  /** The metric name when written before the braces (also present among the matchers as __name__=). */
  readonly name: string | null;
  readonly matchers: readonly Matcher[];
  readonly offsetMs: number;
  readonly at: AtModifier | null;
}

export interface MatrixSelector {
  readonly kind: 'matrix';
  readonly vector: VectorSelector;
  readonly rangeMs: number;
}

export interface Subquery {
  readonly kind: 'subquery';
  readonly expr: Expr;
  readonly rangeMs: number;
  /** 0: the default evaluation interval. */
  readonly stepMs: number;
  readonly offsetMs: number;
  readonly at: AtModifier | null;
}

export interface NumberLiteral {
  readonly kind: 'number';
  readonly value: number;
}

export interface StringLiteral {
  readonly kind: 'string';
  readonly value: string;
}

export interface Call {
  readonly kind: 'call';
  readonly fn: string;
  readonly args: readonly Expr[];
}

export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'group' | 'stddev' | 'stdvar' | 'topk' | 'bottomk' | 'quantile' | 'count_values';

export interface Aggregate {
  readonly kind: 'aggregate';
  readonly op: AggregateOp;
  readonly param: Expr | null;
  readonly expr: Expr;
  readonly grouping: readonly string[];
  readonly without: boolean;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export interface VectorMatching {
  readonly card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** true: on(labels); false: ignoring(labels). */
  readonly on: boolean;
  readonly labels: readonly string[];
  /** group_left/group_right's extra labels. */
  readonly include: readonly string[];
}

export interface Binary {
  readonly kind: 'binary';
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  readonly bool: boolean;
  /** null when either side is a scalar. */
  readonly matching: VectorMatching | null;
}

export interface Unary {
  readonly kind: 'unary';
  readonly op: '-' | '+';
  readonly expr: Expr;
}

export interface Paren {
  readonly kind: 'paren';
  readonly expr: Expr;
}

export type Expr = VectorSelector | MatrixSelector | Subquery | NumberLiteral | StringLiteral | Call | Aggregate | Binary | Unary | Paren;

export function isComparison(op: BinaryOp): op is ComparisonOp {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

export function isSetOp(op: BinaryOp): op is SetOp {
  return op === 'and' || op === 'or' || op === 'unless';
}
