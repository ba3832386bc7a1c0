// Alerts from Tidemark's rule evaluation reach a real Alertmanager (Debian's
// 0.25) through its API v2, which forwards them to a webhook receiver here:
// the firing and the resolved payloads are asserted field by field. The
// built-in notifier posts to the same receiver, and its payloads must have
// Alertmanager's shape (same keys, same fingerprints, same group key). A
// receiver that is down is retried and its failure recorded in the history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';
import { startAlertmanager, startWebhookReceiver, type WebhookPost, type WebhookReceiver } from './helpers/alertmanager.ts';
import { freePort, type Peer } from './helpers/peers.ts';
import { fingerprint } from '../alerting/notify/stages.ts';

let hook: WebhookReceiver;
let am: Peer;
let t: TestEngine;
let downUrl = '';
let cleanup = () => {};
let notifierPath = '';

const RULES = `groups:
- name: peer
  rules:
  - alert: TidemarkPeerDown
    expr: peer_test_up == 0
    labels:
      severity: page
    annotations:
      summary: '{{ $labels.instance }} is down ({{ $value }})'
`;

async function push(value: number): Promise<void> {
  const res = await t.engine.app.inject({
    method: 'POST',
    url: '/api/v1/push',
    payload: { series: [{ labels: { __name__: 'peer_test_up', instance: 'n1' }, samples: [[Date.now() / 1000, value]] }] },
  });
  expect(res.statusCode, res.body).toBe(204);
}

