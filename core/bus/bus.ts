// The bus between sources and ingesters. One interface; the in-process
// MemoryBus serves the embedded default, KafkaBus (core/bus/kafka/) the
// distributed deployment. Publishing awaits room (backpressure); a consumer's
// handler resolves only after the payload is durably stored, and only then
// is the delivery acknowledged.
import type { SampleBatch } from './samples.ts';
import type { LogRecord, ProbeResult } from './records.ts';

export interface TopicPayloads {
  metrics: SampleBatch;
  logs: LogRecord[];
  probes: ProbeResult[];
}

export type Topic = keyof TopicPayloads;

/** One or more payloads handed to a consumer together, with a token that is
 *  the same if the same deliveries are ever handed over again (a replay). */
export interface Delivery<T extends Topic> {
  readonly topic: T;
  readonly payloads: TopicPayloads[T][];
  /** Stable identity of this delivery (e.g. topic/partition/offset range); use it as the insert deduplication token. */
  readonly token: string;
}

/**
 * What became of a handled delivery: payloads the store refused for good
 * (retrying cannot fix them; they are dead-lettered), by index in
 * `payloads`, with the reason. Every other payload is stored.
 */
export interface DeliveryOutcome {
  readonly rejected?: ReadonlyMap<number, string>;
}

/** Resolves once the delivery is handled (stored, or refused for good as the outcome says); rejects to have it redelivered. */
export type DeliveryHandler<T extends Topic> = (delivery: Delivery<T>) => Promise<DeliveryOutcome | void>;

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  /**
   * Resolves once the payload is safe: stored by the consumer (the engine's
   * memory bus: group commit) or acknowledged by every in-sync replica
   * (Kafka, acks=all). Waits while the bus is full. Rejects with
   * PayloadRejectedError when the store refused this payload for good.
   */
  publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void>;
  /** True when a publish now would have to wait (receivers answer 429/503 instead of queueing). */
  saturated(): boolean;
  /** Starts delivering; the handler's promise must settle before the delivery is acknowledged. */
  consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void>;
  /** Payload units waiting to be consumed, per topic (samples for metrics, records otherwise). */
  depth(): Record<Topic, number>;
  /** Whether the bus can currently accept and deliver (Kafka: connected to the broker). */
  ready(): boolean;
  /** Why the bus is not ready, when it knows (Kafka: broker unreachable, a topic with too few partitions). */
  problem?(): string | null;
  close(): Promise<void>;
}

export class BusClosedError extends Error {
  constructor() {
    super('bus is closed');
    this.name = 'BusClosedError';
  }
}

/** The store refused a payload for good (e.g. too many partitions, a type error); it was dead-lettered, not stored. */
export class PayloadRejectedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PayloadRejectedError';
  }
}

/** Size of a payload in the bus's units: samples for metrics, records otherwise. */
export function payloadSize<T extends Topic>(topic: T, payload: TopicPayloads[T]): number {
  if (topic === 'metrics') return (payload as SampleBatch).length;
  return (payload as unknown[]).length;
}
