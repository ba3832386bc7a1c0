// The Kafka bus's consumer side: one kafkajs consumer per topic in its own
// group, joined in the background and restarted while the bus runs. Fetching
// and storing overlap: kafkajs' fetch loop only decodes each fetched batch
// into a per-partition queue (fetched.ts), bounded in bytes, while a delivery
// loop hands the handler, one delivery at a time, everything a partition
// gathered meanwhile. Each delivery is announced as a delivery intent in the
// commit metadata before the handler runs, retried with the same token until
// the handler stores it, and only then committed; undecodable messages are
// moved to the dead-letter topic as they are fetched.
import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import { BusClosedError, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from '../bus.ts';
import type { Logger } from '../../log.ts';
import type { SampleBatch } from '../samples.ts';
import { CodecError, decodeRecords, decodeSampleBatch } from '../sample-codec.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { sleep, type KafkaClient, type KafkaLink } from './connection.ts';
import { deliveryToken, intentMetadata, unfinishedIntent, type DeliveryIntent } from './delivery-intent.ts';
import { FetchedQueue, type FetchedMessage, type FetchedRun } from './fetched.ts';
import type { KafkaLag } from './lag.ts';
import type { BusMetrics } from './metrics.ts';
import { consumerGroup, kafkaTopicName, type ResolvedKafkaBusOptions } from './options.ts';
import type { KafkaProducerSide } from './producer.ts';

interface ConsumerState<T extends Topic> {
  topic: T;
  consumer: Consumer;
  assignment: number[];
  /** Bumped on every (re)join: work of an older generation is not committed for partitions no longer ours. */
  generation: number;
  /** Per partition, the delivery a previous owner announced and did not finish (null: none), read once per assignment. */
  intents: Map<number, DeliveryIntent | null>;
  /** Fetched, decoded, not yet handed over. */
  fetched: FetchedQueue<TopicPayloads[T]>;
  /** Wakes the delivery loop (something was fetched, or the bus is closing). */
  wake: (() => void) | null;
  /** Wakes fetches waiting for room in the queue. */
  roomWaiters: (() => void)[];
  /** The delivery loop; disconnect() waits for the delivery in hand to be stored and committed. */
  loop: Promise<void> | null;
  /** Per partition, the commit of a stored delivery still in flight: the next delivery goes on meanwhile, but not the same partition's intent. */
  finals: Map<number, Promise<unknown>>;
}

export class KafkaConsumerSide {
  private readonly consumers = new Map<Topic, ConsumerState<Topic>>();

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
    const state: ConsumerState<T> = { topic, consumer, assignment: [], generation: 0, intents: new Map(), fetched: new FetchedQueue(), wake: null, roomWaiters: [], loop: null, finals: new Map() };
    this.consumers.set(topic, state as unknown as ConsumerState<Topic>);
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      state.assignment = [...(event.payload.memberAssignment[this.topicName(topic)] ?? [])].sort((a, b) => a - b);
      state.generation++;
      state.intents.clear();
      // kafkajs fetches again from the committed offsets after a (re)join: what was waiting is fetched anew.
      state.fetched.clear();
      this.wakeFetches(state);
      this.log.info({ topic, partitions: state.assignment }, 'kafka consumer joined its group');
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.log.warn({ topic, err: event.payload.error.message, restart: event.payload.restart }, 'kafka consumer crashed');
      this.metrics.retries.inc({ operation: 'consumer' });
    });
    state.loop = this.deliveryLoop(state, handler);
    void this.runConsumer(topic, state);
  }

  private async runConsumer<T extends Topic>(topic: T, state: ConsumerState<T>): Promise<void> {
    await this.connecting;
    let said = false;
    while (!this.link.closed) {
      try {
        await state.consumer.connect();
        await state.consumer.subscribe({ topics: [this.topicName(topic)], fromBeginning: true });
        await state.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: (payload) => this.fetchedBatch(state, payload),
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

  /** Stops handing over deliveries (the one in hand is finished and committed), then leaves every group: what was not committed goes to the partitions' next owners. */
  async disconnect(): Promise<void> {
    for (const state of this.consumers.values()) {
      state.wake?.();
      this.wakeFetches(state);
    }
    await Promise.all([...this.consumers.values()].map((s) => s.loop));
    await Promise.all([...this.consumers.values()].flatMap((s) => [...s.finals.values()]));
    await Promise.all([...this.consumers.values()].map((c) => c.consumer.disconnect().catch(() => undefined)));
  }

  /**
   * The delivery a previous owner of the partition announced and may have
   * stored without committing (it crashed in between), if the group's
   * committed offset still stands at its start. Read once per assignment.
   */
  private async pendingIntent<T extends Topic>(state: ConsumerState<T>, partition: number): Promise<DeliveryIntent | null> {
    const known = state.intents.get(partition);
    if (known !== undefined) return known;
    const committed = await this.topics.committedOffsets(state.topic);
    const intent = unfinishedIntent(committed.find((p) => p.partition === partition));
    state.intents.set(partition, intent);
    return intent;
  }

  private wakeFetches<T extends Topic>(state: ConsumerState<T>): void {
    for (const w of state.roomWaiters.splice(0)) w();
  }

  /**
   * kafkajs' eachBatch: decodes the fetched messages into the queue and
   * returns, so that the next fetch runs while the handler stores. While the
   * queue is full it waits (heartbeating, so a long insert costs no rebalance).
   */
  private async fetchedBatch<T extends Topic>(state: ConsumerState<T>, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const generation = state.generation;
    // The intent is read before the partition's first delivery after an assignment is chosen.
    await this.pendingIntent(state, batch.partition);
    // A partition still fetching an announced range is never held back: a queue full of such partial ranges delivers nothing until they are whole.
    while (state.fetched.bytes >= this.options.consumer.maxQueuedBytes! && !state.intents.get(batch.partition) && !this.link.closed && payload.isRunning() && generation === state.generation) {
      await Promise.race([new Promise<void>((r) => state.roomWaiters.push(r)), sleep(this.options.consumer.heartbeatInterval!)]);
      await payload.heartbeat();
    }
    if (this.link.closed || !payload.isRunning() || payload.isStale() || generation !== state.generation) return;
    const messages: FetchedMessage<TopicPayloads[T]>[] = [];
    for (const message of batch.messages) {
      const value = message.value;
      let decoded: TopicPayloads[T] | null = null;
      let units = 0;
      try {
        if (!value) throw new CodecError('truncated', 'message has no value');
        decoded = (state.topic === 'metrics' ? decodeSampleBatch(value) : decodeRecords(state.topic as 'logs' | 'probes', value)) as TopicPayloads[T];
        units = state.topic === 'metrics' ? (decoded as SampleBatch).length : (decoded as unknown[]).length;
        this.lag.noteUnits(state.topic, units);
      } catch (e) {
        await this.deadLetter(state.topic, batch, message.offset, value, e as Error);
      }
      messages.push({ offset: BigInt(message.offset), payload: decoded, units, bytes: value?.length ?? 0 });
    }
    if (generation !== state.generation) return;
    state.fetched.add(batch.partition, messages, Date.now());
    // kafkajs fetches on from here; the group's committed offset moves only once the handler stored it.
    payload.resolveOffset(batch.lastOffset());
    state.wake?.();
  }

  /** Hands the fetched runs to the handler one at a time until the bus closes. */
  private async deliveryLoop<T extends Topic>(state: ConsumerState<T>, handler: DeliveryHandler<T>): Promise<void> {
    await this.connecting;
    while (!this.link.closed) {
      // Half the queue's bound in bytes: a run (so an announced range to replay) always fits in the queue.
      const run = state.fetched.next(this.options.consumer.maxDeliveryUnits!, this.options.consumer.maxQueuedBytes! / 2, (p) => state.intents.get(p) ?? null, Date.now());
      if (!run) {
        await new Promise<void>((r) => (state.wake = r));
        state.wake = null;
        continue;
      }
      this.wakeFetches(state);
      try {
        await this.deliver(state, run, handler);
      } catch (e) {
        this.log.error({ topic: state.topic, partition: run.partition, err: (e as Error).message }, 'kafka delivery failed');
      }
    }
  }

  /** Whether `partition` is (still, or again after a rejoin) assigned to this consumer. */
  private stillOurs<T extends Topic>(state: ConsumerState<T>, partition: number): boolean {
    return state.assignment.includes(partition);
  }

  private async deliver<T extends Topic>(state: ConsumerState<T>, run: FetchedRun<TopicPayloads[T]>, handler: DeliveryHandler<T>): Promise<void> {
    const { topic } = state;
    const kafkaTopic = this.topicName(topic);
    const { partition } = run;
    const first = run.first.toString();
    const last = run.last.toString();
    if (run.intent) {
      const intent = state.intents.get(partition);
      state.intents.set(partition, null);
      if (run.intent === 'replay') this.log.info({ topic: kafkaTopic, partition, from: first, to: last }, 'replaying an unfinished delivery with its original range');
      else this.log.warn({ topic: kafkaTopic, partition, intent: `${intent?.from}-${intent?.to}`, fetched: `${first}-${last}` }, 'cannot replay an unfinished delivery with its original range; its token will differ');
    }
    const payloads: TopicPayloads[T][] = [];
    let units = 0;
    for (const m of run.messages) {
      if (m.payload === null) continue;
      payloads.push(m.payload);
      units += m.units;
    }
    if (payloads.length > 0) {
      const delivery: Delivery<T> = { topic, payloads, token: deliveryToken(kafkaTopic, partition, first, last) };
      // Announce the range before the handler stores anything: whoever replays it after a crash reads this back.
      // The partition's previous commit lands first, or it could overwrite this intent.
      await state.finals.get(partition);
      if (!(await this.commit(state, partition, first, intentMetadata(first, last)))) return;
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
          if (this.link.closed || !this.stillOurs(state, partition)) return;
          await sleep(Math.min(this.options.consumer.retryDelayMs! * 2 ** Math.min(attempt, 4), 10_000));
          if (this.link.closed || !this.stillOurs(state, partition)) return;
        }
      }
    }
    state.fetched.markStored(partition, run.last);
    // Committed while the next delivery goes on (one broker round trip less on the delivery path; the
    // intent stands until it lands, so a crash meanwhile replays the same range with the same token).
    // Not committed at all (the partition moved on): its next owner replays the announced range likewise.
    await state.finals.get(partition);
    const final = this.commit(state, partition, (run.last + 1n).toString(), null).finally(() => {
      if (state.finals.get(partition) === final) state.finals.delete(partition);
    });
    state.finals.set(partition, final);
    this.metrics.consumedMessages.inc({ topic }, run.messages.length);
    this.metrics.consumedUnits.inc({ topic }, units);
    this.metrics.batchUnits.observe({ topic, direction: 'consume' }, units);
  }

  /**
   * Commits `offset` (with `metadata`) for a partition of ours, retried for as
   * long as it stays ours (kafkajs has already fetched past it: giving up while
   * it is ours would skip the run); false once it is not, or the bus closes.
   */
  private async commit<T extends Topic>(state: ConsumerState<T>, partition: number, offset: string, metadata: string | null): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await state.consumer.commitOffsets([{ topic: this.topicName(state.topic), partition, offset, metadata }]);
        return true;
      } catch (e) {
        this.metrics.retries.inc({ operation: 'commit' });
        if (attempt === 0) this.log.warn({ topic: state.topic, partition, offset, err: (e as Error).message }, 'kafka commit failed; retrying while the partition is ours');
        if (this.link.closed || !this.stillOurs(state, partition)) return false;
        await sleep(Math.min(200 * 2 ** Math.min(attempt, 4), 3_000));
      }
    }
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
