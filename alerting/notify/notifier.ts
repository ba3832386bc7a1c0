// The built-in notifier: the I/O shell around the pure stages (stages.ts).
// Alerts come in from the rule evaluation; each goes down its routes into an
// aggregation group (per tenant, route and group labels). A group flushes
// group_wait after it forms and every group_interval after: inhibit and
// silence mute alerts (recorded), dedup against the group's last
// notification decides whether anything needs sending (new firing alerts,
// resolutions, or repeat_interval passed), the replicas sharing the store
// claim the notification (notification-log.ts) so one of them sends it,
// a receiver past its rate gets one summary instead, and the posts go out
// (split over max_alerts) with a timeout each and retries with back-off,
// every webhook at once so a hanging one holds up no other. Every outcome
// (sent, failed, silenced, inhibited, summarised) is recorded in the history.
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import type { PostableAlert } from '../alertmanager.ts';
import type { AlertSink } from '../service.ts';
import type { Silence } from '../silences.ts';
import { silences as silenceMatches } from '../silences.ts';
import type { HistoryRow } from '../history.ts';
import { notificationRow } from '../history.ts';
import type { NotifierConfig, Route, WebhookConfig } from './config.ts';
import { fingerprint, groupKey, groupLabels, inhibited, isResolved, matchRoutes, needsUpdate, webhookMessages, type NotificationEntry, type WebhookMessage } from './stages.ts';

export interface NotifierDeps {
  readonly config: NotifierConfig;
  readonly externalURL: string;
  readonly timeoutMs: number;
  /** Posts a receiver may get in a minute before the rest are summarised. */
  readonly ratePerMinute: number;
  readonly log: Logger;
  readonly silences: (tenant: string) => Promise<Silence[]>;
  readonly record: (rows: HistoryRow[]) => Promise<void>;
  /** Claims a notification for this replica; false when another replica sharing the store has it. */
  readonly claim: (tenant: string, receiver: string, groupKey: string, slot: string) => Promise<boolean>;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  /** Retries after the first failed post (default 3) and the first back-off (default 500 ms, doubling). */
  readonly retries?: number;
  readonly backoffMs?: number;
}

interface AggregationGroup {
  readonly tenant: string;
  readonly route: Route;
  readonly key: string;
  readonly labels: Record<string, string>;
  readonly alerts: Map<string, PostableAlert>;
  /** Per webhook of the receiver: the last notification (Alertmanager's nflog entry). */
  readonly log: Map<number, NotificationEntry>;
  readonly muted: Set<string>;
  timer?: NodeJS.Timeout;
  flushing?: Promise<void>;
}

export class Notifier implements AlertSink {
  private readonly groups = new Map<string, AggregationGroup>();
  /** Every tenant's alerts by fingerprint (inhibition looks across groups). */
  private readonly alerts = new Map<string, Map<string, PostableAlert>>();
  private readonly sentAt = new Map<string, number[]>();
  private readonly held = new Map<string, { posts: number; alerts: number; groups: Set<string>; timer: NodeJS.Timeout }>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;

  private deps: NotifierDeps;

  /** A reloaded file: groups already formed keep their routes; new alerts follow the new tree. */
  reconfigure(config: NotifierConfig): void {
    this.deps = { ...this.deps, config };
  }

  constructor(deps: NotifierDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.fetchFn = deps.fetch ?? fetch;
  }

  receive(tenant: string, incoming: readonly PostableAlert[], now: number): void {
    if (this.closed) return;
    let byFp = this.alerts.get(tenant);
    if (!byFp) this.alerts.set(tenant, (byFp = new Map()));
    for (const alert of incoming) {
      const fp = fingerprint(alert.labels);
      byFp.set(fp, alert);
      for (const route of matchRoutes(this.deps.config.route, alert.labels)) {
        const labels = groupLabels(route, alert.labels);
        const key = groupKey(route, labels);
        const id = `${tenant}\u0000${route.id}\u0000${key}`;
        let group = this.groups.get(id);
        if (!group) {
          // An empty group of only resolved alerts is never formed (Alertmanager does not notify those).
          if (isResolved(alert, now)) continue;
          group = { tenant, route, key, labels, alerts: new Map(), log: new Map(), muted: new Set() };
          this.groups.set(id, group);
          const started = Date.parse(alert.startsAt);
          // An alert that started group_wait ago or more is flushed at once (Alertmanager's aggrGroup).
          this.schedule(id, group, Number.isFinite(started) && started + route.groupWaitMs < now ? 0 : route.groupWaitMs);
        }
        group.alerts.set(fp, alert);
      }
    }
  }

