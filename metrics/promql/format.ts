// How PromQL values and expressions are written out: sample values as
// Prometheus formats them (Go's strconv.FormatFloat(v, 'f', -1, 64), so
// 1e21 is "1000000000000000000000" and Inf is "+Inf"), and an expression
// back to PromQL text (Prometheus' String() forms), for format_query.
import type { AtModifier, Expr, Matcher, VectorMatching } from './ast.ts';

/** A sample value as Prometheus' JSON writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e === -1) return s;
  // Shortest round-trip digits (what JavaScript and Go both pick), written without an exponent.
  const negative = s.startsWith('-');
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const [int, frac = ''] = mantissa.split('.');
  const digits = int! + frac;
  const point = int!.length + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}

/** Go's fmt %v of a float64 (shortest 'g' form), as Prometheus prints number literals. */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return s.replace(/e([+-])(\d)$/, 'e$10$2');
  if (abs >= 1e21) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return s;
}

/** Milliseconds as Prometheus' model.Duration prints them ("1h30m", "500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const units: [string, number][] = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let out = '';
  for (const [u, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${u}`;
      rest %= size;
    }
  }
  return sign + out;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function matchers(ms: readonly Matcher[], name: string | null): string {
  const shown = name === null ? ms : ms.filter((m) => !(m.name === '__name__' && m.op === '=' && m.value === name));
  if (shown.length === 0) return name === null ? '{}' : '';
  return `{${shown.map((m) => `${m.name}${m.op}${quote(m.value)}`).join(', ')}}`;
}

function at(a: AtModifier | null): string {
  if (!a) return '';
  if (a.kind === 'start') return ' @ start()';
  if (a.kind === 'end') return ' @ end()';
  return ` @ ${(a.ms / 1000).toFixed(3)}`;
}

function offset(ms: number): string {
  return ms === 0 ? '' : ` offset ${formatDuration(ms)}`;
}

function matching(m: VectorMatching | null): string {
  if (!m) return '';
  let out = '';
  if (m.on || m.labels.length > 0) out += ` ${m.on ? 'on' : 'ignoring'} (${m.labels.join(', ')})`;
  if (m.card === 'many-to-one' || m.card === 'one-to-many') out += ` ${m.card === 'many-to-one' ? 'group_left' : 'group_right'} (${m.include.join(', ')})`;
  return out;
}

/** The expression as PromQL text, in Prometheus' canonical spelling. */
export function exprString(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return formatGoFloat(e.value);
    case 'string':
      return quote(e.value);
    case 'vector':
      return `${e.name ?? ''}${matchers(e.matchers, e.name)}${offset(e.offsetMs)}${at(e.at)}`;
    case 'matrix':
      return `${e.vector.name ?? ''}${matchers(e.vector.matchers, e.vector.name)}[${formatDuration(e.rangeMs)}]${offset(e.vector.offsetMs)}${at(e.vector.at)}`;
    case 'subquery':
      return `${exprString(e.expr)}[${formatDuration(e.rangeMs)}:${e.stepMs ? formatDuration(e.stepMs) : ''}]${offset(e.offsetMs)}${at(e.at)}`;
    case 'paren':
      return `(${exprString(e.expr)})`;
    case 'unary':
      return `${e.op}${exprString(e.expr)}`;
    case 'call':
      return `${e.fn}(${e.args.map(exprString).join(', ')})`;
    case 'aggregate': {
      const grouping = e.without || e.grouping.length > 0 ? ` ${e.without ? 'without' : 'by'} (${e.grouping.join(', ')}) ` : '';
      return `${e.op}${grouping}(${e.param ? `${exprString(e.param)}, ` : ''}${exprString(e.expr)})`;
    }
    case 'binary':
      return `${exprString(e.lhs)} ${e.op}${e.bool ? ' bool' : ''}${matching(e.matching)} ${exprString(e.rhs)}`;
  }
}
