// Fuzz benchmark: generated inputs (test/helpers/fuzz-requests.ts, the
// property tests' generators) across every HTTP edge of a real engine
// process on loopback, counting statuses. A 5xx, a crash (the engine process
// exits) or a stall (an answer slower than BENCH_FUZZ_STALL_MS) each count;
// the run stops at the first crash. Bounded in count (BENCH_FUZZ_INPUTS,
// default 100,000) and time (BENCH_FUZZ_MAX_SECONDS, default 900).
// Last line: {"bench":"fuzz","inputs":…,"status_5xx":0,"crashes":0,"stalls":0,"statuses":{…},…}.
import fc from 'fast-check';
import { startEngineProcess, removeDir } from './engine-process.ts';
import {
  FUZZ_SEED,
  decisionsRequest,
  importRequest,
  pushRequest,
  rangeGetRequest,
  rangePostRequest,
  remoteWriteRequest,
  seriesRequest,
  slaRequest,
  utilisationRequest,
  answerProblem,
  type FuzzRequest,
} from '../test/helpers/fuzz-requests.ts';

const INPUTS = Number(process.env['BENCH_FUZZ_INPUTS'] ?? 100_000);
const CONCURRENCY = Number(process.env['BENCH_FUZZ_CONCURRENCY'] ?? 8);
const STALL_MS = Number(process.env['BENCH_FUZZ_STALL_MS'] ?? 10_000);
const MAX_SECONDS = Number(process.env['BENCH_FUZZ_MAX_SECONDS'] ?? 900);
const SEED = Number(process.env['BENCH_FUZZ_SEED'] ?? FUZZ_SEED);
/** A request still unanswered after this long is abandoned (and already counted as a stall). */
const ABANDON_MS = Math.max(STALL_MS * 3, 30_000);

// Weighted by cost: a utilisation view is four store queries, a push is a parse.
const anyRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 20, arbitrary: remoteWriteRequest },
  { weight: 20, arbitrary: pushRequest },
  { weight: 15, arbitrary: importRequest },
  { weight: 12, arbitrary: rangeGetRequest },
  { weight: 8, arbitrary: rangePostRequest },
  { weight: 8, arbitrary: seriesRequest },
  { weight: 1, arbitrary: utilisationRequest },
  { weight: 12, arbitrary: slaRequest },
  { weight: 4, arbitrary: decisionsRequest },
);

const engine = await startEngineProcess();
let crashed = false;
let stopping = false;
engine.child.once('exit', (code, signal) => {
  if (stopping) return;
  crashed = true;
  process.stderr.write(`engine exited during the run: code ${code} signal ${signal}\n`);
});

const statuses: Record<string, number> = {};
const byEndpoint: Record<string, Record<string, number>> = {};
let sent = 0;
let status5xx = 0;
let stalls = 0;
let badErrors = 0;
let transportErrors = 0;
const examples: string[] = [];
const started = performance.now();
const deadline = Date.now() + MAX_SECONDS * 1000;

function note(problem: string, req: FuzzRequest): void {
  if (examples.length < 10) examples.push(`${req.method} ${req.url.slice(0, 200)} → ${problem.slice(0, 300)}`);
}

async function send(req: FuzzRequest): Promise<void> {
  const t0 = performance.now();
  let status = 'error';
  try {
    const r = await fetch(engine.url + req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.payload === undefined ? {} : { body: req.payload }),
      signal: AbortSignal.timeout(ABANDON_MS),
    });
    const body = await r.text();
    status = String(r.status);
    const problem = answerProblem(r.status, r.headers.get('content-type') ?? undefined, body);
    if (r.status >= 500) status5xx++;
    else if (problem) badErrors++;
    if (problem) note(problem, req);
  } catch (e) {
    if (!crashed) {
      transportErrors++;
      note(`transport: ${(e as Error).message}`, req);
    }
  }
  if (performance.now() - t0 > STALL_MS) {
    stalls++;
    note(`stall: ${Math.round(performance.now() - t0)} ms`, req);
  }
  statuses[status] = (statuses[status] ?? 0) + 1;
  const e = (byEndpoint[req.endpoint] ??= {});
  e[status] = (e[status] ?? 0) + 1;
}

const CHUNK = 1000;
try {
  for (let chunk = 0; sent < INPUTS && !crashed && Date.now() < deadline; chunk++) {
    const batch = fc.sample(anyRequest, { seed: SEED + chunk, numRuns: Math.min(CHUNK, INPUTS - sent) });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batch.length && !crashed && Date.now() < deadline) {
          const req = batch[next++]!;
          sent++;
          await send(req);
        }
      }),
    );
    if (chunk % 10 === 9) process.stderr.write(`${sent} inputs, ${Math.round((performance.now() - started) / 1000)} s, statuses ${JSON.stringify(statuses)}\n`);
  }
} finally {
  const healthz = crashed ? 0 : await fetch(`${engine.url}/healthz`).then((r) => r.status, () => 0);
  const readyz = crashed ? 0 : await fetch(`${engine.url}/readyz`).then((r) => r.status, () => 0);
  stopping = true;
  await engine.stop();
  removeDir(engine.dataDir);
  for (const e of examples) process.stderr.write(`example: ${e}\n`);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      bench: 'fuzz',
      inputs: sent,
      requested_inputs: INPUTS,
      seed: SEED,
      concurrency: CONCURRENCY,
      seconds: Math.round(seconds * 10) / 10,
      status_5xx: status5xx,
      crashes: crashed ? 1 : 0,
      stalls,
      stall_ms: STALL_MS,
      // 4xx answers that were not our JSON error shape, and requests with no answer at all.
      malformed_errors: badErrors,
      transport_errors: transportErrors,
      healthz_after: healthz,
      readyz_after: readyz,
      statuses,
      by_endpoint: byEndpoint,
    }),
  );
}
