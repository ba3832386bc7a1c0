// The alerting part of a running engine: the rule sets of every tenant (the
// configured rule files belong to `rules.tenant`, rules loaded through the
// API to the caller's tenant and are kept in `alert_rule_files`), one timer
// per group evaluating at multiples of its interval, the series written back
// through the bus as the collectors publish, state changes recorded in the
// history (which restores pending and firing alerts at start), alerts sent
// to Alertmanagers and to the built-in notifier. Reload (SIGHUP,
// POST /-/reload) is all or nothing: a file that does not load leaves the
// running rules as they were.
import { SampleBatchBuilder, type SeriesDefinition } from '../core/bus/samples.ts';
import type { AppContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { seriesId } from '../metrics/series.ts';
import type { Store } from '../core/store.ts';
import type { Bus } from '../core/bus/bus.ts';
import type { Logger } from '../core/log.ts';
import type { AlertingAppConfig } from './config.ts';
import { expandRuleFiles, loadRuleFiles, parseRuleFile, type RuleGroupSpec } from './rule-file.ts';
import { buildGroups, evaluateGroup, nextEvaluation, restoreGroups, type GroupRuntime, type QueryFn, type WriteFn } from './rule-groups.ts';
import type { Labels, OutgoingAlert, Sample, SeriesSample } from './alert-state.ts';
import { instantQuery, type PromQLData } from './promql.ts';
import { chTime } from './schema.ts';
import { recordHistory, restoreActive, stateRow } from './history.ts';
import type { Notifier } from './notify/notifier.ts';
import { randomUUID } from 'node:crypto';
import { postableAlerts, sendToAlertmanagers, type PostableAlert } from './alertmanager.ts';

/** Where alerts go besides Alertmanagers: the built-in notifier. */
export interface AlertSink {
  receive(tenant: string, alerts: readonly PostableAlert[], now: number): void;
  close(): Promise<void>;
}

export function parseSampleValue(v: string): number {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** The engine's answer as the samples a rule sees: a scalar is one sample with no labels (Prometheus' EngineQueryFunc). */
export function vectorOf(data: PromQLData): Sample[] {
  if (data.resultType === 'vector') return data.result.map((r) => ({ metric: r.metric, value: parseSampleValue(r.value[1]) }));
  if (data.resultType === 'scalar') return [{ metric: {}, value: parseSampleValue(data.result[1]) }];
  throw new Error(`rule result is not a vector or scalar: ${data.resultType}`);
}

export function storeQuery(store: Store, tenant: string): QueryFn {
  return async (expr, timeMs) => vectorOf((await instantQuery(store, expr, timeMs, { tenant, timeoutMs: 60_000 })).data);
}

/** Writes rule output as the collectors do: a sample batch published on the bus (resolves once stored on the memory bus). */
export function busWriter(bus: Bus, tenant: string, defined: Set<string>): WriteFn {
  return async (series: readonly SeriesSample[], timeMs: number) => {
    if (series.length === 0) return;
    const builder = new SampleBatchBuilder(tenant, series.length);
    const fresh: SeriesDefinition[] = [];
    for (const s of series) {
      const id = seriesId(s.labels);
      const key = `${tenant}\u0000${id}`;
      if (!defined.has(key)) {
        fresh.push({ id, labels: { ...s.labels } });
        defined.add(key);
      }
      builder.add(id, timeMs, s.value);
    }
    for (const f of fresh) builder.define(f);
    try {
      await bus.publish('metrics', builder.build());
    } catch (e) {
      for (const f of fresh) defined.delete(`${tenant}\u0000${f.id}`);
      throw e;
    }
  };
}

interface TenantRules {
  fileGroups: GroupRuntime[];
  apiGroups: GroupRuntime[];
}

export class RuleService {
  private readonly tenants = new Map<string, TenantRules>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly defined = new Set<string>();
  private readonly sinks: AlertSink[] = [];
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  readonly defaultIntervalMs: number;
  readonly resendDelayMs: number;
  readonly timeoutMs: number;
  /** Figures for the benchmark and self-metrics. */
  readonly rounds: { group: string; evalMs: number; notifyMs: number }[] = [];

  constructor(
    readonly store: Store,
    readonly bus: Bus,
    readonly config: AlertingAppConfig,
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.defaultIntervalMs = parseDuration(config.rules.interval);
    this.resendDelayMs = parseDuration(config.alerting.resendDelay);
    this.timeoutMs = parseDuration(config.alerting.timeout);
  }

  addSink(sink: AlertSink): void {
    this.sinks.push(sink);
  }

  private notifier?: { sink: Notifier; path: string };

  /** The built-in notifier, whose file is reloaded with the rule files. */
  setNotifier(sink: Notifier, path: string): void {
    this.notifier = { sink, path };
    this.sinks.push(sink);
  }

  groups(tenant: string): GroupRuntime[] {
    const t = this.tenants.get(tenant);
    return t ? [...t.fileGroups, ...t.apiGroups] : [];
  }

  private tenant(tenant: string): TenantRules {
    let t = this.tenants.get(tenant);
    if (!t) this.tenants.set(tenant, (t = { fileGroups: [], apiGroups: [] }));
    return t;
  }

  /** Loads the configured rule files (throws RuleFileError, changing nothing, when one does not load). */
  async reloadFiles(): Promise<{ groups: number; rules: number }> {
    const paths = await expandRuleFiles(this.config.rules.files);
    const specs = loadRuleFiles(paths);
    // Both files checked before either is applied: a bad notifier file leaves the rules as they were too.
    if (this.notifier) {
      const { loadNotifierConfig } = await import('./notify/config.ts');
      this.notifier.sink.reconfigure(loadNotifierConfig(this.notifier.path));
    }
    const tenant = this.config.rules.tenant;
    const t = this.tenant(tenant);
    const groups = buildGroups(specs, this.defaultIntervalMs, t.fileGroups);
    await this.restore(tenant, groups);
    this.replace(tenant, t.fileGroups, groups);
    t.fileGroups = groups;
    return { groups: groups.length, rules: groups.reduce((n, g) => n + g.rules.length, 0) };
  }

  /** Rule files loaded through the API, for every tenant that has some. */
  async loadStoredRuleFiles(): Promise<void> {
    const rows = await this.store.query<{ tenant: string; name: string; b: string; d: number }>(
      `SELECT tenant, name, argMax(body, updated_at) AS b, argMax(deleted, updated_at) AS d FROM ${this.store.table('alert_rule_files')} GROUP BY tenant, name`,
    );
    const byTenant = new Map<string, RuleGroupSpec[]>();
    for (const r of rows) {
      if (Number(r.d)) continue;
      try {
        const list = byTenant.get(r.tenant) ?? [];
        list.push(...parseRuleFile(r.b, `api:${r.name}`));
        byTenant.set(r.tenant, list);
      } catch (e) {
        this.log.error({ tenant: r.tenant, name: r.name, err: (e as Error).message }, 'stored rule file no longer loads; skipped');
      }
    }
    for (const [tenant, specs] of byTenant) await this.setApiGroups(tenant, specs);
  }

  /** Checks `body` whole (throws RuleFileError), stores it under `name` for the tenant, and starts its groups. */
  async putRuleFile(tenant: string, name: string, body: string): Promise<{ groups: number }> {
    const specs = parseRuleFile(body, `api:${name}`);
    await this.store.insertRows('alert_rule_files', [{ tenant, name, body, deleted: 0, updated_at: chTime(this.now()) }]);
    const others = this.tenant(tenant).apiGroups.filter((g) => g.spec.file !== `api:${name}`).map((g) => g.spec);
    await this.setApiGroups(tenant, [...others, ...specs]);
    return { groups: specs.length };
  }

  async deleteRuleFile(tenant: string, name: string): Promise<boolean> {
    const t = this.tenant(tenant);
    const had = t.apiGroups.some((g) => g.spec.file === `api:${name}`);
    if (!had) return false;
    await this.store.insertRows('alert_rule_files', [{ tenant, name, body: '', deleted: 1, updated_at: chTime(this.now()) }]);
    await this.setApiGroups(tenant, t.apiGroups.filter((g) => g.spec.file !== `api:${name}`).map((g) => g.spec));
    return true;
  }

  private async setApiGroups(tenant: string, specs: RuleGroupSpec[]): Promise<void> {
    const t = this.tenant(tenant);
    const groups = buildGroups(specs, this.defaultIntervalMs, t.apiGroups);
    await this.restore(tenant, groups);
    this.replace(tenant, t.apiGroups, groups);
    t.apiGroups = groups;
  }

  private async restore(tenant: string, groups: GroupRuntime[]): Promise<void> {
    const fresh = groups.filter((g) => !g.restored);
    if (fresh.length === 0) return;
    const restored = await restoreActive(this.store, tenant);
    const n = restoreGroups(fresh, restored);
    if (n > 0) this.log.info({ tenant, alerts: n }, 'alert state restored');
  }

  private replace(tenant: string, before: GroupRuntime[], after: GroupRuntime[]): void {
    for (const g of before) {
      clearTimeout(this.timers.get(`${tenant}\u0000${g.key}`));
      this.timers.delete(`${tenant}\u0000${g.key}`);
    }
    for (const g of after) this.schedule(tenant, g);
  }

  private readonly running = new Set<GroupRuntime>();
  /** Evaluations skipped because the previous one of the group was still running (Prometheus' missed iterations). */
  missed = 0;

  private schedule(tenant: string, group: GroupRuntime): void {
    if (this.closed) return;
    const id = `${tenant}\u0000${group.key}`;
    const at = nextEvaluation(group.intervalMs, this.now());
    const timer = setTimeout(() => {
      // The group may have been replaced by a reload meanwhile: only the current runtime evaluates.
      if (!this.groups(tenant).includes(group)) return;
      // The next one is due an interval on whatever this one takes; a round still running then makes it a missed iteration.
      this.schedule(tenant, group);
      if (this.running.has(group)) {
        this.missed++;
        this.log.warn({ tenant, group: group.key }, 'rule group evaluation still running at its next interval; iteration missed');
        return;
      }
      this.running.add(group);
      const run = this.evaluate(tenant, group, at)
        .catch((e: unknown) => this.log.error({ tenant, group: group.key, err: (e as Error).message }, 'rule group evaluation failed'))
        .finally(() => {
          this.inflight.delete(run);
          this.running.delete(group);
        });
      this.inflight.add(run);
    }, Math.max(0, at - this.now()));
    timer.unref();
    this.timers.set(id, timer);
  }

  /** One evaluation of a group at `ts`: rules, write-back, history, sending. */
  async evaluate(tenant: string, group: GroupRuntime, ts: number, query: QueryFn = storeQuery(this.store, tenant)): Promise<{ evalMs: number; notifyMs: number; sent: number }> {
    const t0 = performance.now();
    const outcome = await evaluateGroup(group, ts, {
      query,
      write: busWriter(this.bus, tenant, this.defined),
      externalLabels: this.config.alerting.externalLabels,
      externalURL: this.config.alerting.externalUrl,
      resendDelayMs: this.resendDelayMs,
    });
    const evalMs = performance.now() - t0;
    const t1 = performance.now();
    const rows = outcome.changes.map(({ rule, change }) => stateRow(tenant, group.key, rule.key, change, ts));
    const history = recordHistory(this.store, rows).catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'alert history not recorded'));
    await this.send(tenant, outcome.toSend);
    await history;
    const notifyMs = performance.now() - t1;
    this.rounds.push({ group: group.key, evalMs, notifyMs });
    if (this.rounds.length > 10_000) this.rounds.splice(0, this.rounds.length - 10_000);
    return { evalMs, notifyMs, sent: outcome.toSend.length };
  }

  /**
   * Delivery is per engine, not per tenant: the configured Alertmanagers and
   * notifier file get the alerts of `rules.tenant` only. Another tenant's
   * API-loaded rules evaluate, keep history and answer in /api/v1/alerts,
   * but are not posted to receivers configured for someone else.
   */
  private async send(tenant: string, alerts: OutgoingAlert[]): Promise<void> {
    if (alerts.length === 0 || tenant !== this.config.rules.tenant) return;
    const postable = postableAlerts(alerts, this.config.alerting.externalLabels as Labels);
    for (const sink of this.sinks) sink.receive(tenant, postable, this.now());
    const outcomes = await sendToAlertmanagers(this.config.alerting.alertmanagers, postable, this.timeoutMs);
    for (const o of outcomes) if (!o.ok) this.log.warn({ url: o.url, error: o.error, alerts: o.alerts }, 'alerts not delivered to Alertmanager; the next evaluation re-sends them');
  }

  async start(): Promise<void> {
    await this.loadStoredRuleFiles();
    await this.reloadFiles();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
    for (const s of this.sinks) await s.close();
  }
}

