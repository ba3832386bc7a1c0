// Rule files in Prometheus' own format (`groups[].{name, interval, limit,
// rules[]}`, each rule `record` or `alert` with `expr`, `for`,
// `keep_firing_for`, `labels`, `annotations`), read and checked whole: the
// YAML, every field Prometheus' rulefmt checks, every expression compiled
// (checkPromQL) and every template parsed. One problem refuses the file, and
// the error names the file, the group and the rule as promtool does
// (`group "g", rule 2, "Name": …`).
import { readFileSync } from 'node:fs';
import { parseDocument, isMap, isSeq, isScalar, type Node as YamlNode, LineCounter } from 'yaml';
import { parseDuration } from '../core/duration.ts';
import type { InputError } from '../core/errors.ts';
import { isValidLabelName, isValidMetricName } from '../metrics/series.ts';
import { checkPromQL } from './promql.ts';
import { parseTemplate, TemplateError, type Template } from './template.ts';

export interface AlertingRuleSpec {
  readonly kind: 'alert';
  readonly name: string;
  readonly expr: string;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Parsed once: label and annotation templates by name. */
  readonly labelTemplates: ReadonlyMap<string, Template>;
  readonly annotationTemplates: ReadonlyMap<string, Template>;
}

export interface RecordingRuleSpec {
  readonly kind: 'record';
  readonly name: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
}

export type RuleSpec = AlertingRuleSpec | RecordingRuleSpec;

export interface RuleGroupSpec {
  readonly file: string;
  readonly name: string;
  /** Null: the configured rules.interval. */
  readonly intervalMs: number | null;
  /** 0: no limit on the alerts or series a rule may produce. */
  readonly limit: number;
  readonly rules: readonly RuleSpec[];
}

/** A rule file refused: `file`, and where known the group and rule (1-based, as promtool counts). */
export class RuleFileError extends Error {
  constructor(readonly file: string, readonly detail: string, readonly group?: string, readonly rule?: { index: number; name: string }, readonly parseError = false, position = '') {
    super(`${file}: ${position ? `${position}: ` : ''}${group !== undefined ? `group ${JSON.stringify(group)}, ${rule ? `rule ${rule.index}, ${JSON.stringify(rule.name)}: ` : ''}` : ''}${detail}`);
    this.name = 'RuleFileError';
  }
}

const GROUP_FIELDS = new Set(['name', 'interval', 'limit', 'rules']);
const RULE_FIELDS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

function scalarText(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (isScalar(node)) return node.value === null ? undefined : String(node.value);
  return undefined;
}

