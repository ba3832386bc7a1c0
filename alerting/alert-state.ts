// The alert state machine: one alerting rule's evaluation as Prometheus'
// AlertingRule.Eval computes it, as a pure function from (the rule, the
// vector its expression returned, the time, the alerts active before) to
// (the alerts active after, what changed, the ALERTS and ALERTS_FOR_STATE
// samples). Also Prometheus' send decision (needsSending, ValidUntil) and
// the recording rule's output. No I/O here.
import type { AlertingRuleSpec, RecordingRuleSpec } from './rule-file.ts';

export type Labels = Readonly<Record<string, string>>;
export type AlertState = 'inactive' | 'pending' | 'firing';

export interface Alert {
  readonly labels: Labels;
  /** The label set as one sorted string: the alert's identity within its rule. */
  readonly key: string;
  annotations: Labels;
  state: AlertState;
  value: number;
  /** Unix ms; 0 = never. */
  activeAt: number;
  firedAt: number;
  resolvedAt: number;
  lastSentAt: number;
  validUntil: number;
  keepFiringSince: number;
}

/** A vector element as the engine answers it. */
export interface Sample {
  readonly metric: Labels;
  readonly value: number;
}

export interface StateChange {
  readonly alert: Alert;
  /** `resolved`: was firing, now inactive; `inactive`: pending that went away without firing. */
  readonly to: 'pending' | 'firing' | 'resolved' | 'inactive';
}

export interface SeriesSample {
  readonly labels: Labels;
  readonly value: number;
}

/** How long a resolved alert stays in the active set so it is re-sent as resolved (Prometheus' resolvedRetention). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export function labelKey(labels: Labels): string {
  let key = '';
  for (const name of Object.keys(labels).sort()) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

export interface AlertEvalResult {
  readonly active: Map<string, Alert>;
  readonly changes: StateChange[];
  /** ALERTS and ALERTS_FOR_STATE samples for this evaluation (empty until state is restored). */
  readonly series: SeriesSample[];
  readonly error?: string;
}

export interface AlertEvalInput {
  readonly rule: AlertingRuleSpec;
  readonly vector: readonly Sample[];
  readonly timeMs: number;
  readonly active: ReadonlyMap<string, Alert>;
  readonly externalLabels: Labels;
  readonly externalURL: string;
  /** The group's `limit`; 0 = none. */
  readonly limit: number;
  /** Whether state was restored after a start (Prometheus writes ALERTS only then). */
  readonly restored: boolean;
}

function expandAll(templates: ReadonlyMap<string, { expand(d: never): string }>, data: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of templates) {
    try {
      out[k] = (t.expand as (d: unknown) => string)(data);
    } catch (e) {
      out[k] = `<error expanding template: ${(e as Error).message}>`;
    }
  }
  return out;
}

