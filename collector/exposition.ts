// Parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0
// text: samples with their label sets (histograms and summaries as their flat
// _bucket/_sum/_count series), metric family metadata, optional timestamps.
// Strict: the first malformed line fails the whole exposition, naming it.
// No maintained npm parser handles OpenMetrics (parse-prometheus-text-format
// is text-only, unmaintained since 2019 and groups samples into objects).
import { InputError } from '../core/errors.ts';
import type { Labels } from '../core/bus/samples.ts';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown' | 'untyped';

const PROMETHEUS_TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const OPENMETRICS_TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);
// Families whose _created series OpenMetrics adds; Prometheus does not store those as samples.
const HAS_CREATED = new Set<MetricType>(['counter', 'histogram', 'gaugehistogram', 'summary']);

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help?: string;
  unit?: string;
}

export interface ExpositionSample {
  /** The label set including __name__; labels with empty values are left out, as Prometheus does. */
  readonly labels: Labels;
  readonly value: number;
  /** Unix time in milliseconds when the exposition gave one. */
  readonly timestampMs?: number;
}

export interface Exposition {
  readonly format: ExpositionFormat;
  readonly samples: ExpositionSample[];
  readonly families: ReadonlyMap<string, MetricFamily>;
}

/** The format a scrape response is in, from its Content-Type (Prometheus falls back to the text format). */
export function formatFromContentType(contentType: string | undefined | null): ExpositionFormat {
  return contentType && /^\s*application\/openmetrics-text/i.test(contentType) ? 'openmetrics' : 'prometheus';
}

// Character classes by char code: the scanner runs per character, where a regex test per character costs tenfold.
function isLetterOrUnderscore(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
const isMetricNameStart = (c: number) => isLetterOrUnderscore(c) || c === 58;
const isMetricNameChar = (c: number) => isLetterOrUnderscore(c) || isDigit(c) || c === 58;
const isLabelNameChar = (c: number) => isLetterOrUnderscore(c) || isDigit(c);
const BLANK = 32;
const TAB = 9;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const INTEGER = /^-?\d+$/;

/** A sample value as Prometheus reads it: decimal floats, NaN and ±Inf (case-insensitive). */
export function parseSampleValue(text: string): number | null {
  if (FLOAT.test(text)) return Number(text);
  switch (text.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return null;
  }
}

class LineScanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly lineNumber: number,
  ) {}

  fail(message: string): never {
    throw new InputError(`line ${this.lineNumber}`, message);
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  skipBlanks(): number {
    const start = this.pos;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== BLANK && c !== TAB) break;
      this.pos++;
    }
    return this.pos - start;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  metricName(): string {
    const start = this.pos;
    if (!isMetricNameStart(this.text.charCodeAt(this.pos))) this.fail(`expected a metric name at column ${this.pos + 1}`);
    while (this.pos < this.text.length && isMetricNameChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Up to the next blank or the end. */
  token(): string {
    const start = this.pos;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      // NaN past the end stops the loop too.
      if (c !== c || c === BLANK || c === TAB) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  labelValue(): string {
    if (this.peek() !== '"') this.fail(`expected a quoted label value at column ${this.pos + 1}`);
    this.pos++;
    let out = '';
    let chunk = this.pos;
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated label value');
      const c = this.text.charCodeAt(this.pos);
      if (c === 34) break; // "
      if (c === 92) {
        // backslash
        out += this.text.slice(chunk, this.pos);
        const next = this.text[this.pos + 1];
        if (next === '\\') out += '\\';
        else if (next === '"') out += '"';
        else if (next === 'n') out += '\n';
        else if (next === undefined) this.fail('unterminated label value');
        // Prometheus keeps any other escaped character as written.
        else out += `\\${next}`;
        this.pos += 2;
        chunk = this.pos;
        continue;
      }
      this.pos++;
    }
    out += this.text.slice(chunk, this.pos);
    this.pos++;
    return out;
  }

  /** `{name="value",...}` after the metric name; returns the pairs in order. */
  labelSet(into: Record<string, string>): void {
    this.pos++; // '{'
    const seen = new Set<string>();
    for (;;) {
      this.skipBlanks();
      if (this.peek() === '}') {
        this.pos++;
        return;
      }
      const start = this.pos;
      while (this.pos < this.text.length && isLabelNameChar(this.text.charCodeAt(this.pos))) this.pos++;
      const name = this.text.slice(start, this.pos);
      if (!LABEL_NAME.test(name)) this.fail(`invalid label name "${name || this.peek()}" at column ${start + 1}`);
      if (name === '__name__') this.fail('__name__ cannot be given as a label');
      if (seen.has(name)) this.fail(`duplicate label name "${name}"`);
      seen.add(name);
      this.skipBlanks();
      if (this.peek() !== '=') this.fail(`expected "=" after label name "${name}"`);
      this.pos++;
      this.skipBlanks();
      const value = this.labelValue();
      if (value !== '') into[name] = value;
      this.skipBlanks();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return;
      }
      this.fail(c === '' ? 'unterminated label set' : `expected "," or "}" at column ${this.pos + 1}`);
    }
  }
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_total', '_created', '_bucket', '_sum', '_count', '_gcount', '_gsum', '_info']) {
    if (name.endsWith(suffix)) {
      const family = families.get(name.slice(0, -suffix.length));
      if (family) return family;
    }
  }
  return undefined;
}

