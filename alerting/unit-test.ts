// Rule unit tests in promtool's format (`promtool test rules`): rule_files,
// evaluation_interval, tests[] with input_series in the expanding notation
// (`1+2x3`, `_`, `_x2`, `stale`), alert_rule_test (eval_time, alertname,
// exp_alerts) and promql_expr_test (expr, eval_time, exp_samples). Each test
// runs in its own tenant of a store the caller provides (the CLI opens an
// embedded one in a temporary directory): its input series are written, then
// every group is evaluated at each evaluation_interval from time 0 (Unix
// epoch, as promtool does) to the last eval_time, and the expectations are
// checked at their times. The output follows promtool's wording.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { parseInput } from '../core/validate.ts';
import { loadRuleFile, RuleFileError, type RuleGroupSpec } from './rule-file.ts';
import { buildGroups, evaluateGroup, type GroupRuntime, type QueryFn, type WriteFn } from './rule-groups.ts';
import { labelKey, type Labels, type SeriesSample } from './alert-state.ts';
import { formatGoFloat } from './template.ts';

export interface TestEnvironment {
  /** A fresh place for one test's series: its query and its write (resolving once readable). */
  open(test: number): Promise<{ query: QueryFn; write: WriteFn; queryRaw: (expr: string, timeMs: number) => Promise<{ labels: Labels; value: number }[]> }>;
}

export class TestFileError extends Error {}