  private schedule(id: string, group: AggregationGroup, delayMs: number): void {
    if (this.closed) return;
    clearTimeout(group.timer);
    group.timer = setTimeout(() => {
      const run = this.flush(id, group)
        .catch((e: unknown) => this.deps.log.error({ group: group.key, err: (e as Error).message }, 'notification flush failed; tried again at the next group_interval'))
        // A flush that failed (the store away for the claim) must not end the group: the next one comes all the same.
        .finally(() => {
          this.inflight.delete(run);
          if (this.groups.get(id) === group) this.schedule(id, group, group.route.groupIntervalMs);
        });
      this.inflight.add(run);
    }, delayMs);
    group.timer.unref();
  }

  /** One flush of a group: mute, dedup, claim, rate-limit, send; then the next flush group_interval later. */
  async flush(id: string, group: AggregationGroup): Promise<void> {
    const now = this.now();
    const receiver = this.deps.config.receivers.get(group.route.receiver);
    if (!receiver) {
      // Its receiver left the configuration on a reload: the group ends; its alerts regroup when re-sent.
      this.groups.delete(id);
      clearTimeout(group.timer);
      return;
    }
    const all = [...group.alerts.values()];
    const firingEverywhere = [...(this.alerts.get(group.tenant)?.values() ?? [])].filter((a) => !isResolved(a, now)).map((a) => a.labels);
    const silences = await this.deps.silences(group.tenant).catch(() => [] as Silence[]);
    const kept: PostableAlert[] = [];
    const rows: HistoryRow[] = [];
    for (const a of all) {
      const fp = fingerprint(a.labels);
      const resolved = isResolved(a, now);
      const why = !resolved && inhibited(a.labels, firingEverywhere, this.deps.config.inhibitRules) ? 'inhibited' : !resolved && silences.some((s) => silenceMatches(s, a.labels, now)) ? 'silenced' : null;
      if (why) {
        if (!group.muted.has(`${why}:${fp}`)) rows.push(...notificationRow(group.tenant, now, receiver.name, why, [a], '', fp));
        group.muted.add(`${why}:${fp}`);
        continue;
      }
      group.muted.delete(`inhibited:${fp}`);
      group.muted.delete(`silenced:${fp}`);
      kept.push(a);
    }
    const firing = new Set(kept.filter((a) => !isResolved(a, now)).map((a) => fingerprint(a.labels)));
    const resolved = new Set(kept.filter((a) => isResolved(a, now)).map((a) => fingerprint(a.labels)));
    let failed = false;
    await Promise.all(
      receiver.webhooks.map(async (wh, i) => {
        const entry = group.log.get(i);
        if (!needsUpdate(entry, firing, resolved, wh.sendResolved, group.route.repeatIntervalMs, now)) return;
        const alerts = wh.sendResolved ? kept : kept.filter((a) => !isResolved(a, now));
        const done = () => group.log.set(i, { firing, resolved, timestamp: now });
        if (alerts.length === 0) return done();
        const changed = !entry || ![...firing].every((f) => entry.firing.has(f)) || (wh.sendResolved && ![...resolved].every((f) => entry.resolved.has(f)));
        const slot = notificationSlot(alerts, now, changed ? 0 : group.route.repeatIntervalMs);
        if (!(await this.deps.claim(group.tenant, `${receiver.name}/${i}`, group.key, slot))) return done();
        const messages = webhookMessages(receiver.name, group.key, group.labels, alerts, now, this.deps.externalURL, wh.maxAlerts);
        if (!this.allow(receiver.name, now)) {
          this.hold(group, receiver.name, messages, alerts.length);
          rows.push(...notificationRow(group.tenant, now, receiver.name, 'summarised', alerts, `over ${this.deps.ratePerMinute} notifications a minute`));
          return done();
        }
        const failure = await this.post(wh, messages);
        rows.push(...notificationRow(group.tenant, now, receiver.name, failure ? 'failed' : 'sent', alerts, failure ?? `${messages.length} post(s) to ${redact(wh.url)}`));
        // A failed notification leaves the log as it was: the next flush tries again.
        if (failure) failed = true;
        else done();
      }),
    );
    await this.deps.record(rows).catch((e: unknown) => this.deps.log.error({ err: (e as Error).message }, 'notification history not recorded'));
    // After a flush with no failed post, the resolved alerts it covered leave the group (Alertmanager's DeleteIfNotModified).
    if (!failed) {
      for (const fp of resolved) {
        const a = group.alerts.get(fp);
        if (a && isResolved(a, now)) group.alerts.delete(fp);
      }
      for (const [fp, a] of group.alerts) if (isResolved(a, now) && !kept.includes(a)) group.alerts.delete(fp);
      const tenantAlerts = this.alerts.get(group.tenant);
      for (const [fp, a] of tenantAlerts ?? []) if (isResolved(a, now) && Date.parse(a.endsAt) < now - group.route.groupIntervalMs) tenantAlerts!.delete(fp);
    }
    if (group.alerts.size === 0) {
      this.groups.delete(id);
      clearTimeout(group.timer);
    }
  }

