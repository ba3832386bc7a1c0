// The engine: opens the store, runs migrations, and starts the parts this
// process's role asks for (sources and receivers, the ingester, the query
// API) with the bus between them. The only place that knows every domain.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { Store } from '../core/store.ts';
import { migrate, schemaContext, type Migration } from '../core/migrations.ts';
import { metricsMigrations } from '../metrics/schema.ts';
import { metricsRoutes } from '../metrics/routes.ts';
import { prometheusApiRoutes } from '../metrics/prometheus-api/routes.ts';
import { MemoryBus } from '../core/bus/memory-bus.ts';
import { KafkaBus, kafkaBusOptions } from '../core/bus/kafka/kafka-bus.ts';
import type { Bus } from '../core/bus/bus.ts';
import { createHttpServer, type RouteModule } from '../core/http.ts';
import { healthRoutes } from '../core/health.ts';
import { createLogger, type Logger } from '../core/log.ts';
import type { AppContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { Ingester, ingesterMetrics } from '../metrics/ingester.ts';
import { AnnouncementLedger, RollupLoop } from '../metrics/rollups.ts';
import { collectorRoutes } from '../collector/routes.ts';
import { startCollectors } from '../collector/sources.ts';
import { slaMigrations } from '../sla/schema.ts';
import { slaRoutes } from '../sla/routes.ts';
import { startSla } from '../sla/service.ts';
import { autoscalerMigrations } from '../autoscaler/decision-log.ts';
import { autoscalerRoutes } from '../autoscaler/routes.ts';
import { startAutoscaling } from '../autoscaler/service.ts';
import { authMigrations } from '../core/auth/schema.ts';
import { createAuth } from '../core/auth/service.ts';
import { alertingMigrations } from '../alerting/schema.ts';
import { alertingRoutes } from '../alerting/routes.ts';
import { startAlerting } from '../alerting/service.ts';
import { applyLogsRetention, logsMigrations } from '../logs/schema.ts';
import { logsRetentionDays } from '../logs/config.ts';
import { LogsConsumer } from '../logs/consumer.ts';
import { logsIngestRoutes, logsSearchRoutes } from '../logs/routes.ts';
import { startLogFiles } from '../logs/files.ts';
import { lokiQueryRoutes } from '../logs/logql/routes.ts';

export interface Engine {
  readonly app: FastifyInstance;
  readonly ctx: AppContext<Config>;
  /** The address the API listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  close(): Promise<void>;
}

const MIGRATIONS: Migration[] = [...metricsMigrations, ...slaMigrations, ...autoscalerMigrations, ...authMigrations, ...alertingMigrations];

async function createBus(config: Config, registry: Registry, log: Logger): Promise<Bus> {
  if (config.bus.kind === 'memory') {
    if (config.role !== 'all') throw new Error(`role "${config.role}" needs the kafka bus (--bus kafka): the memory bus lives inside one process`);
    const options = {
      capacity: config.bus.capacity,
      maxDelivery: config.ingester.maxBatch,
      lingerMs: Math.min(parseDuration(config.ingester.maxWait), 200),
    };
    if (config.bus.acknowledge === 'stored') {
      // Group commit: a publish resolves once its samples are stored, so a receiver's 2xx means stored.
      return new MemoryBus({ ...options, acknowledge: 'stored' });
    }
    // A publish resolves once its payload is durably in the bus log; what the log holds unhandled is replayed first.
    const dir = config.bus.logDir ?? join(config.store.dataPath, 'bus-log');
    const bus = await MemoryBus.open({ ...options, acknowledge: 'logged', log: { dir, segmentBytes: config.bus.segmentBytes } });
    if (bus.recovery && (bus.recovery.replayed > 0 || bus.recovery.torn.length > 0)) log.warn({ dir, ...bus.recovery }, 'bus log replayed');
    busLogMetrics(registry, bus);
    return bus;
  }
  // Connects in the background: a broker that is down at start shows on /readyz, not as a crash.
  return new KafkaBus(kafkaBusOptions(config, { registry, logger: log }));
}

/** The bus log's counters: how many publishes share a sync, and what the syncs cost. */
function busLogMetrics(registry: Registry, bus: MemoryBus): void {
  const stat = (name: string, help: string, read: (s: NonNullable<ReturnType<MemoryBus['logStats']>>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const s = bus.logStats();
        if (!s) return;
        this.reset();
        this.inc(read(s));
      },
    });
  stat('tidemark_bus_log_appends_total', 'Entries appended to the bus log (payloads, delivery intents, handled marks).', (s) => s.appends);
  stat('tidemark_bus_log_syncs_total', 'write+fdatasync rounds of the bus log (appends made meanwhile share one).', (s) => s.syncs);
  stat('tidemark_bus_log_sync_seconds_total', 'Seconds spent in fdatasync of the bus log.', (s) => s.syncSeconds);
  stat('tidemark_bus_log_round_seconds_total', 'Seconds from the start of each write+sync round of the bus log until its appends were durable.', (s) => s.roundSeconds);
  stat('tidemark_bus_log_bytes_total', 'Bytes written to the bus log.', (s) => s.bytes);
  stat('tidemark_bus_log_segments_deleted_total', 'Bus log segments deleted once everything in them was stored.', (s) => s.segmentsDeleted);
}

/** Samples per second over the last ten seconds, from a running total sampled every second. */
function ingestRateMeter(total: () => number): { perSecond(): number; stop(): void } {
  const window: number[] = [total()];
  const timer = setInterval(() => {
    window.push(total());
    if (window.length > 11) window.shift();
  }, 1000);
  timer.unref();
  return {
    perSecond: () => (window.length < 2 ? 0 : (window[window.length - 1]! - window[0]!) / (window.length - 1)),
    stop: () => clearInterval(timer),
  };
}

export async function startEngine(config: Config, log: Logger = createLogger()): Promise<Engine> {
  const closers: (() => Promise<void> | void)[] = [];
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tidemark_process_' });
  const store = await Store.open({ ...config.store });
  closers.push(() => store.close());
  const applied = await migrate(store, schemaContext(store, config.store), [...MIGRATIONS, ...logsMigrations(logsRetentionDays(config.logs))]);
  if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.component}/${m.version}`) }, 'schema migrated');
  if (await applyLogsRetention(store, schemaContext(store, config.store), logsRetentionDays(config.logs))) log.info({ retention: config.logs.retention }, 'logs retention changed');
  const bus = await createBus(config, registry, log);
  closers.unshift(() => bus.close());
  const ctx: AppContext<Config> = { config, store, bus, log, registry, onClose: (fn) => closers.unshift(fn) };

  const role = config.role;
  let ingester: Ingester | null = null;
  if (role === 'all' || role === 'ingester') {
    // The roll-up loop here: a minute is announced once until the loop takes it (metrics/rollups.ts).
    const ledger = config.ingester.rollup ? new AnnouncementLedger() : undefined;
    ingester = new Ingester(store, ingesterMetrics(registry, bus), log, { ledger, boundByStart: config.bus.kind !== 'kafka' });
    await ingester.start(bus);
    await new LogsConsumer(store, registry, log).start(bus);
    if (config.ingester.rollup) {
      const rollups = new RollupLoop(store, log, { everyMs: parseDuration(config.ingester.rollupEvery), graceMs: parseDuration(config.ingester.rollupGrace), ledger });
      rollups.start();
      // Stopped before the bus drains: what is not rolled yet stays announced for the next life.
      closers.unshift(() => rollups.stop());
    }
  }
  const rate = ingestRateMeter(() => ingester?.stored ?? 0);
  closers.unshift(() => rate.stop());

  const auth = createAuth(config, store, log);
  const app = createHttpServer({ bodyLimit: config.server.bodyLimit, log, tls: config.server.tls, auth: auth.setup });
  const routes: RouteModule<Config>[] = [];
  if (role === 'all' || role === 'collector') routes.push(collectorRoutes, logsIngestRoutes);
  if (role === 'all' || role === 'api') routes.push(metricsRoutes, prometheusApiRoutes, slaRoutes, autoscalerRoutes, alertingRoutes, auth.routes, logsSearchRoutes, lokiQueryRoutes);
  for (const r of routes) await r(app, ctx);

  healthRoutes(app, {
    store,
    bus,
    registry,
    status: () => ({
      role,
      store: store.embedded ? { kind: 'embedded', path: config.store.dataPath } : { kind: 'server', url: config.store.url },
      ingest: { samplesStored: ingester?.stored ?? null, samplesPerSecond: ingester ? rate.perSecond() : null },
    }),
  });

  await startCollectors(ctx);
  if (role === 'all' || role === 'collector') await startLogFiles(ctx);
  await startSla(ctx);
  // The loop reads the store and answers to the API role; collectors and ingesters scale nothing.
  if (role === 'all' || role === 'api') await startAutoscaling(ctx);
  // Rules read the store and write back through the bus: the API role evaluates them.
  if (role === 'all' || role === 'api') await startAlerting(ctx);

  const address = await app.listen({ host: config.server.host, port: config.server.port });
  log.info({ address, role, bus: bus.kind, store: store.embedded ? `embedded ${config.store.dataPath}` : config.store.url }, 'tidemark is up');

  let closed = false;
  return {
    app,
    ctx,
    url: address,
    // Shutdown: stop accepting requests and let those in flight finish (they wait for their
    // insert), stop the sources, drain the bus (everything acknowledged is stored), close the store.
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      for (const fn of closers) await fn();
    },
  };
}
