// The logs section of the configuration: how long log lines are kept, the
// longest line a receiver accepts, the cluster name this engine's own
// sources stamp on their lines, and the CRI container-log files it tails.
// Composed into the whole in bin/config.ts.
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';
import { parseDuration } from '../core/duration.ts';

export const logsSection = z
  .object({
    /** Lines older than this are dropped by the table's TTL and refused by the receivers. */
    retention: duration.default('30d'),
    /** Longest accepted line in bytes (UTF-8); a push holding a longer one is refused whole. */
    maxLineBytes: z.number().int().positive().default(256 * 1024),
    /** The `cluster` label of lines this engine's file source reads (and of audit events without one). */
    cluster: z.string().min(1).default('local'),
    files: z
      .object({
        /** Glob patterns of CRI log files to tail; none: the file source is off. */
        paths: z.array(z.string().min(1)).default([]),
        /** How often the tailer looks for new files, rotations and new lines. */
        pollInterval: duration.default('1s'),
        /** Where read positions are kept across restarts; default: `<store.dataPath>/logs-positions.json`. */
        positionsFile: z.string().min(1).optional(),
      })
      .prefault({}),
  })
  .prefault({});

export type LogsSection = z.output<typeof logsSection>;

/** What the logs domain reads of the configuration. */
export type LogsConfig = CoreConfig & { logs: LogsSection };

/** The retention in whole days (at least one), as the table's TTL takes it. */
export function logsRetentionDays(section: Pick<LogsSection, 'retention'>): number {
  return Math.max(1, Math.ceil(parseDuration(section.retention, 'logs.retention') / 86_400_000));
}