function stringMap(node: unknown, what: string, fail: (m: string) => never): Record<string, string> {
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return {};
  if (!isMap(node)) fail(`${what} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const pair of (node as { items: { key: unknown; value: unknown }[] }).items) {
    const k = scalarText(pair.key);
    const v = pair.value === null ? '' : isScalar(pair.value) ? String((pair.value as { value: unknown }).value ?? '') : undefined;
    if (k === undefined || v === undefined) fail(`${what} must be a map of strings`);
    out[k!] = v!;
  }
  return out;
}

function duration(text: string | undefined, fail: (m: string) => never, field: string): number {
  if (text === undefined) return 0;
  try {
    return parseDuration(text, field, { dialect: 'prometheus' });
  } catch (e) {
    return fail(`${field}: ${(e as InputError).message.replace(/^[^:]+: /, '')}`);
  }
}

/** Parses and checks rule-file text. Throws RuleFileError naming the file, group and rule. */
export function parseRuleFile(text: string, file: string): RuleGroupSpec[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = lines.linePos(e.pos[0]);
    throw new RuleFileError(file, `yaml: line ${at.line}: ${e.message.split('\n')[0]}`, undefined, undefined, true);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return [];
  if (!isMap(root)) throw new RuleFileError(file, 'yaml: the file must be a map with a "groups" list', undefined, undefined, true);
  for (const pair of root.items) {
    const k = scalarText(pair.key);
    if (k !== 'groups') throw new RuleFileError(file, `yaml: unmarshal errors: field ${k} not found in type rulefmt.RuleGroups`, undefined, undefined, true);
  }
  const groupsNode = root.get('groups', true) as YamlNode | undefined;
  if (groupsNode === undefined || (isScalar(groupsNode) && groupsNode.value === null)) return [];
  if (!isSeq(groupsNode)) throw new RuleFileError(file, 'yaml: "groups" must be a list', undefined, undefined, true);
  const seen = new Set<string>();
  const groups: RuleGroupSpec[] = [];
  for (const gNode of groupsNode.items) {
    if (!isMap(gNode)) throw new RuleFileError(file, 'yaml: each group must be a map', undefined, undefined, true);
    for (const pair of gNode.items) {
      const k = scalarText(pair.key);
      if (!k || !GROUP_FIELDS.has(k)) throw new RuleFileError(file, `yaml: unmarshal errors: field ${k} not found in type rulefmt.RuleGroup`, undefined, undefined, true);
    }
    const name = scalarText(gNode.get('name', true)) ?? '';
    const failGroup = (m: string): never => {
      throw new RuleFileError(file, m, name);
    };
    if (name === '') throw new RuleFileError(file, 'Groupname must not be empty');
    if (seen.has(name)) throw new RuleFileError(file, `groupname: "${name}" is repeated in the same file`);
    seen.add(name);
    const intervalText = scalarText(gNode.get('interval', true));
    const intervalMs = intervalText === undefined ? null : duration(intervalText, failGroup, 'interval');
    if (intervalMs !== null && intervalMs <= 0) failGroup('interval: must be greater than zero');
    const limitText = scalarText(gNode.get('limit', true));
    const limit = limitText === undefined ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) failGroup(`limit: "${limitText}" is not a non-negative integer`);
    const rulesNode = gNode.get('rules', true);
    const rules: RuleSpec[] = [];
    if (rulesNode !== undefined && !(isScalar(rulesNode) && rulesNode.value === null)) {
      if (!isSeq(rulesNode)) failGroup('rules must be a list');
      (rulesNode as unknown as { items: unknown[] }).items.forEach((rNode, i) => rules.push(parseRule(rNode, file, name, i + 1, lines)));
    }
    groups.push({ file, name, intervalMs, limit, rules });
  }
  return groups;
}

function parseRule(rNode: unknown, file: string, group: string, index: number, lines: LineCounter): RuleSpec {
  if (!isMap(rNode)) throw new RuleFileError(file, 'yaml: each rule must be a map', group, undefined, true);
  for (const pair of rNode.items) {
    const k = scalarText(pair.key);
    if (!k || !RULE_FIELDS.has(k)) throw new RuleFileError(file, `yaml: unmarshal errors: field ${k} not found in type rulefmt.RuleNode`, undefined, undefined, true);
  }
  const record = scalarText(rNode.get('record', true));
  const alert = scalarText(rNode.get('alert', true));
  const name = record ?? alert ?? '';
  const fail = (m: string): never => {
    throw new RuleFileError(file, m, group, { index, name });
  };
  if (record && alert) fail("only one of 'record' and 'alert' must be set");
  if (!record && !alert) fail("one of 'record' or 'alert' must be set");
  const expr = scalarText(rNode.get('expr', true)) ?? '';
  if (expr.trim() === '') fail("field 'expr' must be set in rule");
  try {
    checkPromQL(expr);
  } catch (e) {
    const node = rNode.get('expr', true) as { range?: [number, number, number] } | undefined;
    const at = node?.range ? lines.linePos(node.range[0]) : undefined;
    throw new RuleFileError(file, `could not parse expression: ${(e as Error).message}`, group, { index, name }, false, at ? `${at.line}:${at.col}` : '');
  }
  const labels = stringMap(rNode.get('labels', true), 'labels', fail);
  for (const [k, v] of Object.entries(labels)) {
    if (!isValidLabelName(k) || k === '__name__') fail(`invalid label name: ${k}`);
    if (!isWellFormed(v)) fail(`invalid label value: ${v}`);
  }
  const forText = scalarText(rNode.get('for', true));
  const keepText = scalarText(rNode.get('keep_firing_for', true));
  if (record) {
    if (rNode.get('annotations', true) !== undefined) fail("invalid field 'annotations' in recording rule");
    if (forText !== undefined && duration(forText, fail, 'for') !== 0) fail("invalid field 'for' in recording rule");
    if (keepText !== undefined && duration(keepText, fail, 'keep_firing_for') !== 0) fail("invalid field 'keep_firing_for' in recording rule");
    if (!isValidMetricName(record)) fail(`invalid recording rule name: ${record}`);
    return { kind: 'record', name: record, expr, labels };
  }
  const annotations = stringMap(rNode.get('annotations', true), 'annotations', fail);
  for (const k of Object.keys(annotations)) if (!isValidLabelName(k)) fail(`invalid annotation name: ${k}`);
  const compile = (texts: Record<string, string>, what: string): Map<string, Template> => {
    const out = new Map<string, Template>();
    for (const [k, v] of Object.entries(texts)) {
      try {
        out.set(k, parseTemplate(v, `__alert_${alert}`));
      } catch (e) {
        if (e instanceof TemplateError) fail(`${what} ${JSON.stringify(k)}: ${e.message}`);
        throw e;
      }
    }
    return out;
  };
  return {
    kind: 'alert',
    name: alert!,
    expr,
    forMs: duration(forText, fail, 'for'),
    keepFiringForMs: duration(keepText, fail, 'keep_firing_for'),
    labels,
    annotations,
    labelTemplates: compile(labels, 'label'),
    annotationTemplates: compile(annotations, 'annotation'),
  };
}

function isWellFormed(s: string): boolean {
  return !/\p{Cs}/u.test(s);
}

/** Reads and checks one file; a file that cannot be read is refused like one that does not parse. */
export function loadRuleFile(path: string): RuleGroupSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RuleFileError(path, `cannot read: ${(e as Error).message}`, undefined, undefined, true);
  }
  return parseRuleFile(text, path);
}

/** Reads every file; the first problem refuses them all (a reload is all or nothing). */
export function loadRuleFiles(paths: readonly string[]): RuleGroupSpec[] {
  return paths.flatMap((p) => loadRuleFile(p));
}

/** Rule files from `rules.files`: each entry a path or a glob, expanded with fast-glob, sorted, each file once. */
export async function expandRuleFiles(patterns: readonly string[]): Promise<string[]> {
  const { default: fg } = await import('fast-glob');
  const out = new Set<string>();
  for (const p of patterns) {
    if (!fg.isDynamicPattern(p)) {
      out.add(p);
      continue;
    }
    for (const f of (await fg(p, { onlyFiles: true, absolute: false })).sort()) out.add(f);
  }
  return [...out];
}

/** For InputError-style answers (the API loading rules): the field a problem concerns. */
export function ruleFileErrorField(e: RuleFileError): string {
  return e.rule ? `groups[${e.group}].rules[${e.rule.index - 1}]` : e.group !== undefined ? `groups[${e.group}]` : 'body';
}
