// Alert history in the store: every state change and every notification
// outcome as one row of `alert_history`, the search over it
// (GET /api/v1/alerts/history, `tidemark alerts search`), and the restore
// of pending and firing alerts after a restart (each alert's last state row).
import type { Store } from '../core/store.ts';
import type { Alert, StateChange } from './alert-state.ts';
import { chTime } from './schema.ts';

export interface HistoryRow {
  readonly tenant: string;
  readonly ts: number;
  readonly kind: 'state' | 'notification';
  readonly alertname: string;
  readonly group: string;
  readonly fingerprint: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: string;
  readonly activeAt: number;
  readonly firedAt: number;
  readonly resolvedAt: number;
  readonly value: number;
  readonly receiver: string;
  readonly detail: string;
}


export function stateRow(tenant: string, group: string, ruleKey: string, change: StateChange, ts: number): HistoryRow {
  const a = change.alert;
  return {
    tenant,
    ts,
    kind: 'state',
    alertname: a.labels['alertname'] ?? '',
    group,
    fingerprint: `${ruleKey}\u0002${a.key}`,
    labels: { ...a.labels },
    annotations: { ...a.annotations },
    state: change.to,
    activeAt: a.activeAt,
    firedAt: a.firedAt,
    resolvedAt: change.to === 'resolved' || change.to === 'inactive' ? ts : a.resolvedAt,
    value: a.value,
    receiver: '',
    detail: '',
  };
}

export function notificationRow(tenant: string, ts: number, receiver: string, outcome: string, alerts: readonly { labels: Record<string, string> }[], detail: string, fingerprint = ''): HistoryRow[] {
  return alerts.map((a) => ({
    tenant,
    ts,
    kind: 'notification' as const,
    alertname: a.labels['alertname'] ?? '',
    group: '',
    fingerprint,
    labels: { ...a.labels },
    annotations: {},
    state: outcome,
    activeAt: 0,
    firedAt: 0,
    resolvedAt: 0,
    value: 0,
    receiver,
    detail,
  }));
}

export async function recordHistory(store: Store, rows: readonly HistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await store.insertRows(
    'alert_history',
    rows.map((r) => ({
      tenant: r.tenant,
      ts: chTime(r.ts),
      kind: r.kind,
      alertname: r.alertname,
      rule_group: r.group,
      fingerprint: r.fingerprint,
      labels: r.labels,
      annotations: r.annotations,
      state: r.state,
      active_at: chTime(r.activeAt),
      fired_at: chTime(r.firedAt),
      resolved_at: chTime(r.resolvedAt),
      value: Number.isFinite(r.value) ? r.value : 0,
      receiver: r.receiver,
      detail: r.detail,
    })),
  );
}

export interface HistoryQuery {
  readonly tenant: string;
  readonly name?: string;
  readonly matchers?: readonly { name: string; value: string }[];
  readonly state?: string;
  readonly sinceMs?: number;
  readonly limit?: number;
}

export interface HistoryEntry {
  time: string;
  kind: string;
  alertname: string;
  group: string;
  state: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  activeAt: string | null;
  firedAt: string | null;
  resolvedAt: string | null;
  value: number;
  receiver: string;
  detail: string;
}

const iso = (t: number) => (t > 0 ? new Date(t).toISOString() : null);

export async function searchHistory(store: Store, q: HistoryQuery): Promise<HistoryEntry[]> {
  const where = ['tenant = {tenant:String}'];
  const params: Record<string, unknown> = { tenant: q.tenant, limit: q.limit ?? 1000 };
  if (q.name) {
    where.push('alertname = {name:String}');
    params['name'] = q.name;
  }
  if (q.state) {
    where.push('state = {state:String}');
    params['state'] = q.state;
  }
  if (q.sinceMs !== undefined) {
    where.push('ts >= fromUnixTimestamp64Milli({since:Int64})');
    params['since'] = Math.trunc(q.sinceMs);
  }
  (q.matchers ?? []).forEach((m, i) => {
    where.push(`labels[{mn${i}:String}] = {mv${i}:String}`);
    params[`mn${i}`] = m.name;
    params[`mv${i}`] = m.value;
  });
  const rows = await store.query<{
    t: number; kind: string; alertname: string; rule_group: string; state: string; labels: Record<string, string>; annotations: Record<string, string>;
    act: number; fired: number; res: number; value: number; receiver: string; detail: string;
  }>(
    `SELECT toUnixTimestamp64Milli(ts) AS t, kind, alertname, rule_group, state, labels, annotations,
            toUnixTimestamp64Milli(active_at) AS act, toUnixTimestamp64Milli(fired_at) AS fired, toUnixTimestamp64Milli(resolved_at) AS res,
            value, receiver, detail
       FROM ${store.table('alert_history')} WHERE ${where.join(' AND ')} ORDER BY t DESC LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map((r) => ({
    time: new Date(Number(r.t)).toISOString(),
    kind: r.kind,
    alertname: r.alertname,
    group: r.rule_group,
    state: r.state,
    labels: r.labels,
    annotations: r.annotations,
    activeAt: iso(Number(r.act)),
    firedAt: iso(Number(r.fired)),
    resolvedAt: iso(Number(r.res)),
    value: r.value,
    receiver: r.receiver,
    detail: r.detail,
  }));
}

/** The alerts each rule had pending or firing when the engine last recorded a change: `group` → rule key → alerts. */
export async function restoreActive(store: Store, tenant: string): Promise<Map<string, Map<string, Alert[]>>> {
  const rows = await store.query<{ rule_group: string; fingerprint: string; st: string; l: Record<string, string>; a: Record<string, string>; act: number; fired: number; v: number }>(
    // Transitions at one evaluation share its time (pending then firing when `for` is 0): the later kind wins a tie.
    `SELECT rule_group, fingerprint, argMax(state, (ts, o)) AS st, argMax(labels, (ts, o)) AS l, argMax(annotations, (ts, o)) AS a,
            toUnixTimestamp64Milli(argMax(active_at, (ts, o))) AS act, toUnixTimestamp64Milli(argMax(fired_at, (ts, o))) AS fired, argMax(value, (ts, o)) AS v
       FROM (SELECT *, multiIf(state = 'pending', 1, state = 'firing', 2, 3) AS o FROM ${store.table('alert_history')} WHERE tenant = {tenant:String} AND kind = 'state')
      GROUP BY rule_group, fingerprint HAVING st IN ('pending', 'firing')`,
    { tenant },
  );
  const out = new Map<string, Map<string, Alert[]>>();
  for (const r of rows) {
    const [ruleKey = '', key = ''] = r.fingerprint.split('\u0002');
    let byRule = out.get(r.rule_group);
    if (!byRule) out.set(r.rule_group, (byRule = new Map()));
    const list = byRule.get(ruleKey) ?? [];
    list.push({
      labels: r.l,
      key,
      annotations: r.a,
      state: r.st as 'pending' | 'firing',
      value: r.v,
      activeAt: Number(r.act),
      firedAt: Number(r.fired),
      resolvedAt: 0,
      lastSentAt: 0,
      validUntil: 0,
      keepFiringSince: 0,
    });
    byRule.set(ruleKey, list);
  }
  return out;
}
