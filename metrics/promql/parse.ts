// PromQL text to our syntax tree (ast.ts): the Prometheus project's lezer
// grammar parses, one walk over its tree builds plain data, and the type
// checks of Prometheus 2.42's parser (checkAST) run on the result, with its
// messages and positions ("1:6: parse error: ..."). Constructs the grammar
// knows but Prometheus 2.42 (and so Tidemark) does not are refused by name.
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { RE2JS } from 're2js';
import type { AggregateOp, AtModifier, BinaryOp, Expr, Matcher, MatchOp, ValueType, VectorMatching, VectorSelector } from './ast.ts';
import { isComparison, isSetOp } from './ast.ts';
import { FUNCTIONS } from './function-types.ts';

/** A syntax or type error, with the position Prometheus reports ("line:col"). */
export class ParseError extends Error {
  constructor(
    readonly position: string,
    readonly reason: string,
  ) {
    super(`${position}: parse error: ${reason}`);
    this.name = 'ParseError';
  }
}

const TYPE_NAMES: Record<ValueType, string> = { scalar: 'scalar', vector: 'instant vector', matrix: 'range vector', string: 'string' };

const AGGREGATE_OPS = new Set<AggregateOp>(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values']);

const BINARY_OPS: Record<string, BinaryOp> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Atan2: 'atan2',
  Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=',
  And: 'and', Or: 'or', Unless: 'unless',
};

const MATCH_OPS: Record<string, MatchOp> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

/** Milliseconds of a Prometheus duration ("1h30m", "500ms"), or null when it is not one. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  let last = 0;
  let match: RegExpExecArray | null;
  let count = 0;
  while ((match = re.exec(text)) !== null) {
    total += Number(match[1]) * unit[match[2]!]!;
    last = re.lastIndex;
    count++;
  }
  if (count === 0 || last !== text.length) return null;
  return total;
}

/** A PromQL number literal as Go's strconv.ParseFloat (and the lexer) reads it: decimal, hex, Inf, NaN. */
export function parseNumber(text: string): number | null {
  const t = text.trim();
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[+-]/, '');
  if (/^inf(inity)?$/i.test(body)) return sign * Infinity;
  if (/^nan$/i.test(body)) return NaN;
  if (/^0x[0-9a-f]+$/i.test(body)) return sign * parseInt(body.slice(2), 16);
  if (/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(body)) return sign * Number(body);
  return null;
}

/** Go's string literal rules: "…" and '…' with escapes, `…` raw. */
export function unquote(text: string): string {
  const q = text[0];
  const body = text.slice(1, -1);
  if (q === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case "'": out += "'"; break;
      case 'x': out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; break;
      case 'u': out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 5), 16)); i += 4; break;
      case 'U': out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 9), 16)); i += 8; break;
      default:
        if (e !== undefined && /[0-7]/.test(e)) {
          out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
          i += 2;
        } else {
          throw new Error(`unknown escape sequence \\${e ?? ''}`);
        }
    }
  }
  return out;
}

class Walker {
  constructor(private readonly src: string) {}

  pos(from: number): string {
    const before = this.src.slice(0, from);
    const line = before.split('\n').length;
    const col = from - (before.lastIndexOf('\n') + 1) + 1;
    return `${line}:${col}`;
  }

  fail(node: SyntaxNode | number, reason: string): never {
    throw new ParseError(this.pos(typeof node === 'number' ? node : node.from), reason);
  }

  text(node: SyntaxNode): string {
    return this.src.slice(node.from, node.to);
  }

