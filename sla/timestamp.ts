// ISO 8601 timestamps as the SLA input accepts them: a date, a time and a
// zone (Z or an offset). The calendar is checked strictly, because
// Date.parse rolls 2026-02-30 over into March without complaint.
import { z } from 'zod';

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Unix ms of a strict ISO 8601 timestamp, or undefined when it is not one. */
export function parseIsoTimestamp(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.parse(text);
  // The store's DateTime64 holds 1970 up to 2299; beyond, an insert or query would fail as a 500.
  return Number.isFinite(ms) && ms >= 0 && ms < LATEST_MS ? ms : undefined;
}

/** 2200-01-01T00:00:00Z: later times are refused (and earlier than 1970). */
const LATEST_MS = Date.UTC(2200, 0, 1);

export const isoTimestamp = z
  .string()
  .refine((s) => parseIsoTimestamp(s) !== undefined, 'expected a valid ISO 8601 timestamp from 1970 to 2199, such as 2026-10-01T00:00:00Z')
  .transform((s) => parseIsoTimestamp(s)!);
