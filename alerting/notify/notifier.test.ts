import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../core/log.ts';
import type { PostableAlert } from '../alertmanager.ts';
import type { HistoryRow } from '../history.ts';
import { parseNotifierConfig, NotifierConfigError } from './config.ts';
import { Notifier } from './notifier.ts';
import { fingerprint, groupKey, inhibited, matchRoutes, needsUpdate, webhookMessages } from './stages.ts';

const CONFIG = `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
  - matchers: ['severity="page"']
    receiver: pager
    continue: true
  - match_re: {team: "db|infra"}
    receiver: teams
receivers:
- name: default
  webhook_configs: [{url: "http://127.0.0.1:1/default"}]
- name: pager
  webhook_configs: [{url: "http://127.0.0.1:1/pager", max_alerts: 2, http_config: {bearer_token: s3cret}}]
- name: teams
  webhook_configs: [{url: "http://127.0.0.1:1/teams", send_resolved: false}]
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [instance]
`;

const T0 = Date.UTC(2026, 10, 29, 12);
const alert = (labels: Record<string, string>, resolvedAt?: number): PostableAlert => ({
  labels: { alertname: 'A', ...labels },
  annotations: { summary: 's' },
  startsAt: new Date(T0).toISOString(),
  endsAt: new Date(resolvedAt ?? T0 + 3_600_000).toISOString(),
  generatorURL: 'http://tm/graph',
});

function harness(config = CONFIG, status: () => number = () => 200, timeoutMs = 1000, hang: (url: string) => boolean = () => false) {
  const cfg = parseNotifierConfig(config, 'am.yml');
  let now = T0;
  const posts: { url: string; auth?: string; body: ReturnType<typeof webhookMessages>[number] }[] = [];
  const history: HistoryRow[] = [];
  let attempts = 0;
  const notifier = new Notifier({
    config: cfg,
    externalURL: 'http://tm',
    timeoutMs,
    ratePerMinute: 1000,
    log: silentLogger,
    silences: async () => [],
    record: async (rows) => void history.push(...rows),
    claim: async () => true,
    now: () => now,
    retries: 2,
    backoffMs: 1,
    fetch: (async (url: string, init: RequestInit) => {
      attempts++;
      if (hang(url)) {
        // A receiver that never answers: only the post's own timeout ends the wait.
        await new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
      }
      const code = status();
      if (code === 0) throw new TypeError('fetch failed: connection refused');
      posts.push({ url, auth: (init.headers as Record<string, string>)['authorization'], body: JSON.parse(String(init.body)) });
      return new Response('', { status: code });
    }) as unknown as typeof fetch,
  });
  return { notifier, posts, history, cfg, tick: (ms: number) => (now += ms), at: () => now, attempts: () => attempts };
}

describe("the notifier's stages", () => {
  it('routes like Alertmanager: continue, legacy match_re, and the parent when no child matches', () => {
    const { cfg } = harness();
    expect(matchRoutes(cfg.route, { severity: 'page', team: 'db' }).map((r) => r.receiver)).toEqual(['pager', 'teams']);
    expect(matchRoutes(cfg.route, { team: 'infra' }).map((r) => r.receiver)).toEqual(['teams']);
    expect(matchRoutes(cfg.route, { team: 'web' }).map((r) => r.receiver)).toEqual(['default']);
    const pager = matchRoutes(cfg.route, { severity: 'page' })[0]!;
    expect(groupKey(pager, { alertname: 'A' })).toBe('{}/{severity="page"}:{alertname="A"}');
  });

  it('refuses a file with an unknown receiver, naming the field', () => {
    expect(() => parseNotifierConfig('route: {receiver: nobody}\nreceivers: [{name: x}]\n', 'am.yml')).toThrow(NotifierConfigError);
    expect(() => parseNotifierConfig('route: {receiver: nobody}\nreceivers: [{name: x}]\n', 'am.yml')).toThrow('am.yml: route.receiver: undefined receiver "nobody" used in route');
    expect(() => parseNotifierConfig('route: {receiver: x, routes: [{receiver: y}]}\nreceivers: [{name: x}]\n', 'am.yml')).toThrow(/route\.routes\[0\]\.receiver/);
  });

  it('computes fingerprints as model.LabelSet.Fingerprint (FNV-1a, 0xff separators, %016x)', () => {
    expect(fingerprint({})).toBe('cbf29ce484222325');
    expect(fingerprint({ a: 'b' })).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint({ a: 'b', c: 'd' })).toBe(fingerprint({ c: 'd', a: 'b' }));
  });

  it('inhibits a target when an equal-labelled source fires', () => {
    const { cfg } = harness();
    expect(inhibited({ severity: 'warning', instance: 'x' }, [{ severity: 'critical', instance: 'x' }], cfg.inhibitRules)).toBe(true);
    expect(inhibited({ severity: 'warning', instance: 'y' }, [{ severity: 'critical', instance: 'x' }], cfg.inhibitRules)).toBe(false);
  });

  it('dedups as DedupStage.needsUpdate', () => {
    const e = { firing: new Set(['a']), resolved: new Set<string>(), timestamp: 0 };
    expect(needsUpdate(undefined, new Set(), new Set(['a']), true, 1000, 10)).toBe(false);
    expect(needsUpdate(e, new Set(['a']), new Set(), true, 1000, 10)).toBe(false);
    expect(needsUpdate(e, new Set(['a', 'b']), new Set(), true, 1000, 10)).toBe(true);
    expect(needsUpdate(e, new Set(['a']), new Set(), true, 1000, 2000)).toBe(true);
    expect(needsUpdate(e, new Set(), new Set(['a']), false, 1000, 10)).toBe(true);
  });

  it('splits over max_alerts instead of truncating', () => {
    const msgs = webhookMessages('r', 'k', { alertname: 'A' }, [1, 2, 3, 4, 5].map((i) => alert({ i: String(i) })), T0, 'http://tm', 2);
    expect(msgs.map((m) => m.alerts.length)).toEqual([2, 2, 1]);
    expect(msgs.every((m) => m.truncatedAlerts === 0 && m.version === '4')).toBe(true);
  });
});

