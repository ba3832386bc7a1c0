// The SLA engine part: the prober (this location's probes of every
// configured control plane, on an interval) and the monthly report job
// (node-schedule, cron and time zone from config). On start it also catches
// up a month whose scheduled run was missed because the engine was down or
// restarted mid-job; the report run itself is idempotent, so catching up a
// month that was in fact completed changes nothing. Reports run for every
// tenant with SLA data; the prober probes for the configured tenant.
import schedule from 'node-schedule';
import type { AppContext } from '../core/context.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import type { SlaConfig } from './config.ts';
import { parseDuration } from '../core/duration.ts';
import { existsSync } from 'node:fs';
import { probeOnce, recordProbeResults, inClusterTarget, type ProbedCluster } from './probes.ts';
import { probedClusters } from './outages.ts';
import { runMonthlyReport, listReports, reportAnnounced, type MonthlyReportOutcome } from './report.ts';
import { monthOf, monthPeriod, previousMonth } from './period.ts';

/**
 * The month whose report should already exist but may not: the month just
 * ended, once this month's scheduled run time has passed (the next run
 * falls in a later month). Pure, for the start-up catch-up.
 */
export function monthDueAtStart(now: number, nextRun: number | undefined): string | undefined {
  if (nextRun === undefined) return undefined;
  return monthOf(nextRun) !== monthOf(now) ? previousMonth(now) : undefined;
}

/** Clusters every report lists, probed or not: the configured ones and, when probed, the one Tidemark runs in. */
export function configuredClusters(config: SlaConfig): string[] {
  const c = config.sla;
  return [...c.clusters.map((x) => x.name), ...(c.probeInCluster ? [c.inClusterName] : [])];
}

/**
 * The month a scheduled run reports: the one just ended in the schedule's
 * time zone (at 00:10 on 1 November in Tokyo that is October). Reports
 * cover UTC months, so `notBefore` says when that month has ended in UTC
 * too; a zone ahead of UTC fires before that and the run waits for it.
 */
export function monthToReport(fireMs: number, tz: string): { month: string; notBefore: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: 'numeric' }).formatToParts(new Date(fireMs));
  const year = Number(parts.find((p) => p.type === 'year')!.value);
  const month = Number(parts.find((p) => p.type === 'month')!.value);
  const name = monthOf(Date.UTC(year, month - 2, 1));
  return { month: name, notBefore: monthPeriod(name).end };
}

/**
 * The clusters a tenant's report lists: the configured ones belong to the
 * configured tenant (its prober probes them under that tenant); another
 * tenant's report lists the clusters it has data for.
 */
export function reportClusters(config: SlaConfig, tenant: string): string[] {
  return tenant === config.tenant ? configuredClusters(config) : [];
}

/**
 * Tenants the monthly report runs for: the configured one, and every tenant
 * with SLA data in the store (probes, exclusions, charges, reports), in order.
 */
export async function slaTenants(store: Store, config: SlaConfig): Promise<string[]> {
  const rows = await store.query<{ tenant: string }>(
    ['sla_probe_clusters', 'sla_exclusions', 'sla_charges', 'sla_reports'].map((t) => `SELECT DISTINCT tenant FROM ${store.table(t)}`).join(' UNION DISTINCT '),
  );
  return [...new Set([config.tenant, ...rows.map((r) => r.tenant)])].sort();
}

export interface ReportJob {
  /** Runs a tenant's report for a month (default: the configured tenant); runs are serialised so two never race. */
  run(month: string, tenant?: string): Promise<MonthlyReportOutcome>;
  /** Settles when every queued run has finished. */
  idle(): Promise<void>;
}

export function reportJob(store: Store, config: SlaConfig, log: Logger, extra: { fetch?: typeof fetch; now?: () => number } = {}): ReportJob {
  let chain: Promise<unknown> = Promise.resolve();
  const c = config.sla;
  return {
    run(month: string, tenant = config.tenant) {
      const next = chain.then(() =>
        runMonthlyReport(store, {
          tenant,
          month,
          outputDir: c.report.outputDir,
          webhookUrl: c.report.webhookUrl,
          clusters: reportClusters(config, tenant),
          commitment: c.commitment,
          multiplier: c.multiplier,
          minOutageMinutes: c.minOutageMinutes,
          ...extra,
        }),
      );
      chain = next.then(
        (r) => log.info({ tenant, month, version: r.version, created: r.created }, 'sla report done'),
        (e: unknown) => log.error({ tenant, month, err: e }, 'sla report failed'),
      );
      return next;
    },
    async idle() {
      await chain;
    },
  };
}

