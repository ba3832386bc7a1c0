// The Kafka bus's options: what a caller may set (KafkaBusOptions), the
// defaults the bus fills in, the options taken from the typed config, and
// the bus topics with their full Kafka names. Every other module of the bus
// reads the resolved options from here.
import type { Registry } from 'prom-client';
import type { Topic } from '../bus.ts';
import type { CoreConfig } from '../../config.ts';
import type { Logger } from '../../log.ts';

export const TOPICS: readonly Topic[] = ['metrics', 'logs', 'probes'];

export type KafkaCompression = 'none' | 'gzip' | 'snappy';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Consumer groups are `<groupId>.<topic>`, see consume(). */
  groupId: string;
  topicPrefix: string;
  partitions: number;
  replicationFactor: number;
  registry?: Registry;
  logger?: Logger;
  compression?: KafkaCompression;
  /** Bytes accepted but not yet acknowledged by the broker before publish() waits and saturated() says so. */
  maxPendingBytes?: number;
  /** Flush once this many bytes are queued, without waiting for lingerMs. */
  maxRequestBytes?: number;
  /** How long a queued message waits for others to share its produce request. */
  lingerMs?: number;
  /** Largest message we produce; below the broker's message.max.bytes (1 MiB by default). */
  maxMessageBytes?: number;
  /** How often consumer lag (depth) and broker reachability are refreshed. */
  lagIntervalMs?: number;
  consumer?: {
    sessionTimeout?: number;
    heartbeatInterval?: number;
    rebalanceTimeout?: number;
    maxBytesPerPartition?: number;
    /** The broker holds a fetch until this many bytes are there or maxWaitTimeInMs passed: larger deliveries, larger inserts. */
    minBytes?: number;
    maxWaitTimeInMs?: number;
    /** Wait before redelivering a delivery whose handler failed. */
    retryDelayMs?: number;
    /** Fetched bytes waiting for the handler before fetching pauses (fetching runs ahead of storing up to this). */
    maxQueuedBytes?: number;
    /** Most units (samples, records) one delivery hands over: one partition's run gathered while the previous delivery was stored. */
    maxDeliveryUnits?: number;
  };
}

/** The options with every default filled in, as the bus's modules read them. */
export type ResolvedKafkaBusOptions = Required<Omit<KafkaBusOptions, 'registry' | 'logger' | 'consumer'>> & { consumer: NonNullable<KafkaBusOptions['consumer']> };

/** Options from the typed config; the rest keep their defaults. */
export function kafkaBusOptions(config: CoreConfig, extra: Partial<KafkaBusOptions> = {}): KafkaBusOptions {
  return { ...config.kafka, ...extra };
}

/** Fills in the defaults; throws naming the broker that is not host:port. */
export function resolveKafkaBusOptions(options: KafkaBusOptions): ResolvedKafkaBusOptions {
  const resolved = {
    compression: 'snappy' as const,
    maxPendingBytes: 64 * 1024 * 1024,
    maxRequestBytes: 4 * 1024 * 1024,
    lingerMs: 5,
    maxMessageBytes: 900 * 1024,
    lagIntervalMs: 5_000,
    ...options,
    consumer: { sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 20_000, maxBytesPerPartition: 8 * 1024 * 1024, minBytes: 1024 * 1024, maxWaitTimeInMs: 250, retryDelayMs: 500, maxQueuedBytes: 64 * 1024 * 1024, maxDeliveryUnits: 1_000_000, ...options.consumer },
  };
  for (const b of options.brokers) {
    if (!/^[^\s:]+:\d+$/.test(b)) throw new Error(`kafka.brokers: "${b}" is not host:port`);
  }
  return resolved;
}

/** Full Kafka topic name of a bus topic. */
export function kafkaTopicName(options: Pick<KafkaBusOptions, 'topicPrefix'>, topic: Topic | 'dead-letter'): string {
  return `${options.topicPrefix}${topic}`;
}

/** The consumer group of one bus topic: a group per topic, see consumer.ts. */
export function consumerGroup(options: Pick<KafkaBusOptions, 'groupId'>, topic: Topic): string {
  return `${options.groupId}.${topic}`;
}
