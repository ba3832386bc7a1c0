// The alerting sections of the configuration: `rules` (which rule files,
// how often, for which tenant) and `alerting` (where alerts go: Alertmanagers,
// the built-in notifier's Alertmanager-format file, external labels).
// Composed into the whole in bin/config.ts.
import { z } from 'zod';
import { duration, type CoreConfig } from '../core/config.ts';

export const rulesSection = z
  .object({
    /** Rule files in Prometheus' format: paths or globs (fast-glob), read at start, on SIGHUP and on POST /-/reload. */
    files: z.array(z.string().min(1)).default([]),
    /** A group's evaluation interval when it sets none (Prometheus' global.evaluation_interval). */
    interval: duration.default('15s'),
    /** The tenant whose series the rule files read and write (API-loaded rules belong to the caller's tenant). */
    tenant: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('default'),
  })
  .prefault({});

export const alertingSection = z
  .object({
    /** Alertmanager base URLs (e.g. http://127.0.0.1:9093); alerts go to `<url>/api/v2/alerts`. */
    alertmanagers: z.array(z.string().url()).default([]),
    /** Prometheus' --rules.alert.resend-delay. */
    resendDelay: duration.default('1m'),
    /** Per post to an Alertmanager or a webhook: a receiver that hangs does not hold up the others. */
    timeout: duration.default('10s'),
    /** Labels added to every alert (Prometheus' global.external_labels); a rule's own label wins. */
    externalLabels: z.record(z.string(), z.string()).default({}),
    /** The base of generatorURL and the templates' $externalURL. */
    externalUrl: z.string().default('http://127.0.0.1:8080'),
    /** The built-in notifier: an Alertmanager configuration file (route, receivers with webhook_configs, inhibit_rules). */
    notifier: z.string().min(1).optional(),
    /** Beyond this many notifications a minute to one receiver, one summary notification instead of the flood. */
    receiverRateLimit: z.number().int().positive().default(30),
  })
  .prefault({});

export type RulesConfig = z.output<typeof rulesSection>;
export type AlertingConfig = z.output<typeof alertingSection>;

/** What the alerting service reads of the configuration. */
export type AlertingAppConfig = CoreConfig & { rules: RulesConfig; alerting: AlertingConfig };
