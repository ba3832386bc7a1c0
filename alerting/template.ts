// Alert templates: the subset of Go's text/template that Prometheus rule
// labels and annotations use, parsed once when a rule file loads (a template
// that does not parse refuses the file) and expanded at each evaluation.
//
// The subset: text; `{{ pipeline }}` with `|` chains; variables `$labels`,
// `$externalLabels`, `$externalURL`, `$value` (Prometheus' header defines
// them) and `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`, field
// access (`$labels.instance`), `{{ $x := … }}`; `{{ if }} {{ else if }}
// {{ else }} {{ end }}`; `{{ range $k, $v := map }}`; comments `{{/* */}}`;
// trim markers `{{-`/`-}}`; string, raw-string and number literals; the
// functions humanize, humanize1024, humanizePercentage, humanizeDuration,
// humanizeTimestamp, printf (sprintf-js), print, toUpper, toLower, title,
// reReplaceAll, match, eq, ne, lt, le, gt, ge, and, or, not, len, index.
// Not supported (a parse error names them): `query`, `with`, `template`,
// `define`, `block`, method calls. A missing label expands to "" as
// Prometheus' missingkey=zero does.
import { sprintf } from 'sprintf-js';

export type TemplateValue = string | number | boolean | Readonly<Record<string, string>> | undefined;

export interface TemplateData {
  readonly labels: Readonly<Record<string, string>>;
  readonly externalLabels: Readonly<Record<string, string>>;
  readonly externalURL: string;
  readonly value: number;
}

export class TemplateError extends Error {}

type Operand =
  | { kind: 'literal'; value: TemplateValue }
  | { kind: 'var'; name: string; fields: string[] }
  | { kind: 'dot'; fields: string[] }
  | { kind: 'func'; name: string }
  | { kind: 'pipe'; pipe: Pipeline };
interface Command { args: Operand[] }
interface Pipeline { decl?: string[]; assign?: boolean; commands: Command[] }
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; cond: Pipeline; then: Node[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[] };

const FUNCTIONS = new Set([
  'humanize', 'humanize1024', 'humanizePercentage', 'humanizeDuration', 'humanizeTimestamp', 'printf', 'print', 'toUpper', 'toLower', 'title',
  'reReplaceAll', 'match', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'not', 'len', 'index',
]);

/** Go's %g-family formatting (strconv 'g'): `prec` significant digits, -1 for the shortest; trailing zeros dropped; exponent of two digits at least. */
export function formatGoFloat(v: number, prec = -1): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = prec < 0 ? v.toExponential() : v.toExponential(Math.max(prec, 1) - 1);
  const [mantissa = '', e = '0'] = exp.split('e');
  const x = Number(e);
  const digits = mantissa.replace(/^-/, '').replace('.', '').replace(/0+$/, '') || '0';
  // strconv's 'g': %e below exponent -4 or from the precision up (6 for the shortest form, as fmt's %v).
  const limit = prec < 0 ? 6 : prec === 0 ? 1 : prec;
  const sign = v < 0 ? '-' : '';
  if (x < -4 || x >= limit) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ex = Math.abs(x) < 10 ? `0${Math.abs(x)}` : String(Math.abs(x));
    return `${sign}${m}e${x < 0 ? '-' : '+'}${ex}`;
  }
  if (x < 0) return `${sign}0.${'0'.repeat(-x - 1)}${digits}`;
  if (digits.length <= x + 1) return `${sign}${digits}${'0'.repeat(x + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, x + 1)}.${digits.slice(x + 1)}`;
}

/** How Go's fmt prints a float64 with %v (`{{ $value }}`): shortest digits, %e from exponent 6 up or below -4 (1e+06). */
export function formatGoValue(v: number): string {
  return formatGoFloat(v, -1);
}

function toFloat(v: TemplateValue, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = v.trim() === '' ? NaN : Number(v);
    if (Number.isNaN(n) && v !== 'NaN') throw new TemplateError(`error calling ${fn}: strconv.ParseFloat: parsing "${v}": invalid syntax`);
    return n;
  }
  throw new TemplateError(`error calling ${fn}: can't convert ${typeof v} to float`);
}

const g4 = (v: number) => formatGoFloat(v, 4);
const SMALL = ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];

