// The SLA API: live availability this month, incidents, exclusions (record
// and list), reports (list, fetch, run), billing charges, probe results
// from remote probe locations, and the calculator itself.
import { z } from 'zod';
import type { RouteModule } from '../core/http.ts';
import type { SlaConfig } from './config.ts';
import { HttpError } from '../core/http.ts';
import { parseInput } from '../core/validate.ts';
import { parseUnder } from './input.ts';
import type { ProbeResult } from '../core/bus/records.ts';
import { computeSla, parseSlaInput, isoUtc } from './calculator.ts';
import { gatherSlaInput, listReports, loadReport } from './report.ts';
import type { SlaTerms } from './report-model.ts';
import { recordExclusion, listExclusions, exclusionJson } from './exclusions.ts';
import { parseCharges, storeCharges } from './billing.ts';
import { recordProbeResults } from './probes.ts';
import { monthPeriod, monthOf, type Period } from './period.ts';
import { sharedReportJob, configuredClusters } from './service.ts';
import { renderReportHtml } from './html.ts';

const monthQuery = z.object({ month: z.string().optional(), cluster: z.string().optional() });

/** Earliest probe time accepted: 2000-01-01T00:00:00Z in Unix milliseconds. */
const EARLIEST_PROBE_MS = 946_684_800_000;
/** How far ahead of this engine's clock a remote location's probe may be (clock skew). */
const PROBE_FUTURE_MS = 10 * 60 * 1000;

// Unix milliseconds, range-checked against the clock when parsed: 1e15 (year 33658) once reached the store and failed there as a 500.
const probeTimestamp = z
  .number()
  .int()
  .min(EARLIEST_PROBE_MS, 'expected Unix milliseconds after 2000-01-01')
  .refine((t) => t <= Date.now() + PROBE_FUTURE_MS, 'more than 10 minutes in the future (expected Unix milliseconds)');

const probeResults = z.array(
  z.object({
    cluster: z.string().min(1),
    location: z.string().min(1),
    timestamp: probeTimestamp,
    target: z.string().default(''),
    ok: z.boolean(),
    latencyMs: z.number().nonnegative().default(0),
    error: z.string().default(''),
  }),
);

/** The month's period so far: a live figure measures availability up to now, not up to the month's end. */
function periodSoFar(month: string | undefined, now: number): { month: string; period: Period } {
  const m = month ?? monthOf(now);
  const full = monthPeriod(m);
  const end = Math.min(full.end, Math.max(now, full.start + 60_000));
  return { month: m, period: { start: full.start, end } };
}

// What each route needs (core/auth/http.ts): reads for people who see the
// tenant; exclusions, charges and report runs change what a tenant is owed,
// so they are project administrators' writes; probe results come from remote
// probe locations, which are collectors: ingest tokens.
const READ = { auth: { action: 'read' as const } };
const WRITE = { auth: { action: 'write' as const, contentTypes: ['application/json'] } };
const INGEST = { auth: { action: 'ingest' as const, contentTypes: ['application/json'] } };

export const slaRoutes: RouteModule<SlaConfig> = (app, ctx) => {
  const terms: SlaTerms = { commitment: ctx.config.sla.commitment, multiplier: ctx.config.sla.multiplier, minOutageMinutes: ctx.config.sla.minOutageMinutes };
  const clusters = configuredClusters(ctx.config);
  const job = sharedReportJob(ctx.store, ctx.config, ctx.log);

  async function current(tenant: string, query: unknown) {
    const q = parseInput(monthQuery, query);
    const { month, period } = periodSoFar(q.month, Date.now());
    const input = await gatherSlaInput(ctx.store, tenant, period, terms, clusters);
    if (q.cluster) input.instances = input.instances.filter((i) => i.id === q.cluster);
    return { month, period, result: computeSla(input) };
  }

  app.get('/api/v1/sla/availability', { config: READ }, async (req) => {
    const { month, period, result } = await current(req.tenant, req.query);
    return {
      month,
      period: { start: isoUtc(period.start), end: isoUtc(period.end) },
      clusters: result.instances.map((r) => ({ id: r.id, availability: r.availability, met: r.met, unavailableMinutes: r.unavailableMinutes, periodMinutes: r.periodMinutes, compensation: r.compensation })),
    };
  });

  app.get('/api/v1/sla/incidents', { config: READ }, async (req) => {
    const { month, result } = await current(req.tenant, req.query);
    return { month, clusters: result.instances.map((r) => ({ id: r.id, incidents: r.incidents })) };
  });

  app.get('/api/v1/sla/exclusions', { config: READ }, async (req) => {
    const q = parseInput(monthQuery, req.query);
    const list = await listExclusions(ctx.store, req.tenant, monthPeriod(q.month ?? monthOf(Date.now())), q.cluster);
    return { exclusions: list.map(exclusionJson) };
  });

  app.post('/api/v1/sla/exclusions', { config: WRITE }, async (req, reply) => {
    const rec = await recordExclusion(ctx.store, req.tenant, req.body);
    return reply.status(201).send(exclusionJson(rec));
  });

  app.get('/api/v1/sla/reports', { config: READ }, async (req) => {
    const q = parseInput(monthQuery, req.query);
    return { reports: await listReports(ctx.store, req.tenant, q.month) };
  });

  app.get<{ Params: { month: string }; Querystring: { version?: string; format?: string } }>('/api/v1/sla/reports/:month', { config: READ }, async (req, reply) => {
    monthPeriod(req.params.month);
    const version = req.query.version !== undefined ? Number(req.query.version) : undefined;
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) throw new HttpError(400, 'invalid_input', 'version must be a positive integer', 'version');
    const report = await loadReport(ctx.store, req.tenant, req.params.month, version);
    if (!report) throw new HttpError(404, 'not_found', `no SLA report for ${req.params.month}${version ? ` version ${version}` : ''}`);
    if (req.query.format === 'html') {
      return reply.type('text/html; charset=utf-8').send(renderReportHtml(report));
    }
    return report;
  });

  app.post<{ Params: { month: string } }>('/api/v1/sla/reports/:month/run', { config: WRITE }, async (req) => {
    monthPeriod(req.params.month);
    const out = await job.run(req.params.month, req.tenant);
    return { month: out.month, version: out.version, created: out.created, announced: out.announced, files: out.files, totals: out.report.totals };
  });

  app.post('/api/v1/sla/charges', { config: WRITE }, async (req, reply) => {
    const charges = parseCharges(req.body);
    const n = await storeCharges(ctx.store, req.tenant, charges, 'api');
    return reply.status(201).send({ stored: n });
  });

  app.post('/api/v1/sla/probes', { config: INGEST }, async (req, reply) => {
    const list = parseUnder(probeResults, req.body, 'probes');
    const results: ProbeResult[] = list.map((p) => ({ ...p, tenant: req.tenant }));
    await recordProbeResults(ctx.store, results);
    return reply.status(202).send({ stored: results.length });
  });

  // A pure calculation over the body: it reads no tenant's data, so anyone who may read may use it.
  app.post('/api/v1/sla/compute', { config: { auth: { action: 'read', contentTypes: ['application/json'] } } }, async (req) => computeSla(parseSlaInput(req.body)));
};
