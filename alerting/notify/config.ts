// The built-in notifier's configuration: the subset of Alertmanager's
// configuration file that matters for webhooks, read whole and refused
// whole (an unknown receiver, a bad matcher, a bad duration) naming the
// field. `route` (receiver, group_by, group_wait, group_interval,
// repeat_interval, matchers, match, match_re, continue, routes), `receivers`
// (name, webhook_configs: url, send_resolved, max_alerts, http_config with
// bearer_token or basic_auth), `inhibit_rules` (source_matchers,
// target_matchers, source_match(_re), target_match(_re), equal). Other
// Alertmanager sections (global, templates, other integrations) are accepted
// and ignored, so a team's existing file loads.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../core/duration.ts';
import { legacyMatchers, parseMatchers, formatMatcher, type Matcher, MatcherError } from '../matchers.ts';

export interface WebhookConfig {
  readonly url: string;
  readonly sendResolved: boolean;
  /** 0: all alerts in one post; otherwise posts of at most this many (split, never truncated). */
  readonly maxAlerts: number;
  readonly authorization?: string;
}

export interface Receiver {
  readonly name: string;
  readonly webhooks: readonly WebhookConfig[];
}

export interface Route {
  /** Alertmanager's route key: the parent's, a slash, then this route's matchers, e.g. `{}/{severity="page"}`. */
  readonly key: string;
  /** Unique among routes (Alertmanager's Route.ID: the key and the position among siblings): aggregation groups are per route. */
  readonly id: string;
  readonly receiver: string;
  /** null: `...`, group by every label. */
  readonly groupBy: readonly string[] | null;
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly routes: readonly Route[];
}

export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

export interface NotifierConfig {
  readonly route: Route;
  readonly receivers: ReadonlyMap<string, Receiver>;
  readonly inhibitRules: readonly InhibitRule[];
}

export class NotifierConfigError extends Error {
  constructor(readonly file: string, readonly field: string, message: string) {
    super(`${file}: ${field}: ${message}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseNotifierConfig(text: string, file = 'notifier'): NotifierConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new NotifierConfigError(file, '(root)', `yaml: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isObj(raw)) throw new NotifierConfigError(file, '(root)', 'expected a map with route and receivers');
  const fail = (field: string, m: string): never => {
    throw new NotifierConfigError(file, field, m);
  };
  const receivers = new Map<string, Receiver>();
  const rlist = raw['receivers'];
  if (!Array.isArray(rlist)) fail('receivers', 'expected a list of receivers');
  (rlist as unknown[]).forEach((r, i) => {
    const f = `receivers[${i}]`;
    if (!isObj(r) || typeof r['name'] !== 'string' || r['name'] === '') return fail(`${f}.name`, 'a receiver needs a name');
    if (receivers.has(r['name'])) fail(`${f}.name`, `notification config name "${r['name']}" is not unique`);
    const hooks = (r['webhook_configs'] ?? []) as unknown;
    if (!Array.isArray(hooks)) fail(`${f}.webhook_configs`, 'expected a list');
    const webhooks = (hooks as unknown[]).map((h, j) => {
      const hf = `${f}.webhook_configs[${j}]`;
      if (!isObj(h)) return fail(hf, 'expected a map');
      const url = h['url'];
      if (typeof url !== 'string' || !/^https?:\/\/./.test(url)) return fail(`${hf}.url`, 'expected an http(s) URL');
      const maxAlerts = h['max_alerts'] ?? 0;
      if (typeof maxAlerts !== 'number' || !Number.isInteger(maxAlerts) || maxAlerts < 0) fail(`${hf}.max_alerts`, 'expected a non-negative integer');
      const sendResolved = h['send_resolved'] ?? true;
      if (typeof sendResolved !== 'boolean') fail(`${hf}.send_resolved`, 'expected true or false');
      let authorization: string | undefined;
      const http = h['http_config'];
      if (http !== undefined) {
        if (!isObj(http)) return fail(`${hf}.http_config`, 'expected a map');
        const basic = http['basic_auth'];
        const bearer = http['bearer_token'] ?? (isObj(http['authorization']) ? http['authorization']['credentials'] : undefined);
        if (basic !== undefined && bearer !== undefined) fail(`${hf}.http_config`, 'at most one of basic_auth and bearer_token');
        if (typeof bearer === 'string') authorization = `Bearer ${bearer}`;
        else if (bearer !== undefined) fail(`${hf}.http_config.bearer_token`, 'expected a string');
        if (basic !== undefined) {
          if (!isObj(basic) || typeof basic['username'] !== 'string') return fail(`${hf}.http_config.basic_auth.username`, 'expected a string');
          const password = basic['password'] ?? '';
          if (typeof password !== 'string') fail(`${hf}.http_config.basic_auth.password`, 'expected a string');
          authorization = `Basic ${Buffer.from(`${basic['username']}:${password as string}`).toString('base64')}`;
        }
      }
      return { url, sendResolved: sendResolved as boolean, maxAlerts: maxAlerts as number, ...(authorization ? { authorization } : {}) };
    });
    receivers.set(r['name'], { name: r['name'], webhooks });
  });
  if (!isObj(raw['route'])) fail('route', 'a root route is required');
  const route = parseRoute(raw['route'] as Obj, 'route', undefined, receivers, fail);
  const inhibit = (raw['inhibit_rules'] ?? []) as unknown;
  if (!Array.isArray(inhibit)) fail('inhibit_rules', 'expected a list');
  const inhibitRules = (inhibit as unknown[]).map((r, i) => {
    const f = `inhibit_rules[${i}]`;
    if (!isObj(r)) return fail(f, 'expected a map');
    const equal = (r['equal'] ?? []) as unknown;
    if (!Array.isArray(equal) || !equal.every((e) => typeof e === 'string')) fail(`${f}.equal`, 'expected a list of label names');
    return {
      source: matchersOf(r, 'source_matchers', 'source_match', 'source_match_re', f, fail),
      target: matchersOf(r, 'target_matchers', 'target_match', 'target_match_re', f, fail),
      equal: equal as string[],
    };
  });
  return { route, receivers, inhibitRules };
}

function matchersOf(o: Obj, list: string, eq: string, re: string, f: string, fail: (field: string, m: string) => never): Matcher[] {
  try {
    const strings = (o[list] ?? []) as unknown;
    if (!Array.isArray(strings) || !strings.every((s) => typeof s === 'string')) fail(`${f}.${list}`, 'expected a list of matcher strings');
    const mapOf = (k: string): Record<string, string> => {
      const v = o[k] ?? {};
      if (!isObj(v)) fail(`${f}.${k}`, 'expected a map of label to value');
      return Object.fromEntries(Object.entries(v as Obj).map(([a, b]) => [a, String(b)]));
    };
    return [...(strings as string[]).flatMap((s) => parseMatchers(s)), ...legacyMatchers(mapOf(eq), mapOf(re))];
  } catch (e) {
    if (e instanceof MatcherError) fail(`${f}.${list}`, e.message);
    throw e;
  }
}

function duration(v: unknown, field: string, fallback: number, fail: (field: string, m: string) => never): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'string') return fail(field, 'expected a duration such as 30s or 5m');
  try {
    const ms = parseDuration(v, field);
    if (ms <= 0) fail(field, 'must be greater than zero');
    return ms;
  } catch (e) {
    return fail(field, (e as Error).message.replace(/^[^:]+: /, ''));
  }
}

