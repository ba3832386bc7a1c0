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
  })
  .prefault({});

/** What the ingester reads of the configuration. */
export type IngesterConfig = CoreConfig & { ingester: z.output<typeof ingesterSection> };
