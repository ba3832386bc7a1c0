// LogQL text to our typed syntax tree (ast.ts). Grafana's own grammar
// (@grafana/lezer-logql, the one Grafana's query editor uses) does the
// parsing; this module walks its tree, so what Grafana accepts is what we
// accept, and we never keep a LogQL parser of our own. Two things the
// grammar does not know are rewritten before it sees the text (Tidemark's
// search beyond Loki, see README): an empty selector `{}` (every stream)
// and a query made only of quoted strings (`"10.1.2.3"`, `"timed out" "db"`),
// which means `{__search__="…"}`: the words as whole tokens, in any stream.
import { parser } from '@grafana/lezer-logql';
import type { SyntaxNode } from '@lezer/common';
import { InputError } from '../../core/errors.ts';
import { parseDuration } from '../../core/duration.ts';
import { regexProblem } from '../../metrics/regex.ts';
import { compileTemplate } from './template.ts';
import type {
  ArithmeticOp,
  CompareOp,
  LabelMatcher,
  LabelPredicate,
  LineFilter,
  LineFilterOp,
  LogQuery,
  MatchOp,
  MetricQuery,
  ParserStage,
  Query,
  RangeOp,
  Selector,
  Stage,
  VectorOp,
} from './ast.ts';

/** The pseudo-label of Tidemark's token search: `{__search__="needle"}`. */
export const SEARCH_LABEL = '__search__';

const MAX_DURATION_MS = 3650 * 86_400_000;

/** Longest query accepted: a bound on what one request makes the parser and the store do. */
export const MAX_QUERY_LENGTH = 64 * 1024;

/** A query that does not parse or asks for what we do not run: 400, with Loki's "parse error at line L, col C: …". */
export class LogqlError extends InputError {
  constructor(
    readonly offset: number,
    readonly line: number,
    readonly col: number,
    reason: string,
  ) {
    super('query', reason, 'invalid_query');
    this.message = `parse error at line ${line}, col ${col}: ${reason}`;
  }
}

function errorAt(text: string, offset: number, reason: string): LogqlError {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  const col = before.length - before.lastIndexOf('\n');
  return new LogqlError(offset, line, col, reason);
}

interface Rewrite {
  readonly text: string;
  /** Offsets in the rewritten text where `inserted` characters were added. */
  readonly inserts: readonly { at: number; length: number }[];
}

/** The end of the string literal starting at i (its closing quote + 1), or -1 when unterminated. */
function stringEnd(text: string, i: number): number {
  const quote = text[i];
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (quote === '"' && c === '\\') {
      j += 2;
      continue;
    }
    if (c === quote) return j + 1;
    j++;
  }
  return -1;
}

/** Only quoted strings and blanks: Tidemark's plain search. */
function bareStrings(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    if (text[i] !== '"' && text[i] !== '`') return null;
    const end = stringEnd(text, i);
    if (end < 0) return null;
    out.push(text.slice(i, end));
    i = end;
  }
  return out.length > 0 ? out : null;
}

const EMPTY_SELECTOR_FILL = `${SEARCH_LABEL}=""`;

