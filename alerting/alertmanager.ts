// Sending alerts to Alertmanagers through their API v2 (`POST
// <url>/api/v2/alerts`), as Prometheus' notifier does: external labels added
// where the alert has no such label, batches of at most 64 alerts, every
// Alertmanager sent to independently with its own timeout, so one that hangs
// holds up no other. What to send and when (re-sending, endsAt) is decided
// in alert-state.ts; nothing here retries: the next evaluation re-sends.
import type { Labels, OutgoingAlert } from './alert-state.ts';
import { goTime } from './api-shape.ts';

/** Prometheus' notifier default --alertmanager.notification-queue batch (maxBatchSize). */
export const MAX_BATCH = 64;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export function withExternalLabels(labels: Labels, external: Labels): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const [k, v] of Object.entries(external)) if (out[k] === undefined || out[k] === '') out[k] = v;
  return out;
}

/** The API v2 body for these alerts. */
export function postableAlerts(alerts: readonly OutgoingAlert[], external: Labels): PostableAlert[] {
  return alerts.map((a) => ({
    labels: withExternalLabels(a.labels, external),
    annotations: { ...a.annotations },
    startsAt: goTime(a.startsAt),
    endsAt: goTime(a.endsAt),
    generatorURL: a.generatorURL,
  }));
}

export interface SendOutcome {
  readonly url: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
  readonly alerts: number;
}

/** Posts `alerts` to every Alertmanager at once, in batches; each post bounded by `timeoutMs`. */
export async function sendToAlertmanagers(urls: readonly string[], alerts: readonly PostableAlert[], timeoutMs: number, fetchFn: typeof fetch = fetch): Promise<SendOutcome[]> {
  if (alerts.length === 0 || urls.length === 0) return [];
  const batches: PostableAlert[][] = [];
  for (let i = 0; i < alerts.length; i += MAX_BATCH) batches.push(alerts.slice(i, i + MAX_BATCH));
  return Promise.all(
    urls.map(async (base) => {
      const url = `${base.replace(/\/$/, '')}/api/v2/alerts`;
      for (const batch of batches) {
        try {
          const res = await fetchFn(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'Tidemark' },
            body: JSON.stringify(batch),
            signal: AbortSignal.timeout(timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.status < 200 || res.status >= 300) return { url, ok: false, status: res.status, error: `HTTP ${res.status}`, alerts: alerts.length };
        } catch (e) {
          return { url, ok: false, error: (e as Error).message, alerts: alerts.length };
        }
      }
      return { url, ok: true, status: 200, alerts: alerts.length };
    }),
  );
}
