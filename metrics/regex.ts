// Regex label matchers checked with RE2's own rules before a query runs:
// ClickHouse's match() compiles them with RE2, which refuses much that
// JavaScript accepts (backreferences, lookarounds, (?n), repeat counts over
// 1000), and its refusal surfaced as a 500. re2js is a port of RE2's parser
// and compiler, so a pattern it compiles is one ClickHouse compiles.
import { RE2JS } from 're2js';

/** Longest regex accepted: a bound on what one query string can make the parser and ClickHouse do. */
export const MAX_REGEX_LENGTH = 16 * 1024;

/**
 * Why a matcher regex cannot run, or null when it can. Checked as the query
 * anchors it (`^(?:…)$`, as Prometheus does), which is what ClickHouse compiles.
 */
export function regexProblem(pattern: string): string | null {
  if (pattern.length > MAX_REGEX_LENGTH) return `regular expression of ${pattern.length} characters is longer than the ${MAX_REGEX_LENGTH} accepted`;
  try {
    RE2JS.compile(`^(?:${pattern})$`);
    return null;
  } catch (e) {
    const reason = (e as Error).message.replace(/^error parsing regexp: /, '');
    return `"${pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern}" is not a regular expression RE2 accepts: ${reason}`;
  }
}
