// Durations as the cluster-autoscaler's flags write them (Go's time.ParseDuration
// syntax: "10m", "1h30m", "90s", "500ms"), in milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  let total = 0;
  let consumed = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = PART.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new Error(`"${text}" is not a duration (e.g. 10m, 1h30m, 90s)`);
  }
  return total;
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