/** `{}` outside string literals and comments becomes `{__search__=""}`, which selects every stream. */
function rewrite(text: string): Rewrite {
  const strings = bareStrings(text);
  if (strings) {
    const matchers = strings.map((s) => `${SEARCH_LABEL}=${JSON.stringify(unquote(s, 0, text))}`).join(', ');
    return { text: `{${matchers}}`, inserts: [{ at: 0, length: matchers.length + 2 - text.length }] };
  }
  let out = '';
  const inserts: { at: number; length: number }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === '`') {
      const end = stringEnd(text, i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '#') {
      const nl = text.indexOf('\n', i);
      const stop = nl < 0 ? text.length : nl;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '{') {
      const m = /^\{\s*\}/.exec(text.slice(i));
      if (m) {
        inserts.push({ at: out.length + 1, length: EMPTY_SELECTOR_FILL.length });
        out += `{${EMPTY_SELECTOR_FILL}${m[0].slice(1)}`;
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return { text: out, inserts };
}

/** A position in the rewritten text, as a position in what the user wrote. */
function originalOffset(r: Rewrite, offset: number): number {
  let shift = 0;
  for (const ins of r.inserts) {
    if (offset >= ins.at + ins.length) shift += ins.length;
    else if (offset > ins.at) return Math.max(0, ins.at - shift);
  }
  return Math.max(0, offset - shift);
}

/** A Go string literal's value ("…" with Go's escapes, or `…` raw), as Loki reads it. */
export function unquote(literal: string, offset: number, text: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  const body = literal.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e !== undefined && e in simple) {
      out += simple[e];
      continue;
    }
    const hex = (n: number): string => {
      const digits = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) throw errorAt(text, offset + i, `invalid escape \\${e}${digits} in string`);
      i += n;
      return digits;
    };
    if (e === 'x') out += String.fromCharCode(parseInt(hex(2), 16));
    else if (e === 'u' || e === 'U') {
      const cp = parseInt(hex(e === 'u' ? 4 : 8), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw errorAt(text, offset + i, 'invalid Unicode escape in string');
      out += String.fromCodePoint(cp);
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const digits = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) throw errorAt(text, offset + i, `invalid octal escape \\${digits} in string`);
      out += String.fromCharCode(parseInt(digits, 8));
      i += 2;
    } else throw errorAt(text, offset + i, `invalid escape \\${e ?? ''} in string`);
  }
  return out;
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function child(node: SyntaxNode, name: string): SyntaxNode | null {
  return node.getChild(name);
}

function firstError(node: SyntaxNode): SyntaxNode | null {
  if (node.type.isError) return node;
  for (let c = node.firstChild; c; c = c.nextSibling) {
    const e = firstError(c);
    if (e) return e;
  }
  return null;
}

const RANGE_OPS: Record<string, RangeOp> = {
  CountOverTime: 'count_over_time',
  Rate: 'rate',
  BytesOverTime: 'bytes_over_time',
  BytesRate: 'bytes_rate',
  AbsentOverTime: 'absent_over_time',
};

const VECTOR_OPS: Record<string, VectorOp> = {
  Sum: 'sum',
  Avg: 'avg',
  Min: 'min',
  Max: 'max',
  Count: 'count',
  Stddev: 'stddev',
  Stdvar: 'stdvar',
  Topk: 'topk',
  Bottomk: 'bottomk',
};

const MATCH_OPS: Record<string, MatchOp> = { Eq: '=', Neq: '!=', Re: '=~', Nre: '!~' };
const FILTER_OPS: Record<string, LineFilterOp> = { PipeExact: '|=', Neq: '!=', PipeMatch: '|~', Nre: '!~' };
const BINARY_OPS: Record<string, ArithmeticOp | CompareOp> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^',
  Eql: '==', Neq: '!=', Gtr: '>', Gte: '>=', Lss: '<', Lte: '<=',
};
const COMPARE_OPS: Record<string, CompareOp> = { Gtr: '>', Gte: '>=', Lss: '<', Lte: '<=', Eql: '==', Eq: '==', Neq: '!=' };

const BYTE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15, eb: 1e18,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, pib: 1024 ** 5, eib: 1024 ** 6,
  kb_: 1e3,
};

/** The walker: one query's text and the rewrite that produced what the grammar saw. */
class Walker {
  constructor(
    private readonly src: string,
    private readonly rw: Rewrite,
  ) {}

  text(node: SyntaxNode): string {
    return this.rw.text.slice(node.from, node.to);
  }

  fail(node: SyntaxNode | number, reason: string): LogqlError {
    const at = typeof node === 'number' ? node : node.from;
    return errorAt(this.src, originalOffset(this.rw, at), reason);
  }

  string(node: SyntaxNode): string {
    return unquote(this.text(node), originalOffset(this.rw, node.from), this.src);
  }

