// The Prometheus HTTP API at the root, so that a Grafana data source (or any
// Prometheus client) pointed at Tidemark works unchanged: instant and range
// PromQL queries, series, label names and values, metadata, build info,
// exemplars (none) and query formatting. GET, and POST with a form body
// where Prometheus takes one; a wrong method is a 405 as Prometheus answers.
// Every route reads the request's tenant. Answers in Prometheus' envelope.
// Alerting owns /api/v1/rules and /api/v1/alerts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { AppContext } from '../../core/context.ts';
import { InputError } from '../../core/errors.ts';
import { parseDuration } from '../../core/duration.ts';
import { HttpError, fastifyClientError } from '../../core/http.ts';
import type { QueryConfig } from '../config.ts';
import { isValidLabelName } from '../series.ts';
import type { LabelMatcher } from '../range-query.ts';
import { checkPromQL, formatPromQL, instantQuery, rangeQuery, PromQLError, type PromQLAnswer, type PromQLOptions } from '../promql/engine.ts';
import { badParam, errorBody, PromApiError, success } from './errors.ts';
import { ApiParams, durationParam, rangeTimes, timeParam, type Params } from './params.ts';
import { parseSelector } from './selector.ts';
import { lookupLabelNames, lookupLabelValues, lookupSeries, type Lookup } from './lookups.ts';
import { buildInfo } from './buildinfo.ts';

/** The API's paths and the methods Prometheus 2.42 answers on each (others: 405). */
export const PROMETHEUS_API_ROUTES = [
  { url: '/api/v1/query', methods: ['GET', 'POST'] },
  { url: '/api/v1/query_range', methods: ['GET', 'POST'] },
  { url: '/api/v1/series', methods: ['GET', 'POST'] },
  { url: '/api/v1/labels', methods: ['GET', 'POST'] },
  { url: '/api/v1/label/:name/values', methods: ['GET'] },
  { url: '/api/v1/metadata', methods: ['GET'] },
  { url: '/api/v1/status/buildinfo', methods: ['GET'] },
  { url: '/api/v1/query_exemplars', methods: ['GET', 'POST'] },
  { url: '/api/v1/format_query', methods: ['GET', 'POST'] },
] as const;

/** Methods that get a 405 on a path that does not take them. */
export const REFUSED_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;

const FORM = 'application/x-www-form-urlencoded';
/** A read; POST bodies are forms, as Prometheus (and Grafana) send them. */
const READ = { auth: { action: 'read' as const, contentTypes: [FORM] } };

function paramsOf(req: FastifyRequest): ApiParams {
  const body = req.body;
  return new ApiParams(req.query as Params, body !== null && typeof body === 'object' && !Buffer.isBuffer(body) ? (body as Params) : {});
}

/** A store or engine failure as Prometheus words it: timeouts 503, cancellations 503 `canceled`, limits 422. */
function apiErrorOf(err: unknown): PromApiError | null {
  if (err instanceof PromApiError) return err;
  if (err instanceof PromQLError) return new PromApiError(err.status === 499 ? 503 : err.status, err.errorType, err.message, err.errorType === 'bad_data' ? 'query' : undefined);
  if (err instanceof InputError) return new PromApiError(400, 'bad_data', err.message, err.field);
  if (err instanceof HttpError) return new PromApiError(err.statusCode, err.statusCode < 500 ? 'bad_data' : 'unavailable', err.message, err.field);
  const e = err as { message?: string; statusCode?: number; code?: string };
  const message = e?.message ?? String(err);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const { field } = fastifyClientError(e.code);
    return new PromApiError(e.statusCode, 'bad_data', message, field);
  }
  if (/TIMEOUT_EXCEEDED|Timeout exceeded/i.test(message)) return new PromApiError(503, 'timeout', 'query timed out in query execution', 'query');
  if (/QUERY_WAS_CANCELLED|aborted/i.test(message)) return new PromApiError(503, 'canceled', 'query was canceled in query execution', 'query');
  if (/TOO_MANY_ROWS|TOO_MANY_BYTES|MEMORY_LIMIT_EXCEEDED/.test(message)) return new PromApiError(422, 'execution', `query processing would load too many samples into memory: ${message.slice(0, 200)}`, 'query');
  if (/CANNOT_COMPILE_REGEXP|cannot compile re2/i.test(message)) return new PromApiError(400, 'bad_data', `a regular expression the store's RE2 cannot compile: ${/error: ([^.]*)/.exec(message)?.[1] ?? 'pattern too large'}`, 'match[]');
  return null;
}