const dur = z.union([z.string(), z.number()]).transform((v, c) => {
  try {
    return typeof v === 'number' ? v * 1000 : parseDuration(v, 'duration', { dialect: 'prometheus' });
  } catch (e) {
    c.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const testFileSchema = z
  .object({
    rule_files: z.array(z.string()).default([]),
    evaluation_interval: dur.optional(),
    group_eval_order: z.array(z.string()).optional(),
    tests: z
      .array(
        z
          .object({
            name: z.string().optional(),
            interval: dur.optional(),
            input_series: z.array(z.object({ series: z.string(), values: z.union([z.string(), z.number()]).transform(String) }).strict()).default([]),
            external_labels: z.record(z.string(), z.string()).default({}),
            external_url: z.string().default(''),
            alert_rule_test: z
              .array(
                z
                  .object({
                    eval_time: dur,
                    alertname: z.string(),
                    exp_alerts: z
                      .array(z.object({ exp_labels: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({}), exp_annotations: z.record(z.string(), z.string()).default({}) }).strict())
                      .nullish()
                      .transform((v) => v ?? []),
                  })
                  .strict(),
              )
              .default([]),
            promql_expr_test: z
              .array(
                z
                  .object({
                    expr: z.string(),
                    eval_time: dur,
                    exp_samples: z
                      .array(z.object({ labels: z.string().default(''), value: z.union([z.number(), z.string()]).transform(Number) }).strict())
                      .nullish()
                      .transform((v) => v ?? []),
                  })
                  .strict(),
              )
              .default([]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type RuleTestFile = z.output<typeof testFileSchema>;

/** `metric{a="b", c="d"}` (or `{__name__="m"}`) to its labels. */
export function parseSeriesSelector(text: string): Record<string, string> {
  const s = text.trim();
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?$/s.exec(s);
  if (!m || (!m[1] && m[2] === undefined)) throw new TestFileError(`bad series "${text}"`);
  const labels: Record<string, string> = {};
  if (m[1]) labels['__name__'] = m[1];
  const body = m[2] ?? '';
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*(,|$)/y;
  let pos = 0;
  while (pos < body.length && body.slice(pos).trim() !== '') {
    pair.lastIndex = pos;
    const p = pair.exec(body);
    if (!p) throw new TestFileError(`bad series "${text}": cannot read labels at "${body.slice(pos)}"`);
    const raw = p[2]!;
    labels[p[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.slice(1, -1).replace(/\\'/g, "'");
    pos = pair.lastIndex;
  }
  return labels;
}

export type SeriesValue = number | 'stale' | null;

/** promtool's expanding notation: `a+bxN` / `a-bxN` (N+1 values), `axN`, `_`, `_xN`, `stale`, plain numbers. */
export function expandValues(text: string): SeriesValue[] {
  const out: SeriesValue[] = [];
  for (const tok of text.trim().split(/\s+/).filter(Boolean)) {
    if (tok === '_') out.push(null);
    else if (tok === 'stale') out.push('stale');
    else if (/^_x\d+$/.test(tok)) for (let i = 0; i < Number(tok.slice(2)); i++) out.push(null);
    else {
      const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)(?:([+-])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))?x(\d+)$/.exec(tok);
      if (m) {
        const start = num(m[1]!);
        const step = m[2] ? (m[2] === '-' ? -1 : 1) * Number(m[3]) : 0;
        const n = Number(m[4]);
        for (let i = 0; i <= n; i++) out.push(start + i * step);
      } else {
        const v = num(tok);
        if (Number.isNaN(v) && tok !== 'NaN') throw new TestFileError(`bad value "${tok}" in "${text}"`);
        out.push(v);
      }
    }
  }
  return out;
}

function num(s: string): number {
  if (/^\+?Inf$/.test(s)) return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

const STALE = (() => {
  const f = new Float64Array(1);
  new BigUint64Array(f.buffer)[0] = 0x7ff0000000000002n;
  return f[0]!;
})();

/** Promtool's duration format in messages (4m, 1h30m, 0s). */
function showDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let out = '';
  for (const [u, n] of units) {
    if (ms >= n) {
      out += `${Math.floor(ms / n)}${u}`;
      ms %= n;
    }
  }
  return out;
}

function showLabels(l: Labels): string {
  return `{${Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(', ')}}`;
}

export interface RuleTestOutcome {
  /** 0 passed, 1 a test failed, 2 a file did not parse. */
  code: number;
  output: string;
}

function almostEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));
}

/** Reads and checks a test file and its rule files (throws TestFileError or RuleFileError). */
export function loadTestFile(path: string): { spec: RuleTestFile; groups: RuleGroupSpec[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'), { uniqueKeys: true });
  } catch (e) {
    throw new TestFileError((e as Error).message.split('\n')[0]!);
  }
  let spec: RuleTestFile;
  try {
    spec = parseInput(testFileSchema, raw ?? {});
  } catch (e) {
    throw new TestFileError((e as Error).message);
  }
  const base = dirname(path);
  const groups = spec.rule_files.flatMap((f) => loadRuleFile(isAbsolute(f) ? f : join(base, f)).map((g) => ({ ...g, file: f })));
  return { spec, groups };
}

/** Runs one test file; `env` gives each test its own series. */
export async function runTestFile(path: string, env: TestEnvironment): Promise<RuleTestOutcome> {
  let out = `Unit Testing:  ${path}\n`;
  let loaded: { spec: RuleTestFile; groups: RuleGroupSpec[] };
  try {
    loaded = loadTestFile(path);
  } catch (e) {
    if (e instanceof TestFileError || e instanceof RuleFileError) return { code: 2, output: `${out}  FAILED:\n${e.message}\n\n` };
    throw e;
  }
  const { spec } = loaded;
  let groupSpecs = loaded.groups;
  if (spec.group_eval_order) {
    const order = spec.group_eval_order;
    groupSpecs = [...groupSpecs].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  }
  const evalInterval = spec.evaluation_interval ?? 60_000;
  const problems: string[] = [];
  for (const [i, test] of spec.tests.entries()) {
    const interval = test.interval ?? evalInterval;
    const { query, write, queryRaw } = await env.open(i);
    // Input series: every point written at its time.
    const byTime = new Map<number, SeriesSample[]>();
    let series: { labels: Record<string, string>; values: SeriesValue[] }[];
    try {
      series = test.input_series.map((s) => ({ labels: parseSeriesSelector(s.series), values: expandValues(s.values) }));
    } catch (e) {
      return { code: 2, output: `${out}  FAILED:\n${(e as Error).message}\n\n` };
    }
    for (const s of series) {
      s.values.forEach((v, j) => {
        if (v === null) return;
        const t = j * interval;
        const list = byTime.get(t) ?? [];
        list.push({ labels: s.labels, value: v === 'stale' ? STALE : v });
        byTime.set(t, list);
      });
    }
    for (const t of [...byTime.keys()].sort((a, b) => a - b)) await write(byTime.get(t)!, t);

    const groups: GroupRuntime[] = buildGroups(groupSpecs, evalInterval).map((g) => ({ ...g, restored: true }));
    const alertTests = [...test.alert_rule_test].sort((a, b) => a.eval_time - b.eval_time);
    const maxT = Math.max(0, ...alertTests.map((a) => a.eval_time), ...test.promql_expr_test.map((p) => p.eval_time));
    let next = 0;
    const ctx = { query, write, externalLabels: test.external_labels, externalURL: test.external_url, resendDelayMs: 60_000 };
    const ruleErrors = new Map<string, string>();
    for (let ts = 0; ts <= maxT; ts += evalInterval) {
      for (const g of groups) {
        await evaluateGroup(g, ts, ctx);
        for (const r of g.rules) if (r.health === 'err' && !ruleErrors.has(r.spec.name)) ruleErrors.set(r.spec.name, `    rule ${JSON.stringify(r.spec.name)} failed to evaluate at ${showDuration(ts)}: ${r.lastError}`);
      }
      // Alert expectations are checked at the last evaluation at or before their time.
      while (next < alertTests.length && alertTests[next]!.eval_time < ts + evalInterval) {
        const at = alertTests[next++]!;
        const got = groups
          .flatMap((g) => g.rules)
          .filter((r) => r.spec.kind === 'alert' && r.spec.name === at.alertname)
          .flatMap((r) => [...r.active.values()].filter((a) => a.state === 'firing'))
          .map((a) => ({ labels: a.labels as Record<string, string>, annotations: a.annotations as Record<string, string> }));
        const exp = at.exp_alerts.map((e) => ({ labels: { ...e.exp_labels, alertname: at.alertname }, annotations: e.exp_annotations }));
        const key = (x: { labels: Labels; annotations: Labels }) => `${labelKey(x.labels)}|${labelKey(x.annotations)}`;
        const same = got.length === exp.length && [...got.map(key)].sort().join('\n') === [...exp.map(key)].sort().join('\n');
        if (!same) {
          const show = (xs: typeof got) => `[${xs.map((x) => `\n            0:\n              Labels:${showLabels(x.labels)}\n              Annotations:${showLabels(x.annotations)}`).join('')}\n            ]`;
          problems.push(`    alertname: ${at.alertname}, time: ${showDuration(at.eval_time)}, \n        exp:${show(exp)}, \n        got:${show(got)}`);
        }
      }
    }
    problems.push(...ruleErrors.values());
    for (const pt of test.promql_expr_test) {
      let got: { labels: Labels; value: number }[];
      try {
        got = await queryRaw(pt.expr, pt.eval_time);
      } catch (e) {
        problems.push(`    expr: ${JSON.stringify(pt.expr)}, time: ${showDuration(pt.eval_time)}, err: ${(e as Error).message}`);
        continue;
      }
      let exp: { labels: Labels; value: number }[];
      try {
        exp = pt.exp_samples.map((s) => ({ labels: s.labels.trim() === '' ? {} : parseSeriesSelector(s.labels), value: s.value }));
      } catch (e) {
        return { code: 2, output: `${out}  FAILED:\n${(e as Error).message}\n\n` };
      }
      const sort = (xs: { labels: Labels; value: number }[]) => [...xs].sort((a, b) => (labelKey(a.labels) < labelKey(b.labels) ? -1 : 1));
      const g = sort(got);
      const x = sort(exp);
      const ok = g.length === x.length && g.every((s, j) => labelKey(s.labels) === labelKey(x[j]!.labels) && almostEqual(s.value, x[j]!.value));
      if (!ok) {
        const show = (xs: typeof g) => (xs.length === 0 ? 'nil' : xs.map((s) => `${showLabels(s.labels)} ${formatE(s.value)}`).join(', '));
        problems.push(`    expr: ${JSON.stringify(pt.expr)}, time: ${showDuration(pt.eval_time)},\n        exp: ${show(x)}\n        got: ${show(g)}`);
      }
    }
  }
  if (problems.length > 0) return { code: 1, output: `${out}  FAILED:\n${problems.join('\n')}\n\n` };
  return { code: 0, output: `${out}  SUCCESS\n\n` };
}

/** Go's %E, as promtool prints sample values. */
function formatE(v: number): string {
  if (!Number.isFinite(v)) return formatGoFloat(v);
  const [m = '0', e = '0'] = v.toExponential().split('e');
  const x = Number(e);
  const digits = m.includes('.') ? m : `${m}`;
  return `${digits}E${x < 0 ? '-' : '+'}${Math.abs(x) < 10 ? '0' : ''}${Math.abs(x)}`;
}
