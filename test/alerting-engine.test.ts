// The alerting loop inside a running engine: recording rules written back
// through the ingest path, ALERTS and ALERTS_FOR_STATE written, rules and
// alerts in Prometheus' shape, a reload that is refused whole (the running
// rules keep running) and one that is taken (SIGHUP), rules loaded through
// the API, bad bodies answered 400 naming the field, and pending and firing
// state surviving a restart on the same store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../bin/config.ts';
import { startEngine, type Engine } from '../bin/engine.ts';
import { silentLogger } from '../core/log.ts';
import { instantQuery } from '../metrics/promql/engine.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { claimNotification } from '../alerting/notify/notification-log.ts';
import { requireBinary } from './helpers/peers.ts';
import { alertsCommand, silenceCommand } from '../alerting/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-alerting-engine-'));
const rulesFile = join(dir, 'rules.yml');
let engine: Engine;

const RULES = `groups:
- name: engine
  rules:
  - record: alert_test:value:doubled
    expr: alert_test_value * 2
  - alert: AlertTestHigh
    expr: alert_test:value:doubled > 10
    labels: {severity: page}
    annotations: {summary: 'doubled is {{ $value }}'}
  - alert: AlertTestPending
    expr: alert_test_value > 5
    for: 1h
`;

async function start(): Promise<Engine> {
  const config = loadConfig({
    env: {},
    overrides: [
      { path: ['server', 'port'], value: 0 },
      { path: ['store', 'dataPath'], value: join(dir, 'store') },
      { path: ['collector', 'host', 'enabled'], value: false },
      { path: ['sla', 'report', 'outputDir'], value: join(dir, 'reports') },
      { path: ['rules', 'files'], value: [join(dir, '*.yml')] },
      { path: ['rules', 'interval'], value: '1s' },
    ],
  });
  return startEngine(config, silentLogger);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const get = async (url: string) => (await engine.app.inject({ url })).json();
const vector = async (expr: string) => {
  const a = await instantQuery(engine.ctx.store, expr, Date.now(), { tenant: 'default' });
  return a.data.resultType === 'vector' ? a.data.result : [];
};

beforeAll(async () => {
  writeFileSync(rulesFile, RULES);
  engine = await start();
  const res = await engine.app.inject({ method: 'POST', url: '/api/v1/push', payload: { series: [{ labels: { __name__: 'alert_test_value', instance: 'a' }, samples: [[Date.now() / 1000, 6]] }] } });
  expect(res.statusCode, res.body).toBe(204);
}, 120_000);

afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rules in a running engine', () => {
  it('writes recording rules and ALERTS back into the store, and answers in Prometheus shape', async () => {
    const recorded = await until('the recorded series', async () => ((await vector('alert_test:value:doubled')).length > 0 ? vector('alert_test:value:doubled') : undefined));
    expect(recorded).toEqual([{ metric: { __name__: 'alert_test:value:doubled', instance: 'a' }, value: [expect.any(Number), '12'] }]);
    const alerts = await until('ALERTS firing', async () => {
      const v = await vector('ALERTS{alertname="AlertTestHigh", alertstate="firing"}');
      return v.length > 0 ? v : undefined;
    });
    expect(alerts[0]!.metric).toEqual({ __name__: 'ALERTS', alertname: 'AlertTestHigh', alertstate: 'firing', instance: 'a', severity: 'page' });
    const forState = await vector('ALERTS_FOR_STATE{alertname="AlertTestPending"}');
    expect(forState).toHaveLength(1);
    const rules = await get('/api/v1/rules');
    expect(rules.data.groups).toHaveLength(1);
    const [record, high, pending] = rules.data.groups[0].rules;
    expect(record).toMatchObject({ name: 'alert_test:value:doubled', query: 'alert_test_value * 2', health: 'ok', type: 'recording', labels: {} });
    expect(high).toMatchObject({ state: 'firing', name: 'AlertTestHigh', duration: 0, health: 'ok', type: 'alerting' });
    expect(high.alerts[0]).toMatchObject({ state: 'firing', value: '1.2e+01', annotations: { summary: 'doubled is 12' } });
    expect(pending).toMatchObject({ state: 'pending', duration: 3600 });
    expect((await get('/api/v1/rules?type=record')).data.groups[0].rules).toHaveLength(1);
    expect((await engine.app.inject({ url: '/api/v1/rules?type=bogus' })).json()).toMatchObject({ error: 'invalid_input', field: 'type' });
    const history = (await get('/api/v1/alerts/history?name=AlertTestHigh&since=1h')).data.entries;
    expect(history.map((e: { state: string }) => e.state)).toEqual(expect.arrayContaining(['pending', 'firing']));
  });

  it('refuses a bad reload whole, naming file, group and rule, and keeps the rules running', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'groups:\n- name: broken\n  rules:\n  - alert: Nope\n    expr: rate(x[5m]\n');
    const res = await engine.app.inject({ method: 'POST', url: '/-/reload' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_rules', field: 'groups[broken].rules[0]' });
    expect(res.json().message).toContain('bad.yml: 5:11: group "broken", rule 1, "Nope": could not parse expression');
    const before = (await get('/api/v1/rules')).data.groups[0].lastEvaluation;
    await until('another evaluation', async () => ((await get('/api/v1/rules')).data.groups[0].lastEvaluation !== before ? true : undefined));
    expect((await get('/api/v1/rules')).data.groups.map((g: { name: string }) => g.name)).toEqual(['engine']);
    // A template that does not parse is refused the same way.
    writeFileSync(bad, "groups:\n- name: tmpl\n  rules:\n  - alert: T\n    expr: up\n    annotations: {s: '{{ nosuch }}'}\n");
    const t = await engine.app.inject({ method: 'POST', url: '/-/reload' });
    expect(t.statusCode).toBe(400);
    expect(t.json().message).toContain('group "tmpl", rule 1, "T": annotation "s": template: __alert_T:1: function "nosuch" not defined');
    rmSync(bad);
  });

  it('takes a good reload on SIGHUP, keeping the alerts of unchanged rules', async () => {
    const activeAt = (await get('/api/v1/alerts')).data.alerts.find((a: { labels: { alertname: string } }) => a.labels.alertname === 'AlertTestPending').activeAt;
    writeFileSync(join(dir, 'more.yml'), 'groups:\n- name: more\n  interval: 2s\n  rules:\n  - record: alert_test:value:tripled\n    expr: alert_test_value * 3\n');
    process.emit('SIGHUP', 'SIGHUP');
    await until('the new group', async () => ((await get('/api/v1/rules')).data.groups.length === 2 ? true : undefined));
    // Files in name order, as the glob expands them: more.yml before rules.yml.
    const groups = (await get('/api/v1/rules')).data.groups;
    expect(groups.map((g: { name: string; interval: number }) => [g.name, g.interval])).toEqual([['more', 2], ['engine', 1]]);
    const after = (await get('/api/v1/alerts')).data.alerts.find((a: { labels: { alertname: string } }) => a.labels.alertname === 'AlertTestPending');
    expect(after.activeAt).toBe(activeAt);
  });

  it('loads rules through the API and refuses bad bodies with 400 naming the field', async () => {
    const ok = await engine.app.inject({ method: 'PUT', url: '/api/v1/rules/files/team-a', payload: { content: 'groups:\n- name: api-group\n  rules:\n  - record: api:x\n    expr: vector(1)\n' } });
    expect(ok.statusCode, ok.body).toBe(201);
    expect((await get('/api/v1/rules')).data.groups.map((g: { name: string }) => g.name)).toContain('api-group');
    const noContent = await engine.app.inject({ method: 'PUT', url: '/api/v1/rules/files/team-a', payload: {} });
    expect(noContent.statusCode).toBe(400);
    expect(noContent.json().field).toBe('content');
    const badRule = await engine.app.inject({ method: 'PUT', url: '/api/v1/rules/files/team-a', payload: { content: 'groups:\n- name: g\n  rules:\n  - record: "bad name"\n    expr: up\n' } });
    expect(badRule.statusCode).toBe(400);
    expect(badRule.json()).toMatchObject({ field: 'groups[g].rules[0]' });
    // The refused body changed nothing.
    expect((await get('/api/v1/rules')).data.groups.map((g: { name: string }) => g.name)).toContain('api-group');
    const badName = await engine.app.inject({ method: 'PUT', url: '/api/v1/rules/files/a%20b', payload: { content: 'groups: []' } });
    expect(badName.json()).toMatchObject({ field: 'name' });
    expect((await engine.app.inject({ method: 'DELETE', url: '/api/v1/rules/files/team-a' })).statusCode).toBe(204);
    expect((await get('/api/v1/rules')).data.groups.map((g: { name: string }) => g.name)).not.toContain('api-group');
  });

  it('keeps silences in Alertmanager API v2 shape and refuses bad ones naming the field', async () => {
    const body = { matchers: [{ name: 'alertname', value: 'AlertTest.*', isRegex: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'me', comment: 'maintenance' };
    const created = await engine.app.inject({ method: 'POST', url: '/api/v2/silences', payload: body });
    expect(created.statusCode, created.body).toBe(200);
    const id = created.json().silenceID as string;
    const list = await get('/api/v2/silences');
    expect(list[0]).toMatchObject({ id, status: { state: 'active' }, createdBy: 'me', comment: 'maintenance', matchers: [{ name: 'alertname', value: 'AlertTest.*', isRegex: true, isEqual: true }] });
    const badRegex = await engine.app.inject({ method: 'POST', url: '/api/v2/silences', payload: { ...body, matchers: [{ name: 'a', value: '(', isRegex: true }] } });
    expect(badRegex.json()).toMatchObject({ error: 'invalid_input', field: 'matchers[0].value' });
    const backwards = await engine.app.inject({ method: 'POST', url: '/api/v2/silences', payload: { ...body, endsAt: body.startsAt, startsAt: body.endsAt } });
    expect(backwards.json()).toMatchObject({ field: 'endsAt' });
    const noComment = await engine.app.inject({ method: 'POST', url: '/api/v2/silences', payload: { ...body, comment: undefined } });
    expect(noComment.json()).toMatchObject({ field: 'comment' });
    expect((await engine.app.inject({ method: 'DELETE', url: `/api/v2/silence/${id}` })).statusCode).toBe(200);
    expect((await get(`/api/v2/silence/${id}`)).status.state).toBe('expired');
    expect((await engine.app.inject({ method: 'DELETE', url: `/api/v2/silence/${id}` })).statusCode).toBe(404);
  });

  it("serves Alertmanager's own client: amtool adds, queries and expires a silence", async () => {
    const amtool = requireBinary('prometheus-alertmanager', 'amtool');
    const run = async (...args: string[]) => (await promisify(execFile)(amtool, [...args, `--alertmanager.url=${engine.url}`], { encoding: 'utf8' })).stdout;
    const id = (await run('silence', 'add', 'alertname=Foo', 'instance=~"a.*"', '--comment=maint', '--author=amtool-user', '--duration=1h')).trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const listed = JSON.parse(await run('silence', 'query', '-o', 'json')) as { id: string; createdBy: string; matchers: unknown[] }[];
    expect(listed.find((x) => x.id === id)).toMatchObject({ createdBy: 'amtool-user', matchers: [{ name: 'alertname', value: 'Foo', isRegex: false, isEqual: true }, { name: 'instance', value: 'a.*', isRegex: true, isEqual: true }] });
    await run('silence', 'expire', id);
    expect((await get(`/api/v2/silence/${id}`)).status.state).toBe('expired');
  });

  it('answers tidemark alerts search and tidemark silence from a running engine', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const io = { write: (x: string) => void out.push(x), writeError: (x: string) => void err.push(x), exit: (c: number) => void (code = c) };
    await alertsCommand(io).parseAsync(['search', '--name', 'AlertTestHigh', '--state', 'firing', '--match', 'instance=a', '--json', '--url', engine.url], { from: 'user' });
    const entries = JSON.parse(out.join('')) as { alertname: string; state: string; labels: Record<string, string> }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.alertname === 'AlertTestHigh' && e.state === 'firing' && e.labels['instance'] === 'a')).toBe(true);
    out.length = 0;
    await alertsCommand(io).parseAsync(['search', '--name', 'AlertTestHigh', '--url', engine.url], { from: 'user' });
    expect(out.join('')).toMatch(/firing\s+AlertTestHigh\{instance="a", severity="page"\}/);
    out.length = 0;
    await silenceCommand(io).parseAsync(['add', 'instance="a"', '--comment', 'cli', '--duration', '10m', '--url', engine.url], { from: 'user' });
    const id = out.join('').trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    out.length = 0;
    await silenceCommand(io).parseAsync(['list', '--url', engine.url], { from: 'user' });
    expect(out.join('')).toContain(`${id}  active`);
    await silenceCommand(io).parseAsync(['expire', id, '--url', engine.url], { from: 'user' });
    expect((await get(`/api/v2/silence/${id}`)).status.state).toBe('expired');
    await silenceCommand(io).parseAsync(['add', 'instance=~"("', '--comment', 'bad', '--url', engine.url], { from: 'user' });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/bad regular expression/);
  });

  it('lets exactly one of two replicas sharing the store claim a notification', async () => {
    const store = engine.ctx.store;
    const now = Date.now();
    const [a, b] = await Promise.all([
      claimNotification(store, 'replica-a', 'default', 'hook/0', '{}:{alertname="X"}', 'slot-1', now),
      claimNotification(store, 'replica-b', 'default', 'hook/0', '{}:{alertname="X"}', 'slot-1', now),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    // A later claim of the same slot stands down; a new slot is free again; the winner may claim again (a retry).
    expect(await claimNotification(store, 'replica-c', 'default', 'hook/0', '{}:{alertname="X"}', 'slot-1', now + 1000)).toBe(false);
    expect(await claimNotification(store, 'replica-c', 'default', 'hook/0', '{}:{alertname="X"}', 'slot-2', now + 1000)).toBe(true);
    expect(await claimNotification(store, a ? 'replica-a' : 'replica-b', 'default', 'hook/0', '{}:{alertname="X"}', 'slot-1', now + 2000)).toBe(true);
  });

  it('restores pending and firing alerts after a restart on the same store', async () => {
    const before = (await get('/api/v1/alerts')).data.alerts as { labels: { alertname: string }; state: string; activeAt: string }[];
    const pending = before.find((a) => a.labels.alertname === 'AlertTestPending')!;
    const firing = before.find((a) => a.labels.alertname === 'AlertTestHigh')!;
    expect([pending.state, firing.state]).toEqual(['pending', 'firing']);
    await engine.close();
    rmSync(join(dir, 'more.yml'));
    engine = await start();
    const after = (await get('/api/v1/alerts')).data.alerts as { labels: { alertname: string }; state: string; activeAt: string }[];
    expect(after.find((a) => a.labels.alertname === 'AlertTestPending')).toMatchObject({ state: 'pending', activeAt: pending.activeAt });
    expect(after.find((a) => a.labels.alertname === 'AlertTestHigh')).toMatchObject({ state: 'firing', activeAt: firing.activeAt });
  });
});