const ROUTE_FIELDS = new Set(['receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'matchers', 'match', 'match_re', 'continue', 'routes', 'mute_time_intervals', 'active_time_intervals']);

function parseRoute(o: Obj, f: string, parent: Route | undefined, receivers: Map<string, Receiver>, fail: (field: string, m: string) => never, position = -1): Route {
  for (const k of Object.keys(o)) if (!ROUTE_FIELDS.has(k)) fail(`${f}.${k}`, 'unknown field');
  const receiver = (o['receiver'] ?? parent?.receiver) as unknown;
  if (typeof receiver !== 'string' || receiver === '') return fail(`${f}.receiver`, parent ? 'expected a receiver name' : 'root route must specify a default receiver');
  if (!receivers.has(receiver)) fail(`${f}.receiver`, `undefined receiver "${receiver}" used in route`);
  const gb = o['group_by'];
  let groupBy: readonly string[] | null = parent ? parent.groupBy : [];
  if (gb !== undefined) {
    if (!Array.isArray(gb) || !gb.every((g) => typeof g === 'string')) fail(`${f}.group_by`, 'expected a list of label names');
    groupBy = (gb as string[]).includes('...') ? null : [...new Set(gb as string[])];
  }
  if (parent === undefined && (o['matchers'] !== undefined || o['match'] !== undefined || o['match_re'] !== undefined)) fail(`${f}.matchers`, 'root route must not have any matchers');
  const matchers = matchersOf(o, 'matchers', 'match', 'match_re', f, fail).sort((a, b) => (formatMatcher(a) < formatMatcher(b) ? -1 : 1));
  if (o['continue'] !== undefined && typeof o['continue'] !== 'boolean') fail(`${f}.continue`, 'expected true or false');
  const key = `${parent ? `${parent.key}/` : ''}{${matchers.map(formatMatcher).join(',')}}`;
  const self: Route = {
    key,
    id: position >= 0 ? `${key}/${position}` : key,
    receiver,
    groupBy,
    groupWaitMs: duration(o['group_wait'], `${f}.group_wait`, parent?.groupWaitMs ?? 30_000, fail),
    groupIntervalMs: duration(o['group_interval'], `${f}.group_interval`, parent?.groupIntervalMs ?? 300_000, fail),
    repeatIntervalMs: duration(o['repeat_interval'], `${f}.repeat_interval`, parent?.repeatIntervalMs ?? 4 * 3_600_000, fail),
    matchers,
    continue: o['continue'] === true,
    routes: [],
  };
  const children = (o['routes'] ?? []) as unknown;
  if (!Array.isArray(children)) fail(`${f}.routes`, 'expected a list of routes');
  (self as unknown as { routes: Route[] }).routes = (children as unknown[]).map((c, i) => {
    if (!isObj(c)) return fail(`${f}.routes[${i}]`, 'expected a map');
    return parseRoute(c, `${f}.routes[${i}]`, self, receivers, fail, i);
  });
  return self;
}

export function loadNotifierConfig(path: string): NotifierConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new NotifierConfigError(path, '(root)', `cannot read: ${(e as Error).message}`);
  }
  return parseNotifierConfig(text, path);
}
