// The Kafka bus's producer side: the queue of accepted messages with its
// backpressure (maxPendingBytes), the linger that lets publishes share a
// produce request, the send loop (one request at a time, transient failures
// retried in order without limit, rejected ones failed to their publishers),
// and the idempotent kafkajs producer, reset with a new producer id only
// when the broker rejects its sequence state. Encoding and request planning
// are in messages.ts.
import kafkajs from 'kafkajs';
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { BusClosedError, type Topic, type TopicPayloads } from '../bus.ts';
import type { Logger } from '../../log.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { sleep, type KafkaClient, type KafkaLink } from './connection.ts';
import type { KafkaLag } from './lag.ts';
import { encodeMessages, nextRequest, type OutgoingMessage } from './messages.ts';
import type { BusMetrics } from './metrics.ts';
import { kafkaTopicName, type KafkaCompression, type ResolvedKafkaBusOptions } from './options.ts';

const { CompressionTypes, Partitioners } = kafkajs;

const COMPRESSION: Record<KafkaCompression, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
};

const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** One publish() call: resolves when the last of its messages is acknowledged. */
interface PendingPublish {
  remaining: number;
  failed: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface QueuedMessage extends OutgoingMessage {
  owner: PendingPublish;
}

export class KafkaProducerSide {
  private producer: Producer;
  /** Messages accepted by publish() and not yet sent, in publish order. */
  private readonly queue: QueuedMessage[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  /** Bytes accepted by publish() and not yet acknowledged. */
  pendingBytes = 0;
  private queuedBytes = 0;
  private sending = false;
  private lingerTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: ResolvedKafkaBusOptions,
    private readonly link: KafkaLink,
    private readonly topics: KafkaTopicAdmin,
    private readonly lag: KafkaLag,
    private readonly metrics: BusMetrics,
    private readonly log: Logger,
  ) {
    this.producer = this.newProducer();
  }

  /** The current kafkajs producer (it is replaced on a reset; the dead-letter writer sends through it). */
  get client(): Producer {
    return this.producer;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }

