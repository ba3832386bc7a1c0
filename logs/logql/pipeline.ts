// The part of a LogQL pipeline that runs here rather than in ClickHouse:
// the json and logfmt parsers, label filters over what they extract, and
// line_format. Line filters before the first such stage run in the store
// (plan.ts); the rest runs per line, in order, as Loki runs it: a stage
// sees the labels and line the previous one left.
import { RE2JS } from 're2js';
import type { LabelFormatStage, LabelMatcher, LabelPredicate, Stage } from './ast.ts';
import { compileTemplate } from './template.ts';

export interface Entry {
  labels: Record<string, string>;
  line: string;
}

export type EntryStage = (e: Entry) => Entry | null;

/** Loki's label names: every character outside [a-zA-Z0-9_] becomes _, and a leading digit gets a _ before it. */
export function sanitizeLabel(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** A parsed field joins the labels; one the stream already has is kept as <name>_extracted, as Loki does. */
function addExtracted(labels: Record<string, string>, original: Readonly<Record<string, string>>, name: string, value: string): void {
  const key = name in original ? `${name}_extracted` : name;
  labels[key] = value;
}

function scalarText(v: unknown): string | null {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** Every scalar field of a JSON object, nested keys joined with _ (arrays skipped), as Loki's json parser. */
function flattenJson(value: unknown, prefix: string, out: [string, string][]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const name = prefix ? `${prefix}_${sanitizeLabel(k)}` : sanitizeLabel(k);
    if (v !== null && typeof v === 'object') {
      if (!Array.isArray(v)) flattenJson(v, name, out);
      continue;
    }
    const text = scalarText(v);
    if (text !== null) out.push([name, text]);
  }
}

/** `a.b[0]` or `["a b"].c`: the steps of a json extraction path. */
export function jsonPath(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  const re = /\s*(?:\.?([A-Za-z_][A-Za-z0-9_-]*)|\[\s*(\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\])/y;
  let i = 0;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) return [path];
    steps.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(`"${m[3]}"`) as string)));
    i = re.lastIndex;
  }
  return steps;
}

function jsonStage(extractions: readonly { label: string; path: string }[]): EntryStage {
  const paths = extractions.map((x) => ({ label: x.label, steps: jsonPath(x.path) }));
  return (e) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(e.line);
    } catch {
      return { labels: { ...e.labels, __error__: 'JSONParserErr', __error_details__: 'not a JSON object' }, line: e.line };
    }
    const labels = { ...e.labels };
    if (paths.length === 0) {
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { labels: { ...labels, __error__: 'JSONParserErr' }, line: e.line };
      const fields: [string, string][] = [];
      flattenJson(parsed, '', fields);
      for (const [k, v] of fields) addExtracted(labels, e.labels, k, v);
      return { labels, line: e.line };
    }
    for (const { label, steps } of paths) {
      let v: unknown = parsed;
      for (const s of steps) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[s] : undefined;
      if (v === undefined) continue;
      const text = scalarText(v) ?? JSON.stringify(v);
      addExtracted(labels, e.labels, label, text);
    }
    return { labels, line: e.line };
  };
}

/** logfmt pairs (`a=1 b="two words" c`), read leniently as Loki does. */
export function logfmtPairs(line: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && line[i]! <= ' ') i++;
    const keyStart = i;
    while (i < n && line[i]! > ' ' && line[i] !== '=' && line[i] !== '"') i++;
    const key = line.slice(keyStart, i);
    let value = '';
    if (line[i] === '=') {
      i++;
      if (line[i] === '"') {
        i++;
        let v = '';
        while (i < n && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < n) {
            const c = line[i + 1]!;
            v += c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c;
            i += 2;
          } else v += line[i++];
        }
        i++;
        value = v;
      } else {
        const vs = i;
        while (i < n && line[i]! > ' ') i++;
        value = line.slice(vs, i);
      }
    } else if (key === '') {
      i++;
      continue;
    }
    if (key !== '') out.push([sanitizeLabel(key), value]);
  }
  return out;
}

function logfmtStage(extractions: readonly { label: string; path: string }[]): EntryStage {
  return (e) => {
    const labels = { ...e.labels };
    const pairs = logfmtPairs(e.line);
    if (extractions.length === 0) for (const [k, v] of pairs) addExtracted(labels, e.labels, k, v);
    else {
      const byKey = new Map(pairs);
      for (const x of extractions) {
        const v = byKey.get(sanitizeLabel(x.path));
        if (v !== undefined) addExtracted(labels, e.labels, x.label, v);
      }
    }
    return { labels, line: e.line };
  };
}

const regexCache = new Map<string, RE2JS>();
/** RE2 semantics (what ClickHouse runs for the same pattern), fully anchored as Loki anchors label regexes. */
function anchored(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (!re) {
    re = RE2JS.compile(`^(?:${pattern})$`, RE2JS.DOTALL);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

const unanchoredCache = new Map<string, RE2JS>();
function unanchored(pattern: string): RE2JS {
  let re = unanchoredCache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (unanchoredCache.size > 1000) unanchoredCache.clear();
    unanchoredCache.set(pattern, re);
  }
  return re;
}

export function matches(m: LabelMatcher, value: string): boolean {
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return anchored(m.value).matches(value);
    case '!~':
      return !anchored(m.value).matches(value);
  }
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s|d|w|y)/y;
const DURATION_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** A Go duration label value ("1.5s", "250ms") in seconds, NaN when it is not one. */
export function durationSeconds(text: string): number {
  const negative = text.startsWith('-');
  const body = negative || text.startsWith('+') ? text.slice(1) : text;
  if (body === '0') return 0;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = DURATION_PART.exec(body); m; m = DURATION_PART.exec(body)) {
    total += Number(m[1]) * DURATION_SECONDS[m[2]!]!;
    consumed = DURATION_PART.lastIndex;
  }
  if (consumed === 0 || consumed !== body.length) return NaN;
  return negative ? -total : total;
}