  unsupported(node: SyntaxNode, what = this.text(node).split(/[\s(]/)[0] || node.name): LogqlError {
    return this.fail(node, `${what} is not supported by Tidemark's LogQL`);
  }

  expr(node: SyntaxNode): Query {
    const inner = children(node).filter((c) => c.name !== '(' && c.name !== ')');
    const first = inner[0];
    if (!first) throw this.fail(node, 'syntax error: empty query');
    if (first.name === 'Expr') return this.expr(first);
    if (first.name === 'LogExpr') return this.logExpr(first);
    if (first.name === 'MetricExpr') return this.metricExpr(first);
    throw this.unsupported(first);
  }

  logExpr(node: SyntaxNode): LogQuery {
    const nested = child(node, 'LogExpr');
    if (nested) return this.logExpr(nested);
    const selectorNode = child(node, 'Selector');
    if (!selectorNode) throw this.fail(node, 'syntax error: a log query starts with a stream selector such as {app="web"}');
    const pipelineNode = child(node, 'PipelineExpr');
    return { kind: 'log', selector: this.selector(selectorNode), pipeline: pipelineNode ? this.pipeline(pipelineNode) : [] };
  }

  selector(node: SyntaxNode): Selector {
    const matchers: LabelMatcher[] = [];
    const search: string[] = [];
    const walk = (n: SyntaxNode): void => {
      for (const c of children(n)) {
        if (c.name === 'Matchers') walk(c);
        else if (c.name === 'Matcher') {
          const m = this.matcher(c);
          if (m.name === SEARCH_LABEL) {
            if (m.op !== '=') throw this.fail(c, `${SEARCH_LABEL} takes only =, the words to find`);
            if (m.value.trim() !== '') search.push(m.value);
          } else matchers.push(m);
        }
      }
    };
    walk(node);
    return { matchers, search };
  }

  matcher(node: SyntaxNode): LabelMatcher {
    const id = child(node, 'Identifier');
    const str = child(node, 'String');
    const opNode = children(node).find((c) => c.name in MATCH_OPS);
    if (!id || !str || !opNode) throw this.fail(node, `syntax error: unexpected ${JSON.stringify(this.text(node))}`);
    const matcher = { name: this.text(id), op: MATCH_OPS[opNode.name]!, value: this.string(str) };
    if (matcher.op === '=~' || matcher.op === '!~') {
      const problem = regexProblem(matcher.value);
      if (problem) throw this.fail(str, problem);
    }
    return matcher;
  }

  pipeline(node: SyntaxNode): Stage[] {
    const out: Stage[] = [];
    for (const c of children(node)) {
      if (c.name === 'PipelineExpr') out.push(...this.pipeline(c));
      else if (c.name === 'PipelineStage') out.push(...this.stage(c));
      else throw this.unsupported(c);
    }
    return out;
  }

  stage(node: SyntaxNode): Stage[] {
    const parts = children(node).filter((c) => c.name !== 'Pipe');
    const head = parts[0];
    if (!head) throw this.fail(node, 'syntax error: empty pipeline stage');
    switch (head.name) {
      case 'LineFilters':
        return this.lineFilters(head);
      case 'LabelParser': {
        const kind = head.firstChild?.name;
        if (kind === 'Json') return [{ kind: 'json', extractions: [] }];
        if (kind === 'Logfmt') return [{ kind: 'logfmt', extractions: [] }];
        throw this.unsupported(head);
      }
      case 'LogfmtParser':
        return [{ kind: 'logfmt', extractions: [] }];
      case 'JsonExpressionParser':
      case 'LogfmtExpressionParser':
        return [this.extractingParser(head, head.name === 'JsonExpressionParser' ? 'json' : 'logfmt')];
      case 'LabelFilter':
        return [{ kind: 'labelFilter', predicate: this.labelFilter(head) }];
      case 'LineFormatExpr': {
        const str = child(head, 'String');
        if (!str) throw this.fail(head, 'syntax error: line_format takes a template string');
        const template = this.string(str);
        try {
          compileTemplate(template);
        } catch (e) {
          throw this.fail(str, (e as Error).message);
        }
        return [{ kind: 'lineFormat', template }];
      }
      case 'DropLabelsExpr':
      case 'KeepLabelsExpr':
        return [this.labelsStage(head, head.name === 'DropLabelsExpr' ? 'drop' : 'keep')];
      case 'DecolorizeExpr':
        return [{ kind: 'decolorize' }];
      case 'LabelFormatExpr':
        return [this.labelFormat(head)];
      default:
        throw this.unsupported(head);
    }
  }

  labelFormat(node: SyntaxNode): Stage {
    const formats: ({ dst: string; rename: string } | { dst: string; template: string })[] = [];
    const walk = (n: SyntaxNode): void => {
      for (const c of children(n)) {
        if (c.name === 'LabelsFormat') walk(c);
        else if (c.name === 'LabelFormatMatcher') {
          const ids = children(c).filter((x) => x.name === 'Identifier');
          const str = child(c, 'String');
          const dst = ids[0] ? this.text(ids[0]) : '';
          if (str) {
            const template = this.string(str);
            try {
              compileTemplate(template);
            } catch (e) {
              throw this.fail(str, (e as Error).message);
            }
            formats.push({ dst, template });
          } else if (ids[1]) formats.push({ dst, rename: this.text(ids[1]) });
          else throw this.fail(c, 'syntax error: label_format takes dst=src or dst="template"');
        }
      }
    };
    walk(node);
    return { kind: 'labelFormat', formats };
  }

  labelsStage(node: SyntaxNode, kind: 'drop' | 'keep'): Stage {
    const names: string[] = [];
    const matchers: LabelMatcher[] = [];
    const walk = (n: SyntaxNode): void => {
      for (const c of children(n)) {
        if (c.name === 'DropLabels' || c.name === 'KeepLabels') walk(c);
        else if (c.name === 'DropLabel' || c.name === 'KeepLabel') {
          const m = child(c, 'Matcher');
          const id = child(c, 'Identifier');
          if (m) matchers.push(this.matcher(m));
          else if (id) names.push(this.text(id));
        }
      }
    };
    walk(node);
    return { kind, names, matchers };
  }

  lineFilters(node: SyntaxNode): LineFilter[] {
    const out: LineFilter[] = [];
    for (const c of children(node)) {
      if (c.name === 'LineFilters') out.push(...this.lineFilters(c));
      else if (c.name === 'LineFilter') out.push(this.lineFilter(c));
    }
    return out;
  }

  lineFilter(node: SyntaxNode): LineFilter {
    const filter = child(node, 'Filter');
    const opName = filter?.firstChild?.name ?? '';
    const op = FILTER_OPS[opName];
    if (!filter || !op) throw this.unsupported(filter ?? node, `the line filter ${filter ? this.text(filter) : ''}`.trim());
    const fn = child(node, 'FilterOp');
    if (fn) throw this.unsupported(fn, `the line filter function ${this.text(fn)}()`);
    const values: string[] = [];
    const collect = (n: SyntaxNode): void => {
      for (const c of children(n)) {
        if (c.name === 'String') values.push(this.string(c));
        else if (c.name === 'OrFilter') collect(c);
        else if (c.name === 'FilterOp') throw this.unsupported(c, `the line filter function ${this.text(c)}()`);
      }
    };
    collect(node);
    if (values.length === 0) throw this.fail(node, 'syntax error: a line filter takes a string');
    if (op === '|~' || op === '!~') {
      for (const v of values) {
        const problem = regexProblem(v);
        if (problem) throw this.fail(node, problem);
      }
    }
    return { kind: 'line', op, values };
  }

  extractingParser(node: SyntaxNode, kind: 'json' | 'logfmt'): ParserStage {
    const extractions: { label: string; path: string }[] = [];
    const walk = (n: SyntaxNode): void => {
      for (const c of children(n)) {
        if (c.name === 'LabelExtractionExpressionList') walk(c);
        else if (c.name === 'LabelExtractionExpression') {
          const id = child(c, 'Identifier');
          const str = child(c, 'String');
          if (!id) throw this.fail(c, 'syntax error: expected a label name');
          const label = this.text(id);
          extractions.push({ label, path: str ? this.string(str) : label });
        } else if (c.name === 'LogfmtParserFlags') {
          // --strict and --keep-empty change only malformed-input handling; we read leniently.
        }
      }
    };
    walk(node);
    return { kind, extractions };
  }

  labelFilter(node: SyntaxNode): LabelPredicate {
    const parts = children(node).filter((c) => c.name !== '(' && c.name !== ')');
    const filters = parts.filter((c) => c.name === 'LabelFilter');
    if (filters.length === 2) {
      const or = parts.some((c) => c.name === 'Or');
      return { kind: or ? 'or' : 'and', left: this.labelFilter(filters[0]!), right: this.labelFilter(filters[1]!) };
    }
    if (filters.length === 1 && parts.length === 1) return this.labelFilter(filters[0]!);
    const head = parts[0];
    if (!head) throw this.fail(node, 'syntax error: empty label filter');
    switch (head.name) {
      case 'Matcher':
        return { kind: 'match', matcher: this.matcher(head) };
      case 'NumberFilter':
        return this.compare(head, 'number');
      case 'UnitFilter': {
        const inner = head.firstChild;
        if (inner?.name === 'DurationFilter') return this.compare(inner, 'duration');
        if (inner?.name === 'BytesFilter') return this.compare(inner, 'bytes');
        throw this.unsupported(head);
      }
      case 'IpLabelFilter':
        throw this.unsupported(head, 'the label filter ip()');
      default:
        throw this.unsupported(head);
    }
  }

  compare(node: SyntaxNode, unit: 'number' | 'duration' | 'bytes'): LabelPredicate {
    const id = child(node, 'Identifier');
    const opNode = children(node).find((c) => c.name in COMPARE_OPS);
    if (!id || !opNode) throw this.fail(node, `syntax error: unexpected ${JSON.stringify(this.text(node))}`);
    const valueNode = children(node).find((c) => ['LiteralExpr', 'Number', 'Duration', 'Bytes'].includes(c.name));
    if (!valueNode) throw this.fail(node, 'syntax error: expected a value to compare with');
    const raw = this.text(valueNode).replace(/\s+/g, '');
    let value: number;
    if (unit === 'duration') value = this.durationNs(valueNode, raw) / 1e9;
    else if (unit === 'bytes') value = this.bytes(valueNode, raw);
    else value = Number(raw);
    if (!Number.isFinite(value)) throw this.fail(valueNode, `"${raw}" is not a number`);
    return { kind: 'compare', name: this.text(id), op: COMPARE_OPS[opNode.name]!, value, unit };
  }

  bytes(node: SyntaxNode, raw: string): number {
    const m = /^(\d+(?:\.\d+)?)([a-zA-Z]+)$/.exec(raw);
    const factor = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || factor === undefined) throw this.fail(node, `"${raw}" is not a byte size such as 10KB or 5MiB`);
    return Number(m[1]) * factor;
  }

