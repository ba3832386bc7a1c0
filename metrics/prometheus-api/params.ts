// The parameters of Prometheus' HTTP API as Prometheus reads them: from the
// query string and, on a POST, a form body (the body's value wins, as Go's
// Request.FormValue has it); times as float seconds or RFC 3339; durations
// as float seconds or Prometheus' duration syntax. Pure.
import { badParam, PromApiError } from './errors.ts';

export type Params = Record<string, string | string[] | undefined>;

/** A request's parameters: the form body's first, then the query string's. */
export class ApiParams {
  constructor(
    private readonly query: Params,
    private readonly form: Params = {},
  ) {}

  private static values(p: Params, name: string): string[] {
    const v = p[name];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  /** Every value of a repeated parameter (`match[]`), body then query string. */
  all(name: string): string[] {
    return [...ApiParams.values(this.form, name), ...ApiParams.values(this.query, name)];
  }

  /** The first value, '' when absent (Prometheus treats empty as absent). */
  get(name: string): string {
    return this.all(name)[0] ?? '';
  }
}

/** Prometheus' special spellings of its minimum and maximum time (client_golang sends them for "unbounded"). */
const MIN_TIME_TEXT = '-292273086-05-16T16:47:06Z';
const MAX_TIME_TEXT = '292277025-08-17T07:12:55.807Z';

/** The times the store can hold: 1970-01-01 up to 2200-01-01, in ms. */
export const STORE_MIN_MS = 0;
export const STORE_MAX_MS = 7_258_118_400_000;

const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Unix ms of a Prometheus time parameter, or the reason it is not one (Prometheus' words). */
export function readTime(text: string): number | 'min' | 'max' | string {
  if (text === MIN_TIME_TEXT) return 'min';
  if (text === MAX_TIME_TEXT) return 'max';
  if (FLOAT.test(text)) {
    const s = Number(text);
    // Milliseconds, rounded as Prometheus rounds the fraction.
    return Number.isFinite(s) ? Math.trunc(s) * 1000 + Math.round((s - Math.trunc(s)) * 1000) : `cannot parse "${text}" to a valid timestamp`;
  }
  const m = RFC3339.exec(text);
  if (m) {
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60) {
      const ms = Date.parse(text.toUpperCase());
      if (!Number.isNaN(ms)) return ms;
    }
  }
  return `cannot parse "${text}" to a valid timestamp`;
}

/**
 * A time parameter in unix ms, `fallback` when absent. Special min/max
 * spellings and times beyond the store's range are clamped when `clamp`
 * (series and label lookups, where they mean "unbounded"); refused otherwise.
 */
export function timeParam(params: ApiParams, name: string, fallback: number, clamp = false, plainWording = false): number {
  const text = params.get(name);
  if (text === '') return fallback;
  const read = readTime(text);
  // query_range words it without the "Invalid time value" prefix the other routes have.
  if (typeof read === 'string' && read !== 'min' && read !== 'max') throw badParam(name, plainWording ? read : `Invalid time value for '${name}': ${read}`);
  const ms = read === 'min' ? -Infinity : read === 'max' ? Infinity : read;
  if (ms >= STORE_MIN_MS && ms <= STORE_MAX_MS) return ms;
  if (clamp) return Math.min(Math.max(ms, STORE_MIN_MS), STORE_MAX_MS);
  throw badParam(name, `Invalid time value for '${name}': "${text}" is outside 1970-01-01 to 2200-01-01, the times the store holds`);
}

const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];
/** Go's time.Duration limit: about 292 years. */
const MAX_DURATION_MS = 9_223_372_036_854;

/** Milliseconds of a Prometheus duration parameter (float seconds or 1h30m), or why not (Prometheus' words). */
export function readDuration(text: string): number | string {
  if (FLOAT.test(text)) {
    const ms = Number(text) * 1000;
    if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DURATION_MS) return `cannot parse "${text}" to a valid duration. It overflows int64`;
    return ms;
  }
  const m = text === '' ? null : DURATION.exec(text);
  if (m && m.slice(1).some((p) => p !== undefined)) {
    const ms = m.slice(1).reduce((sum, p, i) => sum + (p === undefined ? 0 : Number(p) * DURATION_UNIT_MS[i]!), 0);
    if (ms <= MAX_DURATION_MS) return ms;
  }
  if (text === '0') return 0;
  return `cannot parse "${text}" to a valid duration`;
}

export function durationParam(params: ApiParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === '') return undefined;
  const read = readDuration(text);
  if (typeof read === 'string') throw badParam(name, read);
  return read;
}

/** Prometheus' limit on a range query's points per series. */
export const MAX_POINTS = 11_000;

export interface RangeTimes {
  startMs: number;
  endMs: number;
  stepMs: number;
}

/** start, end and step of a range query, with Prometheus' checks and words. */
export function rangeTimes(params: ApiParams): RangeTimes {
  const startText = params.get('start');
  const endText = params.get('end');
  // Prometheus reads an absent start or end as an unparsable one.
  if (startText === '') throw badParam('start', `cannot parse "" to a valid timestamp`);
  if (endText === '') throw badParam('end', `cannot parse "" to a valid timestamp`);
  const startMs = timeParam(params, 'start', 0, false, true);
  const endMs = timeParam(params, 'end', 0, false, true);
  if (endMs < startMs) throw badParam('end', 'end timestamp must not be before start time');
  const stepText = params.get('step');
  const step = readDuration(stepText);
  if (typeof step === 'string') throw badParam('step', step);
  if (step <= 0) throw badParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  if ((endMs - startMs) / step > MAX_POINTS) {
    throw new PromApiError(400, 'bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)', 'step');
  }
  return { startMs, endMs, stepMs: step };
}