  children(node: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = node.firstChild; c; c = c.nextSibling) if (c.type.name !== 'LineComment') out.push(c);
    return out;
  }

  duration(node: SyntaxNode, positive: boolean): number {
    // DurationExpr / OffsetDurationExpr wrap one literal (a sign in front for offsets).
    const kids = this.children(node);
    if (node.type.name === 'OffsetDurationExpr' && kids.length === 2 && kids[0]!.type.name === 'UnaryOp') {
      const inner = this.duration(kids[1]!, false);
      return this.text(kids[0]!) === '-' ? -inner : inner;
    }
    if (kids.length === 1 && kids[0]!.type.name !== 'NumberDurationLiteralInDurationContext' && kids[0]!.type.name !== 'NumberDurationLiteral') {
      return this.duration(kids[0]!, positive);
    }
    if (kids.length > 1) this.fail(node, `duration expressions ("${this.text(node)}") are not supported by Prometheus 2.42`);
    const text = this.text(kids[0] ?? node);
    const ms = parseDuration(text);
    if (ms === null) this.fail(node, `bad duration syntax: "${text}"`);
    if (positive && ms <= 0) this.fail(node, 'duration must be greater than 0');
    return ms;
  }

  labelName(node: SyntaxNode): string {
    if (node.type.name !== 'LabelName') this.fail(node, `unexpected ${describe(this.text(node))} in label list; quoted label names need Prometheus 3`);
    return this.text(node);
  }

  grouping(node: SyntaxNode): string[] {
    return this.children(node).map((c) => this.labelName(c));
  }

  expr(node: SyntaxNode): Expr {
    const name = node.type.name;
    const kids = this.children(node);
    switch (name) {
      case 'PromQL':
        if (kids.length === 0) this.fail(node.from, 'no expression found in input');
        return this.expr(kids[0]!);
      case 'NumberDurationLiteral': {
        const value = parseNumber(this.text(node));
        if (value === null) this.fail(node, `unexpected duration "${this.text(node)}" where a number was expected`);
        return { kind: 'number', value };
      }
      case 'StringLiteral':
        return { kind: 'string', value: this.string(node) };
      case 'ParenExpr':
        return { kind: 'paren', expr: this.expr(kids[0]!) };
      case 'UnaryExpr': {
        const op = this.text(kids[0]!) as '-' | '+';
        const inner = this.expr(kids[1]!);
        // Prometheus folds a sign into a number literal.
        if (inner.kind === 'number') return { kind: 'number', value: op === '-' ? -inner.value : inner.value };
        return { kind: 'unary', op, expr: inner };
      }
      case 'VectorSelector':
        return this.vectorSelector(node, kids);
      case 'MatrixSelector': {
        const inner = this.expr(kids[0]!);
        if (inner.kind !== 'vector') this.fail(node, 'ranges only allowed for vector selectors');
        if (inner.offsetMs !== 0 || inner.at) this.fail(node, 'no offset or @ modifiers allowed before range');
        return { kind: 'matrix', vector: inner, rangeMs: this.duration(kids[1]!, true) };
      }
      case 'SubqueryExpr': {
        const inner = this.expr(kids[0]!);
        const durations = kids.filter((k) => k.type.name === 'DurationExpr');
        return {
          kind: 'subquery',
          expr: inner,
          rangeMs: this.duration(durations[0]!, true),
          stepMs: durations[1] ? this.duration(durations[1], true) : 0,
          offsetMs: 0,
          at: null,
        };
      }
      case 'OffsetExpr': {
        const inner = this.expr(kids[0]!);
        const offsetMs = this.duration(kids[kids.length - 1]!, false);
        return this.withModifier(node, inner, (target) => {
          if (target.offsetMs !== 0) this.fail(node, 'offset may not be set multiple times');
          return { offsetMs };
        }, 'offset');
      }
      case 'StepInvariantExpr': {
        const inner = this.expr(kids[0]!);
        const at = this.at(kids.slice(2), node);
        return this.withModifier(node, inner, (target) => {
          if (target.at) this.fail(node, '@ <timestamp> may not be set multiple times');
          return { at };
        }, '@');
      }
      case 'FunctionCall':
        return this.call(node, kids);
      case 'AggregateExpr':
        return this.aggregate(node, kids);
      case 'BinaryExpr':
        return this.binary(node, kids);
      default:
        if (node.type.isError) this.fail(node, this.unexpected(node));
        this.fail(node, `unsupported construct ${name} ("${this.text(node).slice(0, 40)}")`);
    }
  }

  unexpected(node: SyntaxNode): string {
    const rest = this.src.slice(node.from).trimStart();
    if (rest === '') return 'unexpected end of input';
    return `unexpected character: ${JSON.stringify(rest[0])}`;
  }

  string(node: SyntaxNode): string {
    try {
      return unquote(this.text(node));
    } catch (e) {
      this.fail(node, (e as Error).message);
    }
  }

  at(kids: SyntaxNode[], node: SyntaxNode): AtModifier {
    const k = kids[0];
    if (!k) this.fail(node, 'unexpected end of input in @ modifier');
    if (k.type.name === 'AtModifierPreprocessors') {
      return this.text(k).startsWith('start') ? { kind: 'start' } : { kind: 'end' };
    }
    let value: number | null;
    if (k.type.name === 'UnaryExpr' || k.type.name === 'NumberDurationLiteral') {
      const e = this.expr(k);
      value = e.kind === 'number' ? e.value : null;
    } else value = null;
    if (value === null) this.fail(k, 'unexpected expression after @');
    const ms = value * 1000;
    if (!Number.isFinite(ms) || Math.abs(ms) > 9.2e18) this.fail(node, `timestamp out of bounds for @ modifier: ${value.toFixed(6)}`);
    return { kind: 'time', ms: Math.round(ms) };
  }

  /** Applies an offset or @ to the selector or subquery it follows, as Prometheus allows. */
  withModifier(node: SyntaxNode, inner: Expr, apply: (target: { offsetMs: number; at: AtModifier | null }) => Partial<{ offsetMs: number; at: AtModifier }>, what: 'offset' | '@'): Expr {
    const misplaced = what === 'offset' ? 'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery' : '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery';
    if (inner.kind === 'vector') return { ...inner, ...apply(inner) };
    if (inner.kind === 'matrix') return { ...inner, vector: { ...inner.vector, ...apply(inner.vector) } };
    if (inner.kind === 'subquery') return { ...inner, ...apply(inner) };
    this.fail(node, misplaced);
  }

  vectorSelector(node: SyntaxNode, kids: SyntaxNode[]): VectorSelector {
    let name: string | null = null;
    const matchers: Matcher[] = [];
    for (const k of kids) {
      if (k.type.name === 'Identifier') name = this.text(k);
      else if (k.type.name === 'LabelMatchers') {
        for (const m of this.children(k)) {
          if (m.type.isError) this.fail(m, this.unexpected(m));
          if (m.type.name !== 'UnquotedLabelMatcher') this.fail(m, `unexpected ${describe(this.text(m))} in label matching; quoted label names need Prometheus 3`);
          const [ln, op, val] = this.children(m);
          if (!ln || !op || !val) this.fail(m, this.unexpected(m));
          const opNode = op.firstChild;
          const matchOp = opNode ? MATCH_OPS[opNode.type.name] : undefined;
          if (!matchOp) this.fail(op, `unexpected ${describe(this.text(op))} in label matching, expected label matching operator`);
          const value = this.string(val);
          const label = this.labelName(ln);
          if (matchOp === '=~' || matchOp === '!~') {
            try {
              RE2JS.compile(`^(?:${value})$`);
            } catch (e) {
              this.fail(m, `error parsing regexp: ${(e as Error).message.replace(/^error parsing regexp: /, '')}`);
            }
          }
          matchers.push({ name: label, op: matchOp, value });
        }
      } else if (k.type.isError) this.fail(k, this.unexpected(k));
    }
    if (name !== null) {
      const named = matchers.find((m) => m.name === '__name__');
      if (named) this.fail(node, `metric name must not be set twice: "${name}" or "${named.value}"`);
      matchers.unshift({ name: '__name__', op: '=', value: name });
    } else if (!matchers.some((m) => !matchesEmpty(m))) {
      this.fail(node, 'vector selector must contain at least one non-empty matcher');
    }
    return { kind: 'vector', name, matchers, offsetMs: 0, at: null };
  }

  call(node: SyntaxNode, kids: SyntaxNode[]): Expr {
    const id = kids[0]!;
    const fnName = this.text(id) === 'double_exponential_smoothing' ? 'holt_winters' : this.text(id);
    const type = FUNCTIONS[fnName];
    if (!type) this.fail(node, `unknown function with name "${fnName}"`);
    const body = kids[1];
    const argNodes = body ? this.children(body) : [];
    for (const a of argNodes) if (a.type.isError) this.fail(a, this.unexpected(a));
    const args = argNodes.map((a) => this.expr(a));
    const n = type.args.length;
    if (type.variadic === 0 && args.length !== n) this.fail(node, `expected ${n} argument(s) in call to "${fnName}", got ${args.length}`);
    if (type.variadic > 0 && (args.length < n - type.variadic || args.length > n)) {
      if (args.length < n - type.variadic) this.fail(node, `expected at least ${n - type.variadic} argument(s) in call to "${fnName}", got ${args.length}`);
      this.fail(node, `expected at most ${n} argument(s) in call to "${fnName}", got ${args.length}`);
    }
    if (type.variadic < 0 && args.length < n - 1) this.fail(node, `expected at least ${n - 1} argument(s) in call to "${fnName}", got ${args.length}`);
    args.forEach((a, i) => {
      const want = type.args[Math.min(i, n - 1)]!;
      const got = typeOf(a);
      if (got !== want) this.fail(argNodes[i]!, `expected type ${TYPE_NAMES[want]} in call to function "${fnName}", got ${TYPE_NAMES[got]}`);
    });
    return { kind: 'call', fn: fnName, args };
  }

  aggregate(node: SyntaxNode, kids: SyntaxNode[]): Expr {
    const opNode = kids.find((k) => k.type.name === 'AggregateOp')!;
    const op = this.text(opNode).toLowerCase() as AggregateOp;
    if (!AGGREGATE_OPS.has(op)) this.fail(node, `unknown aggregation "${this.text(opNode)}" (not in Prometheus 2.42)`);
    const modifier = kids.find((k) => k.type.name === 'AggregateModifier');
    let grouping: string[] = [];
    let without = false;
    if (modifier) {
      const mk = this.children(modifier);
      without = mk[0]!.type.name === 'Without';
      const labels = mk.find((k) => k.type.name === 'GroupingLabels');
      grouping = labels ? this.grouping(labels) : [];
    }
    const body = kids.find((k) => k.type.name === 'FunctionCallBody');
    const argNodes = body ? this.children(body) : [];
    for (const a of argNodes) if (a.type.isError) this.fail(a, this.unexpected(a));
    const args = argNodes.map((a) => this.expr(a));
    const wantsParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values';
    if (args.length !== (wantsParam ? 2 : 1)) this.fail(node, wantsParam ? `wrong number of arguments for aggregate expression provided, expected 2, got ${args.length}` : `wrong number of arguments for aggregate expression provided, expected 1, got ${args.length}`);
    const param = wantsParam ? args[0]! : null;
    const expr = args[args.length - 1]!;
    if (typeOf(expr) !== 'vector') this.fail(argNodes[argNodes.length - 1]!, `expected type instant vector in aggregation expression, got ${TYPE_NAMES[typeOf(expr)]}`);
    if (param) {
      const want: ValueType = op === 'count_values' ? 'string' : 'scalar';
      if (typeOf(param) !== want) this.fail(argNodes[0]!, `expected type ${TYPE_NAMES[want]} in aggregation parameter, got ${TYPE_NAMES[typeOf(param)]}`);
    }
    return { kind: 'aggregate', op, param, expr, grouping, without };
  }

  binary(node: SyntaxNode, kids: SyntaxNode[]): Expr {
    const lhsNode = kids[0]!;
    const opNode = kids[1]!;
    const op = BINARY_OPS[opNode.type.name];
    if (!op) this.fail(opNode, `unexpected ${describe(this.text(opNode))}`);
    let bool = false;
    let clause: SyntaxNode | undefined;
    let rhsNode: SyntaxNode | undefined;
    for (const k of kids.slice(2)) {
      if (k.type.name === 'BoolModifier') bool = true;
      else if (k.type.name === 'MatchingModifierClause') clause = k;
      else if (k.type.isError) this.fail(k, this.unexpected(k));
      else if (k.type.name === 'FillModifier' || k.type.name === 'FillClause') this.fail(k, 'fill modifiers need Prometheus 3');
      else rhsNode = k;
    }
    if (!rhsNode) this.fail(node.to, 'unexpected end of input');
    const lhs = this.expr(lhsNode);
    const rhs = this.expr(rhsNode);
    const lt = typeOf(lhs);
    const rt = typeOf(rhs);
    if (bool && !isComparison(op)) this.fail(opNode, 'bool modifier can only be used on comparison operators');
    if (isComparison(op) && !bool && lt === 'scalar' && rt === 'scalar') this.fail(opNode, 'comparisons between scalars must use BOOL modifier');
    if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector')) this.fail(node, 'binary expression must contain only scalar and instant vector types');
    if (isSetOp(op) && (lt === 'scalar' || rt === 'scalar')) this.fail(node, `set operator "${op}" not allowed in binary scalar expression`);
    let matching: VectorMatching | null = null;
    if (clause) {
      if (lt !== 'vector' || rt !== 'vector') this.fail(node, 'vector matching only allowed between instant vectors');
      const ck = this.children(clause);
      let on = false;
      let labels: string[] = [];
      let include: string[] = [];
      let card: VectorMatching['card'] = isSetOp(op) ? 'many-to-many' : 'one-to-one';
      for (let i = 0; i < ck.length; i++) {
        const k = ck[i]!;
        const next = ck[i + 1];
        if (k.type.name === 'On' || k.type.name === 'Ignoring') {
          on = k.type.name === 'On';
          if (next?.type.name === 'GroupingLabels') labels = this.grouping(next);
        } else if (k.type.name === 'GroupLeft' || k.type.name === 'GroupRight') {
          card = k.type.name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
          if (next?.type.name === 'GroupingLabels') include = this.grouping(next);
          if (isSetOp(op)) this.fail(node, `no grouping allowed for "${op}" operation`);
        }
      }
      if (on) for (const l of include) if (labels.includes(l)) this.fail(node, `label "${l}" must not occur in ON and GROUP clause at once`);
      matching = { card, on, labels, include };
    } else if (lt === 'vector' && rt === 'vector') {
      matching = { card: isSetOp(op) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [] };
    }
    return { kind: 'binary', op, lhs, rhs, bool, matching };
  }
}

