// bench:logs-index — which full-text index the logs table carries, measured:
// the same log lines (generated inside ClickHouse: 5,000 streams, request
// lines with paths, statuses, IPs, a unique trace id per line, a common and
// a rare keyword) in three copies of the logs table's layout: no index, a
// token bloom filter (tokenbf_v1) and ClickHouse's text index, both on
// lower(line) as the real table has it. For each: insert time, bytes on disk
// (table and index), and keyword, phrase and needle searches with the SQL
// search-query.ts builds (median and p99 over RUNS, granules the index kept).
// Every search's count must agree across the three (exit 1 otherwise).
// BENCH_LINES (default 2,000,000), BENCH_RUNS (default 15).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { removeDir } from './engine-process.ts';
import { searchWhere, parseTerms } from '../logs/search-query.ts';

const LINES = Number(process.env['BENCH_LINES'] ?? 2_000_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'tidemark-logs-index-bench-'));
const store = await Store.open({ dataPath: join(dir, 'store'), database: 'bench' });

const VARIANTS = {
  none: '',
  tokenbf: ', INDEX line_bf lower(line) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1',
  text: ", INDEX line_text lower(line) TYPE text(tokenizer = 'splitByNonAlpha') GRANULARITY 1",
} as const;
type Variant = keyof typeof VARIANTS;

const nowS = Math.floor(Date.now() / 1000);
// One day of lines, newest at now; the needle is the trace id of line 1,234,567 (mod LINES).
const needleRow = 1_234_567 % LINES;
const [{ needle }] = (await store.query<{ needle: string }>(`SELECT lower(hex(cityHash64(${needleRow}))) AS needle`)) as [{ needle: string }];

const generate = `
  SELECT 'bench' AS tenant,
    fromUnixTimestamp64Nano(toInt64((${nowS} - 86400 + number * 86400 / ${LINES}) * 1e9) + number % 1000, 'UTC') AS ts,
    number % 5000 AS stream_id,
    map('cluster', 'c' || toString(number % 3), 'namespace', 'ns-' || toString(number % 50), 'pod', 'app-' || toString(number % 5000)) AS labels,
    concat(
      if(number % 3 = 0, 'ERROR ', 'INFO '),
      ['GET', 'POST', 'PUT', 'DELETE'][number % 4 + 1], ' /api/v', toString(number % 3 + 1), '/', ['orders', 'users', 'carts', 'payments', 'search'][number % 5 + 1], '/', toString(number % 100000),
      ' status=', toString([200, 200, 200, 201, 404, 500][number % 6 + 1]),
      ' ip=10.', toString(number % 256), '.', toString(intDiv(number, 256) % 256), '.', toString(number % 7),
      ' took=', toString(number % 997), 'ms',
      ' trace=', lower(hex(cityHash64(number))),
      if(number % 1000 = 7, ' panic: runtime error: index out of range', ''),
      if(number % 10 = 1, ' connection reset by peer', '')
    ) AS line
  FROM numbers(${LINES})`;

const results: Record<string, unknown> = {};
const counts: Record<string, Record<Variant, number>> = {};
const queries = { keyword_common: 'error', keyword_rare: 'panic', phrase: '"reset by peer"', needle, needle_ip: '10.77.3.0' };

for (const variant of Object.keys(VARIANTS) as Variant[]) {
  const table = `bench.logs_${variant}`;
  await store.command(
    `CREATE TABLE ${table} (tenant LowCardinality(String), ts DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)), stream_id UInt64, labels Map(LowCardinality(String), String), line String CODEC(ZSTD(1))${VARIANTS[variant]})
     ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (tenant, stream_id, ts)`,
  );
  const t0 = performance.now();
  await store.command(`INSERT INTO ${table} ${generate}`);
  const insertS = (performance.now() - t0) / 1000;
  // One part per partition for every variant, so that sizes and granule counts compare alike.
  const t1 = performance.now();
  await store.command(`OPTIMIZE TABLE ${table} FINAL`);
  const mergeS = (performance.now() - t1) / 1000;
  const [disk] = await store.query<{ bytes: number }>(`SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = 'bench' AND table = 'logs_${variant}' AND active`);
  const [index] = await store.query<{ bytes: number }>(`SELECT sum(data_compressed_bytes) AS bytes FROM system.data_skipping_indices WHERE database = 'bench' AND table = 'logs_${variant}'`);
  const out: Record<string, unknown> = { insert_s: +insertS.toFixed(2), merge_s: +mergeS.toFixed(2), bytes_on_disk: Number(disk?.bytes ?? 0), index_bytes: Number(index?.bytes ?? 0) };
  for (const [name, q] of Object.entries(queries)) {
    const { where, params } = searchWhere({ tenant: 'bench', selector: {}, terms: parseTerms(q), window: { startMs: (nowS - 86400) * 1000, endMs: nowS * 1000 } });
    // A token bloom filter answers hasToken (one token each), not hasAllTokens: the same condition in its terms.
    const condition = variant === 'tokenbf' ? where.replace(/hasAllTokens\(lower\(line\), \{(t\d+):Array\(String\)\}\)/g, (_m, p: string) => (params[p] as string[]).map((tok) => `hasToken(lower(line), '${tok.replace(/[^a-z0-9]/g, '')}')`).join(' AND ')) : where;
    const sql = `SELECT count() AS n FROM ${table} WHERE ${condition}`;
    const times: number[] = [];
    let n = 0;
    for (let r = 0; r < RUNS; r++) {
      const s = performance.now();
      n = Number((await store.query<{ n: number }>(sql, params))[0]!.n);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const explain = await store.queryText(`EXPLAIN indexes = 1 ${sql}`, params, undefined, 'TabSeparated');
    const granules = [...explain.matchAll(/Granules: (\d+)\/(\d+)/g)].map((m) => `${m[1]}/${m[2]}`);
    (counts[name] ??= {} as Record<Variant, number>)[variant] = n;
    out[name] = { matches: n, p50_ms: +times[Math.floor(times.length / 2)]!.toFixed(1), p99_ms: +times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]!.toFixed(1), granules: granules[granules.length - 1] };
  }
  results[variant] = out;
  process.stderr.write(`${variant}: ${JSON.stringify(out)}\n`);
}

await store.close();
removeDir(dir);
const disagree = Object.entries(counts).filter(([, c]) => new Set(Object.values(c)).size !== 1);
if (disagree.length > 0) {
  process.stderr.write(`counts disagree: ${JSON.stringify(disagree)}\n`);
  process.exitCode = 1;
}
console.log(JSON.stringify({ bench: 'logs-index', lines: LINES, runs: RUNS, ...results }));