const services = new WeakMap<object, RuleService>();

/** The one rule service of an engine (its routes and its loop share it). */
export function ruleServiceFor(ctx: AppContext<AlertingAppConfig>): RuleService {
  let s = services.get(ctx.store);
  if (!s) {
    s = new RuleService(ctx.store, ctx.bus, ctx.config, ctx.log);
    services.set(ctx.store, s);
  }
  return s;
}

/** The built-in notifier from `alerting.notifier`, sharing the store's silences, history and notification log. */
export async function startNotifier(ctx: AppContext<AlertingAppConfig>, path: string): Promise<Notifier> {
  const [{ loadNotifierConfig }, { Notifier }, { claimNotification }, { SilenceStore }] = await Promise.all([
    import('./notify/config.ts'),
    import('./notify/notifier.ts'),
    import('./notify/notification-log.ts'),
    import('./silences.ts'),
  ]);
  const silences = new SilenceStore(ctx.store);
  const replica = randomUUID();
  return new Notifier({
    config: loadNotifierConfig(path),
    externalURL: ctx.config.alerting.externalUrl,
    timeoutMs: parseDuration(ctx.config.alerting.timeout),
    ratePerMinute: ctx.config.alerting.receiverRateLimit,
    log: ctx.log,
    silences: (tenant) => silences.list(tenant),
    record: (rows) => recordHistory(ctx.store, rows),
    claim: (tenant, receiver, key, slot) => claimNotification(ctx.store, replica, tenant, receiver, key, slot, Date.now()),
  });
}

/** Starts the alerting loop in an engine: rule files and the notifier file loaded (a bad one stops the start), SIGHUP reloads. */
export async function startAlerting(ctx: AppContext<AlertingAppConfig>, extraSinks: AlertSink[] = []): Promise<RuleService> {
  const service = ruleServiceFor(ctx);
  for (const s of extraSinks) service.addSink(s);
  if (ctx.config.alerting.notifier) service.setNotifier(await startNotifier(ctx, ctx.config.alerting.notifier), ctx.config.alerting.notifier);
  await service.start();
  const onHup = () => {
    service.reloadFiles().then(
      (r) => ctx.log.info(r, 'rules reloaded'),
      (e: unknown) => ctx.log.error({ err: (e as Error).message }, 'rules reload refused; the rules already loaded keep running'),
    );
  };
  process.on('SIGHUP', onHup);
  ctx.onClose(async () => {
    process.off('SIGHUP', onHup);
    await service.close();
  });
  return service;
}
