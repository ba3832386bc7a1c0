// bench:logs-ingest — push-to-stored log lines per second through the Loki
// push API: an engine (`tidemark up`, embedded store, memory bus with group
// commit) receives BENCH_LINES lines (default 1,000,000) from BENCH_STREAMS
// streams (default 3,000) as snappy protobuf pushes of BENCH_BATCH lines
// (default 5,000, Promtail's batches are ~1 MB) from BENCH_CONCURRENCY
// senders (default 4). Every push is answered 204 only once stored, so the
// clock stops at the last answer; the stored count is then read back through
// the search API and must equal the sent count (exit 1 otherwise).
// Last line: {"bench":"logs-ingest","lines_per_s":…,"sent":…,"stored":…,…}.
import protobuf from 'protobufjs';
import snappy from 'snappy';
import { removeDir, startEngineProcess } from './engine-process.ts';

const LINES = Number(process.env['BENCH_LINES'] ?? 1_000_000);
const STREAMS = Number(process.env['BENCH_STREAMS'] ?? 3_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 5_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const TIME_LIMIT_MS = Number(process.env['BENCH_TIME_LIMIT_S'] ?? 300) * 1000;

/** One push: logproto.PushRequest of `count` lines starting at line `first`, spread over the streams. */
function pushBody(first: number, count: number, baseNs: bigint): Buffer {
  const byStream = new Map<number, number[]>();
  for (let i = first; i < first + count; i++) {
    const s = i % STREAMS;
    let list = byStream.get(s);
    if (!list) byStream.set(s, (list = []));
    list.push(i);
  }
  const w = protobuf.Writer.create();
  for (const [s, lines] of byStream) {
    w.uint32((1 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(`{cluster="bench", namespace="ns-${s % 50}", pod="app-${s}-7d9f8b6c5d-x2k4p", container="main"}`);
    for (const i of lines) {
      const ns = baseNs + BigInt(i) * 1000n;
      w.uint32((2 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 0).int64(Number(ns / 1_000_000_000n)).uint32((2 << 3) | 0).int32(Number(ns % 1_000_000_000n)).ldelim();
      w.uint32((2 << 3) | 2).string(`level=info benchline GET /api/v1/orders/${i} status=${i % 7 === 0 ? 500 : 200} ip=10.${i % 256}.${(i >> 8) % 256}.7 took=${i % 997}ms trace=${((i * 2654435761) >>> 0).toString(16)}`);
      w.ldelim();
    }
    w.ldelim();
  }
  return snappy.compressSync(Buffer.from(w.finish())) as Buffer;
}

const engine = await startEngineProcess({}, {});
let exitCode = 0;
try {
  const baseNs = BigInt(Date.now() - 600_000) * 1_000_000n;
  // Bodies are built before the clock starts: the bench measures the engine, not the sender.
  const bodies: Buffer[] = [];
  for (let first = 0; first < LINES; first += BATCH) bodies.push(pushBody(first, Math.min(BATCH, LINES - first), baseNs));
  let next = 0;
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  const sender = async () => {
    while (next < bodies.length && performance.now() - t0 < TIME_LIMIT_MS) {
      const k = next++;
      const r = await fetch(`${engine.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: bodies[k]! });
      await r.arrayBuffer();
      if (r.status === 204) sent += Math.min(BATCH, LINES - k * BATCH);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  const seconds = (performance.now() - t0) / 1000;
  const q = new URLSearchParams({ cluster: 'bench', q: 'benchline', since: '1h', limit: '1' });
  const r = await fetch(`${engine.url}/api/v1/logs/search?${q}`);
  const stored = r.ok ? ((await r.json()) as { total: number }).total : -1;
  if (stored !== sent) exitCode = 1;
  console.log(JSON.stringify({ bench: 'logs-ingest', lines_per_s: Math.round(sent / seconds), sent, stored, failed_pushes: failed, seconds: +seconds.toFixed(2), lines: LINES, streams: STREAMS, batch: BATCH, concurrency: CONCURRENCY }));
} finally {
  await engine.stop();
  removeDir(engine.dataDir);
}
process.exit(exitCode);