export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return `${g4(v)}${prefix}`;
  }
  let prefix = '';
  for (const p of SMALL) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}`;
}

export function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return g4(v);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return `${g4(v)}${prefix}`;
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return `${g4(v)}s`;
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    v = Math.abs(v);
    const d = Math.trunc(v);
    const seconds = d % 60;
    const minutes = Math.trunc(d / 60) % 60;
    const hours = Math.trunc(d / 3600) % 24;
    const days = Math.trunc(d / 86400);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${g4(v)}s`;
  }
  let prefix = '';
  for (const p of SMALL) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}s`;
}

export function humanizePercentage(v: number): string {
  return `${g4(v * 100)}%`;
}

function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  // Go's time.Time String(): "2006-01-02 15:04:05.999999999 -0700 MST".
  const iso = new Date(v * 1000).toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

function show(v: TemplateValue): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return formatGoValue(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v;
  return `map[${Object.keys(v).sort().map((k) => `${k}:${v[k]}`).join(' ')}]`;
}

function truthy(v: TemplateValue): boolean {
  if (v === undefined || v === '' || v === 0 || v === false) return false;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function compare(a: TemplateValue, b: TemplateValue, fn: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (fn === 'eq' || fn === 'ne') return a === b ? 0 : 1;
  throw new TemplateError(`error calling ${fn}: incompatible types for comparison`);
}

function call(name: string, args: TemplateValue[]): TemplateValue {
  const one = () => {
    if (args.length !== 1) throw new TemplateError(`wrong number of args for ${name}: want 1 got ${args.length}`);
    return args[0];
  };
  switch (name) {
    case 'humanize': return humanize(toFloat(one(), name));
    case 'humanize1024': return humanize1024(toFloat(one(), name));
    case 'humanizePercentage': return humanizePercentage(toFloat(one(), name));
    case 'humanizeDuration': return humanizeDuration(toFloat(one(), name));
    case 'humanizeTimestamp': return humanizeTimestamp(toFloat(one(), name));
    case 'printf': {
      const [format, ...rest] = args;
      if (typeof format !== 'string') throw new TemplateError('printf: the format must be a string');
      // Go's %v prints any value; sprintf-js has no %v, so it is read as %s of Go's own rendering.
      return sprintf(format.replace(/%v/g, '%s'), ...rest.map((a) => (typeof a === 'number' && /%v/.test(format) ? formatGoValue(a) : typeof a === 'object' ? show(a) : a)));
    }
    case 'print': return args.map(show).join('');
    case 'toUpper': return show(one()).toUpperCase();
    case 'toLower': return show(one()).toLowerCase();
    case 'title': return show(one()).replace(/\b\w/g, (c) => c.toUpperCase());
    case 'reReplaceAll': {
      if (args.length !== 3) throw new TemplateError(`wrong number of args for reReplaceAll: want 3 got ${args.length}`);
      // Go's regexp.ReplaceAllString: $1 and ${1} expand to groups, as in JavaScript's replace.
      return show(args[2]).replace(new RegExp(show(args[0]), 'g'), show(args[1]).replace(/\$\{(\w+)\}/g, '$$$1'));
    }
    case 'match': {
      if (args.length !== 2) throw new TemplateError(`wrong number of args for match: want 2 got ${args.length}`);
      return new RegExp(show(args[0])).test(show(args[1]));
    }
    case 'eq': return args.slice(1).some((b) => compare(args[0], b, name) === 0);
    case 'ne': return compare(args[0], args[1], name) !== 0;
    case 'lt': return compare(args[0], args[1], name) < 0;
    case 'le': return compare(args[0], args[1], name) <= 0;
    case 'gt': return compare(args[0], args[1], name) > 0;
    case 'ge': return compare(args[0], args[1], name) >= 0;
    case 'and': { let last: TemplateValue = true; for (const a of args) { last = a; if (!truthy(a)) return a; } return last; }
    case 'or': { let last: TemplateValue = false; for (const a of args) { last = a; if (truthy(a)) return a; } return last; }
    case 'not': return !truthy(one());
    case 'len': { const v = one(); return typeof v === 'string' ? v.length : typeof v === 'object' ? Object.keys(v).length : 0; }
    case 'index': {
      const [m, k] = args;
      return typeof m === 'object' && m !== null ? (m as Record<string, string>)[show(k)] ?? '' : '';
    }
    default: throw new TemplateError(`function "${name}" not defined`);
  }
}

// ---------------------------------------------------------------------------
// Parsing

const TOKEN = /\s*(?:(\|)|(:=|=)|(,)|(\()|(\))|("(?:[^"\\]|\\.)*")|(`[^`]*`)|([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?)|([A-Za-z_][A-Za-z0-9_]*))/y;