function sendError(reply: FastifyReply, err: PromApiError): FastifyReply {
  return reply.status(err.status).type('application/json').send(errorBody(err.errorType, err.message, err.field));
}

/** Cancelled when the client goes away before its answer: the engine stops the query in ClickHouse too. */
function clientGone(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  void req;
  return controller.signal;
}

/** Prometheus' `limit`: a whole number, 0 or absent for none. */
function limitParam(params: ApiParams): number {
  const text = params.get('limit');
  if (text === '') return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw badParam('limit', `cannot parse "${text}" to a valid limit`);
  return n;
}

function selectorsOf(params: ApiParams, required: boolean): LabelMatcher[][] {
  const texts = params.all('match[]');
  if (required && texts.length === 0) throw new PromApiError(400, 'bad_data', 'no match[] parameter provided', 'match[]');
  return texts.map((t) => parseSelector(t, 'match[]'));
}

function lookupOf(params: ApiParams, tenant: string, required: boolean): Lookup {
  const selectors = selectorsOf(params, required);
  const start = params.get('start') === '' ? undefined : timeParam(params, 'start', 0, true);
  const end = params.get('end') === '' ? undefined : timeParam(params, 'end', 0, true);
  return { tenant, selectors, startMs: start, endMs: end, limit: limitParam(params) };
}

const TRUNCATED = 'results truncated due to limit';

/** Checks an expression; Prometheus' words for an empty one, the engine's for the rest. */
function checkExpression(expr: string): void {
  if (expr.trim() === '') throw new PromQLError('bad_data', '1:1: parse error: no expression found in input');
  checkPromQL(expr);
}

