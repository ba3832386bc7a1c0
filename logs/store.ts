// Writing log lines into the logs table (logs/schema.ts): the one insert
// path, used by the logs consumer (and by tests and benches that fill the
// table directly). A Native block per tenant and day, each carrying a
// deduplication token derived from the delivery's, so a replayed delivery is
// dropped by the store instead of stored twice.
import { randomUUID } from 'node:crypto';
import type { Store } from '../core/store.ts';
import type { Labels } from '../core/bus/samples.ts';
import { seriesId } from '../metrics/series.ts';

/** One log line as stored. */
export interface LogLine {
  readonly tenant: string;
  /** Unix time in nanoseconds. */
  readonly tsNs: bigint;
  /** The stream's labels (cluster, namespace, workload, pod, container, source, …). */
  readonly labels: Labels;
  readonly line: string;
}

/** A stream's identity: xxHash64 of its sorted label set (the same function as a metric series id). */
export function streamId(labels: Labels): bigint {
  return seriesId(labels);
}

const DAY_NS = 86_400_000_000_000n;

/**
 * Inserts the lines, one insert per tenant and UTC day. With `token` (the
 * delivery's), each insert carries `${token}/${tenant}/${day}` as its
 * deduplication token: the store drops an insert it has seen, so a replay
 * stores nothing twice. Without one, every call stores its lines.
 */
export async function insertLogLines(store: Store, rows: readonly LogLine[], token?: string): Promise<void> {
  // Most deliveries hold one tenant and one day: group by comparing with the last group's day
  // bounds (a BigInt division per line cost as much as the rest of the grouping).
  const groups = new Map<string, LogLine[]>();
  let current: LogLine[] | null = null;
  let tenant = '';
  let from = 0n;
  let to = -1n;
  for (const r of rows) {
    if (current === null || r.tenant !== tenant || r.tsNs < from || r.tsNs >= to) {
      tenant = r.tenant;
      const day = r.tsNs >= 0n ? r.tsNs / DAY_NS : (r.tsNs - DAY_NS + 1n) / DAY_NS;
      from = day * DAY_NS;
      to = from + DAY_NS;
      const key = `${tenant}\u0000${day}`;
      current = groups.get(key) ?? null;
      if (!current) groups.set(key, (current = []));
    }
    current.push(r);
  }
  for (const [key, list] of groups) {
    const [groupTenant, day] = key.split('\u0000') as [string, string];
    // Without a token, a fresh one: two equal pushes are two pushes, both kept. (Always one: the
    // embedded store's session keeps the last insert's settings, a stale token included.)
    await insertBlock(store, groupTenant, list, `${token ?? randomUUID()}/${groupTenant}/${day}`);
  }
}

interface StreamColumns {
  readonly id: bigint;
  /** The label set with sorted keys: one shared object per stream, encoded once per block (core/store.ts, Map column). */
  readonly labels: Labels;
}

/**
 * A stream's id and sorted label set, computed once per stream: by the
 * labels object itself (the lines of one pushed stream share it, and the
 * push decoder hands the same frozen object push after push), else by its
 * content. Measured: the per-line sort and key building cost more than the
 * insert. By object in a WeakMap that outlives the block: a set nobody holds
 * any more is collected with its entry.
 */
const byObject = new WeakMap<Labels, StreamColumns>();

class StreamTable {
  private readonly byText = new Map<string, StreamColumns>();

  of(labels: Labels): StreamColumns {
    let s = byObject.get(labels);
    if (s) return s;
    const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let text = '';
    for (const [k, v] of entries) text += `${k}\u0000${v}\u0001`;
    s = this.byText.get(text);
    if (!s) this.byText.set(text, (s = { id: streamId(labels), labels: Object.freeze(Object.fromEntries(entries)) }));
    byObject.set(labels, s);
    return s;
  }
}

async function insertBlock(store: Store, tenant: string, rows: readonly LogLine[], token: string): Promise<void> {
  const ts = new BigInt64Array(rows.length);
  const ids = new BigUint64Array(rows.length);
  const labels: Labels[] = new Array(rows.length);
  const lines: string[] = new Array(rows.length);
  const streams = new StreamTable();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const s = streams.of(r.labels);
    ts[i] = r.tsNs;
    ids[i] = s.id;
    labels[i] = s.labels;
    lines[i] = r.line;
  }
  await store.insertNative(
    'logs',
    'tenant, ts, stream_id, labels, line',
    // Labels travel as a Native Map column whose bytes are written once per stream and copied per
    // line (before: one JSON string per line that ClickHouse parsed with JSONExtract per row).
    `{tenant:String}, fromUnixTimestamp64Nano(ts, 'UTC'), stream_id, labels, line`,
    [
      { name: 'ts', type: 'Int64', data: ts },
      { name: 'stream_id', type: 'UInt64', data: ids },
      { name: 'labels', type: 'Map(String, String)', data: labels },
      { name: 'line', type: 'String', data: lines },
    ],
    rows.length,
    {
      insert_deduplicate: 1,
      insert_deduplication_token: token,
      // One block per insert: the deduplication token then covers the whole insert.
      max_insert_block_size: String(Math.max(rows.length, 1_048_576)),
      min_insert_block_size_rows: String(Math.max(rows.length, 1_048_576)),
      min_insert_block_size_bytes: '0',
    },
    { tenant },
  );
}
