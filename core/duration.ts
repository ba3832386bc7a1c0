// Durations, parsed once and everywhere the same way: a sequence of
// number-and-unit parts ("15s", "1h30m", "1.5h", "250ms"). Two dialects of
// the one grammar, because two kinds of input reach us: the Kubernetes side
// writes Go's time.ParseDuration (no days: the cluster-autoscaler's flags
// and our CRDs), the Prometheus side adds d, w and y (config files, query
// parameters), and a Prometheus query parameter may also be bare seconds.
import { InputError } from './errors.ts';

export type DurationDialect = 'go' | 'prometheus';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
const PART: Record<DurationDialect, RegExp> = {
  go: /(\d+(?:\.\d+)?)(ms|h|m|s)/y,
  prometheus: /(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)/y,
};
const EXAMPLES: Record<DurationDialect, string> = { go: '90s, 10m or 1h30m', prometheus: '15s, 5m, 1h or 7d' };

export interface DurationOptions {
  dialect?: DurationDialect;
  /** A bare number counts as seconds (Prometheus' `step=60`). */
  bareSeconds?: boolean;
}

/** Milliseconds in `text`, or why it is not a duration of the dialect. */
function readDuration(text: string, options: DurationOptions): number | string {
  const dialect = options.dialect ?? 'prometheus';
  if (text === '0') return 0;
  if (options.bareSeconds && /^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const part = PART[dialect];
  part.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length || !Number.isFinite(total)) return `"${text}" is not a duration such as ${EXAMPLES[dialect]}`;
  return total;
}

/** Milliseconds in `text`; throws InputError naming `field` when it is not a duration of the dialect. */
export function parseDuration(text: string, field = 'duration', options: DurationOptions = {}): number {
  const read = readDuration(text, options);
  if (typeof read === 'string') throw new InputError(field, read);
  return read;
}

/** Why `text` is not a duration of the dialect, or null when it is (for schema refinements). */
export function durationProblem(text: string, options: DurationOptions = {}): string | null {
  const read = readDuration(text, options);
  return typeof read === 'string' ? read : null;
}

/** "12m30s" style, for reasons an operator reads. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (sec || out === '') out += `${sec}s`;
  return out;
}
