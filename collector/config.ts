// The collector's configuration section: the host source, the scrape
// targets and the remote_write receiver's decoding threads. The engine's whole configuration is composed in bin/config.ts.
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';

const scrapeTarget = z.object({
  job: z.string().min(1),
  url: z.string().url(),
  interval: duration.default('15s'),
  timeout: duration.default('10s'),
  labels: z.record(z.string(), z.string()).default({}),
});

export const collectorSection = z
  .object({
    host: z.object({ enabled: z.boolean().default(true), interval: duration.default('15s') }).prefault({}),
    scrape: z.array(scrapeTarget).default([]),
    /**
     * Worker threads decoding remote_write requests (snappy, protobuf, series
     * resolution), so that decoding overlaps HTTP serving and inserts; 0
     * decodes on the main thread. The default (1) is measured: see
     * DEFAULT_DECODE_WORKERS in routes.ts.
     */
    decodeWorkers: z.number().int().min(0).max(16).default(1),
  })
  .prefault({});

export type ScrapeTargetConfig = z.output<typeof scrapeTarget>;
/** What the collector reads of the configuration. */
export type CollectorConfig = CoreConfig & { collector: z.output<typeof collectorSection> };
