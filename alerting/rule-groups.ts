// Rule groups at run time: each group's rules with their alerts, health and
// last evaluation, evaluated in order at one timestamp (Prometheus'
// Group.Eval). The I/O it needs comes in as functions: the query (the PromQL
// engine at an instant), the write (series back into the store), so the
// same code runs in the engine's loop, in `tidemark rules test` and in the
// benchmark. State carries over a reload for rules that did not change.
import { createHash } from 'node:crypto';
import type { RuleGroupSpec, RuleSpec } from './rule-file.ts';
import {
  alertsToSend,
  evalAlertingRule,
  generatorURL,
  labelKey,
  recordSeries,
  type Alert,
  type Labels,
  type OutgoingAlert,
  type Sample,
  type SeriesSample,
  type StateChange,
} from './alert-state.ts';

export type QueryFn = (expr: string, timeMs: number) => Promise<Sample[]>;
/** Writes samples at `timeMs` (a NaN with the stale bits marks a series gone); resolves once they are readable. */
export type WriteFn = (series: readonly SeriesSample[], timeMs: number) => Promise<void>;

export interface RuleRuntime {
  readonly spec: RuleSpec;
  /** Identity across reloads: a rule keeps its alerts while its name and expression stay. */
  readonly key: string;
  active: Map<string, Alert>;
  health: 'ok' | 'err' | 'unknown';
  lastError: string;
  lastEvaluation: number;
  evaluationMs: number;
  /** Series this rule wrote last time, so the ones gone get a stale marker. */
  lastSeries: Map<string, Labels>;
}

export interface GroupRuntime {
  readonly spec: RuleGroupSpec;
  readonly key: string;
  readonly intervalMs: number;
  readonly rules: RuleRuntime[];
  lastEvaluation: number;
  evaluationMs: number;
  restored: boolean;
}

export interface GroupEvalContext {
  readonly query: QueryFn;
  readonly write: WriteFn;
  readonly externalLabels: Labels;
  readonly externalURL: string;
  readonly resendDelayMs: number;
}

export interface GroupEvalOutcome {
  readonly changes: { rule: RuleRuntime; change: StateChange }[];
  /** Alerts to hand to Alertmanagers and the built-in notifier (external labels not yet added). */
  readonly toSend: OutgoingAlert[];
  readonly samplesWritten: number;
}

export function ruleKey(spec: RuleSpec): string {
  return createHash('sha256').update(`${spec.kind}\u0000${spec.name}\u0000${spec.expr}\u0000${labelKey(spec.labels)}`).digest('hex').slice(0, 16);
}

export function groupKey(spec: RuleGroupSpec): string {
  return `${spec.file};${spec.name}`;
}

/** Runtimes for freshly loaded groups, taking over the alerts of the same rules in `previous`. */
export function buildGroups(specs: readonly RuleGroupSpec[], defaultIntervalMs: number, previous: readonly GroupRuntime[] = []): GroupRuntime[] {
  const old = new Map(previous.map((g) => [g.key, g]));
  return specs.map((spec) => {
    const key = groupKey(spec);
    const before = old.get(key);
    const oldRules = new Map(before?.rules.map((r) => [r.key, r]));
    return {
      spec,
      key,
      intervalMs: spec.intervalMs ?? defaultIntervalMs,
      lastEvaluation: before?.lastEvaluation ?? 0,
      evaluationMs: before?.evaluationMs ?? 0,
      restored: before?.restored ?? false,
      rules: spec.rules.map((r) => {
        const k = ruleKey(r);
        const prev = oldRules.get(k);
        return {
          spec: r,
          key: k,
          active: prev?.active ?? new Map(),
          health: prev?.health ?? 'unknown',
          lastError: prev?.lastError ?? '',
          lastEvaluation: prev?.lastEvaluation ?? 0,
          evaluationMs: prev?.evaluationMs ?? 0,
          lastSeries: prev?.lastSeries ?? new Map(),
        };
      }),
    };
  });
}

/** Restores pending and firing alerts (from the history) into rules that have none yet. */
export function restoreGroups(groups: readonly GroupRuntime[], restored: Map<string, Map<string, Alert[]>>): number {
  let n = 0;
  for (const g of groups) {
    const byRule = restored.get(g.key);
    for (const r of g.rules) {
      const alerts = byRule?.get(r.key);
      if (alerts && r.active.size === 0) for (const a of alerts) {
        r.active.set(a.key, a);
        n++;
      }
    }
    g.restored = true;
  }
  return n;
}

const STALE = (() => {
  const f = new Float64Array(1);
  new BigUint64Array(f.buffer)[0] = 0x7ff0000000000002n;
  return f[0]!;
})();

/**
 * Evaluates every rule of a group at `ts`, in order. A recording rule's
 * series are written before a later rule of the group that names it is
 * evaluated (so it reads them, as in Prometheus); the rest at the end.
 */
export async function evaluateGroup(group: GroupRuntime, ts: number, ctx: GroupEvalContext): Promise<GroupEvalOutcome> {
  const started = performance.now();
  const changes: { rule: RuleRuntime; change: StateChange }[] = [];
  const toSend: OutgoingAlert[] = [];
  let pending: SeriesSample[] = [];
  let pendingNames = new Set<string>();
  let written = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await ctx.write(pending, ts);
    written += pending.length;
    pending = [];
    pendingNames = new Set();
  };
  for (const rule of group.rules) {
    const t0 = performance.now();
    if ([...pendingNames].some((n) => rule.spec.expr.includes(n))) await flush();
    let series: SeriesSample[] = [];
    try {
      const vector = await ctx.query(rule.spec.expr, ts);
      if (rule.spec.kind === 'record') {
        const out = recordSeries(rule.spec, vector, group.spec.limit);
        if (out.error) throw new Error(out.error);
        series = out.series;
        pendingNames.add(rule.spec.name);
      } else {
        const out = evalAlertingRule({
          rule: rule.spec,
          vector,
          timeMs: ts,
          active: rule.active,
          externalLabels: ctx.externalLabels,
          externalURL: ctx.externalURL,
          limit: group.spec.limit,
          restored: group.restored,
        });
        rule.active = out.active;
        if (out.error) throw new Error(out.error);
        series = out.series;
        for (const change of out.changes) changes.push({ rule, change });
        toSend.push(...alertsToSend(rule.active.values(), ts, ctx.resendDelayMs, group.intervalMs, generatorURL(ctx.externalURL, rule.spec.expr)));
      }
      rule.health = 'ok';
      rule.lastError = '';
    } catch (e) {
      rule.health = 'err';
      rule.lastError = (e as Error).message;
      series = [];
    }
    // Series this rule wrote last time and not now: a stale marker, as Prometheus writes.
    const now = new Map<string, Labels>();
    for (const s of series) now.set(labelKey(s.labels), s.labels);
    for (const [k, labels] of rule.lastSeries) if (!now.has(k)) pending.push({ labels, value: STALE });
    rule.lastSeries = now;
    pending.push(...series);
    rule.lastEvaluation = ts;
    rule.evaluationMs = performance.now() - t0;
  }
  await flush();
  group.lastEvaluation = ts;
  group.evaluationMs = performance.now() - started;
  return { changes, toSend, samplesWritten: written };
}

/** The next evaluation time of a group: the next multiple of its interval after `now` (all replicas agree on it). */
export function nextEvaluation(intervalMs: number, now: number): number {
  return Math.floor(now / intervalMs) * intervalMs + intervalMs;
}
