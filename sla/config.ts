// The SLA section of the configuration: probes, the commitment and its
// compensation terms, and the monthly report job. Composed into the whole
// in bin/config.ts.
import { join } from 'node:path';
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';

export const slaSection = z
  .object({
    /** How often each cluster's control plane is probed. */
    probeInterval: duration.default('15s'),
    probeTimeout: duration.default('5s'),
    /** This engine's probe location name; other locations post their results to /api/v1/sla/probes. */
    location: z.string().min(1).default('local'),
    /** The probe locations expected to report (informational: a minute is down when most of its probes, from wherever, failed). */
    locations: z.array(z.string().min(1)).default(['local']),
    clusters: z
      .array(
        z.object({
          name: z.string().min(1),
          readyzUrl: z.string().url(),
          livezUrl: z.string().url(),
          token: z.string().optional(),
          tokenFile: z.string().optional(),
          caFile: z.string().optional(),
          insecureSkipTlsVerify: z.boolean().default(false),
        }),
      )
      .default([]),
    /** Also probe the API server Tidemark runs in (in-cluster service account), as cluster `inClusterName`. */
    probeInCluster: z.boolean().default(false),
    inClusterName: z.string().min(1).default('in-cluster'),
    commitment: z.number().min(0).max(100).default(99.95),
    multiplier: z.number().nonnegative().default(100),
    minOutageMinutes: z.number().nonnegative().default(10),
    report: z
      .object({
        /** node-schedule cron for the month-just-ended report. */
        cron: z.string().default('10 0 1 * *'),
        tz: z.string().default('UTC'),
        /** Default (empty): `reports` under `store.dataPath`, so `--data D` keeps reports in D (settleSlaDefaults). */
        outputDir: z.string().default(''),
        webhookUrl: z.string().url().optional(),
      })
      .prefault({}),
  })
  .prefault({});

/** What the SLA service reads of the configuration. */
export type SlaConfig = CoreConfig & { sla: z.output<typeof slaSection> };

/** SLA reports belong with the rest of the engine's data: without an explicit directory they go under the store's data path, not the working directory. */
export function settleSlaDefaults<C extends SlaConfig>(c: C): C {
  if (c.sla.report.outputDir !== '') return c;
  return { ...c, sla: { ...c.sla, report: { ...c.sla.report, outputDir: join(c.store.dataPath, 'reports') } } };
}
