// Log search over the logs table: the question from a query string
// (parseSearchParams, pure), the newest matching lines with a hit histogram
// (searchLogs), and countMatches, the count over a window that log alert
// rules will call (the alerting issue). SQL in search-query.ts.
import { InputError } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import { schemaContext } from '../core/migrations.ts';
import type { Store } from '../core/store.ts';
import { parseTime } from '../metrics/range-query.ts';
import { checkSelector, countSql, histogramSql, histogramStepSeconds, linesSql, parseTerms, type LogSelector, type SearchQuestion, type SearchWindow } from './search-query.ts';

export const SEARCH_LABELS = ['cluster', 'namespace', 'workload', 'pod', 'container'] as const;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 5000;
const MAX_SINCE_MS = 10 * 365 * 86_400_000;

type QueryString = Record<string, string | string[] | undefined>;

function one(q: QueryString, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) {
    if (v.length > 1) throw new InputError(name, 'given more than once');
    return v[0];
  }
  return v;
}

export interface SearchRequest {
  readonly question: SearchQuestion;
  readonly limit: number;
}

/** The search question from `GET /api/v1/logs/search`'s parameters; `now` in Unix ms. */
export function parseSearchParams(q: QueryString, tenant: string, now = Date.now()): SearchRequest {
  const selector: Record<string, string> = {};
  for (const name of SEARCH_LABELS) {
    const v = one(q, name);
    if (v !== undefined && v !== '') selector[name] = v;
  }
  // Any other label as label=name=value (repeatable): audit events by user, verb, resource, stage; Faro by app, session.
  const extra = q['label'];
  for (const pair of extra === undefined ? [] : Array.isArray(extra) ? extra : [extra]) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError('label', `"${pair}" is not name=value`);
    selector[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const since = one(q, 'since');
  const startText = one(q, 'start');
  const endText = one(q, 'end');
  let window: SearchWindow;
  if (startText !== undefined || endText !== undefined) {
    if (since !== undefined) throw new InputError('since', 'give since or start and end, not both');
    if (startText === undefined) throw new InputError('start', 'start is required with end');
    const startMs = parseTime(startText, 'start') * 1000;
    const endMs = endText === undefined ? now : parseTime(endText, 'end') * 1000;
    if (endMs < startMs) throw new InputError('end', 'end is before start');
    window = { startMs, endMs };
  } else {
    const back = parseDuration(since ?? '1h', 'since', { bareSeconds: true });
    if (back > MAX_SINCE_MS) throw new InputError('since', `"${since}" reaches back more than ten years`);
    window = { startMs: now - back, endMs: now };
  }
  const limitText = one(q, 'limit');
  const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new InputError('limit', `expected a whole number from 1 to ${MAX_LIMIT}`);
  return { question: { tenant, selector: checkSelector(selector, 'label'), terms: parseTerms(one(q, 'q') ?? ''), window }, limit };
}

export interface FoundLine {
  /** Unix nanoseconds, as a decimal string. */
  readonly ts: string;
  /** RFC 3339 with nanoseconds. */
  readonly time: string;
  readonly labels: Record<string, string>;
  readonly line: string;
}

export interface SearchResult {
  readonly lines: FoundLine[];
  readonly histogram: { readonly stepSeconds: number; readonly buckets: [number, number][] };
  /** Lines matching in the whole window (the histogram's sum); `lines` holds at most `limit` of them. */
  readonly total: number;
  readonly window: { readonly start: string; readonly end: string };
}

function rfc3339Nano(ns: string): string {
  const n = BigInt(ns);
  const iso = new Date(Number(n / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(n % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** The newest matching lines, newest first, and matching lines per time bucket over the whole window. */
export async function searchLogs(store: Store, request: SearchRequest): Promise<SearchResult> {
  const ctx = schemaContext(store, { rawRetentionDays: 0, rollupRetentionDays: 0 });
  const { question, limit } = request;
  const lines = linesSql(ctx, question, limit);
  const step = histogramStepSeconds(question.window);
  const histogram = histogramSql(ctx, question, step);
  const [rows, buckets] = await Promise.all([
    store.query<{ ts_ns: string; labels: Record<string, string>; line: string }>(lines.sql, lines.params),
    store.query<{ bucket: number; n: number }>(histogram.sql, histogram.params),
  ]);
  return {
    lines: rows.map((r) => ({ ts: r.ts_ns, time: rfc3339Nano(r.ts_ns), labels: r.labels, line: r.line })),
    histogram: { stepSeconds: step, buckets: buckets.map((b) => [Number(b.bucket), Number(b.n)]) },
    total: buckets.reduce((sum, b) => sum + Number(b.n), 0),
    window: { start: new Date(question.window.startMs).toISOString(), end: new Date(question.window.endMs).toISOString() },
  };
}

/**
 * Lines of `tenant` whose labels equal `selector`'s and that hold every
 * keyword and "phrase" of `keywords`, within `window`. The function log
 * alert rules will call (alerting issue) until LogQL metric rules land.
 */
export async function countMatches(store: Store, tenant: string, selector: LogSelector, keywords: string, window: SearchWindow): Promise<number> {
  const ctx = schemaContext(store, { rawRetentionDays: 0, rollupRetentionDays: 0 });
  const { sql, params } = countSql(ctx, { tenant, selector: checkSelector(selector, 'label'), terms: parseTerms(keywords), window });
  const [row] = await store.query<{ n: number }>(sql, params);
  return Number(row?.n ?? 0);
}
