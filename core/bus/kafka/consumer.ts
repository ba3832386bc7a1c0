// The Kafka bus's consumer side: one kafkajs consumer per topic in its own
// group, joined in the background and restarted while the bus runs; each
// fetched batch decoded into a delivery, announced as a delivery intent in
// the commit metadata before the handler runs, retried with the same token
// until the handler stores it, and only then committed; undecodable messages
// moved to the dead-letter topic.
import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import { BusClosedError, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from '../bus.ts';
import type { Logger } from '../../log.ts';
import type { SampleBatch } from '../samples.ts';
import { CodecError, decodeRecords, decodeSampleBatch } from '../sample-codec.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { sleep, type KafkaClient, type KafkaLink } from './connection.ts';
import { deliveryToken, fetchCoversIntent, intentMetadata, unfinishedIntent, type DeliveryIntent } from './delivery-intent.ts';
import type { KafkaLag } from './lag.ts';
import type { BusMetrics } from './metrics.ts';
import { consumerGroup, kafkaTopicName, type ResolvedKafkaBusOptions } from './options.ts';
import type { KafkaProducerSide } from './producer.ts';

interface ConsumerState {
  consumer: Consumer;
  assignment: number[];
  /** Per partition, the delivery a previous owner announced and did not finish (null: none), read once per assignment. */
  intents: Map<number, DeliveryIntent | null>;
}

export class KafkaConsumerSide {
  private readonly consumers = new Map<Topic, ConsumerState>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly options: ResolvedKafkaBusOptions,
    private readonly link: KafkaLink,
    /** Resolves once the bus has connected (or closed): consumers join only then. */
    private readonly connecting: Promise<void>,
    private readonly topics: KafkaTopicAdmin,
    private readonly producer: KafkaProducerSide,
    private readonly lag: KafkaLag,
    private readonly metrics: BusMetrics,
    private readonly log: Logger,
  ) {}

  private topicName(topic: Topic | 'dead-letter'): string {
    return kafkaTopicName(this.options, topic);
  }

  /**
   * Starts a consumer for one topic in the group `<groupId>.<topic>`: a group per
   * topic because kafkajs' assigners hand every member partitions of every topic
   * any member subscribed to, so an ingester consuming only metrics could be
   * given log partitions it never reads. Resolves at once; the consumer joins in
   * the background (the broker may be down).
   */
  async consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void> {
    if (this.link.closed) throw new BusClosedError();
    if (this.consumers.has(topic)) throw new Error(`kafka bus: a consumer for ${topic} is already running in this process`);
    const c = this.options.consumer;
    const consumer = this.kafka.consumer({
      groupId: consumerGroup(this.options, topic),
      sessionTimeout: c.sessionTimeout,
      heartbeatInterval: c.heartbeatInterval,
      rebalanceTimeout: c.rebalanceTimeout,
      maxBytesPerPartition: c.maxBytesPerPartition,
      maxBytes: Math.max(32 * 1024 * 1024, c.maxBytesPerPartition! * 4),
      minBytes: c.minBytes,
      maxWaitTimeInMs: c.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 8, restartOnFailure: async () => !this.link.closed },
    });
    const state: ConsumerState = { consumer, assignment: [], intents: new Map() };
    this.consumers.set(topic, state);
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      state.assignment = [...(event.payload.memberAssignment[this.topicName(topic)] ?? [])].sort((a, b) => a - b);
      state.intents.clear();
      this.log.info({ topic, partitions: state.assignment }, 'kafka consumer joined its group');
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.log.warn({ topic, err: event.payload.error.message, restart: event.payload.restart }, 'kafka consumer crashed');
      this.metrics.retries.inc({ operation: 'consumer' });
    });
    void this.runConsumer(topic, state, handler);
  }

  private async runConsumer<T extends Topic>(topic: T, state: ConsumerState, handler: DeliveryHandler<T>): Promise<void> {
    await this.connecting;
    let said = false;
    while (!this.link.closed) {
      try {
        await state.consumer.connect();
        await state.consumer.subscribe({ topics: [this.topicName(topic)], fromBeginning: true });
        await state.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: (payload) => this.handleBatch(topic, state, payload, handler),
        });
        return;
      } catch (e) {
        this.metrics.retries.inc({ operation: 'consumer' });
        if (!said) this.log.error({ topic, err: (e as Error).message }, 'kafka consumer could not start; retrying');
        said = true;
        await state.consumer.disconnect().catch(() => undefined);
        await sleep(1_000);
      }
    }
  }

  /** Partitions of `topic` assigned to this process's consumer (for status pages and tests). */
  assignment(topic: Topic): number[] {
    return [...(this.consumers.get(topic)?.assignment ?? [])];
  }

  /** Leaves every group (uncommitted deliveries go to the partitions' next owners). */
  async disconnect(): Promise<void> {
    await Promise.all([...this.consumers.values()].map((c) => c.consumer.disconnect().catch(() => undefined)));
  }

  /**
   * The delivery a previous owner of the partition announced and may have
   * stored without committing (it crashed in between), if the group's
   * committed offset still stands at its start. Read once per assignment.
   */
  private async pendingIntent(topic: Topic, state: ConsumerState, partition: number): Promise<DeliveryIntent | null> {
    const known = state.intents.get(partition);
    if (known !== undefined) return known;
    const committed = await this.topics.committedOffsets(topic);
    const intent = unfinishedIntent(committed.find((p) => p.partition === partition));
    state.intents.set(partition, intent);
    return intent;
  }

  private async handleBatch<T extends Topic>(topic: T, state: ConsumerState, payload: EachBatchPayload, handler: DeliveryHandler<T>): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    let messages = batch.messages;
    let last = batch.lastOffset();
    // A replay after a crash must carry the same token as the delivery the crashed
    // owner may already have stored (the ingester's insert deduplication token), so
    // it is cut to exactly that range even if the fetch brought more.
    const intent = await this.pendingIntent(topic, state, batch.partition);
    if (intent) {
      state.intents.set(batch.partition, null);
      if (fetchCoversIntent(intent, messages[0]!.offset, last)) {
        messages = messages.filter((m) => BigInt(m.offset) <= intent.to);
        last = intent.to.toString();
        this.log.info({ topic: batch.topic, partition: batch.partition, from: String(intent.from), to: last }, 'replaying an unfinished delivery with its original range');
      } else {
        this.log.warn({ topic: batch.topic, partition: batch.partition, intent: `${intent.from}-${intent.to}`, fetched: `${messages[0]!.offset}-${last}` }, 'cannot replay an unfinished delivery with its original range; its token will differ');
      }
    }
    const first = messages[0]!.offset;
    const payloads: TopicPayloads[T][] = [];
    let units = 0;
    for (const message of messages) {
      const value = message.value;
      try {
        if (!value) throw new CodecError('truncated', 'message has no value');
        const decoded = (topic === 'metrics' ? decodeSampleBatch(value) : decodeRecords(topic as 'logs' | 'probes', value)) as TopicPayloads[T];
        payloads.push(decoded);
        const n = topic === 'metrics' ? (decoded as SampleBatch).length : (decoded as unknown[]).length;
        units += n;
        this.lag.noteUnits(topic, n);
      } catch (e) {
        await this.deadLetter(topic, batch, message.offset, value, e as Error);
      }
    }
    if (payloads.length > 0) {
      const delivery: Delivery<T> = { topic, payloads, token: deliveryToken(batch.topic, batch.partition, first, last) };
      // Announce the range before the handler stores anything: whoever replays it after a crash reads this back.
      await state.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: first, metadata: intentMetadata(first, last) }]);
      // A failed handler gets the same delivery (same token) again after a pause; nothing
      // is committed meanwhile. If the partition is taken away (rebalance) or the bus
      // stops, the uncommitted range is redelivered to whoever owns it next.
      for (let attempt = 0; ; attempt++) {
        try {
          await handler(delivery);
          break;
        } catch (e) {
          this.metrics.retries.inc({ operation: 'deliver' });
          if (attempt === 0) this.log.warn({ token: delivery.token, err: (e as Error).message }, 'delivery handler failed; not committing, will redeliver');
          if (this.link.closed || !payload.isRunning() || payload.isStale()) throw e;
          await sleep(Math.min(this.options.consumer.retryDelayMs! * 2 ** Math.min(attempt, 4), 10_000));
          await payload.heartbeat();
        }
      }
    }
    payload.resolveOffset(last);
    await payload.commitOffsetsIfNecessary({
      topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }],
    });
    this.metrics.consumedMessages.inc({ topic }, messages.length);
    this.metrics.consumedUnits.inc({ topic }, units);
    this.metrics.batchUnits.observe({ topic, direction: 'consume' }, units);
  }

  private async deadLetter(topic: Topic, batch: Batch, offset: string, value: Buffer | null, error: Error): Promise<void> {
    const reason = error instanceof CodecError ? error.reason : 'decode_failed';
    this.log.error({ topic: batch.topic, partition: batch.partition, offset, reason, err: error.message }, 'undecodable message moved to the dead-letter topic');
    // Retried until written: moving on without the dead letter would lose the message.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer.client.send({
          topic: this.topicName('dead-letter'),
          acks: -1,
          messages: [
            {
              value: value ?? Buffer.alloc(0),
              headers: {
                reason,
                error: error.message,
                'source-topic': batch.topic,
                'source-partition': String(batch.partition),
                'source-offset': offset,
              },
            },
          ],
        });
        break;
      } catch (e) {
        this.metrics.retries.inc({ operation: 'dead-letter' });
        if (this.link.closed) throw e;
        await sleep(Math.min(300 * 2 ** Math.min(attempt, 4), 5_000));
      }
    }
    this.metrics.deadLetters.inc({ topic, reason });
  }
}