  /** Posts every message; retries a failed one with back-off. Returns why it failed in the end, or null. */
  private async post(wh: WebhookConfig, messages: WebhookMessage[]): Promise<string | null> {
    const retries = this.deps.retries ?? 3;
    const backoff = this.deps.backoffMs ?? 500;
    for (const message of messages) {
      let lastError = '';
      let ok = false;
      for (let attempt = 0; attempt <= retries && !this.closed; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
        try {
          const res = await this.fetchFn(wh.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'Tidemark', ...(wh.authorization ? { authorization: wh.authorization } : {}) },
            body: JSON.stringify(message),
            signal: AbortSignal.timeout(this.deps.timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.status >= 200 && res.status < 300) {
            ok = true;
            break;
          }
          lastError = `HTTP ${res.status}`;
          // Alertmanager retries 5xx and 429, not other 4xx (the request itself is wrong).
          if (res.status < 500 && res.status !== 429) break;
        } catch (e) {
          lastError = (e as Error).name === 'TimeoutError' ? `no answer in ${this.deps.timeoutMs} ms` : (e as Error).message;
        }
      }
      if (!ok) return `${redact(wh.url)}: ${lastError} after ${retries + 1} attempt(s)`;
    }
    return null;
  }

  /** A sliding minute per receiver: true while it has had fewer than ratePerMinute posts. */
  private allow(receiver: string, now: number): boolean {
    const times = (this.sentAt.get(receiver) ?? []).filter((t) => t > now - 60_000);
    if (times.length >= this.deps.ratePerMinute) {
      this.sentAt.set(receiver, times);
      return false;
    }
    times.push(now);
    this.sentAt.set(receiver, times);
    return true;
  }

  /** Notifications held back from a flooded receiver: one summary at the end of the minute. */
  private hold(group: AggregationGroup, receiver: string, messages: WebhookMessage[], alerts: number): void {
    let h = this.held.get(receiver);
    if (!h) {
      const timer = setTimeout(() => {
        this.held.delete(receiver);
        const run = this.summarise(group.tenant, receiver, h!);
        this.inflight.add(run);
        void run.finally(() => this.inflight.delete(run));
      }, 60_000);
      timer.unref();
      h = { posts: 0, alerts: 0, groups: new Set(), timer };
      this.held.set(receiver, h);
    }
    h.posts += messages.length;
    h.alerts += alerts;
    h.groups.add(group.key);
  }

  private async summarise(tenant: string, receiver: string, h: { posts: number; alerts: number; groups: Set<string> }): Promise<void> {
    const r = this.deps.config.receivers.get(receiver);
    if (!r) return;
    const now = this.now();
    const labels = { alertname: 'TidemarkNotificationsSummarised', receiver };
    const summary: PostableAlert = {
      labels,
      annotations: { summary: `${h.posts} notification(s) about ${h.alerts} alert(s) in ${h.groups.size} group(s) were held back: more than ${this.deps.ratePerMinute} a minute`, groups: [...h.groups].slice(0, 50).join('\n') },
      startsAt: new Date(now).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: '',
    };
    const rows: HistoryRow[] = [];
    for (const wh of r.webhooks) {
      const failure = await this.post(wh, webhookMessages(receiver, `summary:${receiver}`, labels, [summary], now, this.deps.externalURL, 0));
      rows.push(...notificationRow(tenant, now, receiver, failure ? 'failed' : 'sent', [summary], failure ?? 'summary'));
    }
    await this.deps.record(rows).catch(() => undefined);
  }

  /** Flushes due now (tests and the benchmark drive time this way). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.groups].map(([id, g]) => this.flush(id, g)));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) clearTimeout(g.timer);
    for (const h of this.held.values()) clearTimeout(h.timer);
    await Promise.allSettled([...this.inflight]);
  }
}

/**
 * What a notification is, the same on every replica: the alerts it carries
 * (fingerprint and start, which evaluation times aligned to the interval
 * make equal across replicas) and, for a repeat of an unchanged group, the
 * repeat period it falls in.
 */
export function notificationSlot(alerts: readonly PostableAlert[], now: number, repeatMs: number): string {
  const parts = alerts.map((a) => `${fingerprint(a.labels)}@${a.startsAt}@${a.endsAt.startsWith('0001') ? '' : Date.parse(a.endsAt) <= now ? a.endsAt : 'firing'}`).sort();
  if (repeatMs > 0) parts.push(`repeat:${Math.floor(now / repeatMs)}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'webhook';
  }
}
