// bench:insert-formats — the same 1,000,000 samples inserted into a
// samples-shaped table (no rollups) through each insert path the embedded
// engine offers: chDB's raw text inserts (JSONEachRow, JSONCompactEachRow,
// TSV) and the Native-format block that the ingester uses. Encoding time in
// Node counts. Last line: rows per second of each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';

const N = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const SERIES = 50_000;
const dir = mkdtempSync(join(tmpdir(), 'bench-formats-'));
const store = await Store.open({ dataPath: dir, database: 'b' });
await store.command(
  `CREATE TABLE b.samples (tenant LowCardinality(String), series_id UInt64, ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)), value Float64 CODEC(Gorilla, ZSTD(1))) ENGINE = MergeTree ORDER BY (tenant, series_id, ts)`,
);
const ids = new BigUint64Array(N);
const ts = new Float64Array(N);
const values = new Float64Array(N);
for (let i = 0; i < N; i++) {
  ids[i] = BigInt(i % SERIES) * 2654435761n;
  ts[i] = 1_790_000_000_000 + Math.floor(i / SERIES) * 15_000;
  values[i] = Math.random() * 1000;
}
// chDB's raw insert (not on the @clickhouse/client Connection contract) is the only text path that skips a string copy.
const raw = (store.client as unknown as { connection?: unknown }).connection as { chdb?: { rawInsert(p: object): Promise<unknown> } } | undefined;

async function timed(name: string, run: () => Promise<void>): Promise<number> {
  await store.command('TRUNCATE TABLE b.samples');
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const stored = (await store.query<{ c: number }>('SELECT count() AS c FROM b.samples'))[0]!.c;
  if (stored !== N) throw new Error(`${name}: stored ${stored} of ${N}`);
  console.error(`${name.padEnd(20)} ${(N / seconds).toFixed(0).padStart(10)} rows/s`);
  return Math.round(N / seconds);
}

async function rawText(format: string, body: () => string): Promise<void> {
  const text = body();
  if (raw?.chdb) await raw.chdb.rawInsert({ table: 'b.samples', values: Buffer.from(text), format });
  else await store.client.insert({ table: 'b.samples', values: text as never, format: format as never });
}

const results: Record<string, number> = {};
results['json_each_row'] = await timed('JSONEachRow', () =>
  rawText('JSONEachRow', () => {
    const parts: string[] = new Array(N);
    for (let i = 0; i < N; i++) parts[i] = `{"tenant":"default","series_id":${ids[i]},"ts":${ts[i]! / 1000},"value":${values[i]}}`;
    return parts.join('\n');
  }),
);
results['json_compact_each_row'] = await timed('JSONCompactEachRow', () =>
  rawText('JSONCompactEachRow', () => {
    const parts: string[] = new Array(N);
    for (let i = 0; i < N; i++) parts[i] = `["default",${ids[i]},${ts[i]! / 1000},${values[i]}]`;
    return parts.join('\n');
  }),
);
results['tsv'] = await timed('TSV', () =>
  rawText('TSV', () => {
    const parts: string[] = new Array(N);
    for (let i = 0; i < N; i++) parts[i] = `default\t${ids[i]}\t${ts[i]! / 1000}\t${values[i]}`;
    return parts.join('\n') + '\n';
  }),
);
results['native'] = await timed('Native (ingester)', () =>
  store.insertNative(
    'samples',
    'tenant, series_id, ts, value',
    `'default', series_id, fromUnixTimestamp64Milli(toInt64(ts), 'UTC'), value`,
    [
      { name: 'series_id', type: 'UInt64', data: ids },
      { name: 'ts', type: 'Float64', data: ts },
      { name: 'value', type: 'Float64', data: values },
    ],
    N,
  ),
);
await store.close();
rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
console.log(JSON.stringify({ bench: 'insert-formats', rows: N, rows_per_s: results, native_vs_json_each_row: Number((results['native']! / results['json_each_row']!).toFixed(1)) }));