const sharedJobs = new WeakMap<Store, ReportJob>();

/** One report job per store, so the schedule, the catch-up and the API's run endpoint queue behind each other. */
export function sharedReportJob(store: Store, config: SlaConfig, log: Logger): ReportJob {
  let job = sharedJobs.get(store);
  if (!job) sharedJobs.set(store, (job = reportJob(store, config, log)));
  return job;
}

/** Start-up catch-up: runs a tenant's missed month's report when it is due and absent or unannounced. */
export async function catchUpMonthlyReport(store: Store, config: SlaConfig, job: ReportJob, now: number, nextRun: number | undefined, tenant = config.tenant): Promise<MonthlyReportOutcome | undefined> {
  const month = monthDueAtStart(now, nextRun);
  if (!month) return undefined;
  const existing = await listReports(store, tenant, month);
  const latest = existing[existing.length - 1];
  // A stored report is left alone unless its announcement never went out (a crash between the two).
  if (latest && (!config.sla.report.webhookUrl || (await reportAnnounced(store, tenant, month, latest.version)))) return undefined;
  // A tenant with nothing measured that month has nothing to report; an empty report would only be noise.
  if (!latest && reportClusters(config, tenant).length === 0 && (await probedClusters(store, tenant, monthPeriod(month))).length === 0) return undefined;
  return job.run(month, tenant);
}

/** Runs `fn` for every tenant with SLA data, one after another; one tenant's failure is logged and the others still run. */
async function forEachSlaTenant(store: Store, config: SlaConfig, log: Logger, fn: (tenant: string) => Promise<unknown>): Promise<void> {
  for (const tenant of await slaTenants(store, config)) {
    await fn(tenant).catch((e: unknown) => log.error({ tenant, err: e }, 'sla report failed'));
  }
}

export async function startSla(ctx: AppContext<SlaConfig>): Promise<void> {
  const { config, store, log } = ctx;
  const c = config.sla;

  const targets: ProbedCluster[] = [...c.clusters];
  if (c.probeInCluster) {
    const self = inClusterTarget(c.inClusterName, process.env, existsSync);
    if (self) targets.push(self);
    else log.warn('sla.probeInCluster is set but no in-cluster service account was found');
  }
  if (targets.length > 0 && (config.role === 'all' || config.role === 'collector')) {
    const every = parseDuration(c.probeInterval, 'sla.probeInterval');
    const timeoutMs = parseDuration(c.probeTimeout, 'sla.probeTimeout');
    let inFlight: Promise<void> | undefined;
    const round = () => {
      if (inFlight) return; // a slow round is not stacked on; the next tick probes again
      inFlight = (async () => {
        try {
          const results = await probeOnce(targets, { tenant: config.tenant, location: c.location, timeoutMs });
          await recordProbeResults(store, results);
        } catch (e) {
          log.error({ err: e }, 'sla probe round failed');
        } finally {
          inFlight = undefined;
        }
      })();
    };
    const timer = setInterval(round, every);
    timer.unref();
    round();
    ctx.onClose(async () => {
      clearInterval(timer);
      await inFlight; // let the last round land before the store closes
    });
  }

  if (config.role === 'all' || config.role === 'api') {
    const job = sharedReportJob(store, config, log);
    const scheduled = schedule.scheduleJob({ rule: c.report.cron, tz: c.report.tz }, (fireDate: Date) => {
      const { month, notBefore } = monthToReport(fireDate.getTime(), c.report.tz);
      const runAll = () => void forEachSlaTenant(store, config, log, (tenant) => job.run(month, tenant));
      const wait = notBefore + 60_000 - Date.now();
      if (wait <= 0) {
        runAll();
        return;
      }
      const timer = setTimeout(runAll, wait);
      timer.unref();
      ctx.onClose(() => clearTimeout(timer));
    });
    if (!scheduled) throw new Error(`sla.report.cron: "${c.report.cron}" is not a valid cron expression`);
    ctx.onClose(() => {
      scheduled.cancel();
    });
    const next = scheduled.nextInvocation();
    const nextMs = next ? next.getTime() : undefined;
    const catchUp = forEachSlaTenant(store, config, log, (tenant) => catchUpMonthlyReport(store, config, job, Date.now(), nextMs, tenant)).catch((e: unknown) =>
      log.error({ err: e }, 'sla report catch-up failed'),
    );
    // A report run is not cut off half way by a shutdown.
    ctx.onClose(async () => {
      await catchUp;
      await job.idle();
    });
  }
}