export function parseExposition(text: string, format: ExpositionFormat): Exposition {
  const openMetrics = format === 'openmetrics';
  const families = new Map<string, MetricFamily>();
  const samples: ExpositionSample[] = [];
  const lines = text.split('\n');
  // A final newline leaves one empty string behind.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let sawEof = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (sawEof) throw new InputError(`line ${lineNumber}`, 'content after # EOF');
    if (line.trim() === '') {
      if (openMetrics) throw new InputError(`line ${lineNumber}`, 'empty line (not allowed in OpenMetrics)');
      continue;
    }
    const s: LineScanner = new LineScanner(line, lineNumber);
    if (line.startsWith('#')) {
      if (openMetrics && line === '# EOF') {
        sawEof = true;
        continue;
      }
      parseComment(s, openMetrics, families);
      continue;
    }
    s.skipBlanks();
    const name = s.metricName();
    const labels: Record<string, string> = { __name__: name };
    let blanks = s.skipBlanks();
    if (s.peek() === '{') {
      s.labelSet(labels);
      // After a label set the value may follow without a blank, as in Prometheus' own parser.
      blanks = s.skipBlanks() + 1;
    }
    if (blanks === 0 || s.atEnd()) s.fail(s.atEnd() ? `no value for ${name}` : `expected a blank before the value at column ${s.pos + 1}`);
    const valueText = s.token();
    const value = parseSampleValue(valueText);
    if (value === null) s.fail(`invalid value "${valueText}"`);
    let timestampMs: number | undefined;
    s.skipBlanks();
    if (!s.atEnd() && s.peek() !== '#') {
      const tsText = s.token();
      if (openMetrics) {
        const seconds = FLOAT.test(tsText) ? Number(tsText) : Number.NaN;
        if (!Number.isFinite(seconds)) s.fail(`invalid timestamp "${tsText}"`);
        timestampMs = Math.round(seconds * 1000);
      } else {
        if (!INTEGER.test(tsText)) s.fail(`invalid timestamp "${tsText}" (milliseconds expected)`);
        timestampMs = Number(tsText);
      }
      s.skipBlanks();
    }
    if (!s.atEnd()) {
      // OpenMetrics exemplars (`# {labels} value [timestamp]`) are checked for shape and dropped.
      if (openMetrics && s.text.startsWith('# {', s.pos)) {
        s.pos += 2;
        s.labelSet({});
        s.skipBlanks();
        if (parseSampleValue(s.token()) === null) s.fail('invalid exemplar value');
      } else {
        s.fail(`unexpected "${s.text.slice(s.pos)}" after the sample`);
      }
    }
    const family = familyOf(name, families);
    if (openMetrics && family && HAS_CREATED.has(family.type) && name === `${family.name}_created`) continue;
    samples.push(timestampMs === undefined ? { labels, value } : { labels, value, timestampMs });
  }
  if (openMetrics && !sawEof) throw new InputError(`line ${lines.length + 1}`, 'OpenMetrics exposition does not end with # EOF');
  return { format, samples, families };
}

function parseComment(s: LineScanner, openMetrics: boolean, families: Map<string, MetricFamily>): void {
  const m = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)(?:\s(.*))?$/.exec(s.text);
  if (!m) {
    if (openMetrics) s.fail(`unexpected comment "${s.text}"`);
    return; // the text format allows free comments
  }
  const keyword = m[1]!;
  const name = m[2]!;
  const rest = m[3] ?? '';
  if (!METRIC_NAME.test(name)) s.fail(`invalid metric name "${name}" in # ${keyword}`);
  let family = families.get(name);
  if (!family) {
    family = { name, type: openMetrics ? 'unknown' : 'untyped' };
    families.set(name, family);
  }
  if (keyword === 'HELP') {
    family.help = unescapeHelp(rest);
  } else if (keyword === 'TYPE') {
    const type = rest.trim() as MetricType;
    if (!(openMetrics ? OPENMETRICS_TYPES : PROMETHEUS_TYPES).has(type)) s.fail(`unknown metric type "${rest.trim()}" for ${name}`);
    family.type = type;
  } else {
    if (!openMetrics) s.fail('# UNIT is OpenMetrics only');
    family.unit = rest.trim();
  }
}