type Token = { t: '|' | ':=' | '=' | ',' | '(' | ')' } | { t: 'lit'; v: TemplateValue } | { t: 'var'; name: string; fields: string[] } | { t: 'dot'; fields: string[] } | { t: 'ident'; name: string };

function tokenize(src: string, line: number, name: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new TemplateError(`template: ${name}:${line}: unexpected "${src.slice(pos).trim()[0]}" in command`);
    pos = TOKEN.lastIndex;
    if (m[1]) out.push({ t: '|' });
    else if (m[2]) out.push({ t: m[2] as ':=' | '=' });
    else if (m[3]) out.push({ t: ',' });
    else if (m[4]) out.push({ t: '(' });
    else if (m[5]) out.push({ t: ')' });
    else if (m[6]) out.push({ t: 'lit', v: JSON.parse(m[6]) as string });
    else if (m[7]) out.push({ t: 'lit', v: m[7].slice(1, -1) });
    else if (m[8]) out.push({ t: 'lit', v: Number(m[8]) });
    else if (m[9]) {
      const [v = '', ...fields] = m[9].split('.');
      out.push({ t: 'var', name: v, fields });
    } else if (m[10] !== undefined) out.push({ t: 'dot', fields: m[10] === '.' ? [] : m[10].slice(1).split('.') });
    else if (m[11]) {
      const id = m[11];
      if (id === 'true' || id === 'false') out.push({ t: 'lit', v: id === 'true' });
      else if (id === 'nil') throw new TemplateError(`template: ${name}:${line}: nil is not a command`);
      else out.push({ t: 'ident', name: id });
    }
  }
  return out;
}

class PipeParser {
  private i = 0;
  constructor(private readonly toks: Token[], private readonly where: string, private readonly vars: Set<string>) {}

  pipeline(allowDecl: boolean, rangeDecl = false): Pipeline {
    const pipe: Pipeline = { commands: [] };
    if (allowDecl) {
      const decl: string[] = [];
      let j = this.i;
      while (this.toks[j]?.t === 'var' && (this.toks[j] as { fields: string[] }).fields.length === 0) {
        decl.push((this.toks[j] as { name: string }).name);
        j++;
        if (this.toks[j]?.t === ',' && rangeDecl && decl.length === 1) { j++; continue; }
        break;
      }
      const op = this.toks[j];
      if (decl.length > 0 && op && (op.t === ':=' || op.t === '=')) {
        for (const d of decl) {
          if (op.t === '=' && !this.vars.has(d)) throw new TemplateError(`${this.where}: undefined variable "${d}"`);
          this.vars.add(d);
        }
        pipe.decl = decl;
        pipe.assign = op.t === '=';
        this.i = j + 1;
      }
    }
    for (;;) {
      pipe.commands.push(this.command());
      if (this.toks[this.i]?.t === '|') { this.i++; continue; }
      break;
    }
    return pipe;
  }

  done(): void {
    if (this.i < this.toks.length) throw new TemplateError(`${this.where}: unexpected ${JSON.stringify(this.toks[this.i])} in operand`);
  }

  private command(): Command {
    const args: Operand[] = [];
    for (;;) {
      const tok = this.toks[this.i];
      if (!tok || tok.t === '|' || tok.t === ')') break;
      this.i++;
      if (tok.t === 'lit') args.push({ kind: 'literal', value: tok.v });
      else if (tok.t === 'var') {
        if (!this.vars.has(tok.name)) throw new TemplateError(`${this.where}: undefined variable "${tok.name}"`);
        args.push({ kind: 'var', name: tok.name, fields: tok.fields });
      } else if (tok.t === 'dot') args.push({ kind: 'dot', fields: tok.fields });
      else if (tok.t === 'ident') {
        if (!FUNCTIONS.has(tok.name)) throw new TemplateError(`${this.where}: function "${tok.name}" not defined`);
        args.push({ kind: 'func', name: tok.name });
      } else if (tok.t === '(') {
        const inner = this.pipeline(false);
        if (this.toks[this.i]?.t !== ')') throw new TemplateError(`${this.where}: unclosed left paren`);
        this.i++;
        args.push({ kind: 'pipe', pipe: inner });
      } else throw new TemplateError(`${this.where}: unexpected "${tok.t}" in command`);
    }
    if (args.length === 0) throw new TemplateError(`${this.where}: missing value for command`);
    return { args };
  }
}