async function waitFor<T>(what: string, find: () => T | undefined, ms = 45_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; posts: ${JSON.stringify(hook.posts.map((p) => [p.path, p.body['status']]))}\n${am?.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const post = (path: string, status: string) => () => hook.posts.find((p) => p.path === path && p.body['status'] === status);

beforeAll(async () => {
  hook = await startWebhookReceiver();
  am = await startAlertmanager(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: ${hook.url}/am
    send_resolved: true
`);
  downUrl = `http://127.0.0.1:${await freePort()}/down`;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-alerting-'));
  cleanup = () => rmSync(dir, { recursive: true, force: true });
  const rules = join(dir, 'rules.yml');
  const notifier = join(dir, 'notifier.yml');
  notifierPath = notifier;
  writeFileSync(rules, RULES);
  writeFileSync(notifier, `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
  - receiver: down
    continue: true
  - receiver: hook
receivers:
- name: hook
  webhook_configs:
  - url: ${hook.url}/direct
- name: down
  webhook_configs:
  - url: ${downUrl}
`);
  t = await startTestEngine([
    { path: ['rules', 'files'], value: [rules] },
    { path: ['rules', 'interval'], value: '1s' },
    { path: ['alerting', 'alertmanagers'], value: [am.baseUrl] },
    { path: ['alerting', 'notifier'], value: notifier },
    { path: ['alerting', 'externalLabels'], value: { replica: 'a' } },
    { path: ['alerting', 'externalUrl'], value: 'http://tidemark.test:8080' },
    { path: ['alerting', 'timeout'], value: '2s' },
  ]);
}, 120_000);

afterAll(async () => {
  await t?.close();
  await am?.stop();
  await hook?.close();
  cleanup();
});

const ALERT_KEYS = ['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status'];
const MESSAGE_KEYS = ['alerts', 'commonAnnotations', 'commonLabels', 'externalURL', 'groupKey', 'groupLabels', 'receiver', 'status', 'truncatedAlerts', 'version'];

function checkShape(p: WebhookPost, status: 'firing' | 'resolved', routeKey = '{}'): Record<string, unknown> {
  expect(Object.keys(p.body).sort()).toEqual(MESSAGE_KEYS);
  expect(p.body).toMatchObject({ status, version: '4', truncatedAlerts: 0, groupLabels: { alertname: 'TidemarkPeerDown' }, groupKey: `${routeKey}:{alertname="TidemarkPeerDown"}` });
  const alerts = p.body['alerts'] as Record<string, unknown>[];
  expect(alerts).toHaveLength(1);
  const a = alerts[0]!;
  expect(Object.keys(a).sort()).toEqual(ALERT_KEYS);
  const labels = { alertname: 'TidemarkPeerDown', instance: 'n1', severity: 'page', replica: 'a' };
  expect(a).toMatchObject({ status, labels, annotations: { summary: 'n1 is down (0)' } });
  expect(a['fingerprint']).toBe(fingerprint(labels));
  expect(a['generatorURL']).toBe('http://tidemark.test:8080/graph?g0.expr=peer_test_up+%3D%3D+0&g0.tab=1');
  expect(Date.parse(a['startsAt'] as string)).toBeGreaterThan(Date.now() - 120_000);
  return a;
}

describe('alerts to a real Alertmanager and straight to a webhook', () => {
  it('fires: Alertmanager forwards the alert, and the built-in notifier posts the same shape', async () => {
    await push(0);
    const viaAm = await waitFor('Alertmanager firing post', post('/am', 'firing'));
    const a = checkShape(viaAm, 'firing');
    expect(viaAm.body).toMatchObject({ receiver: 'hook', commonLabels: { alertname: 'TidemarkPeerDown', instance: 'n1', severity: 'page', replica: 'a' } });
    // Alertmanager shows a firing alert's end as the zero time; what Tidemark sent it is in its API:
    // Prometheus' rule, evaluation time + 4 × max(interval 1s, resend delay 1m).
    expect(a['endsAt']).toBe('0001-01-01T00:00:00Z');
    const held = (await (await fetch(`${am.baseUrl}/api/v2/alerts`)).json()) as { endsAt: string; labels: Record<string, string> }[];
    expect(held).toHaveLength(1);
    const left = Date.parse(held[0]!.endsAt) - Date.now();
    expect(left).toBeGreaterThan(3 * 60_000);
    expect(left).toBeLessThanOrEqual(4 * 60_000);
    const direct = await waitFor('built-in notifier firing post', post('/direct', 'firing'));
    // A child route with no matchers: Alertmanager's route key for it is {}/{}.
    const d = checkShape(direct, 'firing', '{}/{}');
    expect(d['fingerprint']).toBe(a['fingerprint']);
    expect(d['startsAt']).toBe(a['startsAt']);
    expect(direct.body['receiver']).toBe('hook');

    const rules = (await t.engine.app.inject({ url: '/api/v1/rules' })).json();
    expect(rules.status).toBe('success');
    expect(rules.data.groups[0]).toMatchObject({ name: 'peer', interval: 1, limit: 0 });
    expect(rules.data.groups[0].rules[0]).toMatchObject({ state: 'firing', name: 'TidemarkPeerDown', query: 'peer_test_up == 0', duration: 0, health: 'ok', type: 'alerting' });
    const alerts = (await t.engine.app.inject({ url: '/api/v1/alerts' })).json();
    expect(alerts.data.alerts).toEqual([
      expect.objectContaining({ labels: { alertname: 'TidemarkPeerDown', instance: 'n1', severity: 'page' }, state: 'firing', value: '0e+00', annotations: { summary: 'n1 is down (0)' } }),
    ]);
  });

  it('records a receiver that is down as failed, after retries, while the others get theirs', async () => {
    const until = Date.now() + 30_000;
    let entries: { state: string; receiver: string; detail: string }[] = [];
    while (Date.now() < until) {
      entries = (await t.engine.app.inject({ url: '/api/v1/alerts/history?since=1h&state=failed' })).json().data.entries;
      if (entries.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(entries[0]).toMatchObject({ state: 'failed', receiver: 'down' });
    expect(entries[0]!.detail).toMatch(/after 4 attempt\(s\)/);
    const sent = (await t.engine.app.inject({ url: '/api/v1/alerts/history?since=1h&state=sent&name=TidemarkPeerDown' })).json().data.entries;
    expect(sent.map((e: { receiver: string }) => e.receiver)).toContain('hook');
  });

  it('refuses a notifier file with an unknown receiver on reload, naming the field, and keeps the one it has', async () => {
    const { readFileSync } = await import('node:fs');
    const good = readFileSync(notifierPath, 'utf8');
    writeFileSync(notifierPath, good.replace('  - receiver: down\n', '  - receiver: nobody\n'));
    const res = await t.engine.app.inject({ method: 'POST', url: '/-/reload' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_notifier', field: 'route.routes[0].receiver' });
    expect(res.json().message).toContain('undefined receiver "nobody" used in route');
    writeFileSync(notifierPath, good);
    expect((await t.engine.app.inject({ method: 'POST', url: '/-/reload' })).statusCode).toBe(200);
  });

  it('resolves: both paths post the resolution', async () => {
    await push(1);
    const viaAm = await waitFor('Alertmanager resolved post', post('/am', 'resolved'));
    const a = checkShape(viaAm, 'resolved');
    expect(Date.parse(a['endsAt'] as string)).toBeGreaterThan(Date.parse(a['startsAt'] as string));
    const direct = await waitFor('built-in notifier resolved post', post('/direct', 'resolved'));
    const d = checkShape(direct, 'resolved', '{}/{}');
    expect(d['endsAt']).toBe(a['endsAt']);
    const history = (await t.engine.app.inject({ url: '/api/v1/alerts/history?since=1h&name=TidemarkPeerDown' })).json().data.entries;
    expect(history.map((e: { state: string }) => e.state)).toEqual(expect.arrayContaining(['firing', 'resolved', 'sent']));
  });
});
