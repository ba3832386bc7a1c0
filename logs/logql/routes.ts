// The Loki query API Grafana's Loki data source calls, answered in Loki's
// shapes: query_range and query (streams, matrix, vector, with `stats`),
// labels, label values, series, index stats, and the tail websocket. Every
// route reads (auth `read`) within the request's tenant; a query that does
// not parse is a 400 whose message names its line and column, as Loki's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { AppContext } from '../../core/context.ts';
import { InputError } from '../../core/errors.ts';
import type { LogQuery, Query, Selector } from './ast.ts';
import { parseLogql } from './parse.ts';
import { evaluateMetricQuery, indexStats, labelNames, labelValues, selectLines, seriesOf, type QueryCounts, type Stream } from './execute.ts';
import { formatValue, sortSeries, stepSeconds, type StepSeries } from './metric.ts';
import type { StepGrid } from './plan.ts';
import { defaultStep, list, MAX_POINTS, nowNs, one, parseDirection, parseLimit, parseLokiDuration, parseLokiTime, parseRange } from './params.ts';

type QueryString = Record<string, string | string[] | undefined>;

const READ = { auth: { action: 'read' as const } };

function queryText(q: QueryString): string {
  const text = one(q, 'query');
  if (text === undefined || text.trim() === '') throw new InputError('query', 'a LogQL query is required');
  return text;
}

function selectorOf(text: string, field: string): Selector {
  const q = parseLogql(text);
  if (q.kind !== 'log') throw new InputError(field, 'expected a stream selector such as {app="web"}, not a metric query');
  return q.selector;
}

/** Loki's `stats` object: the summary Grafana's query inspector reads, with the store's share in `querier`. */
export function lokiStats(counts: QueryCounts, startedMs: number): Record<string, unknown> {
  const execTime = Math.max((performance.now() - startedMs) / 1000, 1e-6);
  const store = { totalChunksRef: 0, totalChunksDownloaded: 0, chunksDownloadTime: 0, chunk: { headChunkBytes: 0, headChunkLines: 0, decompressedBytes: counts.bytesProcessed, decompressedLines: counts.linesProcessed, compressedBytes: 0, totalDuplicates: 0 } };
  return {
    summary: {
      bytesProcessedPerSecond: Math.round(counts.bytesProcessed / execTime),
      linesProcessedPerSecond: Math.round(counts.linesProcessed / execTime),
      totalBytesProcessed: counts.bytesProcessed,
      totalLinesProcessed: counts.linesProcessed,
      execTime,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: counts.entriesReturned,
      splits: 0,
      shards: 0,
      totalPostFilterLines: counts.linesProcessed,
      totalStructuredMetadataBytesProcessed: 0,
    },
    querier: { store },
    ingester: { totalReached: 0, totalChunksMatched: 0, totalBatches: 0, totalLinesSent: 0, store },
    cache: {},
  };
}

function matrix(series: StepSeries[], grid: StepGrid): unknown[] {
  return sortSeries(series).map((s) => ({
    metric: s.labels,
    values: s.values.flatMap((v, i) => (v === null ? [] : [[stepSeconds(grid, i), formatValue(v)]])),
  }));
}

function streamsResult(streams: Stream[]): unknown[] {
  return streams.map((s) => ({ stream: s.stream, values: s.values }));
}