export interface Template {
  readonly source: string;
  expand(data: TemplateData): string;
}

/** The header Prometheus puts before every alert template, so `$labels` and friends exist. */
const PRELUDE_VARS = ['$', '$labels', '$externalLabels', '$externalURL', '$value'];

/** Parses `source` as template `name` (Prometheus names them `__alert_<alertname>`); throws TemplateError as Go would word it. */
export function parseTemplate(source: string, name = 'template'): Template {
  const vars = new Set(PRELUDE_VARS);
  const root: Node[] = [];
  const stack: { kind: 'if' | 'range'; node: Node & { otherwise: Node[] }; inElse: boolean; closesElseIf: number }[] = [];
  const target = (): Node[] => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    if (top.inElse) return top.node.otherwise;
    return top.node.kind === 'if' ? top.node.then : (top.node as { body: Node[] }).body;
  };
  let pos = 0;
  let trimNext = false;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open < 0 ? source.length : open);
    const line = source.slice(0, open < 0 ? source.length : open).split('\n').length;
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text) target().push({ kind: 'text', text });
      break;
    }
    const trimLeft = source.startsWith('{{- ', open) || source.startsWith('{{-\n', open) || source.startsWith('{{-\t', open);
    if (trimLeft) text = text.replace(/\s+$/, '');
    if (text) target().push({ kind: 'text', text });
    const close = source.indexOf('}}', open + 2);
    const where = `template: ${name}:${line}`;
    if (close < 0) throw new TemplateError(`${where}: unclosed action`);
    let inner = source.slice(open + 2 + (trimLeft ? 1 : 0), close);
    trimNext = / -$/.test(inner) || /\s-$/.test(inner);
    if (trimNext) inner = inner.replace(/-$/, '');
    pos = close + 2;
    const body = inner.trim();
    if (body.startsWith('/*')) {
      if (!body.endsWith('*/')) throw new TemplateError(`${where}: unclosed comment`);
      continue;
    }
    const toks = tokenize(body, line, name);
    const head = toks[0];
    const keyword = head?.t === 'ident' ? head.name : '';
    const parser = new PipeParser(toks.slice(keyword && ['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue'].includes(keyword) ? 1 : 0), where, vars);
    if (!head) throw new TemplateError(`${where}: missing value for command`);
    if (keyword === 'if') {
      const cond = parser.pipeline(true);
      parser.done();
      const node = { kind: 'if' as const, cond, then: [], otherwise: [] };
      target().push(node);
      stack.push({ kind: 'if', node, inElse: false, closesElseIf: 0 });
    } else if (keyword === 'range') {
      const pipe = parser.pipeline(true, true);
      parser.done();
      const node = { kind: 'range' as const, pipe, body: [], otherwise: [] };
      target().push(node);
      stack.push({ kind: 'range', node, inElse: false, closesElseIf: 0 });
    } else if (keyword === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.inElse) throw new TemplateError(`${where}: unexpected {{else}}`);
      top.inElse = true;
      if (toks[1]?.t === 'ident' && (toks[1] as { name: string }).name === 'if') {
        const elseIf = new PipeParser(toks.slice(2), where, vars);
        const cond = elseIf.pipeline(true);
        elseIf.done();
        const node = { kind: 'if' as const, cond, then: [], otherwise: [] };
        top.node.otherwise.push(node);
        // One {{end}} closes the whole if/else-if chain.
        stack.push({ kind: 'if', node, inElse: false, closesElseIf: top.closesElseIf + 1 });
        top.closesElseIf = -1;
      } else if (toks.length > 1) throw new TemplateError(`${where}: unexpected input after else`);
    } else if (keyword === 'end') {
      if (toks.length > 1) throw new TemplateError(`${where}: unexpected input after end`);
      let top = stack.pop();
      if (!top) throw new TemplateError(`${where}: unexpected {{end}}`);
      while (top && top.closesElseIf > 0) top = stack.pop();
    } else if (['with', 'define', 'template', 'block', 'break', 'continue'].includes(keyword)) {
      throw new TemplateError(`${where}: {{${keyword}}} is not supported in Tidemark's alert templates`);
    } else {
      const pipe = parser.pipeline(true);
      parser.done();
      target().push({ kind: 'action', pipe });
    }
  }
  if (stack.length > 0) throw new TemplateError(`template: ${name}: unexpected EOF`);
  return { source, expand: (data) => run(root, data) };
}

