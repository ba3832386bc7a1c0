// The ingester's configuration section: how large inserts grow and how long
// a sample may wait for one. Composed into the whole in bin/config.ts.
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';

export const ingesterSection = z
  .object({
    /** Most samples per insert. */
    maxBatch: z.number().int().positive().default(2_000_000),
    /** Longest a sample waits before its batch is inserted. */
    maxWait: duration.default('1s'),
    /** How often the roll-up loop rolls closed minutes into the 1-minute and 1-hour rollups (metrics/rollups.ts). */
    rollupEvery: duration.default('5s'),
    /** How long after a minute ends before it is rolled up; its samples arriving later cost a re-roll, never a miscount. */
    rollupGrace: duration.default('30s'),
    /** Whether this process runs the roll-up loop: exactly one process per store should (default: every ingester; turn off on all but one when several share a store). */
    rollup: z.boolean().default(true),
  })
  .prefault({});

/** What the ingester reads of the configuration. */
export type IngesterConfig = CoreConfig & { ingester: z.output<typeof ingesterSection> };

/**
 * The query section: limits on every PromQL query (the Prometheus HTTP API,
 * metrics/prometheus-api/), passed to the engine. Prometheus' own defaults:
 * a query longer than `timeout` is cancelled, in ClickHouse too (503
 * `timeout`); one that would load more than `maxSamples` samples is refused
 * (422 `execution`).
 */
export const querySection = z
  .object({
    timeout: duration.default('2m'),
    maxSamples: z.number().int().positive().default(50_000_000),
  })
  .prefault({});

/** What the query API reads of the configuration. */
export type QueryConfig = CoreConfig & { query: z.output<typeof querySection> };