async function runRange(ctx: AppContext, tenant: string, q: QueryString): Promise<unknown> {
  const started = performance.now();
  const query = parseLogql(queryText(q));
  const { start, end } = parseRange(q, nowNs());
  const limit = parseLimit(q);
  const direction = parseDirection(q);
  if (query.kind === 'log') {
    const { streams, counts } = await selectLines(ctx.store, tenant, query, { start, end }, direction, limit);
    return { status: 'success', data: { resultType: 'streams', result: streamsResult(streams), stats: lokiStats(counts, started) } };
  }
  const stepText = one(q, 'step');
  const step = stepText ? parseLokiDuration(stepText, 'step') : defaultStep(start, end);
  if (step <= 0n) throw new InputError('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  const points = (end - start) / step + 1n;
  if (points > BigInt(MAX_POINTS)) throw new InputError('step', `exceeded maximum resolution of ${MAX_POINTS.toLocaleString('en')} points per timeseries. Try decreasing the query resolution (?step=XX)`);
  const grid: StepGrid = { startNs: start, stepNs: step, n: Number(points), rangeNs: 0n, offsetNs: 0n };
  const { series, counts } = await evaluateMetricQuery(ctx.store, tenant, query, grid);
  return { status: 'success', data: { resultType: 'matrix', result: matrix(series, grid), stats: lokiStats(counts, started) } };
}

async function runInstant(ctx: AppContext, tenant: string, q: QueryString): Promise<unknown> {
  const started = performance.now();
  const query: Query = parseLogql(queryText(q));
  const timeText = one(q, 'time');
  const at = timeText ? parseLokiTime(timeText, 'time') : nowNs();
  if (query.kind === 'log') {
    throw new InputError('query', 'log queries are not supported as an instant query type, please change your query to a range query type');
  }
  // One step at `at` (evaluateMetricQuery makes it as long as the window).
  const grid: StepGrid = { startNs: at, stepNs: 1_000_000_000n, n: 1, rangeNs: 0n, offsetNs: 0n };
  const { series, counts } = await evaluateMetricQuery(ctx.store, tenant, query, grid);
  const t = stepSeconds(grid, 0);
  const result = sortSeries(series).map((s) => ({ metric: s.labels, value: [t, formatValue(s.values[0]!)] }));
  return { status: 'success', data: { resultType: 'vector', result, stats: lokiStats(counts, started) } };
}

/** The label and series routes' optional range: Loki's default is the last 6 hours here as well as in Grafana. */
function labelRange(q: QueryString): { start: bigint; end: bigint } {
  const now = nowNs();
  if (!one(q, 'start') && !one(q, 'since')) return parseRange({ ...q, since: '6h' }, now);
  return parseRange(q, now);
}

/** How often the tail websocket asks the store for new lines, and how far back it looks for late ones. */
export const TAIL_POLL_MS = 500;
const TAIL_LOOKBACK_NS = 30_000_000_000n;

function tailLoop(ctx: AppContext, tenant: string, query: LogQuery, socket: WebSocket, startNs: bigint, delayNs: bigint, limit: number): void {
  const seen = new Map<string, bigint>();
  let closed = false;
  let first = true;
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {
    closed = true;
  });
  const poll = async (): Promise<void> => {
    if (closed) return;
    const now = nowNs() - delayNs;
    // The first answer replays from `start`; later ones look back a while for lines that arrived late.
    const from = first ? startNs : now - TAIL_LOOKBACK_NS > startNs ? now - TAIL_LOOKBACK_NS : startNs;
    try {
      // Newest first: when more than `limit` lines arrive between two polls, the newest are sent (as Loki's tail drops under load).
      const { streams } = await selectLines(ctx.store, tenant, query, { start: from, end: now, endInclusive: true }, 'backward', limit);
      const fresh: Stream[] = [];
      for (const s of streams) {
        const values = s.values.filter(([ts, line]) => {
          const key = `${ts}\u0000${JSON.stringify(s.stream)}\u0000${line}`;
          if (seen.has(key)) return false;
          seen.set(key, BigInt(ts));
          return true;
        });
        if (values.length > 0) fresh.push({ stream: s.stream, values: values.sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1)) });
      }
      const horizon = now - 2n * TAIL_LOOKBACK_NS;
      for (const [k, ts] of seen) if (ts < horizon) seen.delete(k);
      if (fresh.length > 0 && !closed) socket.send(JSON.stringify({ streams: streamsResult(fresh), dropped_entries: null }));
    } catch (err) {
      ctx.log.warn({ err }, 'loki tail poll failed');
    }
    first = false;
    if (!closed) setTimeout(() => void poll(), TAIL_POLL_MS).unref();
  };
  void poll();
}

