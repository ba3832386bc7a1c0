// Running the planner's SQL against the store: every query carries a
// query_id and max_execution_time, is aborted with the caller's signal or
// the deadline, and on a server is killed (KILL QUERY) so that it is gone
// from system.processes; the sample budget is enforced by the LIMIT the
// planner puts on each read. Turns the rows into SeriesData for evaluate.ts.
import { randomUUID } from 'node:crypto';
import type { Store } from '../../core/store.ts';
import type { Expr, Labels, VectorSelector } from './ast.ts';
import type { Sample, SeriesData } from './evaluate.ts';
import { sampleRowsSql, selectorSpans, seriesListSql, type QueryTimes, type SqlQuery, type TimeSpan } from './plan.ts';
import { decodeSampleRows } from './sample-rows.ts';
import { StepAccumulator } from './range-steps.ts';
import { PromQLError } from './errors.ts';
import { regexProblem } from '../regex.ts';
import { rollupWatermark } from '../rollups.ts';
import { chooseRollup, chunksFor, countSql, findPushdowns, mergePartials, pushdownSql, rollupNaNSql, toPartial, type Partial } from './pushdown.ts';
import { labelsKey } from './evaluate.ts';

export interface ReadStats {
  samplesRead: number;
  table: 'samples' | 'samples_1m' | 'samples_1h';
}

export interface ReadOptions {
  tenant: string;
  maxSamples: number;
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
  stats: ReadStats;
}

export interface ReadData {
  data: Map<VectorSelector, SeriesData[]>;
  pushed: Map<Expr, Map<number, Sample[]>>;
  /** A range query that is one pushdown whole: its answer, without per-step samples (`pushed` then lacks it). */
  root: StepAccumulator | null;
}

export function tooManySamples(): PromQLError {
  return new PromQLError('execution', 'query processing would load too many samples into memory in query execution');
}

/** Runs one SELECT under the query's deadline and signal; returns its text in the given format. */
export async function runQuery(store: Store, q: SqlQuery, opts: ReadOptions, format: 'JSONEachRow' | 'JSONCompactEachRow'): Promise<string> {
  return underDeadline(store, opts, (settings, control) => store.queryText(q.sql, q.params, settings, format, control));
}

/** Runs one SELECT under the query's deadline and signal; returns its RowBinary bytes. */
export async function runRowBinary(store: Store, q: SqlQuery, opts: ReadOptions): Promise<Buffer> {
  return underDeadline(store, opts, (settings, control) => store.queryBytes(q.sql, 'RowBinary', q.params, settings, control));
}

type Settings = Parameters<Store['queryText']>[2];

