// The cost of the auth hook (Host/Origin/content-type checks, bearer lookup
// through the cache, rate limit, tenant and role decisions) on an ingest-like
// POST and a query-like GET, through fastify's inject, as a ratio
// against the same server without the hook, in the same run. The handlers do
// almost nothing (count bytes; send a fixed 16 KiB answer), so the ratios
// bound the hook's share from above: real ingest and query handlers cost far
// more per request. Tokens come from an in-memory lookup, which is what the
// token cache is after the first request of each token.
//   BENCH_REQUESTS (default 20000 per mode and route, in 5 interleaved rounds after a warm-up round).
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createHttpServer } from '../core/http.ts';
import { hashToken, newTokenSecret, type TokenRecord } from '../core/auth/tokens.ts';
import type { AuthSetup } from '../core/auth/http.ts';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 20_000);
const ROUNDS = 5;
const DEADLINE_MS = 120_000;
const BODY = Buffer.alloc(64 * 1024, 7);
const ANSWER = JSON.stringify({ series: Array.from({ length: 200 }, (_, i) => ({ labels: { i: String(i) }, points: [[1, 2.5]] })) }).padEnd(16 * 1024);

type Mode = 'none' | 'off' | 'on';

const secret = newTokenSecret();
const record: TokenRecord = { id: 'bench', name: '', role: 'project-admin', tenants: ['acme'], creator: 'bench', createdAt: 0, expiresAt: Date.now() + 3_600_000, revokedAt: null };

async function server(mode: Mode): Promise<FastifyInstance> {
  const setup: AuthSetup = {
    enabled: mode === 'on',
    defaultTenant: 'default',
    tokens: { lookup: async (s) => (s === secret ? record : null) },
    adminTokenHash: hashToken('bench-bootstrap-token-not-used'),
    bind: { host: '127.0.0.1', port: 0 },
    allowedOrigins: [],
    rateLimit: { requestsPerSecond: 1e9, burst: 1e9 },
  };
  const app = createHttpServer({ bodyLimit: 1 << 20, ...(mode === 'none' ? {} : { auth: setup }) });
  app.post('/ingest', { config: { auth: { action: 'ingest', contentTypes: ['application/x-protobuf'] } } }, async (req) => ({ bytes: (req.body as Buffer).length }));
  app.get('/query', { config: { auth: { action: 'read' } } }, async (_req, reply) => reply.type('application/json').send(ANSWER));
  await app.ready();
  return app;
}

/** Sequential requests through app.inject (no sockets: the machine's other load then disturbs less); per-request milliseconds. */
async function measure(app: FastifyInstance, opts: InjectOptions, count: number): Promise<number[]> {
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count && performance.now() - start < DEADLINE_MS; i++) {
    const t0 = performance.now();
    const res = await app.inject(opts);
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${res.body}`);
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function main() {
  const modes = ['none', 'off', 'on'] as const;
  const apps = Object.fromEntries(await Promise.all(modes.map(async (m) => [m, await server(m)] as const))) as Record<Mode, FastifyInstance>;
  const ingest: Record<Mode, number[]> = { none: [], off: [], on: [] };
  // CPU microseconds (user + system) per mode and route: less disturbed than wall time by other processes on a shared machine.
  const cpu: Record<Mode, { ingest: number; query: number }> = { none: { ingest: 0, query: 0 }, off: { ingest: 0, query: 0 }, on: { ingest: 0, query: 0 } };
  const cpuOf = (u: NodeJS.CpuUsage) => u.user + u.system;
  const query: Record<Mode, number[]> = { none: [], off: [], on: [] };
  const perRound = Math.ceil(REQUESTS / ROUNDS);
  // Rounds interleave the modes, so drifts in the machine's load fall on all three alike; the first round warms up and is dropped.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of modes) {
      const auth: Record<string, string> = mode === 'on' ? { authorization: `Bearer ${secret}` } : {};
      let c0 = process.cpuUsage();
      const i = await measure(apps[mode], { method: 'POST' as const, url: '/ingest', headers: { ...auth, 'content-type': 'application/x-protobuf' }, payload: BODY }, perRound);
      const ci = cpuOf(process.cpuUsage(c0));
      c0 = process.cpuUsage();
      const q = await measure(apps[mode], { method: 'GET' as const, url: '/query', headers: auth }, perRound);
      const cq = cpuOf(process.cpuUsage(c0));
      if (round > 0) {
        cpu[mode].ingest += ci;
        cpu[mode].query += cq;
        ingest[mode].push(...i);
        query[mode].push(...q);
      }
    }
  }
  for (const mode of modes) await apps[mode].close();
  const perSecond = (xs: number[]) => 1000 / (xs.reduce((a, b) => a + b, 0) / xs.length);
  for (const mode of modes) {
    console.log(JSON.stringify({ mode, ingestPerSecond: Math.round(perSecond(ingest[mode])), ingestRequests: ingest[mode].length, queryP50Ms: round(quantile(query[mode], 0.5)), queryP99Ms: round(quantile(query[mode], 0.99)), queryRequests: query[mode].length }));
  }
  const hookMicros = (xs: number[], base: number[]) => round((quantile(xs, 0.5) - quantile(base, 0.5)) * 1000, 1);
  console.log(
    JSON.stringify({
      bench: 'auth',
      requestsPerMode: ingest.none.length,
      rounds: ROUNDS,
      ingestBodyBytes: BODY.length,
      queryAnswerBytes: ANSWER.length,
      ingestCpuRatioOn: round(cpu.on.ingest / cpu.none.ingest),
      ingestCpuRatioOff: round(cpu.off.ingest / cpu.none.ingest),
      queryCpuRatioOn: round(cpu.on.query / cpu.none.query),
      hookCpuMicrosPerRequestOn: { ingest: round((cpu.on.ingest - cpu.none.ingest) / ingest.none.length, 1), query: round((cpu.on.query - cpu.none.query) / query.none.length, 1) },
      ingestThroughputRatioOn: round(perSecond(ingest.on) / perSecond(ingest.none)),
      ingestThroughputRatioOff: round(perSecond(ingest.off) / perSecond(ingest.none)),
      queryP99RatioOn: round(quantile(query.on, 0.99) / quantile(query.none, 0.99)),
      queryP99RatioOff: round(quantile(query.off, 0.99) / quantile(query.none, 0.99)),
      hookWallMicrosMedianOn: { ingest: hookMicros(ingest.on, ingest.none), query: hookMicros(query.on, query.none) },
      target: 'ingest ratio >= 0.95, query p99 ratio <= 1.05 (trivial handlers: an upper bound on the share)',
    }),
  );
}

await main();
