// Starts the collector's pull sources for a running engine: the built-in host
// source and one scrape loop per configured target, all sharing one series
// resolver, each stopped when the engine closes. The push receivers
// (remote_write, JSON, import) are routes: see collector/routes.ts.
import type { AppContext } from '../core/context.ts';
import type { CollectorConfig } from './config.ts';
import { parseDuration } from '../core/duration.ts';
import { HostSource } from './host.ts';
import { ScrapeLoop, scrapeTarget } from './scrape.ts';
import { SeriesResolver } from './series-resolver.ts';
import { collectorMetrics } from './self-metrics.ts';

export interface RunningCollectors {
  readonly host: HostSource | null;
  readonly scrapes: readonly ScrapeLoop[];
}

/** Starts the host source and scrape loops per ctx.config.collector (only in the `all` and `collector` roles). */
export async function startCollectors(ctx: AppContext<CollectorConfig>): Promise<void> {
  await startCollectorSources(ctx);
}

/** As startCollectors, returning what it started (for tests and the engine's status). */
export async function startCollectorSources(ctx: AppContext<CollectorConfig>): Promise<RunningCollectors> {
  const { config } = ctx;
  if (config.role !== 'all' && config.role !== 'collector') return { host: null, scrapes: [] };
  const metrics = collectorMetrics(ctx.registry);
  const resolver = new SeriesResolver();
  // Validate every target before starting any, so a bad entry fails start-up naming it.
  const targets = config.collector.scrape.map((t, i) => scrapeTarget(t, `collector.scrape[${i}]`));
  let host: HostSource | null = null;
  if (config.collector.host.enabled) {
    host = new HostSource({
      bus: ctx.bus,
      tenant: config.tenant,
      log: ctx.log,
      intervalMs: parseDuration(config.collector.host.interval, 'collector.host.interval'),
      metrics,
      resolver,
    });
    host.start();
    const started = host;
    ctx.onClose(() => started.stop());
  }
  const scrapes = targets.map((target) => {
    const loop = new ScrapeLoop(target, { bus: ctx.bus, tenant: config.tenant, log: ctx.log, metrics, resolver });
    loop.start();
    ctx.onClose(() => loop.stop());
    return loop;
  });
  ctx.log.info({ host: host !== null, scrapeTargets: scrapes.length }, 'collector sources started');
  return { host, scrapes };
}
