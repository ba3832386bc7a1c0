// Where ingest time goes, per stage, in this process: seconds spent
// decoding requests (snappy + protobuf into typed columns), resolving series
// (label decode and id hash on a cache miss), encoding (merging batches into
// insert columns), verifying late samples against the store, announcing to
// the roll-up loop, inserting (Native block, file and ClickHouse), and the
// roll-up loop's passes (off the insert path, but on the same cores). Plain
// counters, cheap enough for the hot path; /metrics exposes them as
// tidemark_ingest_stage_seconds_total and bench:ingest divides them by the
// samples stored.
export type IngestStage = 'decode' | 'resolve' | 'encode' | 'verify' | 'announce' | 'insert' | 'rollup';

export const ingestStageSeconds: Record<IngestStage, number> = { decode: 0, resolve: 0, encode: 0, verify: 0, announce: 0, insert: 0, rollup: 0 };

/** Adds the time since `startedMs` (performance.now()) to a stage; returns now, to chain stages. */
export function addStage(stage: IngestStage, startedMs: number): number {
  const now = performance.now();
  ingestStageSeconds[stage] += (now - startedMs) / 1000;
  return now;
}