export async function lokiQueryRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // Another module may have registered the websocket plugin already; it is one per server.
  if (!app.hasDecorator('websocketServer')) await app.register(websocket);
  // An upgrade request answered without an upgrade (refused by the auth hook, which runs before the
  // plugin marks the request, or sent to a path with no websocket): its socket is no HTTP connection
  // the server ends, so it stayed open and the engine's close waited on it for ever. End it.
  app.addHook('onResponse', async (req) => {
    if (req.raw.headers.upgrade && req.ws !== true && !req.raw.socket.destroyed) req.raw.socket.destroy();
  });

  // Grafana's Loki data source sends GETs with the parameters in the query string.
  const get = (url: string, handler: (req: FastifyRequest) => Promise<unknown>): void => {
    app.get(url, { config: READ }, handler);
  };
  const params = (req: FastifyRequest): QueryString => req.query as QueryString;

  get('/loki/api/v1/query_range', (req) => runRange(ctx, req.tenant, params(req)));
  get('/loki/api/v1/query', (req) => runInstant(ctx, req.tenant, params(req)));
  get('/loki/api/v1/labels', async (req) => {
    const q = params(req);
    const text = one(q, 'query');
    return { status: 'success', data: await labelNames(ctx.store, req.tenant, labelRange(q), text ? selectorOf(text, 'query') : null) };
  });
  get('/loki/api/v1/label/:name/values', async (req) => {
    const q = params(req);
    const { name } = req.params as { name: string };
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new InputError('name', `"${name}" is not a label name`);
    const text = one(q, 'query');
    return { status: 'success', data: await labelValues(ctx.store, req.tenant, name, labelRange(q), text ? selectorOf(text, 'query') : null) };
  });
  get('/loki/api/v1/series', async (req) => {
    const q = params(req);
    const matches = list(q, 'match');
    if (matches.length === 0) throw new InputError('match[]', 'at least one match[] selector is required');
    const selectors = matches.map((m, i) => selectorOf(m, `match[${i}]`));
    return { status: 'success', data: await seriesOf(ctx.store, req.tenant, labelRange(q), selectors) };
  });
  get('/loki/api/v1/index/stats', async (req) => {
    const q = params(req);
    const query = parseLogql(queryText(q));
    const log = query.kind === 'log' ? query : null;
    if (!log) throw new InputError('query', 'expected a log query such as {app="web"}');
    return indexStats(ctx.store, req.tenant, log, parseRange(q, nowNs()));
  });

  app.route({
    method: 'GET',
    url: '/loki/api/v1/tail',
    config: READ,
    // Parsed before the upgrade, so a bad query is a plain 400 as on every other route.
    preValidation: async (req) => {
      const q = req.query as QueryString;
      const query = parseLogql(queryText(q));
      if (query.kind !== 'log') throw new InputError('query', 'tail takes a log query, not a metric query');
      parseLimit(q);
      if (one(q, 'start')) parseLokiTime(one(q, 'start')!, 'start');
      const delay = Number(one(q, 'delay_for') ?? '0');
      if (!Number.isInteger(delay) || delay < 0 || delay > 5) throw new InputError('delay_for', 'must be a whole number of seconds from 0 to 5');
    },
    handler: async () => {
      throw new InputError('connection', 'the tail API is a websocket: send an Upgrade request');
    },
    wsHandler: (socket, req) => {
      const q = req.query as QueryString;
      const query = parseLogql(queryText(q)) as LogQuery;
      const startNs = one(q, 'start') ? parseLokiTime(one(q, 'start')!, 'start') : nowNs() - 3_600_000_000_000n;
      const delayNs = BigInt(Number(one(q, 'delay_for') ?? '0')) * 1_000_000_000n;
      tailLoop(ctx, req.tenant, query, socket, startNs, delayNs, parseLimit(q));
    },
  });
}
