// The engine's whole configuration: the core sections plus each domain's
// own, composed here (bin/ is the one place that knows every domain).
import type { z } from 'zod';
import { coreConfigSchema, loadConfigWith, settleDefaults, type LoadConfigOptions } from '../core/config.ts';
import { ingesterSection, querySection } from '../metrics/config.ts';
import { collectorSection } from '../collector/config.ts';
import { settleSlaDefaults, slaSection } from '../sla/config.ts';
import { autoscalerSection } from '../autoscaler/config.ts';
import { alertingSection, rulesSection } from '../alerting/config.ts';
import { logsSection } from '../logs/config.ts';

export const configSchema = coreConfigSchema
  .extend({
    ingester: ingesterSection,
    query: querySection,
    collector: collectorSection,
    sla: slaSection,
    autoscaler: autoscalerSection,
    rules: rulesSection,
    alerting: alertingSection,
    logs: logsSection,
  })
  .transform((c) => settleSlaDefaults(settleDefaults(c)));

export type Config = z.output<typeof configSchema>;

export function loadConfig(options: LoadConfigOptions = {}): Config {
  return loadConfigWith(configSchema, options);
}