  private newProducer(): Producer {
    // Idempotent with one request in flight: broker-side sequence numbers drop a retried
    // request that had in fact been written, and ordering per partition is kept.
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 5 },
    });
  }

  /**
   * Resolves once the broker has acknowledged the payload (acks from all
   * in-sync replicas), so a collector that crashes after publish() returned
   * loses nothing. Waits while maxPendingBytes are unacknowledged.
   */
  async publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    if (this.link.closed) throw new BusClosedError();
    const messages = encodeMessages(topic, payload, this.topics.partitions(topic), this.options.maxMessageBytes);
    if (messages.length === 0) return;
    const bytes = messages.reduce((sum, m) => sum + m.value.length, 0);
    // A payload larger than the whole bound goes through alone rather than waiting forever.
    while (!this.link.closed && this.pendingBytes > 0 && this.pendingBytes + bytes > this.options.maxPendingBytes) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.link.closed) throw new BusClosedError();
    this.pendingBytes += bytes;
    this.queuedBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      const owner: PendingPublish = { remaining: messages.length, failed: false, resolve, reject };
      for (const m of messages) this.queue.push({ ...m, owner });
      if (this.queuedBytes >= this.options.maxRequestBytes) this.kick();
      else if (!this.lingerTimer) this.lingerTimer = setTimeout(() => this.kick(), this.options.lingerMs);
    });
  }

  /** maxPendingBytes are unacknowledged: a publish now would wait. */
  full(): boolean {
    return this.pendingBytes >= this.options.maxPendingBytes;
  }

  /** Sends what is queued now rather than after the linger. */
  kick(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (!this.sending) void this.sendLoop();
  }

  /** One produce request at a time (what maxInFlightRequests: 1 allows anyway); publishes queued meanwhile share the next one. */
  private async sendLoop(): Promise<void> {
    this.sending = true;
    let failures = 0;
    try {
      while (this.queue.length > 0 && this.link.connected) {
        const { take, bytes } = this.nextRequest();
        try {
          await this.send(take);
          failures = 0;
          this.link.reachable = true;
          for (const m of take) {
            if (--m.owner.remaining === 0 && !m.owner.failed) m.owner.resolve();
          }
          this.release(bytes);
        } catch (e) {
          const error = e as Error & { type?: string; retriable?: boolean };
          if (error.type === 'MESSAGE_TOO_LARGE' || error.type === 'RECORD_LIST_TOO_LARGE' || error.type === 'INVALID_RECORD') {
            // Not retriable: the publishes get the error naming the topic; the bus keeps running.
            const topics = [...new Set(take.map((m) => kafkaTopicName(this.options, m.topic)))].join(', ');
            const largest = Math.max(...take.map((m) => m.value.length));
            const rejection = new Error(`kafka rejected a produce to ${topics}: ${error.type} (largest message ${largest} bytes; kafka bus maxMessageBytes ${this.options.maxMessageBytes})`);
            this.log.error({ topics, type: error.type, largest }, rejection.message);
            for (const m of take) {
              m.owner.remaining--;
              if (!m.owner.failed) m.owner.reject(rejection);
              m.owner.failed = true;
            }
            this.release(bytes);
            continue;
          }
          // Anything else is treated as transient (broker down, leader moving): put the
          // messages back at the head, in order, and retry without limit.
          this.queue.unshift(...take);
          this.queuedBytes += bytes;
          failures++;
          this.metrics.retries.inc({ operation: 'produce' });
          if (failures === 1) this.log.warn({ err: error.message }, 'kafka produce failed; retrying');
          this.link.reachable = false;
          if (this.link.closed && failures > 3) break;
          // Only a producer whose sequence state the broker no longer accepts starts afresh
          // (a new producer id): resetting on mere connection errors would resend a request
          // the broker may have written under the old id, and duplicate it.
          if (error.type !== undefined && PRODUCER_STATE_ERRORS.has(error.type)) await this.resetProducer();
          await sleep(Math.min(200 * 2 ** Math.min(failures, 4), 3_000));
        }
      }
    } finally {
      this.sending = false;
    }
    if (this.link.closed && this.queue.length > 0) this.rejectQueued();
  }

  private rejectQueued(): void {
    for (const m of this.queue.splice(0)) {
      if (!m.owner.failed) m.owner.reject(new BusClosedError());
      m.owner.failed = true;
    }
  }

  /** The next produce request, taken from the queue in order (see nextRequest in messages.ts). */
  private nextRequest(): { take: QueuedMessage[]; bytes: number } {
    const { take, rest, bytes } = nextRequest(this.queue, this.options.maxRequestBytes, this.options.maxMessageBytes);
    this.queue.length = 0;
    this.queue.push(...rest);
    this.queuedBytes -= bytes;
    return { take, bytes };
  }

  private release(bytes: number): void {
    this.pendingBytes -= bytes;
    this.wakePublishers();
  }

  /** Lets every publish() waiting for room look again (on acknowledgement, and on close). */
  wakePublishers(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }

  private async send(messages: OutgoingMessage[]): Promise<void> {
    const byTopic = new Map<Topic, Message[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push({ partition: m.partition, key: String(m.partition), value: m.value, headers: { units: String(m.units) } });
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, list]) => ({ topic: kafkaTopicName(this.options, topic), messages: list }));
    await this.producer.sendBatch({ topicMessages, acks: -1, timeout: 30_000, compression: COMPRESSION[this.options.compression] });
    const unitsByTopic = new Map<Topic, number>();
    for (const m of messages) {
      this.metrics.producedMessages.inc({ topic: m.topic });
      this.metrics.producedUnits.inc({ topic: m.topic }, m.units);
      this.metrics.producedBytes.inc({ topic: m.topic }, m.value.length);
      unitsByTopic.set(m.topic, (unitsByTopic.get(m.topic) ?? 0) + m.units);
      this.lag.noteUnits(m.topic, m.units);
    }
    for (const [topic, units] of unitsByTopic) this.metrics.batchUnits.observe({ topic, direction: 'produce' }, units);
  }

  /** A producer whose sequence state the broker rejects starts afresh with a new producer id. */
  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.disconnect().catch(() => undefined);
    await this.producer.connect().catch(() => undefined);
  }

  /** On close: sends what publish() accepted (for up to 10 s, if connected), then fails what is left with BusClosedError. */
  async drain(): Promise<void> {
    if (this.queue.length > 0 && this.link.connected) {
      this.kick();
      const deadline = Date.now() + 10_000;
      while ((this.queue.length > 0 || this.sending) && Date.now() < deadline) await sleep(20);
    }
    this.rejectQueued();
  }
}