/** Prometheus' AlertingRule.Eval, step for step (comments name its branches). */
export function evalAlertingRule(input: AlertEvalInput): AlertEvalResult {
  const { rule, timeMs: ts } = input;
  const active = new Map<string, Alert>();
  for (const [k, a] of input.active) active.set(k, { ...a });
  const changes: StateChange[] = [];
  const fresh = new Map<string, Alert>();
  for (const sample of input.vector) {
    const data = { labels: sample.metric, externalLabels: input.externalLabels, externalURL: input.externalURL, value: sample.value };
    const labels: Record<string, string> = { ...sample.metric };
    delete labels['__name__'];
    for (const [k, v] of Object.entries(expandAll(rule.labelTemplates, data))) {
      if (v === '') delete labels[k];
      else labels[k] = v;
    }
    labels['alertname'] = rule.name;
    const key = labelKey(labels);
    if (fresh.has(key)) return { active: new Map(input.active), changes: [], series: [], error: 'vector contains metrics with the same labelset after applying alert labels' };
    fresh.set(key, {
      labels,
      key,
      annotations: expandAll(rule.annotationTemplates, data),
      state: 'pending',
      value: sample.value,
      activeAt: ts,
      firedAt: 0,
      resolvedAt: 0,
      lastSentAt: 0,
      validUntil: 0,
      keepFiringSince: 0,
    });
  }
  // An alert already pending or firing keeps its state and start; only value and annotations move.
  for (const [k, a] of fresh) {
    const existing = active.get(k);
    if (existing && existing.state !== 'inactive') {
      existing.value = a.value;
      existing.annotations = a.annotations;
      continue;
    }
    active.set(k, a);
    changes.push({ alert: a, to: 'pending' });
  }
  let numActivePending = 0;
  const series: SeriesSample[] = [];
  for (const [k, a] of [...active]) {
    if (!fresh.has(k)) {
      // Gone from the result: keep_firing_for may hold a firing alert a while longer.
      let keepFiring = false;
      if (a.state === 'firing' && rule.keepFiringForMs > 0) {
        if (a.keepFiringSince === 0) a.keepFiringSince = ts;
        if (ts - a.keepFiringSince < rule.keepFiringForMs) keepFiring = true;
      }
      // A resolved alert stays RESOLVED_RETENTION_MS so it is re-sent as resolved; a pending one goes at once.
      if (a.state === 'pending' || (a.resolvedAt !== 0 && ts - a.resolvedAt > RESOLVED_RETENTION_MS)) active.delete(k);
      if (a.state !== 'inactive' && !keepFiring) {
        changes.push({ alert: a, to: a.state === 'firing' ? 'resolved' : 'inactive' });
        a.state = 'inactive';
        a.resolvedAt = ts;
      }
      if (!keepFiring) continue;
    } else {
      a.keepFiringSince = 0;
    }
    numActivePending++;
    if (a.state === 'pending' && ts - a.activeAt >= rule.forMs) {
      a.state = 'firing';
      a.firedAt = ts;
      changes.push({ alert: a, to: 'firing' });
    }
    if (input.restored) {
      series.push({ labels: { ...a.labels, __name__: 'ALERTS', alertstate: a.state }, value: 1 });
      series.push({ labels: { ...a.labels, __name__: 'ALERTS_FOR_STATE' }, value: a.activeAt / 1000 });
    }
  }
  if (input.limit > 0 && numActivePending > input.limit) {
    return { active: new Map(), changes: [], series: [], error: `exceeded limit of ${input.limit} with ${numActivePending} alerts` };
  }
  return { active, changes, series };
}

/** Prometheus' Alert.needsSending: firing or newly resolved alerts, re-sent every resendDelay. */
export function needsSending(a: Alert, ts: number, resendDelayMs: number): boolean {
  if (a.state === 'pending') return false;
  if (a.resolvedAt > a.lastSentAt) return true;
  return a.lastSentAt + resendDelayMs < ts;
}

/** An alert as Prometheus hands it to the notifier (and we to Alertmanager's API v2). */
export interface OutgoingAlert {
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly generatorURL: string;
}

/**
 * Prometheus' sendAlerts: the alerts of a rule that need sending now, marked
 * sent (mutates lastSentAt and validUntil). A firing alert's endsAt is
 * ts + 4 × max(interval, resendDelay): two missed evaluations or sends and
 * Alertmanager still holds it; a resolved one's is when it resolved.
 */
export function alertsToSend(active: Iterable<Alert>, ts: number, resendDelayMs: number, intervalMs: number, generatorURL: string): OutgoingAlert[] {
  const out: OutgoingAlert[] = [];
  for (const a of active) {
    if (!needsSending(a, ts, resendDelayMs)) continue;
    a.lastSentAt = ts;
    a.validUntil = ts + 4 * Math.max(resendDelayMs, intervalMs);
    out.push({
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.firedAt,
      endsAt: a.resolvedAt !== 0 ? a.resolvedAt : a.validUntil,
      generatorURL,
    });
  }
  return out;
}

/** Prometheus' strutil.TableLinkForExpression under the external URL. */
export function generatorURL(externalURL: string, expr: string): string {
  const q = encodeURIComponent(expr).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${externalURL.replace(/\/$/, '')}/graph?g0.expr=${q}&g0.tab=1`;
}

export interface RecordResult {
  readonly series: SeriesSample[];
  readonly error?: string;
}

/** A recording rule's output: each element renamed to the rule's name with its labels applied. */
export function recordSeries(rule: RecordingRuleSpec, vector: readonly Sample[], limit: number): RecordResult {
  const seen = new Set<string>();
  const series: SeriesSample[] = [];
  for (const s of vector) {
    const labels: Record<string, string> = { ...s.metric, __name__: rule.name };
    for (const [k, v] of Object.entries(rule.labels)) {
      if (v === '') delete labels[k];
      else labels[k] = v;
    }
    const key = labelKey(labels);
    if (seen.has(key)) return { series: [], error: 'vector contains metrics with the same labelset after applying rule labels' };
    seen.add(key);
    series.push({ labels, value: s.value });
  }
  if (limit > 0 && series.length > limit) return { series: [], error: `exceeded limit of ${limit} with ${series.length} series` };
  return { series };
}