function run(nodes: Node[], data: TemplateData): string {
  const dot: Record<string, TemplateValue> = { Labels: data.labels, ExternalLabels: data.externalLabels, ExternalURL: data.externalURL, Value: data.value };
  const scope = new Map<string, TemplateValue>([
    ['$', dot as unknown as TemplateValue],
    ['$labels', data.labels],
    ['$externalLabels', data.externalLabels],
    ['$externalURL', data.externalURL],
    ['$value', data.value],
  ]);
  const out: string[] = [];
  walk(nodes, scope, dot as unknown as TemplateValue, out);
  return out.join('');
}

function field(v: TemplateValue, fields: string[]): TemplateValue {
  let cur: TemplateValue = v;
  for (const f of fields) {
    if (cur === undefined) return undefined;
    if (typeof cur !== 'object') throw new TemplateError(`can't evaluate field ${f} in type ${typeof cur}`);
    cur = (cur as Record<string, TemplateValue>)[f] ?? '';
  }
  return cur;
}

function evalPipe(pipe: Pipeline, scope: Map<string, TemplateValue>, dot: TemplateValue): TemplateValue {
  let prev: TemplateValue | typeof NONE = NONE;
  for (const cmd of pipe.commands) prev = evalCommand(cmd, scope, dot, prev);
  const value = prev === NONE ? undefined : prev;
  if (pipe.decl && pipe.decl.length === 1) scope.set(pipe.decl[0]!, value);
  return value;
}

const NONE = Symbol('none');

function evalOperand(op: Operand, scope: Map<string, TemplateValue>, dot: TemplateValue): TemplateValue {
  switch (op.kind) {
    case 'literal': return op.value;
    case 'var': return field(scope.get(op.name), op.fields);
    case 'dot': return field(dot, op.fields);
    case 'pipe': return evalPipe(op.pipe, scope, dot);
    case 'func': return call(op.name, []);
  }
}

function evalCommand(cmd: Command, scope: Map<string, TemplateValue>, dot: TemplateValue, prev: TemplateValue | typeof NONE): TemplateValue {
  const [head, ...rest] = cmd.args;
  if (head!.kind === 'func') {
    const args = rest.map((a) => evalOperand(a, scope, dot));
    if (prev !== NONE) args.push(prev);
    return call(head!.name, args);
  }
  if (rest.length > 0 || prev !== NONE) throw new TemplateError(`can't give argument to non-function ${JSON.stringify(head)}`);
  return evalOperand(head!, scope, dot);
}

function walk(nodes: Node[], scope: Map<string, TemplateValue>, dot: TemplateValue, out: string[]): void {
  for (const node of nodes) {
    if (node.kind === 'text') out.push(node.text);
    else if (node.kind === 'action') {
      const v = evalPipe(node.pipe, scope, dot);
      if (!node.pipe.decl) out.push(show(v));
    } else if (node.kind === 'if') {
      walk(truthy(evalPipe(node.cond, scope, dot)) ? node.then : node.otherwise, scope, dot, out);
    } else {
      const decl = node.pipe.decl;
      const over = evalPipe({ ...node.pipe, decl: undefined }, scope, dot);
      const entries = typeof over === 'object' && over !== null ? Object.keys(over).sort().map((k) => [k, (over as Record<string, string>)[k]] as const) : [];
      if (entries.length === 0) walk(node.otherwise, scope, dot, out);
      for (const [k, v] of entries) {
        if (decl?.length === 2) { scope.set(decl[0]!, k); scope.set(decl[1]!, v); } else if (decl?.length === 1) scope.set(decl[0]!, v);
        walk(node.body, scope, v, out);
      }
    }
  }
}
