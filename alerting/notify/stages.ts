// The notifier's decisions, each a pure function over plain data, in the
// order Alertmanager's pipeline applies them: route (which routes an alert
// goes down), group (its group key and group labels), inhibit, silence
// (silences.ts), dedup against the last notification of the group
// (Alertmanager's DedupStage.needsUpdate), and the webhook payload
// (version 4, as Alertmanager 0.25 posts it), split over max_alerts.
import type { PostableAlert } from '../alertmanager.ts';
import { matchesAll } from '../matchers.ts';
import type { InhibitRule, Route } from './config.ts';

export type LabelSet = Readonly<Record<string, string>>;

// --- fingerprints (prometheus/common model.labelSetToFingerprint: FNV-1a 64 over sorted names and values, 0xff after each)

const OFFSET64 = 14695981039346656037n;
const PRIME64 = 1099511628211n;
const MASK = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

export function fingerprint(labels: LabelSet): string {
  let h = OFFSET64;
  const add = (b: number) => {
    h ^= BigInt(b);
    h = (h * PRIME64) & MASK;
  };
  for (const name of Object.keys(labels).sort()) {
    for (const b of utf8.encode(name)) add(b);
    add(0xff);
    for (const b of utf8.encode(labels[name]!)) add(b);
    add(0xff);
  }
  return h.toString(16).padStart(16, '0');
}

// --- routing

/** The routes an alert takes (Alertmanager's Route.Match): the deepest matching children, `continue` letting siblings match too. */
export function matchRoutes(route: Route, labels: LabelSet): Route[] {
  if (!matchesAll(route.matchers, labels)) return [];
  const out: Route[] = [];
  for (const child of route.routes) {
    const matched = matchRoutes(child, labels);
    out.push(...matched);
    if (matched.length > 0 && !child.continue) break;
  }
  return out.length > 0 ? out : [route];
}

/** Model's LabelSet.String(): `{a="1", b="2"}`, sorted. */
export function labelSetString(labels: LabelSet): string {
  return `{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ')}}`;
}

export function groupLabels(route: Route, labels: LabelSet): Record<string, string> {
  if (route.groupBy === null) return { ...labels };
  const out: Record<string, string> = {};
  for (const k of route.groupBy) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k];
  return out;
}

/** Alertmanager's aggregation group key: the route's key and the group labels. */
export function groupKey(route: Route, group: LabelSet): string {
  return `${route.key}:${labelSetString(group)}`;
}

// --- inhibition

/** Whether `target` is muted by a firing alert matching a rule's source, equal on the rule's labels (an alert never inhibits itself). */
export function inhibited(target: LabelSet, firing: readonly LabelSet[], rules: readonly InhibitRule[]): boolean {
  for (const r of rules) {
    if (!matchesAll(r.target, target)) continue;
    for (const s of firing) {
      if (!matchesAll(r.source, s)) continue;
      // Alertmanager excludes a source that also matches the target side, so two alerts of one kind do not mute each other.
      if (matchesAll(r.target, s)) continue;
      if (r.equal.every((l) => (s[l] ?? '') === (target[l] ?? ''))) return true;
    }
  }
  return false;
}

// --- dedup (Alertmanager's nflog entry and DedupStage.needsUpdate)

export interface NotificationEntry {
  readonly firing: ReadonlySet<string>;
  readonly resolved: ReadonlySet<string>;
  readonly timestamp: number;
}

const subset = (xs: ReadonlySet<string>, of: ReadonlySet<string>) => [...xs].every((x) => of.has(x));

export function needsUpdate(entry: NotificationEntry | undefined, firing: ReadonlySet<string>, resolved: ReadonlySet<string>, sendResolved: boolean, repeatMs: number, now: number): boolean {
  if (!entry) return firing.size > 0;
  if (!subset(firing, entry.firing)) return true;
  // Everything resolved: notify so the receiver clears it, if it was told something fired.
  if (firing.size === 0) return entry.firing.size > 0;
  if (sendResolved && !subset(resolved, entry.resolved)) return true;
  return entry.timestamp < now - repeatMs;
}

// --- payload

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookMessage {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

export function isResolved(a: PostableAlert, now: number): boolean {
  const end = Date.parse(a.endsAt);
  return a.endsAt !== '0001-01-01T00:00:00Z' && end <= now;
}

function common(maps: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

/**
 * The posts for one notification of a group: Alertmanager's webhook message
 * (firing alerts first, then resolved, as its template data sorts them),
 * split into posts of at most `maxAlerts` instead of truncating. Each post
 * carries its own common labels and `truncatedAlerts: 0`.
 */
export function webhookMessages(receiver: string, key: string, group: LabelSet, alerts: readonly PostableAlert[], now: number, externalURL: string, maxAlerts: number): WebhookMessage[] {
  const items: WebhookAlert[] = alerts.map((a) => ({
    status: isResolved(a, now) ? 'resolved' : 'firing',
    labels: { ...a.labels },
    annotations: { ...a.annotations },
    startsAt: a.startsAt,
    // Alertmanager's template data shows a firing alert with the zero time as its end.
    endsAt: isResolved(a, now) ? a.endsAt : '0001-01-01T00:00:00Z',
    generatorURL: a.generatorURL,
    fingerprint: fingerprint(a.labels),
  }));
  items.sort((a, b) => (a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1));
  const size = maxAlerts > 0 ? maxAlerts : Math.max(items.length, 1);
  const out: WebhookMessage[] = [];
  for (let i = 0; i < items.length; i += size) {
    const part = items.slice(i, i + size);
    out.push({
      receiver,
      status: part.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
      alerts: part,
      groupLabels: { ...group },
      commonLabels: common(part.map((a) => a.labels)),
      commonAnnotations: common(part.map((a) => a.annotations)),
      externalURL,
      version: '4',
      groupKey: key,
      truncatedAlerts: 0,
    });
  }
  return out;
}