const BYTES: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, pib: 1024 ** 5, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 };

/** A byte size label value ("10KB", "5 MiB", "300") in bytes, NaN when it is not one. */
export function byteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return NaN;
  const factor = m[2] === '' ? 1 : BYTES[m[2]!.toLowerCase()];
  return factor === undefined ? NaN : Number(m[1]) * factor;
}

type Verdict = boolean | 'error';

function evaluate(p: LabelPredicate, labels: Readonly<Record<string, string>>): Verdict {
  switch (p.kind) {
    case 'match':
      return matches(p.matcher, labels[p.matcher.name] ?? '');
    case 'and': {
      const l = evaluate(p.left, labels);
      if (l === false) return false;
      const r = evaluate(p.right, labels);
      return l === 'error' || r === 'error' ? (r === false ? false : 'error') : r;
    }
    case 'or': {
      const l = evaluate(p.left, labels);
      if (l === true) return true;
      const r = evaluate(p.right, labels);
      return r === true ? true : l === 'error' || r === 'error' ? 'error' : false;
    }
    case 'compare': {
      const raw = labels[p.name];
      if (raw === undefined) return false;
      const v = p.unit === 'duration' ? durationSeconds(raw) : p.unit === 'bytes' ? byteSize(raw) : Number(raw.trim() === '' ? NaN : raw);
      if (Number.isNaN(v)) return 'error';
      switch (p.op) {
        case '==':
          return v === p.value;
        case '!=':
          return v !== p.value;
        case '>':
          return v > p.value;
        case '>=':
          return v >= p.value;
        case '<':
          return v < p.value;
        case '<=':
          return v <= p.value;
      }
    }
  }
}

/** Loki keeps a line whose label does not convert, marked with __error__="LabelFilterErr", for `| __error__=""` to drop. */
function labelFilterStage(p: LabelPredicate): EntryStage {
  return (e) => {
    const v = evaluate(p, e.labels);
    if (v === false) return null;
    if (v === 'error') return { labels: { ...e.labels, __error__: e.labels['__error__'] || 'LabelFilterErr' }, line: e.line };
    return e;
  };
}

function lineFilterStage(op: '|=' | '!=' | '|~' | '!~', values: readonly string[]): EntryStage {
  const test =
    op === '|=' || op === '!='
      ? (line: string) => values.some((v) => line.includes(v))
      : (line: string) => values.some((v) => unanchored(v).test(line));
  const keep = op === '|=' || op === '|~';
  return (e) => (test(e.line) === keep ? e : null);
}

/** `drop`/`keep`: what Loki does to the labels; the line is left alone. */
function labelsStage(kind: 'drop' | 'keep', names: readonly string[], ms: readonly LabelMatcher[]): EntryStage {
  const named = new Set(names);
  const touched = (k: string, v: string): boolean => named.has(k) || ms.some((m) => m.name === k && matches(m, v));
  return (e) => {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.labels)) if (touched(k, v) === (kind === 'keep')) labels[k] = v;
    return { labels, line: e.line };
  };
}

/** Stages that change only the labels, never the line nor which lines pass, and never read the line: they can run after ClickHouse has counted. */
export function labelsOnly(stages: readonly Stage[]): boolean {
  return stages.every((s) => s.kind === 'drop' || s.kind === 'keep' || (s.kind === 'labelFormat' && s.formats.every((f) => !('template' in f) || !f.template.includes('__line__'))));
}

function labelFormatStage(formats: LabelFormatStage['formats']): EntryStage {
  const compiled = formats.map((f) => ('template' in f ? { dst: f.dst, render: compileTemplate(f.template), rename: null } : { dst: f.dst, render: null, rename: f.rename }));
  return (e) => {
    const labels = { ...e.labels };
    for (const f of compiled) {
      if (f.rename !== null) {
        const v = e.labels[f.rename];
        if (f.rename !== f.dst) delete labels[f.rename];
        if (v !== undefined) labels[f.dst] = v;
        else delete labels[f.dst];
      } else labels[f.dst] = f.render!(e.labels, e.line);
    }
    return { labels, line: e.line };
  };
}

// ANSI SGR and other CSI sequences, as Loki's decolorize strips them.
const ANSI = /\u001b\[[0-9;?]*[ -\/]*[@-~]/g;

/** The stages as one function over an entry: the entry they leave, or null when one drops it. */
export function compilePipeline(stages: readonly Stage[]): EntryStage | null {
  if (stages.length === 0) return null;
  const fns: EntryStage[] = stages.map((s) => {
    switch (s.kind) {
      case 'line':
        return lineFilterStage(s.op, s.values);
      case 'json':
        return jsonStage(s.extractions);
      case 'logfmt':
        return logfmtStage(s.extractions);
      case 'labelFilter':
        return labelFilterStage(s.predicate);
      case 'lineFormat': {
        const t = compileTemplate(s.template);
        return (e) => ({ labels: e.labels, line: t(e.labels, e.line) });
      }
      case 'drop':
      case 'keep':
        return labelsStage(s.kind, s.names, s.matchers);
      case 'labelFormat':
        return labelFormatStage(s.formats);
      case 'decolorize':
        return (e) => ({ labels: e.labels, line: e.line.replace(ANSI, '') });
    }
  });
  return (entry) => {
    let e: Entry | null = entry;
    for (const fn of fns) {
      e = fn(e);
      if (!e) return null;
    }
    return e;
  };
}