export async function prometheusApiRoutes(app: FastifyInstance, ctx: AppContext<QueryConfig>): Promise<void> {
  // Encapsulated: the form parser and the envelope-shaped error handler apply to these routes only.
  await app.register(async (api) => {
    await api.register(formbody, { bodyLimit: ctx.config.server.bodyLimit });
    api.setErrorHandler((err, req, reply) => {
      const known = apiErrorOf(err);
      if (known) return sendError(reply, known);
      ctx.log.error({ err, requestId: req.id, method: req.method, url: req.url, status: 500 }, 'request failed');
      return reply.status(500).type('application/json').send({ ...errorBody('internal', (err as Error).message ?? 'internal error'), requestId: req.id });
    });

    const limits = (params: ApiParams, tenant: string, signal: AbortSignal): PromQLOptions => {
      const configured = parseDuration(ctx.config.query.timeout, 'query.timeout');
      const asked = durationParam(params, 'timeout');
      return {
        tenant,
        timeoutMs: asked !== undefined && asked > 0 ? Math.min(asked, configured) : configured,
        maxSamples: ctx.config.query.maxSamples,
        signal,
        stats: params.get('stats') !== '',
      };
    };
    const checked = (params: ApiParams): string => {
      const expr = params.get('query');
      try {
        checkExpression(expr);
      } catch (e) {
        if (e instanceof PromQLError) throw badParam('query', e.message);
        throw e;
      }
      return expr;
    };
    const answer = (a: PromQLAnswer) => success(a.stats ? { ...a.data, stats: a.stats } : a.data, a.warnings);

    const query = async (req: FastifyRequest, reply: FastifyReply) => {
      const params = paramsOf(req);
      const expr = checked(params);
      const time = timeParam(params, 'time', Date.now());
      const opts = limits(params, req.tenant, clientGone(req, reply));
      return reply.type('application/json').send(answer(await instantQuery(ctx.store, expr, time, opts)));
    };
    const queryRange = async (req: FastifyRequest, reply: FastifyReply) => {
      const params = paramsOf(req);
      const expr = checked(params);
      const { startMs, endMs, stepMs } = rangeTimes(params);
      const opts = limits(params, req.tenant, clientGone(req, reply));
      return reply.type('application/json').send(answer(await rangeQuery(ctx.store, expr, startMs, endMs, stepMs, opts)));
    };
    const series = async (req: FastifyRequest) => {
      const found = await lookupSeries(ctx.store, lookupOf(paramsOf(req), req.tenant, true));
      return success(found.rows, found.truncated ? [TRUNCATED] : undefined);
    };
    const labels = async (req: FastifyRequest) => {
      const found = await lookupLabelNames(ctx.store, lookupOf(paramsOf(req), req.tenant, false));
      return success(found.rows, found.truncated ? [TRUNCATED] : undefined);
    };
    const labelValues = async (req: FastifyRequest) => {
      const name = (req.params as { name: string }).name;
      if (!isValidLabelName(name) && name !== '__name__') throw new PromApiError(400, 'bad_data', `invalid label name: ${JSON.stringify(name)}`, 'name');
      const found = await lookupLabelValues(ctx.store, lookupOf(paramsOf(req), req.tenant, false), name);
      return success(found.rows, found.truncated ? [TRUNCATED] : undefined);
    };
    // Tidemark keeps no HELP, TYPE or UNIT text: an empty map is Prometheus' answer for "nothing known".
    const metadata = async (req: FastifyRequest) => {
      limitParam(paramsOf(req));
      return success({});
    };
    const exemplars = async (req: FastifyRequest) => {
      const params = paramsOf(req);
      // Prometheus checks the query and the times (Grafana sends them in ms) and finds no exemplars: neither do we.
      checkExemplarQuery(params.get('query'));
      timeParam(params, 'start', 0, true);
      timeParam(params, 'end', 0, true);
      return success([]);
    };
    const formatQuery = async (req: FastifyRequest) => success(formatted(paramsOf(req).get('query')));

    const handlers: Record<string, (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>> = {
      '/api/v1/query': query,
      '/api/v1/query_range': queryRange,
      '/api/v1/series': series,
      '/api/v1/labels': labels,
      '/api/v1/label/:name/values': labelValues,
      '/api/v1/metadata': metadata,
      '/api/v1/status/buildinfo': async () => success(buildInfo()),
      '/api/v1/query_exemplars': exemplars,
      '/api/v1/format_query': formatQuery,
    };
    for (const route of PROMETHEUS_API_ROUTES) {
      api.route({ method: [...route.methods], url: route.url, config: READ, handler: handlers[route.url]! });
      const refused = REFUSED_METHODS.filter((m) => !(route.methods as readonly string[]).includes(m));
      const allow = route.methods.join(', ');
      api.route({
        method: refused,
        url: route.url,
        config: { auth: { action: 'read', contentTypes: [FORM, 'application/json', 'text/plain'] } },
        handler: async (req, reply) =>
          reply
            .status(405)
            .header('allow', allow)
            .type('application/json')
            .send(errorBody('bad_data', `method ${req.method} not allowed on ${route.url}; use ${allow}`, 'method')),
      });
    }
  });
}

/** The exemplar query must parse (Prometheus' words have no "invalid parameter" prefix here). */
function checkExemplarQuery(expr: string): void {
  try {
    checkExpression(expr);
  } catch (e) {
    if (e instanceof PromQLError) throw new PromApiError(400, 'bad_data', e.message, 'query');
    throw e;
  }
}

function formatted(expr: string): string {
  try {
    checkExpression(expr);
    return formatPromQL(expr);
  } catch (e) {
    if (e instanceof PromQLError && e.errorType === 'bad_data') throw badParam('query', e.message);
    throw e;
  }
}
