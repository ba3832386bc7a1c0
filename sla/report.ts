// The monthly SLA report: gathers a month's outage windows (derived in
// SQL), exclusions and charges, runs the calculator, and publishes the
// result as a stored version plus JSON, CSV and HTML files and a webhook.
//
// Idempotence and restarts: a report's content has a digest. Re-running a
// month whose latest stored version has the same digest adds nothing (it only
// restores missing files and a missing announcement); a changed content (an
// exclusion added, a late charge) becomes the next version and earlier ones
// stay. The steps are ordered files → stored row → announcement, each safe
// to repeat, so a job killed at any point is completed by the next run and
// never produces two versions of the same content.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../core/store.ts';
import { computeSla, isoUtc, mergeIntervals, type SlaInput, type Cause } from './calculator.ts';
import { deriveOutageWindows, probedClusters } from './outages.ts';
import { listExclusions } from './exclusions.ts';
import { chargesForWindows, paidByCluster } from './billing.ts';
import { monthPeriod, chTime, type Period } from './period.ts';
import { renderReportHtml } from './html.ts';
import type { ClusterReport, DailyAvailability, SlaReport, SlaTerms } from './report-model.ts';

const DAY = 86_400_000;

/** Availability per UTC day from the counted incidents (exact durations), rounded to 4 decimals. */
export function dailyAvailability(period: Period, incidents: readonly { start: string; end: string; counted: boolean }[]): DailyAvailability[] {
  const down = mergeIntervals(incidents.filter((i) => i.counted).map((i) => ({ start: Date.parse(i.start), end: Date.parse(i.end) })));
  const out: DailyAvailability[] = [];
  for (let dayStart = period.start; dayStart < period.end; ) {
    const d = new Date(dayStart);
    const next = Math.min(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1), period.end);
    const len = next - dayStart;
    let lost = 0;
    for (const w of down) lost += Math.max(0, Math.min(w.end, next) - Math.max(w.start, dayStart));
    out.push({ date: d.toISOString().slice(0, 10), availability: Math.round(((len - lost) / len) * 100 * 1e4) / 1e4 });
    dayStart = next;
  }
  return out;
}

/**
 * Builds the calculator input for a period from what the store holds. Two
 * passes: whether a cluster met the commitment and which stretches count
 * do not depend on charges, so the first pass finds the compensated
 * stretches and only the charges in the 24 hours before those are fetched;
 * what each cluster paid (the cap) is summed in SQL. The result equals
 * running the calculator over every charge.
 */
export async function gatherSlaInput(store: Store, tenant: string, period: Period, terms: SlaTerms, configuredClusters: readonly string[] = []): Promise<SlaInput> {
  const [windows, exclusions, probed, paid] = await Promise.all([
    deriveOutageWindows(store, tenant, period),
    listExclusions(store, tenant, period),
    probedClusters(store, tenant, period),
    paidByCluster(store, tenant, period),
  ]);
  const names = [...new Set([...configuredClusters, ...probed])].sort();
  const byCluster = new Map<string, { start: number; end: number; cause: Cause; reason?: string; recordedBy?: string }[]>();
  for (const w of windows) {
    let list = byCluster.get(w.cluster);
    if (!list) byCluster.set(w.cluster, (list = []));
    list.push({ start: w.start, end: w.end, cause: 'platform' });
  }
  const input: SlaInput = {
    period: { start: period.start, end: period.end },
    ...terms,
    instances: names.map((id) => ({
      id,
      outages: [
        ...(byCluster.get(id) ?? []),
        ...exclusions.filter((e) => e.cluster === id || e.cluster === '*').map((e) => ({ start: e.start, end: e.end, cause: e.cause as Cause, reason: e.reason, recordedBy: e.recordedBy })),
      ],
      charges: [],
      paid: paid.get(id) ?? 0,
    })),
  };
  const feeWindows = computeSla(input).instances.flatMap((r) =>
    r.met ? [] : r.incidents.filter((i) => i.counted).map((i) => ({ cluster: r.id, start: Date.parse(i.start) - DAY, end: Date.parse(i.start) })),
  );
  const charges = await chargesForWindows(store, tenant, feeWindows);
  for (const inst of input.instances) inst.charges = charges.get(inst.id) ?? [];
  return input;
}

