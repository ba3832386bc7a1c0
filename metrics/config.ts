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
