// The time bounds a receiver accepts samples within, in one place for every
// receiver (remote_write, JSON push, exposition import): what the store
// keeps, as Prometheus refuses out-of-bounds samples with a 400 instead of
// storing what no query can find. Pure: `now` is a parameter.

/** How far ahead of the receiver's clock a sample may lie (clock skew between senders and us). */
export const MAX_FUTURE_MS = 10 * 60 * 1000;

const DAY_MS = 86_400_000;

/** The accepted window of sample timestamps, in Unix milliseconds, both ends inclusive. */
export interface SampleTimeBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Samples older than the raw retention or more than ten minutes ahead of `nowMs` are out of bounds. */
export function sampleTimeBounds(nowMs: number, rawRetentionDays: number): SampleTimeBounds {
  // Never below 1 ms: 0 and negative timestamps are refused whatever the retention.
  return { minMs: Math.max(1, nowMs - rawRetentionDays * DAY_MS), maxMs: nowMs + MAX_FUTURE_MS };
}

/** Why a sample timestamp (Unix ms) cannot be stored, or null when it can. */
export function sampleTimeProblem(timestampMs: number, bounds: SampleTimeBounds): string | null {
  if (!Number.isFinite(timestampMs)) return `timestamp ${timestampMs} is not a finite number`;
  if (timestampMs <= 0) return `timestamp ${timestampMs} ms is not after 1970-01-01`;
  if (timestampMs < bounds.minMs) return `out of bounds: ${iso(timestampMs)} is older than the raw retention (earliest accepted ${iso(bounds.minMs)})`;
  if (timestampMs > bounds.maxMs) return `out of bounds: ${iso(timestampMs)} is more than 10 minutes in the future (latest accepted ${iso(bounds.maxMs)}); timestamps are Unix milliseconds in remote_write and exposition text, seconds in JSON push`;
  return null;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * The first out-of-bounds timestamp in a column of them, as its index and
 * the problem; null when all are in bounds. A loop of two comparisons per
 * sample: cheap enough for the ingest hot path.
 */
export function firstOutOfBounds(timestamps: ArrayLike<number>, from: number, to: number, bounds: SampleTimeBounds): { index: number; problem: string } | null {
  const { minMs, maxMs } = bounds;
  for (let i = from; i < to; i++) {
    const t = timestamps[i]!;
    // Written so that NaN fails the test too.
    if (!(t >= minMs && t <= maxMs)) return { index: i, problem: sampleTimeProblem(t, bounds) ?? `timestamp ${t} is out of bounds` };
  }
  return null;
}
