// The Loki HTTP API's query parameters, read as Loki reads them: times in
// nanoseconds, seconds (with a fraction) or RFC3339; `since`, `step` as a
// duration or seconds; `limit`, `direction`. Each bad value is a 400 naming
// its parameter; each time is bounded to 1970-2200 so no arithmetic on it
// leaves what ClickHouse's DateTime64(9) holds.
import { InputError } from '../../core/errors.ts';
import { parseDuration } from '../../core/duration.ts';

type QueryString = Record<string, string | string[] | undefined>;

export function one(q: QueryString, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function list(q: QueryString, name: string): string[] {
  const v = q[name] ?? q[`${name}[]`];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

const MIN_NS = 0n;
/** 2200-01-01: DateTime64(9) ends in 2262; steps and windows added to a time stay inside. */
const MAX_NS = 7_258_118_400_000_000_000n;

function bounded(ns: bigint, field: string, text: string): bigint {
  if (ns < MIN_NS || ns > MAX_NS) throw new InputError(field, `"${text}" is outside 1970-2200`);
  return ns;
}

/** A Loki time parameter in nanoseconds: "1700000000.5" (seconds), "1700000000" (seconds, ten digits or fewer), "1700000000000000000" (ns), or RFC3339. */
export function parseLokiTime(text: string, field: string): bigint {
  const t = text.trim();
  if (/^-?\d+\.\d*$/.test(t)) {
    const [s, frac = ''] = t.split('.');
    const ns = BigInt(s!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9)) * (t.startsWith('-') ? -1n : 1n);
    return bounded(ns, field, text);
  }
  if (/^-?\d+$/.test(t)) {
    const n = BigInt(t);
    return bounded(t.replace('-', '').length <= 10 ? n * 1_000_000_000n : n, field, text);
  }
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(t);
  if (m) {
    const ms = Date.parse(`${m[1]}${m[3]}`);
    if (!Number.isNaN(ms)) return bounded(BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0')), field, text);
  }
  throw new InputError(field, `"${text}" is not a time: give nanoseconds, seconds or RFC3339`);
}

/** A duration parameter (`step`, `since`) in nanoseconds: "30s", "1h30m", or seconds ("15", "0.5"). */
export function parseLokiDuration(text: string, field: string): bigint {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return BigInt(Math.round(Number(t) * 1e9));
  const ms = parseDuration(t, field, { dialect: 'prometheus' });
  return BigInt(Math.round(ms * 1e6));
}

export type Direction = 'backward' | 'forward';

export function parseDirection(q: QueryString): Direction {
  const d = (one(q, 'direction') ?? 'backward').toLowerCase();
  if (d !== 'backward' && d !== 'forward') throw new InputError('direction', `"${d}" is neither backward nor forward`);
  return d;
}

/** Loki's max_entries_limit_per_query default. */
export const MAX_LIMIT = 5000;

export function parseLimit(q: QueryString, fallback = 100): number {
  const text = one(q, 'limit');
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InputError('limit', `"${text}" is not a whole number of at least 1`);
  if (n > MAX_LIMIT) throw new InputError('limit', `max entries limit per query exceeded, limit > max_entries_limit_per_query (${n} > ${MAX_LIMIT})`);
  return n;
}

/** start and end as Loki reads them: end defaults to now, start to end - since (default 1h). */
export function parseRange(q: QueryString, nowNs: bigint): { start: bigint; end: bigint } {
  const endText = one(q, 'end');
  const end = endText ? parseLokiTime(endText, 'end') : nowNs;
  const startText = one(q, 'start');
  const sinceText = one(q, 'since');
  const start = startText ? parseLokiTime(startText, 'start') : end - (sinceText ? parseLokiDuration(sinceText, 'since') : 3_600_000_000_000n);
  if (end < start) throw new InputError('end', 'end timestamp must not be before start time');
  return { start: start < 0n ? 0n : start, end };
}

/** Loki's default step: the range over 250 points, at least a second. */
export function defaultStep(start: bigint, end: bigint): bigint {
  const s = (end - start) / 250n / 1_000_000_000n;
  return (s < 1n ? 1n : s) * 1_000_000_000n;
}

/** Loki's bound on points per series. */
export const MAX_POINTS = 11_000;

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
