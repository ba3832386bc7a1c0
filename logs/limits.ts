// What every log receiver refuses, in one place: a line over the size limit,
// a time outside what the store keeps (older than the retention) or more
// than ten minutes ahead of our clock (the bound the sample receivers use),
// and a label set that is empty or has a name Loki would refuse. Pure.
import { isWellFormedText } from '../metrics/series.ts';
import { workloadName } from './workload.ts';

/** How far ahead of the receiver's clock a line may lie (clock skew), as for samples. */
export const MAX_FUTURE_MS = 10 * 60 * 1000;

export interface LineLimits {
  readonly maxLineBytes: number;
  /** Accepted times in Unix milliseconds, both ends inclusive. */
  readonly minMs: number;
  readonly maxMs: number;
}

export function lineLimits(nowMs: number, retentionMs: number, maxLineBytes: number): LineLimits {
  return { maxLineBytes, minMs: Math.max(1, nowMs - retentionMs), maxMs: nowMs + MAX_FUTURE_MS };
}

/** Why a line's time (Unix ms) cannot be stored, or null. */
export function timeProblem(ms: number, limits: LineLimits): string | null {
  if (!Number.isFinite(ms)) return `timestamp ${ms} is not a finite number`;
  if (ms < limits.minMs) return `out of bounds: ${iso(ms)} is older than the logs retention (earliest accepted ${iso(limits.minMs)})`;
  if (ms > limits.maxMs) return `out of bounds: ${iso(ms)} is more than 10 minutes in the future (latest accepted ${iso(limits.maxMs)})`;
  return null;
}

/** Why a line cannot be stored (size, UTF-8), or null. */
export function lineProblem(line: string, limits: LineLimits): string | null {
  // Cheap first: a UTF-16 string takes at most 3 bytes per code unit in UTF-8.
  if (line.length * 3 > limits.maxLineBytes) {
    const bytes = Buffer.byteLength(line, 'utf8');
    if (bytes > limits.maxLineBytes) return `line of ${bytes} bytes is over the limit of ${limits.maxLineBytes} (logs.maxLineBytes)`;
  }
  if (!isWellFormedText(line)) return 'line is not valid UTF-8 (it holds a lone surrogate)';
  return null;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why a stream's label set cannot be stored, or null. Empty values count as absent (as in Loki). */
export function labelsProblem(labels: Readonly<Record<string, string>>): string | null {
  let any = false;
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name)) return `invalid label name "${name}"`;
    if (!isWellFormedText(value)) return `label value of "${name}" is not valid UTF-8`;
    if (value.length > 4096) return `label value of "${name}" is longer than 4096 characters`;
    if (value !== '') any = true;
  }
  return any ? null : 'a stream needs at least one label';
}

/** The labels as stored: empty values dropped, `workload` derived from `pod` when absent. */
export function storedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== '') out[k] = v;
  if (out['pod'] && !out['workload']) out['workload'] = workloadName(out['pod']);
  return out;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
