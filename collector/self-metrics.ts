// The collector's own metrics on the engine's prom-client registry: samples
// received per source, requests rejected by reason, scrape durations. One set
// per registry, shared by the routes and the sources that record into it.
import { Counter, Histogram, type Registry } from 'prom-client';

export type CollectorSource = 'remote_write' | 'push' | 'import' | 'scrape' | 'host';

export interface CollectorMetrics {
  readonly samplesReceived: Counter<'source'>;
  readonly requestsRejected: Counter<'source' | 'reason'>;
  readonly scrapeDuration: Histogram<'job'>;
}

const byRegistry = new WeakMap<Registry, CollectorMetrics>();

export function collectorMetrics(registry: Registry): CollectorMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = {
      samplesReceived: new Counter({
        name: 'tidemark_collector_samples_received_total',
        help: 'Samples accepted onto the bus, by source.',
        labelNames: ['source'],
        registers: [registry],
      }),
      requestsRejected: new Counter({
        name: 'tidemark_collector_requests_rejected_total',
        help: 'Requests or scrapes whose samples were not accepted, by source and reason.',
        labelNames: ['source', 'reason'],
        registers: [registry],
      }),
      scrapeDuration: new Histogram({
        name: 'tidemark_scrape_duration_seconds',
        help: 'Duration of scrapes of configured targets, by job.',
        labelNames: ['job'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
    };
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
