// RFC 3339 times with up to nanosecond fractions (CRI log lines, audit
// events, Faro) as Unix nanoseconds, exactly: Date.parse keeps milliseconds only.

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Unix nanoseconds of an RFC 3339 time, or null when it is not one. */
export function rfc3339Nanos(text: string): bigint | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`);
  if (Number.isNaN(ms)) return null;
  const fraction = BigInt((m[3] ?? '').padEnd(9, '0') || '0');
  return BigInt(ms) * 1_000_000n + fraction;
}

/** Unix milliseconds of nanoseconds. */
export function nanosToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}
