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
  const groups = new Map<string, LogLine[]>();
  for (const r of rows) {
    const key = `${r.tenant}\u0000${r.tsNs / DAY_NS}`;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(r);
  }
  for (const [key, list] of groups) {
    const [tenant, day] = key.split('\u0000') as [string, string];
    // Without a token, a fresh one: two equal pushes are two pushes, both kept. (Always one: the
    // embedded store's session keeps the last insert's settings, a stale token included.)
    await insertBlock(store, tenant, list, `${token ?? randomUUID()}/${tenant}/${day}`);
  }
}

async function insertBlock(store: Store, tenant: string, rows: readonly LogLine[], token: string): Promise<void> {
  const ts = new BigInt64Array(rows.length);
  const ids = new BigUint64Array(rows.length);
  const keys: string[][] = [];
  const values: string[][] = [];
  const lines: string[] = [];
  const byLabels = new Map<string, bigint>();
  rows.forEach((r, i) => {
    ts[i] = r.tsNs;
    const entries = Object.entries(r.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const text = JSON.stringify(entries);
    let id = byLabels.get(text);
    if (id === undefined) byLabels.set(text, (id = streamId(r.labels)));
    ids[i] = id;
    keys.push(entries.map(([k]) => k));
    values.push(entries.map(([, v]) => v));
    lines.push(r.line);
  });
  await store.insertNative(
    'logs',
    'tenant, ts, stream_id, labels, line',
    `{tenant:String}, fromUnixTimestamp64Nano(ts, 'UTC'), stream_id, mapFromArrays(keys, vals), line`,
    [
      { name: 'ts', type: 'Int64', data: ts },
      { name: 'stream_id', type: 'UInt64', data: ids },
      { name: 'keys', type: 'Array(String)', data: keys },
      { name: 'vals', type: 'Array(String)', data: values },
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
