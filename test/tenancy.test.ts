// The cross-tenant table (issue 11): one engine with auth on, tokens of every
// role minted through the API for tenants acme (A) and globex (B), B's data
// written (samples through every receiver, an exclusion, a charge, probes,
// a report, an autoscaling decision). Then every route the engine registers
// × every role of A, with and without `X-Scope-OrgID: globex`: reads find
// nothing of B's, a request naming B gets 403, and nothing lands under B.
// The route list comes from the app, so a route added without a row here
// fails the first test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { routeTable, undeclaredRoutes } from '../core/auth/http.ts';
import { mayAct, type Role } from '../core/auth/roles.ts';
import { encodeWriteRequest } from '../collector/remote-write-encode.ts';
import { StoreDecisionLog } from '../autoscaler/decision-log.ts';
import { monthOf } from '../sla/period.ts';
import { PROMETHEUS_API_ROUTES, REFUSED_METHODS } from '../metrics/prometheus-api/routes.ts';
import { insertLogLines } from '../logs/store.ts';

const A = 'acme';
const B = 'globex';
const ADMIN = 'tenancy-bootstrap-token-0123456789';
const ROLES_OF_A = ['project-admin', 'user', 'ingest'] as const;
/** B's sample value, label value and names: none may show in an answer to A. */
const LEAK = /666\.25|"globex"|globex-/;

const NOW = Date.now();
const MONTH_START = Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth(), 1);
/** B's report month (only B has one) and the month A's report run uses. */
const B_MONTH = monthOf(Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth() - 1, 1));
const A_MONTH = monthOf(Date.UTC(new Date(NOW).getUTCFullYear(), new Date(NOW).getUTCMonth() - 2, 1));

let t: TestEngine;
let app: FastifyInstance;
const tokens: Record<string, Record<Role, string>> = { [A]: {} as Record<Role, string>, [B]: {} as Record<Role, string> };
let bUserTokenId = '';
let bSilenceId = '';

interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  url: string;
  body?: string | Buffer | object;
  type?: string;
  headers?: Record<string, string>;
}

function call(c: Call, token?: string, tenant?: string) {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (tenant) headers['x-scope-orgid'] = tenant;
  if (c.body !== undefined) headers['content-type'] = c.type ?? 'application/json';
  const payload = c.body === undefined ? undefined : typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : JSON.stringify(c.body);
  return app.inject({ method: c.method ?? 'GET', url: c.url, headers, ...(payload !== undefined ? { payload } : {}) } as InjectOptions);
}

const REMOTE_WRITE = { 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };
const push = (labels: Record<string, string>, value: number): Call => ({ method: 'POST', url: '/api/v1/push', body: { series: [{ labels, samples: [[NOW / 1000, value]] }] } });
const remoteWrite = (labels: Record<string, string>, value: number): Call => ({
  method: 'POST',
  url: '/api/v1/write',
  body: encodeWriteRequest([{ labels, samples: [{ value, timestamp: NOW }] }]),
  type: 'application/x-protobuf',
  headers: REMOTE_WRITE,
});
const NOW_NS = String(BigInt(NOW) * 1_000_000n);
const lokiPush = (labels: Record<string, string>, line: string): Call => ({ method: 'POST', url: '/loki/api/v1/push', body: { streams: [{ stream: labels, values: [[NOW_NS, line]] }] } });
const importText = (text: string): Call => ({ method: 'POST', url: '/api/v1/import/prometheus', body: text, type: 'text/plain' });
const iso = (ms: number) => new Date(ms).toISOString();

async function mint(tenant: string | undefined, role: Role, expires = '1h'): Promise<{ token: string; id: string }> {
  const res = await call({ method: 'POST', url: '/api/v1/tokens', body: { ...(tenant ? { tenant } : {}), role, expires } }, ADMIN);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { token: string; id: string };
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function seriesOf(tenant: string, metric: string): Promise<unknown[]> {
  const res = await call({ url: `/api/v1/series?match[]=${metric}` }, ADMIN, tenant);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: unknown[] }).data;
}

