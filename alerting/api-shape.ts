// GET /api/v1/rules and GET /api/v1/alerts in Prometheus' exact JSON shape
// (web/api/v1: RuleGroup, AlertingRule, RecordingRule, Alert), built from
// the rule runtimes with no I/O.
import type { Alert } from './alert-state.ts';
import type { GroupRuntime, RuleRuntime } from './rule-groups.ts';

/** Go's time.Time in RFC3339Nano as encoding/json writes it: no trailing zeros in the fraction; the zero time for "never". */
export function goTime(ms: number): string {
  if (ms <= 0) return '0001-01-01T00:00:00Z';
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** strconv.FormatFloat(v, 'e', -1, 64): Prometheus' alert `value`. */
export function formatFloatE(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const [m = '0', e = '0'] = v.toExponential().split('e');
  const x = Number(e);
  return `${m}e${x < 0 ? '-' : '+'}${Math.abs(x) < 10 ? '0' : ''}${Math.abs(x)}`;
}

export interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt: string;
  value: string;
}

function apiAlert(a: Alert): ApiAlert {
  return { labels: { ...a.labels }, annotations: { ...a.annotations }, state: a.state, activeAt: goTime(a.activeAt), value: formatFloatE(a.value) };
}

const activeAlerts = (r: RuleRuntime) => [...r.active.values()].filter((a) => a.state !== 'inactive');

function ruleState(r: RuleRuntime): string {
  const alerts = activeAlerts(r);
  if (alerts.some((a) => a.state === 'firing')) return 'firing';
  if (alerts.length > 0) return 'pending';
  return 'inactive';
}

export function rulesAnswer(groups: readonly GroupRuntime[], type?: 'alert' | 'record') {
  return {
    status: 'success' as const,
    data: {
      groups: groups.map((g) => ({
        name: g.spec.name,
        file: g.spec.file,
        rules: g.rules
          .filter((r) => !type || r.spec.kind === type)
          .map((r) => {
            const common = {
              health: r.health,
              ...(r.lastError ? { lastError: r.lastError } : {}),
              evaluationTime: r.evaluationMs / 1000,
              lastEvaluation: goTime(r.lastEvaluation),
            };
            if (r.spec.kind === 'record') {
              return { name: r.spec.name, query: r.spec.expr, labels: { ...r.spec.labels }, ...common, type: 'recording' };
            }
            return {
              state: ruleState(r),
              name: r.spec.name,
              query: r.spec.expr,
              duration: r.spec.forMs / 1000,
              keepFiringFor: r.spec.keepFiringForMs / 1000,
              labels: { ...r.spec.labels },
              annotations: { ...r.spec.annotations },
              alerts: activeAlerts(r).map(apiAlert),
              ...common,
              type: 'alerting',
            };
          }),
        interval: g.intervalMs / 1000,
        limit: g.spec.limit,
        evaluationTime: g.evaluationMs / 1000,
        lastEvaluation: goTime(g.lastEvaluation),
      })),
    },
  };
}

export function alertsAnswer(groups: readonly GroupRuntime[]) {
  const alerts: ApiAlert[] = [];
  for (const g of groups) for (const r of g.rules) for (const a of activeAlerts(r)) alerts.push(apiAlert(a));
  return { status: 'success' as const, data: { alerts } };
}