  durationNs(node: SyntaxNode, raw = this.text(node)): number {
    const negative = raw.startsWith('-');
    const body = negative ? raw.slice(1) : raw;
    let ms: number;
    try {
      // Go's units below a millisecond (us, µs, ns) have no place in a query window; ms and up as Prometheus reads them.
      ms = parseDuration(body, 'duration', { dialect: 'prometheus' });
    } catch (e) {
      throw this.fail(node, (e as Error).message.replace(/^duration: /, ''));
    }
    // Ten years: beyond, a window or offset leaves what DateTime64(9) and Int64 nanoseconds hold.
    if (ms > MAX_DURATION_MS) throw this.fail(node, `"${raw}" is longer than the ten years a range or offset may span`);
    return (negative ? -ms : ms) * 1e6;
  }

  metricExpr(node: SyntaxNode): MetricQuery {
    const parts = children(node).filter((c) => c.name !== '(' && c.name !== ')');
    const head = parts[0];
    if (!head) throw this.fail(node, 'syntax error: empty expression');
    switch (head.name) {
      case 'MetricExpr':
        return this.metricExpr(head);
      case 'RangeAggregationExpr':
        return this.rangeAggregation(head);
      case 'VectorAggregationExpr':
        return this.vectorAggregation(head);
      case 'BinOpExpr':
        return this.binOp(head);
      case 'LiteralExpr':
        throw this.unsupported(head, 'a number on its own');
      default:
        throw this.unsupported(head);
    }
  }