/** Rows per tenant in every table that has a tenant column (views left out). */
async function rowsOf(tenant: string): Promise<Record<string, number>> {
  const store = t.engine.ctx.store;
  const db = t.engine.ctx.config.store.database;
  const tables = await store.query<{ table: string }>(
    `SELECT table FROM system.columns WHERE database = {db:String} AND name = 'tenant'
       AND table IN (SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View')`,
    { db },
  );
  const out: Record<string, number> = {};
  for (const { table } of tables) {
    const [row] = await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${store.table(table)} WHERE tenant = {tenant:String}`, { tenant });
    out[table] = Number(row!.n);
  }
  return out;
}

let bRowsBefore: Record<string, number>;

beforeAll(async () => {
  t = await startTestEngine([{ path: ['auth', 'enabled'], value: true }, { path: ['auth', 'adminTokenFile'], value: await adminFile() }]);
  app = t.engine.app;
  for (const tenant of [A, B]) for (const role of ['project-admin', 'user', 'ingest'] as const) tokens[tenant]![role] = (await mint(tenant, role)).token;
  const cloud = (await mint(undefined, 'cloud-admin')).token;
  tokens[A]!['cloud-admin'] = cloud;
  tokens[B]!['cloud-admin'] = cloud;
  bUserTokenId = (await call({ url: '/api/v1/tokens' }, tokens[B]!['project-admin'])).json().tokens.find((x: { role: string }) => x.role === 'user').id;

  // A defines shared_metric first; B sending the same label set must still get its own series row.
  expect((await call(push({ __name__: 'shared_metric', job: 'x' }, 1), tokens[A]!.ingest)).statusCode).toBe(204);
  expect((await call(remoteWrite({ __name__: 'shared_rw', job: 'x' }, 1), tokens[A]!.ingest)).statusCode).toBe(204);
  const bIngest = tokens[B]!.ingest;
  for (const c of [
    push({ __name__: 'shared_metric', job: 'x' }, 666.25),
    remoteWrite({ __name__: 'shared_rw', job: 'x' }, 666.25),
    push({ __name__: 'globex_only', owner: 'globex' }, 666.25),
    remoteWrite({ __name__: 'globex_rw', owner: 'globex' }, 666.25),
    importText('globex_import{owner="globex"} 666.25\n'),
    lokiPush({ owner: 'globex' }, 'globex-secret-line 666.25'),
  ]) {
    const res = await call(c, bIngest);
    expect(res.statusCode, `${c.url} ${res.body}`).toBe(204);
  }
  const probes = [0, 1, 2].map((m) => ({ cluster: 'globex-cluster', location: 'globex-eu', timestamp: MONTH_START + m * 60_000 + 1000, ok: false, latencyMs: 3 }));
  expect((await call({ method: 'POST', url: '/api/v1/sla/probes', body: probes }, bIngest)).statusCode).toBe(202);
  const bAdmin = tokens[B]!['project-admin'];
  const exclusion = { cluster: 'globex-cluster', start: iso(MONTH_START), end: iso(MONTH_START + 60_000), cause: 'customer', reason: 'globex-secret-reason', recordedBy: 'globex-ops' };
  expect((await call({ method: 'POST', url: '/api/v1/sla/exclusions', body: exclusion }, bAdmin)).statusCode).toBe(201);
  const charge = [{ cluster: 'globex-cluster', start: iso(MONTH_START), end: iso(MONTH_START + 3_600_000), amount: 666.25 }];
  expect((await call({ method: 'POST', url: '/api/v1/sla/charges', body: charge }, bAdmin)).statusCode).toBe(201);
  expect((await call({ method: 'POST', url: `/api/v1/sla/reports/${B_MONTH}/run` }, bAdmin)).statusCode).toBe(200);
  const decisions = new StoreDecisionLog(t.engine.ctx.store, B);
  await decisions.record({ policy: { kind: 'PodAutoscalingPolicy', namespace: 'shop', name: 'web' }, time: iso(NOW - 1000), action: 'none', reason: 'globex-decision', conditions: [] });
  await decisions.flush();
  // B's alerting: a rule file and a silence (A may neither see nor remove them).
  const bRules = { content: 'groups:\n- name: globex-group\n  rules:\n  - alert: GlobexAlert\n    expr: globex_only > 1e12\n' };
  expect((await call({ method: 'PUT', url: '/api/v1/rules/files/globex-rules', body: bRules }, bAdmin)).statusCode).toBe(201);
  const silence = { matchers: [{ name: 'owner', value: 'globex', isRegex: false }], startsAt: iso(NOW), endsAt: iso(NOW + 3_600_000), createdBy: 'globex-ops', comment: 'globex-silence' };
  const silenced = await call({ method: 'POST', url: '/api/v2/silences', body: silence }, bAdmin);
  expect(silenced.statusCode, silenced.body).toBe(200);
  bSilenceId = silenced.json().silenceID;
  // B's log lines: what the Loki query API must never show A.
  await insertLogLines(t.engine.ctx.store, [{ tenant: B, tsNs: BigInt(NOW) * 1_000_000n, labels: { app: 'shop', owner: 'globex' }, line: 'b-secret-log 666.25 10.6.6.6' }]);

  for (const metric of ['shared_metric', 'shared_rw', 'globex_only', 'globex_rw', 'globex_import']) await waitFor(`${metric} under ${B}`, async () => (await seriesOf(B, metric)).length > 0);
  bRowsBefore = await rowsOf(B);
}, 120_000);

afterAll(async () => {
  await t?.close();
});

async function adminFile(): Promise<string> {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = join(mkdtempSync(join(tmpdir(), 'tidemark-admin-')), 'admin-token');
  writeFileSync(path, ADMIN);
  return path;
}

/**
 * One row per route: the request a principal of A makes, aimed at B's data
 * where the route takes a name (a series, a month, a policy, a token), and
 * the status a role that may take the route's action gets.
 */
const ROWS: Record<string, { call: Call; allowed: number }> = {
  'GET /healthz': { call: { url: '/healthz' }, allowed: 200 },
  'GET /readyz': { call: { url: '/readyz' }, allowed: 200 },
  'GET /api/v1/status': { call: { url: '/api/v1/status' }, allowed: 200 },
  'GET /metrics': { call: { url: '/metrics' }, allowed: 200 },
  'POST /api/v1/write': { call: remoteWrite({ __name__: 'tenancy_write', owner: 'acme' }, 1), allowed: 204 },
  'POST /api/v1/push': { call: push({ __name__: 'tenancy_push', owner: 'acme' }, 1), allowed: 204 },
  'POST /api/v1/import/prometheus': { call: importText('tenancy_import{owner="acme"} 1\n'), allowed: 204 },
  'GET /api/v1/range': { call: { url: '/api/v1/range?metric=shared_metric&since=1h' }, allowed: 200 },
  'POST /api/v1/range': { call: { method: 'POST', url: '/api/v1/range', body: { metric: 'globex_only', matchers: [], fn: 'avg', by: [], start: NOW / 1000 - 3600, end: NOW / 1000 + 60, step: 60 } }, allowed: 200 },
  'GET /api/v1/utilisation/nodes': { call: { url: '/api/v1/utilisation/nodes' }, allowed: 200 },
  'GET /api/v1/utilisation/pods': { call: { url: '/api/v1/utilisation/pods' }, allowed: 200 },
  'GET /api/v1/utilisation/workloads': { call: { url: '/api/v1/utilisation/workloads' }, allowed: 200 },
  'GET /api/v1/sla/availability': { call: { url: '/api/v1/sla/availability' }, allowed: 200 },
  'GET /api/v1/sla/incidents': { call: { url: '/api/v1/sla/incidents' }, allowed: 200 },
  'GET /api/v1/sla/exclusions': { call: { url: '/api/v1/sla/exclusions' }, allowed: 200 },
  'POST /api/v1/sla/exclusions': {
    call: { method: 'POST', url: '/api/v1/sla/exclusions', body: { cluster: 'acme-cluster', start: iso(MONTH_START), end: iso(MONTH_START + 60_000), cause: 'customer', reason: 'acme', recordedBy: 'acme-ops' } },
    allowed: 201,
  },
  'GET /api/v1/sla/reports': { call: { url: `/api/v1/sla/reports?month=${B_MONTH}` }, allowed: 200 },
  'GET /api/v1/sla/reports/:month': { call: { url: `/api/v1/sla/reports/${B_MONTH}` }, allowed: 404 },
  'POST /api/v1/sla/reports/:month/run': { call: { method: 'POST', url: `/api/v1/sla/reports/${A_MONTH}/run` }, allowed: 200 },
  'POST /api/v1/sla/charges': { call: { method: 'POST', url: '/api/v1/sla/charges', body: [{ cluster: 'acme-cluster', start: iso(MONTH_START), end: iso(MONTH_START + 3_600_000), amount: 1 }] }, allowed: 201 },
  'POST /api/v1/sla/probes': { call: { method: 'POST', url: '/api/v1/sla/probes', body: [{ cluster: 'acme-cluster', location: 'acme-eu', timestamp: MONTH_START + 1000, ok: true }] }, allowed: 202 },
  'POST /api/v1/sla/compute': { call: { method: 'POST', url: '/api/v1/sla/compute', body: { period: { start: '2026-11-01T00:00:00Z', end: '2026-12-01T00:00:00Z' }, instances: [{ id: 'a' }] } }, allowed: 200 },
  'GET /api/v1/autoscale/decisions': { call: { url: '/api/v1/autoscale/decisions?policy=shop/web' }, allowed: 404 },
  // A token for B's tenant: refused even to A's project admin.
  'POST /api/v1/tokens': { call: { method: 'POST', url: '/api/v1/tokens', body: { tenant: B, role: 'user' } }, allowed: 403 },
  'GET /api/v1/tokens': { call: { url: '/api/v1/tokens' }, allowed: 200 },
  // B's user token: to A it does not exist (the id is filled in once B's tokens are minted).
  'DELETE /api/v1/tokens/:id': { call: { method: 'DELETE', url: '/api/v1/tokens/:id' }, allowed: 404 },
  'GET /api/v1/audit': { call: { url: '/api/v1/audit' }, allowed: 200 },
  'GET /api/v1/rules': { call: { url: '/api/v1/rules' }, allowed: 200 },
  'GET /api/v1/alerts': { call: { url: '/api/v1/alerts' }, allowed: 200 },
  'GET /api/v1/alerts/history': { call: { url: '/api/v1/alerts/history?since=1h' }, allowed: 200 },
  // The engine's own rule files: cloud administrators only, so every role of A gets 403.
  'POST /-/reload': { call: { method: 'POST', url: '/-/reload' }, allowed: 200 },
  'PUT /api/v1/rules/files/:name': { call: { method: 'PUT', url: '/api/v1/rules/files/acme-rules', body: { content: 'groups:\n- name: acme-group\n  rules:\n  - alert: AcmeAlert\n    expr: acme_metric > 1e12\n' } }, allowed: 201 },
  // B's rule file: to A it does not exist.
  'DELETE /api/v1/rules/files/:name': { call: { method: 'DELETE', url: '/api/v1/rules/files/globex-rules' }, allowed: 404 },
  'GET /api/v2/silences': { call: { url: '/api/v2/silences' }, allowed: 200 },
  'POST /api/v2/silences': {
    call: { method: 'POST', url: '/api/v2/silences', body: { matchers: [{ name: 'owner', value: 'acme', isRegex: false }], startsAt: iso(NOW), endsAt: iso(NOW + 3_600_000), createdBy: 'acme-ops', comment: 'acme' } },
    allowed: 200,
  },
  // B's silence (its id filled in once made): to A it does not exist.
  'GET /api/v2/silence/:id': { call: { url: '/api/v2/silence/:id' }, allowed: 404 },
  'DELETE /api/v2/silence/:id': { call: { method: 'DELETE', url: '/api/v2/silence/:id' }, allowed: 404 },
  'POST /loki/api/v1/push': { call: lokiPush({ owner: 'acme' }, 'acme line'), allowed: 204 },
  'POST /api/v1/logs/audit': { call: { method: 'POST', url: '/api/v1/logs/audit', body: { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [] } }, allowed: 200 },
  'POST /collect/faro': { call: { method: 'POST', url: '/collect/faro', body: { meta: { app: { name: 'acme-app' } }, logs: [{ level: 'info', message: 'acme faro', timestamp: iso(NOW) }] } }, allowed: 202 },
  // Faro's CORS preflight: public, answers nothing of anyone's.
  'OPTIONS /collect/faro': { call: { method: 'OPTIONS', url: '/collect/faro' }, allowed: 200 },
  'OPTIONS /collect/:appKey': { call: { method: 'OPTIONS', url: '/collect/acme-key' }, allowed: 200 },
  'POST /collect/:appKey': { call: { method: 'POST', url: '/collect/acme-key', body: { meta: {}, logs: [{ level: 'info', message: 'acme keyed', timestamp: iso(NOW) }] } }, allowed: 202 },
  // B's line holds "globex": A's search for it finds nothing.
  'GET /api/v1/logs/search': { call: { url: '/api/v1/logs/search?q=globex&since=1h' }, allowed: 200 },
  // The Loki query API, asked for B's stream and B's needle: A's answers are empty.
  'GET /loki/api/v1/query_range': { call: { url: `/loki/api/v1/query_range?${new URLSearchParams({ query: '{owner="globex"}', start: String(BigInt(NOW - 3_600_000) * 1_000_000n) })}` }, allowed: 200 },
  'GET /loki/api/v1/query': { call: { url: `/loki/api/v1/query?${new URLSearchParams({ query: 'sum(count_over_time({__search__="10.6.6.6"}[1h]))' })}` }, allowed: 200 },
  'GET /loki/api/v1/labels': { call: { url: '/loki/api/v1/labels' }, allowed: 200 },
  'GET /loki/api/v1/label/:name/values': { call: { url: '/loki/api/v1/label/owner/values' }, allowed: 200 },
  'GET /loki/api/v1/series': { call: { url: `/loki/api/v1/series?${new URLSearchParams({ 'match[]': '{app="shop"}' })}` }, allowed: 200 },
  'GET /loki/api/v1/index/stats': { call: { url: `/loki/api/v1/index/stats?${new URLSearchParams({ query: '{owner="globex"}' })}` }, allowed: 200 },
  // A plain GET (no websocket upgrade) is refused after auth and the query check: 400, tenant-blind.
  'GET /loki/api/v1/tail': { call: { url: `/loki/api/v1/tail?${new URLSearchParams({ query: '{owner="globex"}' })}` }, allowed: 400 },
  ...prometheusApiRows(),
};

/**
 * The Prometheus API (metrics/prometheus-api/): each route by GET and, where
 * Prometheus takes it, POST with a form, aimed at B's series and values; the
 * other methods answer 405, after the same tenant checks.
 */
function prometheusApiRows(): Record<string, { call: Call; allowed: number }> {
  const nowS = NOW / 1000;
  const form = 'application/x-www-form-urlencoded';
  const asked: Record<string, string> = {
    '/api/v1/query': `query=${encodeURIComponent('globex_only or shared_metric or {owner="globex"}')}`,
    '/api/v1/query_range': `query=${encodeURIComponent('sum by (owner) (globex_only) or shared_metric')}&start=${nowS - 3600}&end=${nowS + 60}&step=60`,
    '/api/v1/series': `match[]=${encodeURIComponent('{owner="globex"}')}&match[]=shared_metric`,
    '/api/v1/labels': `match[]=${encodeURIComponent('{owner="globex"}')}`,
    '/api/v1/label/:name/values': '',
    '/api/v1/metadata': 'metric=globex_only',
    '/api/v1/status/buildinfo': '',
    '/api/v1/query_exemplars': `query=globex_only&start=${NOW - 3_600_000}&end=${NOW}`,
    '/api/v1/format_query': `query=${encodeURIComponent('sum(up)')}`,
  };
  const rows: Record<string, { call: Call; allowed: number }> = {};
  for (const route of PROMETHEUS_API_ROUTES) {
    const url = route.url.replace(':name', 'owner');
    const q = asked[route.url]!;
    rows[`GET ${route.url}`] = { call: { url: q ? `${url}?${q}` : url }, allowed: 200 };
    if ((route.methods as readonly string[]).includes('POST')) rows[`POST ${route.url}`] = { call: { method: 'POST', url, body: q, type: form }, allowed: 200 };
    for (const method of REFUSED_METHODS.filter((m) => !(route.methods as readonly string[]).includes(m))) rows[`${method} ${route.url}`] = { call: { method, url }, allowed: 405 };
  }
  return rows;
}

const rowCall = (key: string): Call => {
  const c = ROWS[key]!.call;
  if (key === 'DELETE /api/v1/tokens/:id') return { ...c, url: `/api/v1/tokens/${bUserTokenId}` };
  if (key.endsWith('/api/v2/silence/:id')) return { ...c, url: `/api/v2/silence/${bSilenceId}` };
  return c;
};

function routeAuth(key: string) {
  const route = routeTable(app).find((r) => `${r.method} ${r.url}` === key);
  expect(route, key).toBeDefined();
  return route!.auth!;
}

describe('the cross-tenant table', () => {
  it('has a row for every route the engine registers, and every route declares what it needs', () => {
    expect(undeclaredRoutes(app)).toEqual([]);
    const routes = routeTable(app).map((r) => `${r.method} ${r.url}`);
    expect(routes.filter((r) => !(r in ROWS))).toEqual([]);
    expect(Object.keys(ROWS).filter((r) => !routes.includes(r))).toEqual([]);
  });

  it("lets a cloud-admin and B's own tokens see B's data (so the refusals below refuse something)", async () => {
    const admin = tokens[B]!['cloud-admin'];
    // B's series rows, though A defined the same label sets first (push and remote_write remember definitions per tenant).
    expect(await seriesOf(B, 'shared_metric')).toHaveLength(1);
    expect(await seriesOf(B, 'shared_rw')).toHaveLength(1);
    expect(await seriesOf('default', 'globex_only')).toEqual([]);
    for (const token of [admin, tokens[B]!['project-admin'], tokens[B]!.user]) {
      const asB = token === admin ? B : undefined;
      expect((await call({ url: '/api/v1/sla/exclusions' }, token, asB)).json().exclusions).toHaveLength(1);
      expect((await call({ url: `/api/v1/sla/reports/${B_MONTH}` }, token, asB)).statusCode).toBe(200);
      expect((await call({ url: '/api/v1/autoscale/decisions?policy=shop/web' }, token, asB)).json().decision.reason).toBe('globex-decision');
      const range = await call({ url: '/api/v1/range?metric=shared_metric&since=1h' }, token, asB);
      expect(range.body).toMatch(/666\.25/);
      // The Prometheus API's rows below find something when asked as B.
      const series = await call(ROWS['GET /api/v1/series']!.call, token, asB);
      expect(series.json().data).toContainEqual({ __name__: 'globex_only', owner: 'globex' });
      const values = await call(ROWS['GET /api/v1/label/:name/values']!.call, token, asB);
      expect(values.json().data).toContain('globex');
      const instant = await call(ROWS['GET /api/v1/query']!.call, token, asB);
      expect(instant.body).toMatch(/666\.25/);
      expect((await call({ url: '/api/v2/silences' }, token, asB)).json().map((x: { comment: string }) => x.comment)).toContain('globex-silence');
      expect((await call({ url: `/api/v2/silence/${bSilenceId}` }, token, asB)).statusCode).toBe(200);
      expect((await call({ url: '/api/v1/rules' }, token, asB)).json().data.groups.map((g: { name: string }) => g.name)).toEqual(['globex-group']);
      expect((await call({ url: '/api/v1/logs/search?q=globex&since=1h' }, token, asB)).json().lines).toHaveLength(1);
      const availability = (await call({ url: '/api/v1/sla/availability' }, token, asB)).json();
      expect(availability.clusters.map((c: { id: string }) => c.id)).toContain('globex-cluster');
    }
  });

  describe.each(ROLES_OF_A)("%s of acme", (role) => {
    it.each(Object.keys(ROWS))("%s finds nothing of globex's and writes nothing there", async (key) => {
      const auth = routeAuth(key);
      const token = tokens[A]![role];
      const c = rowCall(key);

      const plain = await call(c, token);
      const permitted = auth.action === 'public' || (!auth.engineWide && mayAct(role, auth.action));
      expect(plain.statusCode, plain.body).toBe(permitted ? ROWS[key]!.allowed : 403);
      expect(plain.body).not.toMatch(LEAK);

      const asB = await call(c, token, B);
      if (auth.action === 'public') {
        expect(asB.statusCode).toBe(200);
        expect(asB.body).not.toMatch(LEAK);
      } else {
        expect(asB.statusCode, asB.body).toBe(403);
        expect(asB.json()).toMatchObject({ error: 'forbidden' });
      }
    });
  });

  it("stored nothing under globex, and A's writes landed under acme", async () => {
    for (const metric of ['tenancy_write', 'tenancy_push', 'tenancy_import']) await waitFor(`${metric} under ${A}`, async () => (await seriesOf(A, metric)).length > 0);
    for (const metric of ['tenancy_write', 'tenancy_push', 'tenancy_import']) expect(await seriesOf(B, metric), metric).toEqual([]);
    expect(await rowsOf(B)).toEqual(bRowsBefore);
    const aRows = await rowsOf(A);
    expect(aRows['sla_exclusions']).toBe(1); // project-admin's
    expect(aRows['sla_charges']).toBe(1);
    expect(aRows['sla_probes']).toBe(2); // project-admin's and ingest's
  });
});

describe('tokens that do not authenticate, and roles that may not act', () => {
  it('answers 401 unauthorized to a missing, malformed, unknown, expired or revoked token', async () => {
    const short = await mint(A, 'user', '1s');
    const revoked = await mint(A, 'user');
    expect((await call({ method: 'DELETE', url: `/api/v1/tokens/${revoked.id}` }, ADMIN)).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const cases: [string, Record<string, string>][] = [
      ['missing', {}],
      ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['unknown', { authorization: `Bearer ${tokens[A]!.user.slice(0, -2)}zz` }],
      ['expired', { authorization: `Bearer ${short.token}` }],
      ['revoked', { authorization: `Bearer ${revoked.token}` }],
    ];
    for (const [what, headers] of cases) {
      const res = await call({ url: '/api/v1/sla/exclusions', headers });
      expect(res.statusCode, what).toBe(401);
      expect(res.json(), what).toEqual({ error: 'unauthorized', message: 'a valid bearer token is required' });
    }
  });

  it('refuses a user writing an exclusion and an ingest token reading', async () => {
    const before = (await rowsOf(A))['sla_exclusions'];
    const write = await call(ROWS['POST /api/v1/sla/exclusions']!.call, tokens[A]!.user);
    expect(write.statusCode).toBe(403);
    expect(write.json().error).toBe('forbidden');
    expect((await rowsOf(A))['sla_exclusions']).toBe(before);
    for (const url of ['/api/v1/range?metric=shared_metric', '/api/v1/series?match[]=shared_metric', '/api/v1/query?query=shared_metric', '/api/v1/sla/exclusions']) {
      const read = await call({ url }, tokens[A]!.ingest);
      expect(read.statusCode, url).toBe(403);
    }
  });
});
