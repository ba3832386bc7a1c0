// The log search question and its SQL, with no I/O: a label selector
// (cluster, namespace, workload, pod, container, or any label), a time
// window, and keywords and "quoted phrases" that must all occur in the line.
//
// Matching is case-insensitive and by whole words: each keyword or phrase
// is split the way the table's text index splits lower(line) (runs of ASCII
// letters and digits, schema.ts LINE_TOKENIZER), the line must hold all
// those tokens (answered from the index: hasAllTokens), and the keyword or
// phrase itself must occur in it (positionCaseInsensitiveUTF8, only on the
// granules the index kept). A needle such as an IP or an order id is thus
// found without a scan.
import { InputError } from '../core/errors.ts';
import { readTable, type SchemaContext } from '../core/migrations.ts';

export interface SearchTerm {
  /** The keyword or phrase as given. */
  readonly text: string;
  /** Its index tokens (lowercase); empty when it has none the index can answer. */
  readonly tokens: readonly string[];
}

export interface LogSelector {
  readonly [label: string]: string;
}

export interface SearchWindow {
  /** Unix milliseconds, both inclusive. */
  readonly startMs: number;
  readonly endMs: number;
}

export interface SearchQuestion {
  readonly tenant: string;
  readonly selector: LogSelector;
  readonly terms: readonly SearchTerm[];
  readonly window: SearchWindow;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The tokens the index holds for this text, or none when it cannot be answered by tokens (non-ASCII). */
export function indexTokens(text: string): string[] {
  // The tokenizer's treatment of non-ASCII bytes is its own; such terms are checked by substring only.
  if (/[^\x00-\x7f]/.test(text)) return [];
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/** Keywords and "quoted phrases" of a query string; an unclosed quote runs to the end. */
export function parseTerms(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const re = /"([^"]*)("|$)|(\S+)/g;
  for (let m = re.exec(q); m; m = re.exec(q)) {
    const text = (m[1] ?? m[3] ?? '').trim();
    if (text === '') continue;
    if (text.length > 1024) throw new InputError('q', 'a keyword or phrase is longer than 1024 characters');
    terms.push({ text, tokens: indexTokens(text) });
  }
  if (terms.length > 32) throw new InputError('q', 'at most 32 keywords and phrases');
  return terms;
}

export function checkSelector(selector: Readonly<Record<string, string>>, field = 'selector'): LogSelector {
  for (const name of Object.keys(selector)) if (!LABEL_NAME.test(name)) throw new InputError(`${field}.${name}`, `"${name}" is not a label name`);
  return selector;
}

/** The WHERE clause of a question and its parameters. */
export function searchWhere(question: SearchQuestion): { where: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = {
    tenant: question.tenant,
    start: String(BigInt(Math.floor(question.window.startMs)) * 1_000_000n),
    end: String(BigInt(Math.floor(question.window.endMs)) * 1_000_000n + 999_999n),
  };
  const where = ['tenant = {tenant:String}', "ts >= fromUnixTimestamp64Nano({start:Int64}, 'UTC')", "ts <= fromUnixTimestamp64Nano({end:Int64}, 'UTC')"];
  Object.entries(question.selector).forEach(([name, value], i) => {
    params[`ln${i}`] = name;
    params[`lv${i}`] = value;
    where.push(`labels[{ln${i}:String}] = {lv${i}:String}`);
  });
  question.terms.forEach((t, i) => {
    if (t.tokens.length > 0) {
      params[`t${i}`] = t.tokens;
      where.push(`hasAllTokens(lower(line), {t${i}:Array(String)})`);
    }
    params[`k${i}`] = t.text;
    where.push(`positionCaseInsensitiveUTF8(line, {k${i}:String}) > 0`);
  });
  return { where: where.join(' AND '), params };
}

/** The newest `limit` matching lines, newest first. */
export function linesSql(ctx: SchemaContext, question: SearchQuestion, limit: number): { sql: string; params: Record<string, unknown> } {
  const { where, params } = searchWhere(question);
  return {
    sql: `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, labels, line FROM ${readTable(ctx, 'logs')} WHERE ${where} ORDER BY ts DESC LIMIT ${Math.floor(limit)}`,
    params,
  };
}

/** A bucket width giving at most about `buckets` buckets over the window, on a round step. */
export function histogramStepSeconds(window: SearchWindow, buckets = 60): number {
  const span = Math.max(1, (window.endMs - window.startMs) / 1000);
  const steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  return steps.find((s) => span / s <= buckets) ?? Math.ceil(span / buckets / 86400) * 86400;
}

/** Matching lines per bucket of `step` seconds (bucket start, Unix seconds). */
export function histogramSql(ctx: SchemaContext, question: SearchQuestion, step: number): { sql: string; params: Record<string, unknown> } {
  const { where, params } = searchWhere(question);
  return {
    sql: `SELECT toUInt64(intDiv(toUnixTimestamp(ts), ${step}) * ${step}) AS bucket, count() AS n FROM ${readTable(ctx, 'logs')} WHERE ${where} GROUP BY bucket ORDER BY bucket`,
    params,
  };
}

/** How many lines match. */
export function countSql(ctx: SchemaContext, question: SearchQuestion): { sql: string; params: Record<string, unknown> } {
  const { where, params } = searchWhere(question);
  return { sql: `SELECT count() AS n FROM ${readTable(ctx, 'logs')} WHERE ${where}`, params };
}
