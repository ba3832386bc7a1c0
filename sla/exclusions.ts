// Exclusion windows: maintenance, dependency outages and customer-, third-
// party- or force-majeure-caused time, each recorded with who and why. They
// are removed from platform outage time by the calculator and listed in
// every report.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isoTimestamp } from './timestamp.ts';
import type { Store } from '../core/store.ts';
import { parseInput } from '../core/validate.ts';
import { InputError } from '../core/errors.ts';
import { CAUSES, isoUtc } from './calculator.ts';
import { chTime, type Period } from './period.ts';

const timestamp = isoTimestamp;

export const exclusionInputSchema = z.object({
  /** A cluster name, or '*' for every cluster. */
  cluster: z.string().min(1),
  start: timestamp,
  end: timestamp,
  cause: z.enum(CAUSES.filter((c) => c !== 'platform') as [Exclude<(typeof CAUSES)[number], 'platform'>, ...Exclude<(typeof CAUSES)[number], 'platform'>[]]),
  reason: z.string().min(1),
  recordedBy: z.string().min(1),
});

export type ExclusionCause = z.output<typeof exclusionInputSchema>['cause'];

export interface RecordedExclusion {
  id: string;
  cluster: string;
  start: number;
  end: number;
  cause: ExclusionCause;
  reason: string;
  recordedBy: string;
  recordedAt: number;
}

export function parseExclusion(raw: unknown): z.output<typeof exclusionInputSchema> {
  const e = parseInput(exclusionInputSchema, raw);
  if (!Number.isFinite(e.start)) throw new InputError('start', 'not a valid date');
  if (!Number.isFinite(e.end)) throw new InputError('end', 'not a valid date');
  if (e.end <= e.start) throw new InputError('end', 'must be after start');
  return e;
}

export async function recordExclusion(store: Store, tenant: string, raw: unknown, now = Date.now()): Promise<RecordedExclusion> {
  const e = parseExclusion(raw);
  const rec: RecordedExclusion = { id: randomUUID(), ...e, recordedAt: now };
  await store.insertRows('sla_exclusions', [
    {
      tenant,
      id: rec.id,
      cluster: rec.cluster,
      starts_at: chTime(rec.start),
      ends_at: chTime(rec.end),
      cause: rec.cause,
      reason: rec.reason,
      recorded_by: rec.recordedBy,
      recorded_at: chTime(rec.recordedAt),
      deleted: 0,
    },
  ]);
  return rec;
}

/** Exclusions overlapping the period, for one cluster or all; '*' rows apply to every cluster. */
export async function listExclusions(store: Store, tenant: string, period: Period, cluster?: string): Promise<RecordedExclusion[]> {
  const rows = await store.query<{ id: string; cluster: string; s: string; e: string; cause: ExclusionCause; reason: string; recorded_by: string; r: string }>(
    `SELECT id, cluster, toString(toUnixTimestamp64Milli(starts_at)) AS s, toString(toUnixTimestamp64Milli(ends_at)) AS e,
            cause, reason, recorded_by, toString(toUnixTimestamp64Milli(recorded_at)) AS r
     FROM ${store.table('sla_exclusions')} FINAL
     WHERE tenant = {tenant:String} AND deleted = 0
       AND starts_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC') AND ends_at > fromUnixTimestamp64Milli({from:Int64}, 'UTC')
       AND ({cluster:String} = '' OR cluster = {cluster:String} OR cluster = '*')
     ORDER BY starts_at, id`,
    { tenant, from: period.start, to: period.end, cluster: cluster ?? '' },
  );
  return rows.map((r) => ({ id: r.id, cluster: r.cluster, start: Number(r.s), end: Number(r.e), cause: r.cause, reason: r.reason, recordedBy: r.recorded_by, recordedAt: Number(r.r) }));
}

export function exclusionJson(e: RecordedExclusion): Record<string, unknown> {
  return { id: e.id, cluster: e.cluster, start: isoUtc(e.start), end: isoUtc(e.end), cause: e.cause, reason: e.reason, recordedBy: e.recordedBy, recordedAt: isoUtc(e.recordedAt) };
}
