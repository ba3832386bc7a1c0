// Months and timestamps as the SLA shells use them: a month names a UTC
// calendar month, and ClickHouse DateTime64 values travel as text in UTC.
import { InputError } from '../core/errors.ts';

export interface Period {
  start: number;
  end: number;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The UTC calendar month `YYYY-MM` as [start, end) in ms. */
export function monthPeriod(month: string, field = 'month'): Period {
  const m = MONTH.exec(month);
  if (!m) throw new InputError(field, `"${month}" is not a month such as 2026-10`);
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) };
}

export function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The month before the one containing `ms`. */
export function previousMonth(ms: number): string {
  const d = new Date(ms);
  return monthOf(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
}

/** A DateTime64(3, 'UTC') literal value for JSONEachRow inserts. */
export function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