async function underDeadline<T>(store: Store, opts: ReadOptions, run: (settings: Settings, control: { queryId: string; signal: AbortSignal }) => Promise<T>): Promise<T> {
  const remaining = opts.deadline - Date.now();
  if (opts.signal?.aborted) throw new PromQLError('canceled', 'query was canceled');
  if (remaining <= 0) throw new PromQLError('timeout', `query timed out in query execution (${opts.timeoutMs} ms)`);
  const queryId = `promql-${randomUUID()}`;
  const controller = new AbortController();
  let reason: 'timeout' | 'canceled' | null = null;
  const onAbort = () => {
    reason ??= 'canceled';
    controller.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    reason ??= 'timeout';
    controller.abort();
  }, remaining);
  // Embedded chDB does not hear the abort signal: the caller is answered at once all the same, and the
  // statement ends by max_execution_time (a server's is killed below).
  const stopped = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(new Error('query aborted')), { once: true }));
  stopped.catch(() => {});
  try {
    const work = run(
      {
        // Fractional seconds: embedded chDB cannot interrupt a running query, so this is what ends it there.
        max_execution_time: Math.max(0.1, Math.round(remaining) / 1000),
        output_format_json_quote_denormals: 1,
        cancel_http_readonly_queries_on_client_close: 1,
      },
      { queryId, signal: controller.signal },
    );
    work.catch(() => {});
    return await Promise.race([work, stopped]);
  } catch (e) {
    const message = (e as Error).message ?? '';
    if (reason !== null || /TIMEOUT_EXCEEDED|Timeout exceeded/i.test(message)) {
      await killQuery(store, queryId);
      if (reason === 'canceled') throw new PromQLError('canceled', 'query was canceled');
      throw new PromQLError('timeout', `query timed out in query execution (${opts.timeoutMs} ms)`);
    }
    if (/cannot compile re2|CANNOT_COMPILE_REGEXP/i.test(message)) throw new PromQLError('bad_data', `invalid regular expression: ${/error: ([^.]*)/.exec(message)?.[1] ?? 'RE2 cannot compile it'}`);
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** A server keeps running a query whose client went away unless told; embedded chDB ends it by max_execution_time. */
async function killQuery(store: Store, queryId: string): Promise<void> {
  if (store.embedded) return;
  try {
    await store.command('KILL QUERY WHERE query_id = {id:String} SYNC', { id: queryId });
  } catch {
    // Already finished: nothing to kill.
  }
}

/** Series per sample read: a statement's rows (24 bytes each in RowBinary) and their arrays stay near 100-200 MB at 15 s samples over a day. */
export const SERIES_PER_READ = 1000;

/**
 * A selector's series and their samples in the span, `SERIES_PER_READ`
 * series per statement, each batch handed to `each` as it arrives (a
 * pushdown folds a batch into its per-step answer and lets it go); the
 * sample budget counts every row read.
 */
async function readSeries(store: Store, vs: VectorSelector, span: TimeSpan, opts: ReadOptions, each: (series: SeriesData[]) => void | Promise<void>): Promise<void> {
  const table = (name: string) => store.table(name);
  const list = await runQuery(store, seriesListSql(table, opts.tenant, vs.matchers), opts, 'JSONCompactEachRow');
  const labels = new Map<string, Labels>();
  for (const line of list.split('\n')) {
    if (!line) continue;
    const [id, metric] = JSON.parse(line) as [string, Labels];
    labels.set(id, metric);
  }
  // In label order, as Prometheus hands a selector's series on: sums and means then add up in its order, and the
  // same query gives the same bits every time (the store returns series in any order).
  const byLabels = (a: Labels, b: Labels) => {
    const ka = labelsKey(a);
    const kb = labelsKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
  const ids = [...labels.keys()].sort((a, b) => byLabels(labels.get(a)!, labels.get(b)!));
  for (let i = 0; i < ids.length; i += SERIES_PER_READ) {
    const budget = opts.maxSamples - opts.stats.samplesRead;
    const bytes = await runRowBinary(store, sampleRowsSql(table, opts.tenant, ids.slice(i, i + SERIES_PER_READ), span, budget + 1), opts);
    const { series, rows } = decodeSampleRows(bytes, labels);
    opts.stats.samplesRead += rows;
    if (opts.stats.samplesRead > opts.maxSamples) throw tooManySamples();
    await each(series.sort((a, b) => byLabels(a.metric, b.metric)));
  }
}

/** Longest the per-series fold runs before it lets the event loop take timers and other requests. */
const YIELD_EVERY_MS = 20;

/** Reads every selector's series and samples over the span its evaluations reach. */
export async function readData(store: Store, ast: Expr, times: QueryTimes, stepMs: number, opts: ReadOptions, check: () => void = () => {}): Promise<ReadData> {
  const data = new Map<VectorSelector, SeriesData[]>();
  const pushed = new Map<Expr, Map<number, Sample[]>>();
  let root: StepAccumulator | null = null;
  const table = (name: string) => store.table(name);
  const pushdowns = findPushdowns(ast, times.lookbackMs);
  const rollups: ('samples_1m' | 'samples_1h')[] = [];
  let rawReads = 0;
  if (pushdowns.length > 0) {
    const steps = stepMs > 0 ? { startMs: times.startMs, stepMs, count: Math.floor((times.endMs - times.startMs) / stepMs) + 1 } : { startMs: times.startMs, stepMs: 1, count: 1 };
    for (const p of pushdowns) {
      const vs = p.matrix.vector;
      checkRegexes(vs);
      const lastStep = steps.startMs + (steps.count - 1) * steps.stepMs;
      const span = { minMs: steps.startMs - vs.offsetMs - p.matrix.rangeMs, maxMs: lastStep - vs.offsetMs };
      let rollup = chooseRollup(p, steps);
      // The roll-up loop fills buckets after they close: a read reaching a bucket still announced reads raw.
      if (rollup && !(await rolledUpTo(store, opts.tenant, rollup.table, span.maxMs))) rollup = null;
      if (rollup) {
        const nan = await runQuery(store, rollupNaNSql(rollup, table, opts.tenant, p, span.minMs, span.maxMs), opts, 'JSONEachRow');
        if ((JSON.parse(nan.split('\n')[0]!) as { n: number }).n > 0) rollup = null;
      }
      if (!rollup) {
        // Raw samples, every step's window computed in Node in one pass per series (range-steps.ts).
        rawReads++;
        const acc = new StepAccumulator(p, steps);
        await readSeries(store, vs, span, opts, async (series) => {
          let since = performance.now();
          for (const s of series) {
            // Long windows at fine steps take a while per series: let timers run between series, so
            // other requests are served and a cancel or the deadline is heard (check) mid-way.
            if (performance.now() - since > YIELD_EVERY_MS) {
              await new Promise((resolve) => setImmediate(resolve));
              since = performance.now();
            }
            check();
            acc.add(s);
          }
        });
        if (stepMs > 0 && unparen(ast) === p.expr) root = acc;
        else pushed.set(p.expr, acc.byStep());
        continue;
      }
      rollups.push(rollup.table);
      const counted = await runQuery(store, countSql(table, opts.tenant, vs, span.minMs, span.maxMs), opts, 'JSONEachRow');
      const { n, s } = counted ? (JSON.parse(counted.split('\n')[0]!) as { n: number; s: number }) : { n: 0, s: 0 };
      opts.stats.samplesRead += n;
      if (opts.stats.samplesRead > opts.maxSamples) throw tooManySamples();
      const byStep = new Map<number, Sample[]>();
      const partials = new Map<string, { metric: Record<string, string>; byK: Map<number, Partial[]> }>();
      const of = chunksFor(s, steps.count);
      for (let index = 0; index < of; index++) {
        const text = await runQuery(store, pushdownSql(p, table, opts.tenant, steps, rollup, { index, of }), opts, 'JSONCompactEachRow');
        for (const line of text.split('\n')) {
          if (!line) continue;
          if (!p.aggregation) {
            const [metric, points] = JSON.parse(line) as [Record<string, string>, [number, number | string][]];
            for (const [k, value] of points) {
              const t = steps.startMs + k * steps.stepMs;
              let list = byStep.get(t);
              if (!list) byStep.set(t, (list = []));
              list.push({ metric, value: num(value) });
            }
            continue;
          }
          const [metric, points] = JSON.parse(line) as [Record<string, string>, (number | string)[][]];
          const key = labelsKey(metric);
          let group = partials.get(key);
          if (!group) partials.set(key, (group = { metric, byK: new Map() }));
          for (const [k, ...rest] of points) {
            const part = toPartial(p.aggregation.op, rest.map(num));
            const list = group.byK.get(Number(k));
            if (list) list.push(part);
            else group.byK.set(Number(k), [part]);
          }
        }
      }
      for (const { metric, byK } of partials.values()) {
        for (const [k, parts] of byK) {
          const t = steps.startMs + k * steps.stepMs;
          let list = byStep.get(t);
          if (!list) byStep.set(t, (list = []));
          list.push({ metric, value: mergePartials(p.aggregation!.op, parts) });
        }
      }
      pushed.set(p.expr, byStep);
    }
  }
  for (const [vs, span] of selectorSpans(ast, times, new Set(pushdowns.map((p) => p.expr)))) {
    checkRegexes(vs);
    rawReads++;
    const all: SeriesData[] = [];
    await readSeries(store, vs, span, opts, (series) => {
      for (const s of series) all.push(s);
    });
    data.set(vs, all);
  }
  // The table reported: a rollup when every read was one (the finer of them), else the raw table.
  if (rawReads === 0 && rollups.length > 0) opts.stats.table = rollups.includes('samples_1m') ? 'samples_1m' : 'samples_1h';
  return { data, pushed, root };
}

function unparen(e: Expr): Expr {
  return e.kind === 'paren' ? unparen(e.expr) : e;
}

function checkRegexes(vs: VectorSelector): void {
  for (const m of vs.matchers) {
    if (m.op === '=~' || m.op === '!~') {
      const problem = regexProblem(m.value);
      if (problem) throw new PromQLError('bad_data', problem);
    }
  }
}

function num(v: number | string): number {
  return typeof v === 'number' ? v : parseFloatCH(v);
}

function parseFloatCH(s: string): number {
  switch (s) {
    case 'nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return Number(s);
  }
}

/** Whether every bucket of `table` that a read ending at `endMs` touches is rolled up already. */
async function rolledUpTo(store: Store, tenant: string, table: 'samples_1m' | 'samples_1h', endMs: number): Promise<boolean> {
  const watermark = await rollupWatermark(store, tenant);
  const oldestPendingS = table === 'samples_1m' ? watermark['1m'] : watermark['1h'];
  return endMs < oldestPendingS * 1000;
}