describe('the notifier', () => {
  it('groups, waits, posts payload v4 with bearer auth, and sends the resolution', async () => {
    const h = harness();
    h.notifier.receive('t', [alert({ severity: 'page', instance: 'x' }), alert({ severity: 'page', instance: 'y' }), alert({ severity: 'page', instance: 'z' })], h.at());
    await h.notifier.flushAll();
    const pager = h.posts.filter((p) => p.url.endsWith('/pager'));
    expect(pager.map((p) => p.body.alerts.length)).toEqual([2, 1]);
    expect(pager[0]!.auth).toBe('Bearer s3cret');
    expect(pager[0]!.body).toMatchObject({ receiver: 'pager', status: 'firing', groupLabels: { alertname: 'A' }, commonLabels: { alertname: 'A', severity: 'page' }, externalURL: 'http://tm', version: '4', groupKey: '{}/{severity="page"}:{alertname="A"}', truncatedAlerts: 0 });
    expect(pager[0]!.body.alerts[0]).toMatchObject({ status: 'firing', fingerprint: fingerprint(pager[0]!.body.alerts[0]!.labels) });
    h.tick(60_000);
    h.notifier.receive('t', [alert({ severity: 'page', instance: 'x' }, h.at() - 1000)], h.at());
    h.tick(300_000);
    await h.notifier.flushAll();
    const last = h.posts.filter((p) => p.url.endsWith('/pager')).slice(-2);
    expect(last.flatMap((p) => p.body.alerts.map((a) => a.status)).sort()).toEqual(['firing', 'firing', 'resolved']);
    expect(h.history.filter((r) => r.state === 'sent').length).toBeGreaterThan(0);
  });

  it('does not storm when an alert flaps: at most one post per group_interval', async () => {
    const h = harness();
    let flushes = 0;
    for (let minute = 0; minute < 30; minute++) {
      const resolved = minute % 2 === 1 ? h.at() - 1 : undefined;
      h.notifier.receive('t', [alert({ team: 'web', instance: 'x' }, resolved)], h.at());
      if (minute % 5 === 0) {
        await h.notifier.flushAll();
        flushes++;
      }
      h.tick(60_000);
    }
    const posts = h.posts.filter((p) => p.url.endsWith('/default')).length;
    expect(posts).toBeLessThanOrEqual(flushes);
    expect(posts).toBeGreaterThan(0);
  });

  it('retries a receiver that is down and records the failure', async () => {
    const h = harness(CONFIG, () => 0);
    h.notifier.receive('t', [alert({ team: 'web' })], h.at());
    await h.notifier.flushAll();
    expect(h.attempts()).toBe(3);
    const failed = h.history.filter((r) => r.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toMatch(/connection refused after 3 attempt/);
    // Not marked as notified: the next flush tries again.
    await h.notifier.flushAll();
    expect(h.attempts()).toBe(6);
  });

  it('times out a receiver that hangs, retries it, and does not hold up the other receivers', async () => {
    const h = harness(CONFIG, () => 200, 100, (url) => url.endsWith('/pager'));
    const started = Date.now();
    h.notifier.receive('t', [alert({ severity: 'page', team: 'db' })], h.at());
    const flushing = h.notifier.flushAll();
    // teams (the other route of the same alert) is posted while pager is still hanging.
    await new Promise((r) => setTimeout(r, 50));
    expect(h.posts.map((p) => p.url)).toEqual(['http://127.0.0.1:1/teams']);
    await flushing;
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const failed = h.history.filter((r) => r.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ receiver: 'pager' });
    expect(failed[0]!.detail).toMatch(/no answer in 100 ms after 3 attempt/);
  });

  it('sends one summary instead of a flood past the rate', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const cfg = CONFIG;
    const h = harness(cfg);
    (h.notifier as unknown as { deps: { ratePerMinute: number } }).deps.ratePerMinute = 2;
    for (let i = 0; i < 6; i++) h.notifier.receive('t', [{ ...alert({ team: 'web' }), labels: { alertname: `A${i}`, team: 'web' } }], h.at());
    await h.notifier.flushAll();
    expect(h.posts.filter((p) => p.url.endsWith('/default'))).toHaveLength(2);
    expect(h.history.filter((r) => r.state === 'summarised')).toHaveLength(4);
    // At the minute's end: one summary post counting what was held back.
    await vi.advanceTimersByTimeAsync(60_000);
    vi.useRealTimers();
    const summary = h.posts.filter((p) => p.body.alerts[0]?.labels['alertname'] === 'TidemarkNotificationsSummarised');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.body.alerts[0]!.annotations['summary']).toMatch(/^4 notification\(s\) about 4 alert\(s\) in 4 group\(s\) were held back: more than 2 a minute/);
    await h.notifier.close();
  });
});
