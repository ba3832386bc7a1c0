// Series selectors (`match[]` of the series, labels and label-values routes)
// read with the Prometheus project's grammar (@prometheus-io/lezer-promql)
// into the store's label matchers, with Prometheus' checks: a selector and
// nothing else, valid regexes, at least one matcher that does not match the
// empty string. Pure.
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type { LabelMatcher, MatchOp } from '../range-query.ts';
import { regexProblem } from '../regex.ts';
import { matchesEmpty } from '../promql/parse.ts';
import { badParam } from './errors.ts';

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };

/** The value of a PromQL string literal ("…", '…' with Go's escapes, or `…` raw), or null when malformed. */
export function unquote(literal: string): string | null {
  const q = literal[0];
  if (literal.length < 2 || literal[literal.length - 1] !== q) return null;
  const body = literal.slice(1, -1);
  if (q === '`') return body.includes('`') ? null : body;
  if (q !== '"' && q !== "'") return null;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === q || c === '\n') return null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return null;
    if (e in ESCAPES) {
      // Go refuses \' in "…" and \" in '…'.
      if ((e === "'" && q === '"') || (e === '"' && q === "'")) return null;
      out += ESCAPES[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return null;
      const code = parseInt(hex, 16);
      if (e === 'x') out += String.fromCharCode(code);
      else if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return null;
      else out += String.fromCodePoint(code);
      i += n;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else return null;
  }
  return out;
}

/** "line:column" of an offset in the text, as Prometheus' parse errors name a position. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

function opOf(node: SyntaxNode): MatchOp | null {
  const name = node.firstChild?.name;
  return name === 'EqlSingle' ? '=' : name === 'Neq' ? '!=' : name === 'EqlRegex' ? '=~' : name === 'NeqRegex' ? '!~' : null;
}

/**
 * The matchers of one series selector (`up`, `{job="node"}`,
 * `up{instance=~"a.*"}`); the metric name as a `__name__` matcher. Throws
 * bad_data naming `field` (Prometheus' `match[]`).
 */
export function parseSelector(text: string, field = 'match[]'): LabelMatcher[] {
  const fail = (offset: number, why: string) => badParam(field, `${position(text, offset)}: parse error: ${why}`);
  if (text.trim() === '') throw fail(0, 'no expression found in input');
  const tree = parser.parse(text);
  let error: number | null = null;
  tree.iterate({
    enter: (n) => {
      if (n.type.isError && error === null) error = n.from;
      return error === null;
    },
  });
  if (error !== null) throw fail(error, error >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text.slice(error, error + 1))}`);
  const top = tree.topNode.firstChild;
  if (!top || top.name !== 'VectorSelector') throw fail(top?.from ?? 0, 'expected a series selector such as up{job="node"}');
  // Offsets and @ modifiers wrap the selector, so a bare VectorSelector is all a series selector can be.
  const matchers: LabelMatcher[] = [];
  const str = (node: SyntaxNode | null): string => {
    if (!node) throw fail(text.length, 'unexpected end of input');
    const v = unquote(text.slice(node.from, node.to));
    if (v === null) throw fail(node.from, `invalid string literal ${text.slice(node.from, node.to)}`);
    return v;
  };
  for (let child = top.firstChild; child; child = child.nextSibling) {
    if (child.name === 'Identifier') matchers.push({ name: '__name__', op: '=', value: text.slice(child.from, child.to) });
    else if (child.name === 'LabelMatchers') {
      for (let m = child.firstChild; m; m = m.nextSibling) {
        if (m.name === 'QuotedLabelName') {
          matchers.push({ name: '__name__', op: '=', value: str(m.firstChild) });
          continue;
        }
        if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue;
        const nameNode = m.firstChild!;
        const name = nameNode.name === 'LabelName' ? text.slice(nameNode.from, nameNode.to) : str(nameNode.firstChild);
        const opNode = nameNode.nextSibling;
        const op = opNode ? opOf(opNode) : null;
        if (!opNode || !op) throw fail(nameNode.to, 'expected a label matching operator');
        const value = str(opNode.nextSibling);
        if (op === '=~' || op === '!~') {
          const problem = regexProblem(value);
          if (problem) throw fail(m.from, `error parsing regexp: ${problem}`);
        }
        matchers.push({ name, op, value });
      }
    }
  }
  if (matchers.every(matchesEmpty)) throw badParam(field, 'match[] must contain at least one non-empty matcher');
  return matchers;
}
