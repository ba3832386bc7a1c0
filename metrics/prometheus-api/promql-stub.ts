// TEMPORARY stand-in for metrics/promql/engine.ts (the promql branch) with the
// agreed interface, so the HTTP API can be built before the engine lands.
// Deleted once `git merge promql` brings the real engine.
import { parser } from '@prometheus-io/lezer-promql';
import type { Store } from '../../core/store.ts';

export type PromErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';
const STATUS: Record<PromErrorType, number> = { bad_data: 400, execution: 422, timeout: 503, canceled: 499 };
export class PromQLError extends Error {
  readonly status: number;
  constructor(
    readonly errorType: PromErrorType,
    message: string,
  ) {
    super(message);
    this.status = STATUS[errorType];
  }
}
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

export function checkPromQL(expr: string): void {
  if (expr.trim() === '') throw new PromQLError('bad_data', '1:1: parse error: no expression found in input');
  const tree = parser.parse(expr);
  let bad = -1;
  tree.iterate({ enter: (n) => { if (n.type.isError && bad < 0) bad = n.from; } });
  if (bad >= 0) throw new PromQLError('bad_data', `1:${bad + 1}: parse error: unexpected input`);
}

export function formatPromQL(expr: string): string {
  checkPromQL(expr);
  return expr.trim();
}

function literal(expr: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\+\s*(\d+(?:\.\d+)?))?\s*$/.exec(expr);
  return m ? Number(m[1]) + Number(m[2] ?? 0) : null;
}

export async function instantQuery(_store: Store, expr: string, timeMs: number, _opts: PromQLOptions): Promise<PromQLAnswer> {
  checkPromQL(expr);
  const v = literal(expr);
  if (v !== null) return { data: { resultType: 'scalar', result: [timeMs / 1000, String(v)] } };
  return { data: { resultType: 'vector', result: [] } };
}

export async function rangeQuery(_store: Store, expr: string, startMs: number, endMs: number, stepMs: number, _opts: PromQLOptions): Promise<PromQLAnswer> {
  checkPromQL(expr);
  const v = literal(expr);
  if (v === null) return { data: { resultType: 'matrix', result: [] } };
  const values: SampleValue[] = [];
  for (let t = startMs; t <= endMs; t += stepMs) values.push([t / 1000, String(v)]);
  return { data: { resultType: 'matrix', result: [{ metric: {}, values }] } };
}
