// The alerting API: the rules and alerts of the caller's tenant in
// Prometheus' shape (GET /api/v1/rules, /api/v1/alerts), reloading the rule
// files (POST /-/reload), rule files loaded through the API (PUT and DELETE
// /api/v1/rules/files/:name), silences in Alertmanager's API v2 shape
// (/api/v2/silences, /api/v2/silence/:id) and the alert history
// (GET /api/v1/alerts/history).
import { z } from 'zod';
import { HttpError, type RouteModule } from '../core/http.ts';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { parseDuration } from '../core/duration.ts';
import type { AlertingAppConfig } from './config.ts';
import { ruleServiceFor } from './service.ts';
import { alertsAnswer, rulesAnswer } from './api-shape.ts';
import { RuleFileError, ruleFileErrorField } from './rule-file.ts';
import { SilenceStore, gettableSilence, parsePostableSilence } from './silences.ts';
import { searchHistory } from './history.ts';
import { NotifierConfigError } from './notify/config.ts';

const READ = { auth: { action: 'read' as const } };
// Rules and silences change what pages whom: project administrators' writes (roles.ts).
const WRITE = { auth: { action: 'write' as const, contentTypes: ['application/json'] } };
const DELETE = { auth: { action: 'write' as const } };
// The rule files are the engine's configuration, shared by no tenant: cloud administrators only.
const RELOAD = { auth: { action: 'admin' as const, engineWide: true } };

const rulesQuery = z.object({ type: z.enum(['alert', 'record']).optional() });
const ruleFileBody = z.object({ content: z.string().min(1, 'the rule file text (YAML)') });
const ruleFileName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, _ . - (at most 100)');

const historyQuery = z.object({
  name: z.string().optional(),
  state: z.enum(['pending', 'firing', 'resolved', 'inactive', 'sent', 'failed', 'silenced', 'inhibited', 'summarised']).optional(),
  since: z.string().optional(),
  match: z.union([z.string(), z.array(z.string())]).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** `since`: a duration back from now (1h) or an RFC 3339 time. */
export function parseSince(text: string, now: number, field = 'since'): number {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new InputError(field, `"${text}" is not an RFC 3339 time`);
    return t;
  }
  return now - parseDuration(text, field);
}

export function parseLabelPairs(pairs: readonly string[], field: string): { name: string; value: string }[] {
  return pairs.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InputError(field, `"${p}" is not label=value`);
    return { name: p.slice(0, eq), value: p.slice(eq + 1).replace(/^"(.*)"$/, '$1') };
  });
}

function refuseRuleFile(e: unknown): never {
  if (e instanceof RuleFileError) throw new HttpError(400, 'invalid_rules', e.message, ruleFileErrorField(e));
  if (e instanceof NotifierConfigError) throw new HttpError(400, 'invalid_notifier', e.message, e.field);
  throw e;
}

export const alertingRoutes: RouteModule<AlertingAppConfig> = (app, ctx) => {
  const rules = ruleServiceFor(ctx);
  const silences = new SilenceStore(ctx.store);

  app.get('/api/v1/rules', { config: READ }, async (req) => {
    const q = parseInput(rulesQuery, req.query);
    return rulesAnswer(rules.groups(req.tenant), q.type);
  });

  app.get('/api/v1/alerts', { config: READ }, async (req) => alertsAnswer(rules.groups(req.tenant)));

  app.post('/-/reload', { config: RELOAD }, async () => {
    try {
      const r = await rules.reloadFiles();
      return { status: 'success', data: r };
    } catch (e) {
      return refuseRuleFile(e);
    }
  });

  app.put<{ Params: { name: string } }>('/api/v1/rules/files/:name', { config: WRITE }, async (req, reply) => {
    const name = parseInput(ruleFileName, req.params.name, 'name');
    const body = parseInput(ruleFileBody, req.body);
    try {
      const r = await rules.putRuleFile(req.tenant, name, body.content);
      return reply.status(201).send({ status: 'success', data: { name, groups: r.groups } });
    } catch (e) {
      return refuseRuleFile(e);
    }
  });

  app.delete<{ Params: { name: string } }>('/api/v1/rules/files/:name', { config: DELETE }, async (req, reply) => {
    const name = parseInput(ruleFileName, req.params.name, 'name');
    if (!(await rules.deleteRuleFile(req.tenant, name))) throw new HttpError(404, 'not_found', 'no rule file of that name', 'name');
    return reply.status(204).send();
  });

  app.get('/api/v2/silences', { config: READ }, async (req) => {
    const now = Date.now();
    return (await silences.list(req.tenant)).map((s) => gettableSilence(s, now));
  });

  app.post('/api/v2/silences', { config: WRITE }, async (req) => {
    const now = Date.now();
    const s = parsePostableSilence(req.body, now);
    const id = await silences.put(req.tenant, s, now);
    if (!id) throw new HttpError(404, 'not_found', `no silence "${s.id}"`, 'id');
    return { silenceID: id };
  });

  app.get<{ Params: { id: string } }>('/api/v2/silence/:id', { config: READ }, async (req) => {
    const s = await silences.get(req.tenant, req.params.id);
    if (!s) throw new HttpError(404, 'not_found', 'no silence with that id', 'id');
    return gettableSilence(s, Date.now());
  });

  app.delete<{ Params: { id: string } }>('/api/v2/silence/:id', { config: DELETE }, async (req, reply) => {
    if (!(await silences.expire(req.tenant, req.params.id, Date.now()))) throw new HttpError(404, 'not_found', 'no active silence with that id', 'id');
    return reply.status(200).send();
  });

  app.get('/api/v1/alerts/history', { config: READ }, async (req) => {
    const q = parseInput(historyQuery, req.query);
    const now = Date.now();
    const match = q.match === undefined ? [] : Array.isArray(q.match) ? q.match : [q.match];
    const entries = await searchHistory(ctx.store, {
      tenant: req.tenant,
      name: q.name,
      state: q.state,
      sinceMs: q.since ? parseSince(q.since, now) : undefined,
      matchers: parseLabelPairs(match, 'match'),
      limit: q.limit,
    });
    return { status: 'success', data: { entries } };
  });
};
