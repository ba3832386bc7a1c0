// The Kafka bus: the Bus interface over Apache Kafka through kafkajs, for
// the distributed deployment where collectors and ingesters are separate
// processes. This facade owns only the composition and the lifecycle: it
// builds the parts, connects them in the background (a broker that is down
// must not stop the engine from starting), and closes them in order. The
// parts, each in a module of its own beside this one: options.ts (options
// and defaults), connection.ts (kafkajs client, link state, readiness),
// admin.ts (topics, partition checks), producer.ts (queue, linger, send
// loop, idempotent producer), consumer.ts (deliveries, commits, dead
// letters) with delivery-intent.ts (the commit-metadata protocol), lag.ts
// (depth), partitioning.ts, metrics.ts and snappy.ts. The message encoding
// lives in core/sample-codec.ts.
import type { Bus, DeliveryHandler, Topic, TopicPayloads } from '../bus.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { KafkaTopicAdmin } from './admin.ts';
import { kafkaClient, KafkaLink, sleep } from './connection.ts';
import { KafkaConsumerSide } from './consumer.ts';
import { KafkaLag } from './lag.ts';
import { busMetrics, type BusMetrics } from './metrics.ts';
import { kafkaTopicName, resolveKafkaBusOptions, type KafkaBusOptions, type ResolvedKafkaBusOptions } from './options.ts';
import { KafkaProducerSide } from './producer.ts';
// Registers snappy with kafkajs, for producing and consuming alike.
import './snappy.ts';

export { TopicPartitionsError } from './admin.ts';
export { kafkaBusOptions, TOPICS, type KafkaBusOptions, type KafkaCompression } from './options.ts';
export { partitionSampleBatch, seriesPartition } from './partitioning.ts';

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly options: ResolvedKafkaBusOptions;
  private readonly log: Logger;
  private readonly metrics: BusMetrics;
  private readonly link = new KafkaLink();
  private readonly topics: KafkaTopicAdmin;
  private readonly lag: KafkaLag;
  private readonly producer: KafkaProducerSide;
  private readonly consumers: KafkaConsumerSide;
  private readonly connecting: Promise<void>;

  constructor(options: KafkaBusOptions) {
    this.options = resolveKafkaBusOptions(options);
    this.log = (options.logger ?? silentLogger).child({ component: 'kafka-bus' });
    this.metrics = busMetrics(options.registry, this);
    const kafka = kafkaClient(options, this.log);
    this.topics = new KafkaTopicAdmin(kafka.admin(), this.options, this.log);
    this.lag = new KafkaLag(this.options, this.link, this.topics, this.metrics, this.log);
    this.producer = new KafkaProducerSide(kafka, this.options, this.link, this.topics, this.lag, this.metrics, this.log);
    // A broker that is down must not stop the engine from starting: connect in the background.
    this.connecting = this.connectLoop();
    this.consumers = new KafkaConsumerSide(kafka, this.options, this.link, this.connecting, this.topics, this.producer, this.lag, this.metrics, this.log);
  }

  /** Bytes accepted by publish() and not yet acknowledged. */
  get pendingBytes(): number {
    return this.producer.pendingBytes;
  }

  /** Full Kafka topic name of a bus topic. */
  topicName(topic: Topic | 'dead-letter'): string {
    return kafkaTopicName(this.options, topic);
  }

  private async connectLoop(): Promise<void> {
    let said = false;
    let delay = 300;
    while (!this.link.closed) {
      try {
        await this.topics.admin.connect();
        await this.topics.ensureTopics();
        await this.producer.connect();
        this.link.markConnected();
        if (said) this.log.info({ brokers: this.options.brokers }, 'kafka reachable again; bus ready');
        this.link.releaseReadyWaiters();
        this.lag.schedule(0);
        this.producer.kick();
        return;
      } catch (e) {
        this.link.lastProblem = e as Error;
        this.metrics.retries.inc({ operation: 'connect' });
        if (!said) {
          // Once, not on every attempt: a broker down for an hour must not flood the log.
          this.log.error({ brokers: this.options.brokers, err: (e as Error).message }, 'kafka not ready; retrying in the background');
          said = true;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /** Resolves when connected with the topics in place; rejects with the last problem (e.g. TopicPartitionsError) after timeoutMs. */
  whenReady(timeoutMs: number): Promise<void> {
    return this.link.whenReady(timeoutMs);
  }

  /** Why the bus is not ready, if it is not. */
  problem(): string | null {
    return this.link.problem();
  }

  /**
   * Resolves once the broker has acknowledged the payload (acks from all
   * in-sync replicas), so a collector that crashes after publish() returned
   * loses nothing. Waits while maxPendingBytes are unacknowledged.
   */
  publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    return this.producer.publish(topic, payload);
  }

  saturated(): boolean {
    return !this.ready() || this.producer.full();
  }

  /** Starts a consumer for one topic in the group `<groupId>.<topic>` (see consumer.ts); resolves at once, the consumer joins in the background. */
  consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void> {
    return this.consumers.consume(topic, handler);
  }

  /** Partitions of `topic` assigned to this process's consumer (for status pages and tests). */
  assignment(topic: Topic): number[] {
    return this.consumers.assignment(topic);
  }

  /** Lag = high watermark − committed offset (or − log start when nothing is committed), summed per topic. */
  refreshLag(): Promise<Record<Topic, number>> {
    return this.lag.refresh();
  }

  /** Consumer lag per topic in the bus's units (see lag.ts). */
  depth(): Record<Topic, number> {
    return this.lag.depth();
  }

  ready(): boolean {
    return this.link.ready();
  }

  /** Sends what publish() accepted (for up to 10 s), then leaves the group and disconnects. */
  async close(): Promise<void> {
    if (this.link.closed) return;
    this.link.closed = true;
    this.lag.stop();
    this.producer.wakePublishers();
    this.link.releaseReadyWaiters();
    await this.producer.drain();
    await this.consumers.disconnect();
    await this.producer.disconnect();
    await this.topics.admin.disconnect().catch(() => undefined);
    await this.connecting.catch(() => undefined);
  }
}
