// The PromQL engine's interface (agreed with the HTTP API and alerting):
// instant and range queries for a tenant, parse/type checks, formatting.
// A query is parsed (parse.ts), planned (plan.ts, pure), its data read from
// ClickHouse (execute.ts) and evaluated (evaluate.ts); errors come out as
// PromQLError with Prometheus' errorType and HTTP status.
import type { Store } from '../../core/store.ts';
import type { Expr } from './ast.ts';
import { EvalError, Evaluator, labelsKey, type Value } from './evaluate.ts';
import { exprString, formatValue } from './format.ts';
import { ParseError, parsePromQL, typeOf } from './parse.ts';
import { readData, type ReadStats } from './execute.ts';
import type { StepAccumulator } from './range-steps.ts';

export { PromQLError, type PromErrorType } from './errors.ts';
import { PromQLError } from './errors.ts';

export interface PromQLOptions {
  tenant: string;
  timeoutMs?: number;
  maxSamples?: number;
  lookbackDeltaMs?: number;
  signal?: AbortSignal;
  stats?: boolean;
}

export type SampleValue = [number, string];

export type PromQLData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: SampleValue }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: SampleValue[] }[] }
  | { resultType: 'scalar'; result: SampleValue }
  | { resultType: 'string'; result: SampleValue };

export interface PromQLAnswer {
  data: PromQLData;
  stats?: { table: 'samples' | 'samples_1m' | 'samples_1h'; samplesRead: number; seconds: number };
  warnings?: string[];
}

export const DEFAULTS = { timeoutMs: 120_000, maxSamples: 50_000_000, lookbackDeltaMs: 300_000, intervalMs: 60_000 } as const;

/** Parses and type-checks; throws PromQLError('bad_data') with Prometheus' message and position. */
export function checkPromQL(expr: string): void {
  parse(expr);
}

export function formatPromQL(expr: string): string {
  return exprString(parse(expr));
}

function parse(expr: string): Expr {
  try {
    return parsePromQL(expr);
  } catch (e) {
    if (e instanceof ParseError) throw new PromQLError('bad_data', e.message);
    throw new PromQLError('bad_data', `parse error: ${(e as Error).message}`);
  }
}

const seconds = (ms: number): number => ms / 1000;

export async function instantQuery(store: Store, expr: string, timeMs: number, opts: PromQLOptions): Promise<PromQLAnswer> {
  const ast = parse(expr);
  return run(store, ast, timeMs, timeMs, 0, opts, (evaluator) => {
    const v = evaluator.eval(ast, timeMs);
    return instantData(v, timeMs, ast);
  });
}

export async function rangeQuery(store: Store, expr: string, startMs: number, endMs: number, stepMs: number, opts: PromQLOptions): Promise<PromQLAnswer> {
  const ast = parse(expr);
  const type = typeOf(ast);
  if (type !== 'scalar' && type !== 'vector') {
    throw new PromQLError('bad_data', `invalid expression type "${type === 'matrix' ? 'range vector' : 'string'}" for range query, must be Scalar or instant Vector`);
  }
  if (!(stepMs > 0)) throw new PromQLError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  if (endMs < startMs) throw new PromQLError('bad_data', 'end timestamp must not be before start time');
  if ((endMs - startMs) / stepMs > 11_000) throw new PromQLError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  return run(store, ast, startMs, endMs, stepMs, opts, (evaluator, root) => {
    // The whole query computed for all steps at once: its series as they are.
    if (root) return { resultType: 'matrix', result: root.matrix(formatValue) };
    const series = new Map<string, { metric: Record<string, string>; values: SampleValue[] }>();
    for (let t = startMs; t <= endMs; t += stepMs) {
      const v = evaluator.eval(ast, t);
      const samples = v.type === 'scalar' ? [{ metric: {}, value: v.value }] : v.type === 'vector' ? v.samples : [];
      for (const s of samples) {
        const k = labelsKey(s.metric);
        let acc = series.get(k);
        if (!acc) series.set(k, (acc = { metric: s.metric, values: [] }));
        acc.values.push([seconds(t), formatValue(s.value)]);
      }
    }
    const result = [...series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
    return { resultType: 'matrix', result };
  });
}

function instantData(v: Value, timeMs: number, ast: Expr): PromQLData {
  const t = seconds(timeMs);
  switch (v.type) {
    case 'scalar':
      return { resultType: 'scalar', result: [t, formatValue(v.value)] };
    case 'string':
      return { resultType: 'string', result: [t, v.value] };
    case 'vector': {
      const result = v.samples.map((s) => ({ metric: s.metric, value: [t, formatValue(s.value)] as SampleValue }));
      return { resultType: 'vector', result };
    }
    case 'matrix': {
      void ast;
      const result = v.series.map((s) => {
        const values: SampleValue[] = [];
        for (let i = 0; i < s.t.length; i++) values.push([seconds(s.t[i]!), formatValue(s.v[i]!)]);
        return { metric: s.metric, values };
      });
      return { resultType: 'matrix', result };
    }
  }
}

async function run(store: Store, ast: Expr, startMs: number, endMs: number, stepMs: number, opts: PromQLOptions, evaluate: (e: Evaluator, root: StepAccumulator | null) => PromQLData): Promise<PromQLAnswer> {
  const began = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const deadline = Date.now() + timeoutMs;
  const check = () => {
    if (opts.signal?.aborted) throw new PromQLError('canceled', 'query was canceled');
    if (Date.now() > deadline) throw new PromQLError('timeout', `query timed out in expression evaluation (${timeoutMs} ms)`);
  };
  check();
  const times = { startMs, endMs, lookbackMs: opts.lookbackDeltaMs ?? DEFAULTS.lookbackDeltaMs, intervalMs: DEFAULTS.intervalMs };
  const stats: ReadStats = { samplesRead: 0, table: 'samples' };
  const { data, pushed, root } = await readData(store, ast, times, stepMs, {
    tenant: opts.tenant,
    maxSamples: opts.maxSamples ?? DEFAULTS.maxSamples,
    deadline,
    timeoutMs,
    signal: opts.signal,
    stats,
  }, check);
  let result: PromQLData;
  try {
    result = evaluate(new Evaluator({ ...times, data, pushed, check }), root);
  } catch (e) {
    if (e instanceof EvalError) throw new PromQLError('execution', e.message);
    throw e;
  }
  const answer: PromQLAnswer = { data: result };
  if (opts.stats) answer.stats = { table: stats.table, samplesRead: stats.samplesRead, seconds: (performance.now() - began) / 1000 };
  return answer;
}