  /** The number of a literal operand (`2`, `-1.5`), or null when the operand is a query. */
  literal(expr: SyntaxNode): number | null {
    let n: SyntaxNode | null = expr;
    while (n && (n.name === 'Expr' || n.name === 'MetricExpr')) {
      const inner: SyntaxNode[] = children(n).filter((c) => c.name !== '(' && c.name !== ')');
      if (inner.length !== 1) return null;
      n = inner[0]!;
    }
    if (!n || n.name !== 'LiteralExpr') return null;
    const value = Number(this.text(n).replace(/\s+/g, ''));
    if (!Number.isFinite(value)) throw this.fail(n, `"${this.text(n)}" is not a number`);
    return value;
  }

  binOp(node: SyntaxNode): MetricQuery {
    const operands = children(node).filter((c) => c.name === 'Expr');
    const opNode = children(node).find((c) => c.name in BINARY_OPS);
    if (operands.length !== 2 || !opNode) throw this.unsupported(node, `the operator in ${JSON.stringify(this.text(node).slice(0, 40))}`);
    const modifier = child(node, 'BinOpModifier');
    if (modifier && (child(modifier, 'OnOrIgnoringModifier') || child(modifier, 'GroupLeft') || child(modifier, 'GroupRight'))) throw this.unsupported(modifier, 'on/ignoring/group_left/group_right');
    const bool = !!(modifier && child(modifier, 'Bool'));
    const op = BINARY_OPS[opNode.name]!;
    const [left, right] = operands as [SyntaxNode, SyntaxNode];
    const l = this.literal(left);
    const r = this.literal(right);
    if (l !== null && r !== null) throw this.unsupported(node, 'an expression of numbers only');
    if (l === null && r === null) throw this.unsupported(opNode, 'binary operations between two queries');
    if (bool && !['==', '!=', '>', '>=', '<', '<='].includes(op)) throw this.fail(modifier!, 'bool modifier can only be used on comparison operators');
    const scalarLeft = l !== null;
    const inner: Query = this.expr(scalarLeft ? right : left);
    if (inner.kind === 'log') throw this.fail(scalarLeft ? right : left, 'a log query cannot take part in arithmetic; use a metric query such as count_over_time(…[5m])');
    return { kind: 'scalar', op, bool, inner, scalar: (scalarLeft ? l : r)!, scalarLeft };
  }

