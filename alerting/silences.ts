// Silences in the store (`alert_silences`, one row per version), in
// Alertmanager's API v2 shape: PostableSilence in, GettableSilence out with
// its computed state (pending before startsAt, active, expired after endsAt).
// Expiring sets endsAt to now, as Alertmanager does. The pure part: parsing
// a postable silence, its state, and whether it silences a label set.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../core/store.ts';
import { InputError } from '../core/errors.ts';
import { parseInput } from '../core/validate.ts';
import { chTime } from './schema.ts';
import { fromApi, matchesAll, MatcherError, type ApiMatcher, type Matcher } from './matchers.ts';

export interface Silence {
  readonly id: string;
  readonly matchers: ApiMatcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
  readonly updatedAt: number;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export function silenceState(s: Silence, now: number): SilenceState {
  if (now >= s.endsAt) return 'expired';
  if (now < s.startsAt) return 'pending';
  return 'active';
}

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 time such as 2026-11-30T00:00:00Z');

export const postableSilenceSchema = z.object({
  id: z.string().optional(),
  matchers: z
    .array(z.object({ name: z.string().min(1), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean().optional() }))
    .min(1, 'a silence needs at least one matcher'),
  startsAt: isoTime,
  endsAt: isoTime,
  createdBy: z.string().min(1),
  comment: z.string().min(1),
});

/** A silence from an API body: each field checked, the regexes compiled, endsAt after startsAt. */
export function parsePostableSilence(body: unknown, now: number): Omit<Silence, 'updatedAt'> {
  const p = parseInput(postableSilenceSchema, body);
  p.matchers.forEach((m, i) => {
    try {
      fromApi(m);
    } catch (e) {
      if (e instanceof MatcherError) throw new InputError(`matchers[${i}].value`, e.message);
      throw e;
    }
  });
  if (p.matchers.every((m) => fromApi(m).re?.matches('') ?? (m.isEqual === false ? m.value !== '' : m.value === ''))) {
    throw new InputError('matchers', 'at least one matcher must not match the empty string (it would silence every alert)');
  }
  const startsAt = Math.max(Date.parse(p.startsAt), 0);
  const endsAt = Date.parse(p.endsAt);
  if (endsAt <= startsAt) throw new InputError('endsAt', 'endsAt must be after startsAt');
  if (endsAt <= now) throw new InputError('endsAt', 'endsAt is in the past');
  return { id: p.id ?? '', matchers: p.matchers, startsAt, endsAt, createdBy: p.createdBy, comment: p.comment };
}

export function silences(s: Silence, labels: Readonly<Record<string, string>>, now: number): boolean {
  if (silenceState(s, now) !== 'active') return false;
  const ms: Matcher[] = s.matchers.map(fromApi);
  return matchesAll(ms, labels);
}

export function gettableSilence(s: Silence, now: number) {
  return {
    id: s.id,
    status: { state: silenceState(s, now) },
    updatedAt: new Date(s.updatedAt).toISOString(),
    comment: s.comment,
    createdBy: s.createdBy,
    endsAt: new Date(s.endsAt).toISOString(),
    startsAt: new Date(s.startsAt).toISOString(),
    matchers: s.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual ?? true })),
  };
}

export class SilenceStore {
  constructor(private readonly store: Store) {}

  async list(tenant: string): Promise<Silence[]> {
    const rows = await this.store.query<{ id: string; m: string; s: number; e: number; by: string; c: string; u: number }>(
      `SELECT id, argMax(matchers, updated_at) AS m, toUnixTimestamp64Milli(argMax(starts_at, updated_at)) AS s,
              toUnixTimestamp64Milli(argMax(ends_at, updated_at)) AS e, argMax(created_by, updated_at) AS by,
              argMax(comment, updated_at) AS c, toUnixTimestamp64Milli(max(updated_at)) AS u
         FROM ${this.store.table('alert_silences')} WHERE tenant = {tenant:String} GROUP BY id ORDER BY u DESC`,
      { tenant },
    );
    return rows.map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.m) as ApiMatcher[],
      startsAt: Number(r.s),
      endsAt: Number(r.e),
      createdBy: r.by,
      comment: r.c,
      updatedAt: Number(r.u),
    }));
  }

  async get(tenant: string, id: string): Promise<Silence | undefined> {
    return (await this.list(tenant)).find((s) => s.id === id);
  }

  /** Creates (no id) or updates (an id of this tenant's) a silence; returns its id. Unknown id: undefined. */
  async put(tenant: string, s: Omit<Silence, 'updatedAt'>, now: number): Promise<string | undefined> {
    let id = s.id;
    if (id) {
      if (!(await this.get(tenant, id))) return undefined;
    } else id = randomUUID();
    await this.write(tenant, { ...s, id, updatedAt: now });
    return id;
  }

  /** Expires a silence now; false when the tenant has no such silence or it has already expired. */
  async expire(tenant: string, id: string, now: number): Promise<boolean> {
    const s = await this.get(tenant, id);
    if (!s || silenceState(s, now) === 'expired') return false;
    await this.write(tenant, { ...s, startsAt: Math.min(s.startsAt, now), endsAt: now, updatedAt: Math.max(now, s.updatedAt + 1) });
    return true;
  }

  private async write(tenant: string, s: Silence): Promise<void> {
    await this.store.insertRows('alert_silences', [
      { tenant, id: s.id, matchers: JSON.stringify(s.matchers), starts_at: chTime(s.startsAt), ends_at: chTime(s.endsAt), created_by: s.createdBy, comment: s.comment, updated_at: chTime(s.updatedAt) },
    ]);
  }
}
