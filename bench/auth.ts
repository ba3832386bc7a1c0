// bench:auth — what authentication and tenant scoping cost on the ingest and
// query paths of a whole engine (issue 11): two child engines side by side in
// one run, the same configuration but for auth.enabled, each fed the same
// remote_write load (ingest token vs no token) and asked the same range
// queries (user token vs no token), in interleaved rounds so that drifts in
// the machine's load fall on both alike. Figures are ratios on/off: ingest
// throughput (samples accepted per second of sending) and range-query p99.
// The per-token rate limit is raised out of the way (it is a limit, not a cost).
//   BENCH_SERIES (default 10000), BENCH_ROUNDS (scrape rounds, default 10),
//   BENCH_QUERIES (range queries per mode, default 400).
// Last line: one JSON figure line with requests sent, statuses and samples stored per mode.
import http from 'node:http';
import { cadvisorLabelSets, encodeRounds } from './fleet.ts';
import { removeDir, startEngineProcess, type EngineProcess } from './engine-process.ts';

const SERIES = Number(process.env['BENCH_SERIES'] ?? 10_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 10);
const QUERIES = Number(process.env['BENCH_QUERIES'] ?? 400);
const SAMPLES_PER_REQUEST = 1000;
const CONCURRENCY = 4;
const DEADLINE_MS = 240_000;
const TENANT = 'bench';
const ADMIN = 'bench-auth-bootstrap-token-0123456789';

type Mode = 'off' | 'on';
const MODES: readonly Mode[] = ['off', 'on'];

interface Side {
  engine: EngineProcess;
  /** Authorization header per use (none with auth off). */
  ingest: Record<string, string>;
  read: Record<string, string>;
  admin: Record<string, string>;
  agent: http.Agent;
  statuses: Record<number, number>;
  requests: number;
  samplesAccepted: number;
  sendMs: number;
  queryStatuses: Record<number, number>;
  queryMs: number[];
}

function request(side: Side, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; text: string }> {
  const url = new URL(side.engine.url);
  return new Promise((resolve) => {
    const req = http.request({ agent: side.agent, host: url.hostname, port: url.port, path, method, headers: { ...headers, ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.end(body);
  });
}

async function mint(side: Side, role: string): Promise<Record<string, string>> {
  const res = await request(side, 'POST', '/api/v1/tokens', { ...side.admin, 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ tenant: TENANT, role, expires: '1h' })));
  if (res.status !== 201) throw new Error(`minting a ${role} token: HTTP ${res.status} ${res.text}`);
  return { authorization: `Bearer ${(JSON.parse(res.text) as { token: string }).token}` };
}

async function start(mode: Mode): Promise<Side> {
  const config = { tenant: TENANT, auth: { enabled: mode === 'on', rateLimit: { requestsPerSecond: 1e6, burst: 1e6 } } };
  const engine = await startEngineProcess(config, mode === 'on' ? { TIDEMARK_ADMIN_TOKEN: ADMIN } : {});
  const side: Side = { engine, ingest: {}, read: {}, admin: {}, agent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }), statuses: {}, requests: 0, samplesAccepted: 0, sendMs: 0, queryStatuses: {}, queryMs: [] };
  if (mode === 'on') {
    side.admin = { authorization: `Bearer ${ADMIN}` };
    side.ingest = await mint(side, 'ingest');
    side.read = await mint(side, 'user');
  }
  return side;
}

/** Sends one round's bodies with CONCURRENCY connections; a body is retried on 503 (bounded), as Prometheus would. */
async function sendRound(side: Side, bodies: readonly Buffer[], samplesPerBody: readonly number[]): Promise<void> {
  const headers = { ...side.ingest, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++;
      for (let attempt = 0; attempt < 50; attempt++) {
        side.requests++;
        const { status } = await request(side, 'POST', '/api/v1/write', headers, bodies[i]);
        side.statuses[status] = (side.statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) side.samplesAccepted += samplesPerBody[i]!;
        if (status !== 503 && status !== 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  side.sendMs += performance.now() - t0;
}

async function storedSamples(side: Side): Promise<number> {
  const res = await request(side, 'GET', '/api/v1/status', side.admin);
  return res.status === 200 ? ((JSON.parse(res.text) as { ingest: { samplesStored: number | null } }).ingest.samplesStored ?? 0) : -1;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function main() {
  const load = encodeRounds(cadvisorLabelSets(SERIES), ROUNDS, 15, SAMPLES_PER_REQUEST);
  const perBody = load.roundBodies[0]!.map((_, k) => Math.min(SAMPLES_PER_REQUEST, SERIES - k * SAMPLES_PER_REQUEST));
  const sides = {} as Record<Mode, Side>;
  for (const mode of MODES) sides[mode] = await start(mode);
  const started = performance.now();
  try {
    // Ingest: round by round, the two engines in turn (which goes first alternates).
    for (let r = 0; r < ROUNDS && performance.now() - started < DEADLINE_MS; r++) {
      const order = r % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) await sendRound(sides[mode], load.roundBodies[r]!, perBody);
    }
    const stored: Record<Mode, number> = { off: 0, on: 0 };
    for (const mode of MODES) {
      const until = Date.now() + 60_000;
      while ((stored[mode] = await storedSamples(sides[mode])) < sides[mode].samplesAccepted && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    }
    // Queries: the same range query on both, in alternating batches of 20.
    const q = new URLSearchParams({ metric: load.metrics[0]!, fn: 'avg', by: 'namespace', since: '15m' });
    const path = `/api/v1/range?${q}`;
    for (let done = 0; done < QUERIES && performance.now() - started < DEADLINE_MS; done += 20) {
      const order = (done / 20) % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const side = sides[mode];
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          const { status } = await request(side, 'GET', path, side.read);
          side.queryMs.push(performance.now() - t0);
          side.queryStatuses[status] = (side.queryStatuses[status] ?? 0) + 1;
        }
      }
    }
    const perSecond = (s: Side) => s.samplesAccepted / (s.sendMs / 1000);
    const { off, on } = sides;
    console.log(
      JSON.stringify({
        bench: 'auth',
        through: 'two child engines (auth off / on), remote_write and GET /api/v1/range over loopback HTTP',
        series: SERIES,
        rounds: ROUNDS,
        samplesPerRequest: SAMPLES_PER_REQUEST,
        concurrency: CONCURRENCY,
        samplesSent: load.samples,
        requests: { off: off.requests, on: on.requests },
        statuses: { off: off.statuses, on: on.statuses },
        samplesAccepted: { off: off.samplesAccepted, on: on.samplesAccepted },
        samplesStored: stored,
        ingestSamplesPerSecond: { off: Math.round(perSecond(off)), on: Math.round(perSecond(on)) },
        ingestThroughputRatio: round(perSecond(on) / perSecond(off)),
        queryRequests: { off: off.queryMs.length, on: on.queryMs.length },
        queryStatuses: { off: off.queryStatuses, on: on.queryStatuses },
        queryP50Ms: { off: round(quantile(off.queryMs, 0.5)), on: round(quantile(on.queryMs, 0.5)) },
        queryP99Ms: { off: round(quantile(off.queryMs, 0.99)), on: round(quantile(on.queryMs, 0.99)) },
        queryP99Ratio: round(quantile(on.queryMs, 0.99) / quantile(off.queryMs, 0.99)),
        target: 'ingestThroughputRatio >= 0.95, queryP99Ratio <= 1.05',
      }),
    );
  } finally {
    for (const mode of MODES) {
      sides[mode].agent.destroy();
      await sides[mode].engine.stop();
      removeDir(sides[mode].engine.dataDir);
    }
  }
}

await main();