  rangeAggregation(node: SyntaxNode): MetricQuery {
    const opNode = child(node, 'RangeOp');
    const opName = opNode?.firstChild?.name ?? '';
    const op = RANGE_OPS[opName];
    if (!opNode || !op) throw this.unsupported(opNode ?? node, opNode ? `${this.text(opNode)} (needs unwrap)` : undefined);
    const grouping = child(node, 'Grouping');
    if (grouping) throw this.unsupported(grouping, `${this.text(opNode)} with by/without`);
    const range = child(node, 'LogRangeExpr');
    if (!range) throw this.fail(node, 'syntax error: expected a log range such as {app="web"}[5m]');
    return this.logRange(range, op, opNode);
  }

  logRange(node: SyntaxNode, op: RangeOp, opNode: SyntaxNode): MetricQuery {
    const unwrap = child(node, 'UnwrapExpr');
    if (unwrap) throw this.unsupported(unwrap, `unwrap with ${this.text(opNode)}`);
    const rangeNode = child(node, 'Range');
    const duration = rangeNode ? child(rangeNode, 'Duration') : null;
    if (!rangeNode || !duration) throw this.fail(node, 'syntax error: expected a range such as [5m]');
    const rangeNs = this.durationNs(duration);
    if (rangeNs <= 0) throw this.fail(duration, 'the range must be positive');
    const offsetNode = child(node, 'OffsetExpr');
    const offsetDuration = offsetNode ? child(offsetNode, 'Duration') : null;
    const offsetNs = offsetDuration ? this.durationNs(offsetDuration) : 0;
    // `({app="x"} |= "y")[5m]`: the log part may be in parentheses.
    const logNode = child(node, 'LogExpr');
    let log: LogQuery;
    if (logNode) log = this.logExpr(logNode);
    else {
      const selectorNode = child(node, 'Selector');
      if (!selectorNode) throw this.fail(node, 'syntax error: expected a stream selector');
      const pipelineNode = child(node, 'PipelineExpr');
      log = { kind: 'log', selector: this.selector(selectorNode), pipeline: pipelineNode ? this.pipeline(pipelineNode) : [] };
    }
    return { kind: 'range', op, log, rangeNs: BigInt(Math.round(rangeNs)), offsetNs: BigInt(Math.round(offsetNs)) };
  }

