// TEMPORARY stand-in for metrics/promql/engine.ts (the promql branch), with
// the agreed signatures, so alerting typechecks before that branch is merged.
// Deleted once the engine lands; alerting/promql.ts then re-exports the real one.
import { parser } from '@prometheus-io/lezer-promql';
import type { Store } from '../core/store.ts';

export type PromErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';
export class PromQLError extends Error {
  constructor(readonly errorType: PromErrorType, message: string, readonly status = errorType === 'bad_data' ? 400 : 422) {
    super(message);
  }
}
export interface PromQLOptions { tenant: string; timeoutMs?: number; maxSamples?: number; lookbackDeltaMs?: number; signal?: AbortSignal; stats?: boolean }
export type SampleValue = [number, string];
export type PromQLData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: SampleValue }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: SampleValue[] }[] }
  | { resultType: 'scalar'; result: SampleValue }
  | { resultType: 'string'; result: SampleValue };
export interface PromQLAnswer { data: PromQLData; warnings?: string[] }

export async function instantQuery(_store: Store, _expr: string, _timeMs: number, _opts: PromQLOptions): Promise<PromQLAnswer> {
  throw new PromQLError('execution', 'the PromQL engine is not merged yet');
}
export async function rangeQuery(_store: Store, _expr: string, _s: number, _e: number, _st: number, _opts: PromQLOptions): Promise<PromQLAnswer> {
  throw new PromQLError('execution', 'the PromQL engine is not merged yet');
}
export function checkPromQL(expr: string): void {
  if (expr.trim() === '') throw new PromQLError('bad_data', 'no expression found in input');
  const tree = parser.parse(expr);
  let bad = -1;
  tree.iterate({ enter: (n) => { if (n.type.isError && bad < 0) bad = n.from; } });
  if (bad >= 0) throw new PromQLError('bad_data', `1:${bad + 1}: parse error: unexpected input`);
}