function describe(text: string): string {
  return JSON.stringify(text.slice(0, 40));
}

/** Whether the matcher matches a series that lacks the label (its value is then ""). */
export function matchesEmpty(m: Matcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return RE2JS.compile(`^(?:${m.value})$`).matches('');
    case '!~':
      return !RE2JS.compile(`^(?:${m.value})$`).matches('');
  }
}

export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'vector':
    case 'aggregate':
      return 'vector';
    case 'matrix':
    case 'subquery':
      return 'matrix';
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'call':
      return FUNCTIONS[e.fn]!.returns;
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(e.expr);
  }
}

/** Parses and type-checks one PromQL expression; throws ParseError. */
export function parsePromQL(src: string): Expr {
  const later = /\bdouble_exponential_smoothing\b/.exec(src);
  if (later) throw new ParseError(new Walker(src).pos(later.index), 'unknown function with name "double_exponential_smoothing"');
  // The grammar (newer than 2.42) knows holt_winters only by its later name; positions after it shift by the difference.
  src = src.replace(/\bholt_winters(\s*\()/g, 'double_exponential_smoothing$1');
  const tree = parser.parse(src);
  const walker = new Walker(src);
  // The first error node, if any: lezer recovers, Prometheus does not.
  let errorAt: SyntaxNode | null = null;
  tree.iterate({
    enter(n) {
      if (errorAt) return false;
      if (n.type.isError) errorAt = n.node;
      return undefined;
    },
  });
  if (errorAt) walker.fail(errorAt, checkUnclosed(src, (errorAt as SyntaxNode).from) ?? walker.unexpected(errorAt));
  const expr = walker.expr(tree.topNode);
  checkUnary(expr, walker);
  return expr;
}

function checkUnclosed(src: string, at: number): string | null {
  if (src.slice(at).trim() !== '') return null;
  let depth = 0;
  for (const c of src) {
    if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  return depth > 0 ? 'unclosed left parenthesis' : null;
}

function checkUnary(e: Expr, walker: Walker): void {
  if (e.kind === 'unary') {
    const t = typeOf(e.expr);
    if (t !== 'scalar' && t !== 'vector') walker.fail(0, `unary expression only allowed on expressions of type scalar or instant vector, got "${TYPE_NAMES[t]}"`);
  }
  if (e.kind === 'subquery' && typeOf(e.expr) !== 'vector') walker.fail(0, `subquery is only allowed on instant vector, got ${TYPE_NAMES[typeOf(e.expr)]} instead`);
  for (const child of childrenOf(e)) checkUnary(child, walker);
}

export function childrenOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'matrix':
      return [e.vector];
    case 'subquery':
    case 'unary':
    case 'paren':
      return [e.expr];
    case 'call':
      return [...e.args];
    case 'aggregate':
      return e.param ? [e.param, e.expr] : [e.expr];
    case 'binary':
      return [e.lhs, e.rhs];
    default:
      return [];
  }
}
