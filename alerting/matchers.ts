// Label matchers as Alertmanager reads them: the strings of a route's or an
// inhibit rule's `matchers` (`severity="critical"`, `team=~"db|infra"`,
// `{a="b", c!="d"}`), the legacy `match`/`match_re` maps, and the
// {name, value, isRegex, isEqual} objects of API v2 silences. Regexes are
// RE2 (Go's syntax, re2js) and anchored, as Alertmanager anchors them.
import { RE2JS } from 're2js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  readonly name: string;
  readonly type: MatchType;
  readonly value: string;
  /** Compiled for =~ and !~. */
  readonly re?: RE2JS;
}

export class MatcherError extends Error {}

export function matcher(name: string, type: MatchType, value: string): Matcher {
  if (type === '=~' || type === '!~') {
    try {
      return { name, type, value, re: RE2JS.compile(`^(?:${value})$`) };
    } catch (e) {
      throw new MatcherError(`bad regular expression "${value}": ${(e as Error).message}`);
    }
  }
  return { name, type, value };
}

export function matches(m: Matcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.type) {
    case '=': return v === m.value;
    case '!=': return v !== m.value;
    case '=~': return m.re!.matches(v);
    case '!~': return !m.re!.matches(v);
  }
}

export function matchesAll(ms: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of ms) if (!matches(m, labels)) return false;
  return true;
}

const ONE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,}]*?)\s*$/;

function unquote(s: string): string {
  if (s.startsWith('"')) {
    try {
      return JSON.parse(s) as string;
    } catch {
      throw new MatcherError(`bad quoted value ${s}`);
    }
  }
  return s;
}

/** Splits `a="x,y", b=~"z"` on the commas outside quotes. */
function splitMatchers(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && quoted) {
      cur += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (quoted) throw new MatcherError(`unterminated quote in ${s}`);
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/** One matcher string of Alertmanager's `matchers` list; may itself hold several in braces. */
export function parseMatchers(text: string): Matcher[] {
  let s = text.trim();
  if (s.startsWith('{')) {
    if (!s.endsWith('}')) throw new MatcherError(`missing closing "}" in ${text}`);
    s = s.slice(1, -1);
  }
  return splitMatchers(s).map((part) => {
    const m = ONE.exec(part);
    if (!m) throw new MatcherError(`bad matcher format: ${part.trim()}`);
    return matcher(unquote(m[1]!), m[2] as MatchType, unquote(m[3]!));
  });
}

/** The legacy `match` (equality) and `match_re` (regex) maps. */
export function legacyMatchers(match: Record<string, string> = {}, matchRe: Record<string, string> = {}): Matcher[] {
  return [...Object.entries(match).map(([k, v]) => matcher(k, '=', v)), ...Object.entries(matchRe).map(([k, v]) => matcher(k, '=~', v))];
}

/** API v2's matcher object. */
export interface ApiMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export function fromApi(m: ApiMatcher): Matcher {
  const eq = m.isEqual ?? true;
  return matcher(m.name, m.isRegex ? (eq ? '=~' : '!~') : eq ? '=' : '!=', m.value);
}

export function toApi(m: Matcher): ApiMatcher {
  return { name: m.name, value: m.value, isRegex: m.type === '=~' || m.type === '!~', isEqual: m.type === '=' || m.type === '=~' };
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.type}${JSON.stringify(m.value)}`;
}