/** Pure: the report body for a month from calculator input. */
export function buildReport(tenant: string, month: string, input: SlaInput): SlaReport {
  const result = computeSla(input);
  const period = { start: input.period.start, end: input.period.end };
  const clusters = result.instances.map((r) => ({ ...r, daily: dailyAvailability(period, r.incidents) }));
  // Sum in cents so the total is exact.
  const totalCents = clusters.reduce((s, c) => s + Math.round(c.compensation * 100), 0);
  return {
    tenant,
    month,
    period: { start: isoUtc(period.start), end: isoUtc(period.end) },
    terms: { commitment: input.commitment, multiplier: input.multiplier, minOutageMinutes: input.minOutageMinutes },
    clusters,
    totals: { clusters: clusters.length, missed: clusters.filter((c) => !c.met).length, compensation: totalCents / 100 },
  };
}

export function reportDigest(report: SlaReport): string {
  const { version: _v, digest: _d, generatedAt: _g, ...content } = report;
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV: a summary line per cluster, then its incidents and exclusions. */
export function renderReportCsv(report: SlaReport): string {
  const header = ['kind', 'cluster', 'start', 'end', 'minutes', 'counted', 'cause', 'fee_per_minute', 'compensation', 'availability', 'met', 'capped', 'reason', 'recorded_by'];
  const lines = [header.join(',')];
  for (const c of report.clusters) {
    lines.push(['cluster', c.id, report.period.start, report.period.end, c.unavailableMinutes, '', '', '', c.compensation, c.availability, c.met, c.capped, '', ''].map(csvCell).join(','));
    for (const i of c.incidents) {
      lines.push(['incident', c.id, i.start, i.end, i.minutes, i.counted, 'platform', i.feePerMinute, i.compensation, '', '', '', i.excludedBecause ?? '', ''].map(csvCell).join(','));
    }
    for (const e of c.exclusions) {
      lines.push(['exclusion', c.id, e.start, e.end, e.minutes, false, e.cause, '', 0, '', '', '', e.reason ?? '', e.recordedBy ?? ''].map(csvCell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

export interface ReportFiles {
  json: string;
  csv: string;
  html: string;
}

function reportFiles(outputDir: string, tenant: string, month: string, version: number): ReportFiles {
  const base = join(outputDir, tenant, `sla-${month}.v${version}`);
  return { json: `${base}.json`, csv: `${base}.csv`, html: `${base}.html` };
}

/** Write-then-rename so a crash never leaves a half-written report file. */
function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

function writeReportFiles(files: ReportFiles, report: SlaReport): void {
  mkdirSync(join(files.json, '..'), { recursive: true });
  writeAtomic(files.json, JSON.stringify(report, null, 2) + '\n');
  writeAtomic(files.csv, renderReportCsv(report));
  writeAtomic(files.html, renderReportHtml(report));
}

export interface StoredReportMeta {
  month: string;
  version: number;
  digest: string;
  createdAt: string;
  files: ReportFiles;
}

export async function listReports(store: Store, tenant: string, month?: string): Promise<StoredReportMeta[]> {
  const rows = await store.query<{ month: string; version: number; digest: string; c: string; files: string }>(
    `SELECT month, version, digest, toString(toUnixTimestamp64Milli(created_at)) AS c, files
     FROM ${store.table('sla_reports')} FINAL
     WHERE tenant = {tenant:String} AND ({month:String} = '' OR month = {month:String})
     ORDER BY month, version`,
    { tenant, month: month ?? '' },
  );
  return rows.map((r) => ({ month: r.month, version: Number(r.version), digest: r.digest, createdAt: isoUtc(Number(r.c)), files: JSON.parse(r.files) as ReportFiles }));
}

export async function loadReport(store: Store, tenant: string, month: string, version?: number): Promise<SlaReport | undefined> {
  const rows = await store.query<{ body: string }>(
    `SELECT body FROM ${store.table('sla_reports')} FINAL
     WHERE tenant = {tenant:String} AND month = {month:String} AND ({version:UInt32} = 0 OR version = {version:UInt32})
     ORDER BY version DESC LIMIT 1`,
    { tenant, month, version: version ?? 0 },
  );
  return rows[0] ? (JSON.parse(rows[0].body) as SlaReport) : undefined;
}

export async function reportAnnounced(store: Store, tenant: string, month: string, version: number): Promise<boolean> {
  const rows = await store.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${store.table('sla_report_announcements')}
     WHERE tenant = {tenant:String} AND month = {month:String} AND version = {version:UInt32}`,
    { tenant, month, version },
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

export interface MonthlyReportOptions extends SlaTerms {
  tenant: string;
  month: string;
  outputDir: string;
  webhookUrl?: string;
  clusters?: readonly string[];
  now?: () => number;
  fetch?: typeof fetch;
  /** Called after each durable step; tests stop or kill the job here to play a crash at that point. */
  onStep?: (step: 'files' | 'stored') => Promise<void> | void;
}

export interface MonthlyReportOutcome {
  month: string;
  version: number;
  /** False when the stored latest version already had this content. */
  created: boolean;
  announced: boolean;
  files: ReportFiles;
  report: SlaReport;
}

/** Runs (or completes, or confirms) the report for a month. Safe to call any number of times. */
export async function runMonthlyReport(store: Store, opts: MonthlyReportOptions): Promise<MonthlyReportOutcome> {
  const now = opts.now ?? Date.now;
  const period = monthPeriod(opts.month);
  const input = await gatherSlaInput(store, opts.tenant, period, opts, opts.clusters);
  const report = buildReport(opts.tenant, opts.month, input);
  const digest = reportDigest(report);

  const existing = await listReports(store, opts.tenant, opts.month);
  const latest = existing[existing.length - 1];
  let version: number;
  let created: boolean;
  let files: ReportFiles;
  let body: SlaReport;
  if (latest && latest.digest === digest) {
    version = latest.version;
    created = false;
    files = latest.files;
    body = (await loadReport(store, opts.tenant, opts.month, version)) ?? { ...report, version, digest, generatedAt: latest.createdAt };
    if (!existsSync(files.json) || !existsSync(files.csv) || !existsSync(files.html)) writeReportFiles(files, body);
  } else {
    version = (latest?.version ?? 0) + 1;
    created = true;
    files = reportFiles(opts.outputDir, opts.tenant, opts.month, version);
    const createdAt = now();
    body = { ...report, version, digest, generatedAt: isoUtc(createdAt) };
    writeReportFiles(files, body);
    await opts.onStep?.('files');
    await store.insertRows('sla_reports', [
      { tenant: opts.tenant, month: opts.month, version, digest, created_at: chTime(createdAt), body: JSON.stringify(body), files: JSON.stringify(files) },
    ]);
  }
  await opts.onStep?.('stored');

  let didAnnounce = await reportAnnounced(store, opts.tenant, opts.month, version);
  if (!didAnnounce && opts.webhookUrl) {
    const post = opts.fetch ?? fetch;
    const res = await post(opts.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'sla.report', tenant: opts.tenant, month: opts.month, version, files, totals: report.totals, generatedAt: body.generatedAt }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`report webhook ${opts.webhookUrl} answered HTTP ${res.status}`);
    await store.insertRows('sla_report_announcements', [{ tenant: opts.tenant, month: opts.month, version, announced_at: chTime(now()) }]);
    didAnnounce = true;
  }
  return { month: opts.month, version, created, announced: didAnnounce, files, report: body };
}
