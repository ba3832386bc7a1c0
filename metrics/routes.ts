// The metrics query API: Tidemark's own range queries and utilisation views.
import type { FastifyInstance } from 'fastify';
import { InputError } from '../core/errors.ts';
import type { AppContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { runRangeQueryJson } from './query.ts';
import { parseMatcher, parseTime, validateRangeQuery } from './range-query.ts';
import { nodeUtilisation, podUtilisation, workloadUtilisation } from './utilisation.ts';

type QueryString = Record<string, string | string[] | undefined>;

function list(q: QueryString, name: string): string[] {
  const v = q[name] ?? q[`${name}[]`];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function one(q: QueryString, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Longest look-back accepted in `since`: ten years (beyond, times leave what the store can hold). */
const MAX_SINCE_SECONDS = 3650 * 86400;

/** A `since` duration in seconds, bounded. */
function lookBack(text: string): number {
  const seconds = parseDuration(text, 'since', { bareSeconds: true }) / 1000;
  if (seconds > MAX_SINCE_SECONDS) throw new InputError('since', `"${text}" reaches back more than ten years`);
  return seconds;
}

/** Range-query parameters from a query string: metric, match, fn, by, since | start+end, step. */
export function rangeQueryFromParams(q: QueryString, now = Date.now() / 1000): unknown {
  const matchers = list(q, 'match').map((m, i) => parseMatcher(m, `match[${i}]`));
  const since = one(q, 'since');
  const startText = one(q, 'start');
  const endText = one(q, 'end');
  let start: number;
  let end: number;
  if (startText !== undefined || endText !== undefined) {
    if (startText === undefined) throw new InputError('start', 'start is required with end');
    start = parseTime(startText, 'start');
    end = endText === undefined ? now : parseTime(endText, 'end');
  } else {
    end = now;
    start = now - lookBack(since ?? '15m');
  }
  const stepText = one(q, 'step');
  const step = stepText ? parseDuration(stepText, 'step', { bareSeconds: true }) / 1000 : Math.max(15, Math.ceil((end - start) / 240 / 15) * 15);
  const by = list(q, 'by').flatMap((b) => b.split(',')).map((b) => b.trim()).filter(Boolean);
  return { metric: one(q, 'metric') ?? '', matchers, fn: one(q, 'fn') ?? 'avg', by, start, end, step };
}

/** Every query route reads the request's tenant (core/auth/http.ts sets it from the token and X-Scope-OrgID). */
const READ = { auth: { action: 'read' as const, contentTypes: ['application/json'] } };

export async function metricsRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/v1/range', { config: READ }, async (req, reply) => {
    const query = validateRangeQuery(rangeQueryFromParams(req.query as QueryString));
    return reply.type('application/json').send(await runRangeQueryJson(ctx.store, req.tenant, query, (i) => `match[${i}]`));
  });

  app.post('/api/v1/range', { config: READ }, async (req, reply) => reply.type('application/json').send(await runRangeQueryJson(ctx.store, req.tenant, validateRangeQuery(req.body))));

  // /api/v1/series is Prometheus' (metrics/prometheus-api/routes.ts): match[] selectors, start, end.

  const windowOf = (q: QueryString): number => lookBack(one(q, 'since') ?? '5m');

  app.get('/api/v1/utilisation/nodes', { config: READ }, async (req) => ({ nodes: await nodeUtilisation(ctx.store, req.tenant, windowOf(req.query as QueryString)) }));
  app.get('/api/v1/utilisation/pods', { config: READ }, async (req) => {
    const q = req.query as QueryString;
    return { pods: await podUtilisation(ctx.store, req.tenant, windowOf(q), one(q, 'namespace')) };
  });
  app.get('/api/v1/utilisation/workloads', { config: READ }, async (req) => {
    const q = req.query as QueryString;
    return { workloads: workloadUtilisation(await podUtilisation(ctx.store, req.tenant, windowOf(q), one(q, 'namespace'))) };
  });
}