  vectorAggregation(node: SyntaxNode): MetricQuery {
    const opNode = child(node, 'VectorOp');
    const op = VECTOR_OPS[opNode?.firstChild?.name ?? ''];
    if (!opNode || !op) throw this.unsupported(opNode ?? node);
    const inner = child(node, 'MetricExpr');
    if (!inner) throw this.fail(node, `syntax error: ${op} needs an expression`);
    const groupingNode = child(node, 'Grouping');
    let grouping: { mode: 'by' | 'without'; labels: string[] } | null = null;
    if (groupingNode) {
      const labels: string[] = [];
      const labelsNode = child(groupingNode, 'Labels');
      const collect = (n: SyntaxNode): void => {
        for (const c of children(n)) {
          if (c.name === 'Identifier') labels.push(this.text(c));
          else if (c.name === 'Labels') collect(c);
        }
      };
      if (labelsNode) collect(labelsNode);
      grouping = { mode: child(groupingNode, 'Without') ? 'without' : 'by', labels };
    }
    let param: number | null = null;
    if (op === 'topk' || op === 'bottomk') {
      const num = child(node, 'Number');
      const k = num ? Number(this.text(num)) : NaN;
      if (!num || !Number.isInteger(k) || k < 1) throw this.fail(num ?? node, `${op} takes a whole number k of at least 1 first`);
      param = k;
    }
    return { kind: 'vector', op, grouping, param, inner: this.metricExpr(inner) };
  }
}

/** The query's syntax tree; throws LogqlError (a 400 naming the position) when it does not parse or asks for what we do not run. */
export function parseLogql(query: string): Query {
  if (query.length > MAX_QUERY_LENGTH) throw errorAt(query, 0, `the query is ${query.length} characters, longer than the ${MAX_QUERY_LENGTH} accepted`);
  if (query.trim() === '') throw errorAt(query, 0, 'syntax error: empty query');
  const rw = rewrite(query);
  const tree = parser.parse(rw.text);
  const walker = new Walker(query, rw);
  const error = firstError(tree.topNode);
  if (error) {
    const at = originalOffset(rw, error.from);
    const token = /^\S{1,40}/.exec(query.slice(at))?.[0];
    throw errorAt(query, at, `syntax error: unexpected ${token ? JSON.stringify(token) : 'end of query'}`);
  }
  const top = tree.topNode.getChild('Expr');
  if (!top) throw errorAt(query, 0, 'syntax error: unexpected end of query');
  return walker.expr(top);
}

/** The log query a metric query reads (its innermost range aggregation's). */
export function logQueryOf(q: Query): LogQuery {
  if (q.kind === 'log') return q;
  if (q.kind === 'range') return q.log;
  return logQueryOf(q.inner);
}
