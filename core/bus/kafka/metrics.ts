// The Kafka bus's self-metrics (prom-client), registered in the registry the
// engine passes in so they appear at /metrics next to everything else.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the metrics read from the bus when scraped. */
export interface BusMetricsSource {
  readonly pendingBytes: number;
  ready(): boolean;
}

export interface BusMetrics {
  lag: Gauge;
  producedMessages: Counter;
  producedUnits: Counter;
  producedBytes: Counter;
  consumedMessages: Counter;
  consumedUnits: Counter;
  batchUnits: Histogram;
  retries: Counter;
  deadLetters: Counter;
  pendingBytes: Gauge;
  ready: Gauge;
}

export function busMetrics(registry: Registry | undefined, bus: BusMetricsSource): BusMetrics {
  const registers = registry ? [registry] : [];
  return {
    lag: new Gauge({ name: 'tidemark_kafka_consumer_lag', help: 'Messages not yet committed by the consumer group, per partition.', labelNames: ['topic', 'partition'], registers }),
    producedMessages: new Counter({ name: 'tidemark_kafka_produced_messages_total', help: 'Messages acknowledged by the broker.', labelNames: ['topic'], registers }),
    producedUnits: new Counter({ name: 'tidemark_kafka_produced_units_total', help: 'Samples (metrics) or records (logs, probes) acknowledged by the broker.', labelNames: ['topic'], registers }),
    producedBytes: new Counter({ name: 'tidemark_kafka_produced_bytes_total', help: 'Encoded bytes acknowledged by the broker (before compression).', labelNames: ['topic'], registers }),
    consumedMessages: new Counter({ name: 'tidemark_kafka_consumed_messages_total', help: 'Messages handed to a consumer and committed.', labelNames: ['topic'], registers }),
    consumedUnits: new Counter({ name: 'tidemark_kafka_consumed_units_total', help: 'Samples or records handed to a consumer and committed.', labelNames: ['topic'], registers }),
    batchUnits: new Histogram({
      name: 'tidemark_kafka_batch_units',
      help: 'Samples or records per produce request (direction=produce) or per delivery (direction=consume).',
      labelNames: ['topic', 'direction'],
      buckets: [1, 10, 100, 1_000, 10_000, 50_000, 100_000, 500_000, 1_000_000],
      registers,
    }),
    retries: new Counter({ name: 'tidemark_kafka_retries_total', help: 'Retried operations: produce requests, failed deliveries, connection attempts.', labelNames: ['operation'], registers }),
    deadLetters: new Counter({ name: 'tidemark_kafka_dead_letters_total', help: 'Undecodable messages moved to the dead-letter topic.', labelNames: ['topic', 'reason'], registers }),
    pendingBytes: new Gauge({ name: 'tidemark_kafka_pending_bytes', help: 'Bytes accepted by publish() and not yet acknowledged by the broker.', registers, collect() { this.set(bus.pendingBytes); } }),
    ready: new Gauge({ name: 'tidemark_kafka_ready', help: '1 when connected to the broker with the topics in place.', registers, collect() { this.set(bus.ready() ? 1 : 0); } }),
  };
}
