// The Kafka bus: the Bus interface over Apache Kafka through kafkajs, for
// the distributed deployment where collectors and ingesters are separate
// processes. Owns topic set-up, the wire partitioning of sample batches
// (one series always lands in one partition), the idempotent producer with
// its backpressure, the consumer that acknowledges (commits) only after the
// handler has stored a delivery, the dead-letter topic, and the bus's
// self-metrics. The message encoding lives in core/sample-codec.ts, the
// partitioning in core/bus/kafka/partitioning.ts, the metrics in core/bus/kafka/metrics.ts.
// kafkajs is CommonJS whose exports Node's ESM loader cannot all detect by name
// (CompressionCodecs among them): take the values from the default export.
import kafkajs from 'kafkajs';
import type { Admin, Batch, Consumer, EachBatchPayload, LogEntry, Message, Producer, TopicMessages } from 'kafkajs';
import type { Registry } from 'prom-client';
import './bus/kafka/snappy.ts';
import { busMetrics, type BusMetrics } from './bus/kafka/metrics.ts';
import { partitionSampleBatch } from './bus/kafka/partitioning.ts';
import { fnv1a } from './hashing.ts';
import { BusClosedError, type Bus, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from './bus.ts';
import type { Config } from './config.ts';
import { silentLogger, type Logger } from './log.ts';
import type { SampleBatch } from './samples.ts';
import { CodecError, decodeRecords, decodeSampleBatch, encodeRecords, encodeSampleBatch } from './sample-codec.ts';

const { CompressionTypes, Kafka, logLevel, Partitioners } = kafkajs;

export const TOPICS: readonly Topic[] = ['metrics', 'logs', 'probes'];

export { partitionSampleBatch, seriesPartition } from './bus/kafka/partitioning.ts';

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
  };
}

/** Options from the typed config; the rest keep their defaults. */
export function kafkaBusOptions(config: Config, extra: Partial<KafkaBusOptions> = {}): KafkaBusOptions {
  return { ...config.kafka, ...extra };
}

/** A topic exists with fewer partitions than configured: series would map to partitions that do not exist. */
export class TopicPartitionsError extends Error {
  constructor(
    readonly topic: string,
    readonly actual: number,
    readonly configured: number,
  ) {
    super(`kafka topic ${topic} has ${actual} partitions, fewer than the ${configured} configured (kafka.partitions); add partitions or lower the setting`);
    this.name = 'TopicPartitionsError';
  }
}

const COMPRESSION: Record<KafkaCompression, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
};

interface OutgoingMessage {
  topic: Topic;
  partition: number;
  value: Buffer;
  units: number;
}

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

const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** kafkajs logs go to our logger at debug: the bus itself logs the transitions that matter, once each. */
function kafkajsLogCreator(logger: Logger): () => (entry: LogEntry) => void {
  return () => (entry) => {
    const { message, ...rest } = entry.log;
    logger.debug({ kafkajs: entry.namespace, ...rest }, message);
  };
}

/** The offset range of a delivery handed to a handler, recorded in the group's committed-offset metadata before the handler runs. */
interface DeliveryIntent {
  from: bigint;
  to: bigint;
}

const INTENT = /^tidemark-delivery:(\d+)-(\d+)$/;

interface ConsumerState {
  consumer: Consumer;
  assignment: number[];
  /** Per partition, the delivery a previous owner announced and did not finish (null: none), read once per assignment. */
  intents: Map<number, DeliveryIntent | null>;
}

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly options: Required<Omit<KafkaBusOptions, 'registry' | 'logger' | 'consumer'>> & { consumer: NonNullable<KafkaBusOptions['consumer']> };
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly admin: Admin;
  private producer: Producer;
  private readonly log: Logger;
  private readonly metrics: BusMetrics;
  /** Messages accepted by publish() and not yet sent, in publish order. */
  private readonly queue: QueuedMessage[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private readonly readyWaiters: (() => void)[] = [];
  private readonly consumers = new Map<Topic, ConsumerState>();
  private readonly partitionCount = new Map<Topic, number>();
  private readonly lagByTopic: Record<Topic, number> = { metrics: 0, logs: 0, probes: 0 };
  /** Average units per message seen by this process, to express lag (in messages) in the bus's units. */
  private readonly unitsPerMessage: Record<Topic, { units: number; messages: number }> = {
    metrics: { units: 0, messages: 0 },
    logs: { units: 0, messages: 0 },
    probes: { units: 0, messages: 0 },
  };
  /** Bytes accepted by publish() and not yet acknowledged. */
  pendingBytes = 0;
  private queuedBytes = 0;
  private connected = false;
  private reachable = false;
  private closed = false;
  private sending = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private lastProblem: Error | null = null;
  private readonly connecting: Promise<void>;

  constructor(options: KafkaBusOptions) {
    this.options = {
      compression: 'snappy',
      maxPendingBytes: 64 * 1024 * 1024,
      maxRequestBytes: 4 * 1024 * 1024,
      lingerMs: 5,
      maxMessageBytes: 900 * 1024,
      lagIntervalMs: 5_000,
      ...options,
      consumer: { sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 20_000, maxBytesPerPartition: 8 * 1024 * 1024, minBytes: 1024 * 1024, maxWaitTimeInMs: 250, retryDelayMs: 500, ...options.consumer },
    };
    for (const b of options.brokers) {
      if (!/^[^\s:]+:\d+$/.test(b)) throw new Error(`kafka.brokers: "${b}" is not host:port`);
    }
    this.log = (options.logger ?? silentLogger).child({ component: 'kafka-bus' });
    this.metrics = busMetrics(options.registry, this);
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
      // Short internal retries: the bus's own loops retry without limit and say so once.
      retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 4 },
      logLevel: logLevel.WARN,
      logCreator: kafkajsLogCreator(this.log),
    });
    this.admin = this.kafka.admin();
    this.producer = this.newProducer();
    // A broker that is down must not stop the engine from starting: connect in the background.
    this.connecting = this.connectLoop();
  }

  /** Full Kafka topic name of a bus topic. */
  topicName(topic: Topic | 'dead-letter'): string {
    return `${this.options.topicPrefix}${topic}`;
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

  private async connectLoop(): Promise<void> {
    let said = false;
    let delay = 300;
    while (!this.closed) {
      try {
        await this.admin.connect();
        await this.ensureTopics();
        await this.producer.connect();
        this.connected = true;
        this.reachable = true;
        this.lastProblem = null;
        if (said) this.log.info({ brokers: this.options.brokers }, 'kafka reachable again; bus ready');
        for (const w of this.readyWaiters.splice(0)) w();
        this.scheduleLag(0);
        this.kick();
        return;
      } catch (e) {
        this.lastProblem = e as Error;
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

  private async ensureTopics(): Promise<void> {
    const wanted = [...TOPICS.map((t) => this.topicName(t)), this.topicName('dead-letter')];
    const existing = new Set(await this.admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: this.options.partitions, replicationFactor: this.options.replicationFactor })),
      });
      this.log.info({ topics: missing }, 'created kafka topics');
    }
    const { topics } = await this.admin.fetchTopicMetadata({ topics: wanted });
    for (const t of topics) {
      if (t.partitions.length < this.options.partitions) throw new TopicPartitionsError(t.name, t.partitions.length, this.options.partitions);
      const bus = TOPICS.find((b) => this.topicName(b) === t.name);
      // More partitions than configured are used: an operator may have added some.
      if (bus) this.partitionCount.set(bus, t.partitions.length);
    }
  }

  /** Resolves when connected with the topics in place; rejects with the last problem (e.g. TopicPartitionsError) after timeoutMs. */
  async whenReady(timeoutMs: number): Promise<void> {
    if (this.connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.lastProblem ?? new Error(`kafka not ready within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Why the bus is not ready, if it is not. */
  problem(): string | null {
    return this.ready() ? null : (this.lastProblem?.message ?? 'connecting');
  }

  // ---- producing ----

  private encode<T extends Topic>(topic: T, payload: TopicPayloads[T]): OutgoingMessage[] {
    const partitions = this.partitionCount.get(topic) ?? this.options.partitions;
    if (topic === 'metrics') {
      return partitionSampleBatch(payload as SampleBatch, partitions, this.options.maxMessageBytes).map(({ partition, batch }) => ({
        topic,
        partition,
        value: encodeSampleBatch(batch),
        units: batch.length,
      }));
    }
    // Records keep their per-cluster order: one cluster's records share a partition.
    const kind = topic as 'logs' | 'probes';
    const records = payload as TopicPayloads['logs' | 'probes'];
    const groups = new Map<number, (typeof records)[number][]>();
    for (const r of records) {
      const p = fnv1a(`${r.tenant}/${r.cluster}`) % partitions;
      let list = groups.get(p);
      if (!list) groups.set(p, (list = []));
      list.push(r);
    }
    return [...groups].map(([partition, list]) => ({
      topic,
      partition,
      value: encodeRecords(kind, list as TopicPayloads[typeof kind]),
      units: list.length,
    }));
  }

  /**
   * Resolves once the broker has acknowledged the payload (acks from all
   * in-sync replicas), so a collector that crashes after publish() returned
   * loses nothing. Waits while maxPendingBytes are unacknowledged.
   */
  async publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    if (this.closed) throw new BusClosedError();
    const messages = this.encode(topic, payload);
    if (messages.length === 0) return;
    const bytes = messages.reduce((sum, m) => sum + m.value.length, 0);
    // A payload larger than the whole bound goes through alone rather than waiting forever.
    while (!this.closed && this.pendingBytes > 0 && this.pendingBytes + bytes > this.options.maxPendingBytes) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed) throw new BusClosedError();
    this.pendingBytes += bytes;
    this.queuedBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      const owner: PendingPublish = { remaining: messages.length, failed: false, resolve, reject };
      for (const m of messages) this.queue.push({ ...m, owner });
      if (this.queuedBytes >= this.options.maxRequestBytes) this.kick();
      else if (!this.lingerTimer) this.lingerTimer = setTimeout(() => this.kick(), this.options.lingerMs);
    });
  }

  saturated(): boolean {
    return !this.ready() || this.pendingBytes >= this.options.maxPendingBytes;
  }

  private kick(): void {
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
      while (this.queue.length > 0 && this.connected) {
        const { take, bytes } = this.nextRequest();
        try {
          await this.send(take);
          failures = 0;
          this.reachable = true;
          for (const m of take) {
            if (--m.owner.remaining === 0 && !m.owner.failed) m.owner.resolve();
          }
          this.release(bytes);
        } catch (e) {
          const error = e as Error & { type?: string; retriable?: boolean };
          if (error.type === 'MESSAGE_TOO_LARGE' || error.type === 'RECORD_LIST_TOO_LARGE' || error.type === 'INVALID_RECORD') {
            // Not retriable: the publishes get the error naming the topic; the bus keeps running.
            const topics = [...new Set(take.map((m) => this.topicName(m.topic)))].join(', ');
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
          this.reachable = false;
          if (this.closed && failures > 3) break;
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
    if (this.closed && this.queue.length > 0) this.rejectQueued();
  }

  private rejectQueued(): void {
    for (const m of this.queue.splice(0)) {
      if (!m.owner.failed) m.owner.reject(new BusClosedError());
      m.owner.failed = true;
    }
  }

  /**
   * The next produce request, taken from the queue in order. kafkajs puts all of
   * a partition's messages in one request into one record batch, and the broker
   * limits a record batch (message.max.bytes), so a partition gets at most
   * maxMessageBytes per request; once a partition is full its later messages wait
   * for the next request, which keeps them in order.
   */
  private nextRequest(): { take: QueuedMessage[]; bytes: number } {
    const take: QueuedMessage[] = [];
    const rest: QueuedMessage[] = [];
    const used = new Map<string, number>();
    const full = new Set<string>();
    let bytes = 0;
    for (const m of this.queue) {
      const key = `${m.topic}/${m.partition}`;
      const inPartition = used.get(key) ?? 0;
      const size = m.value.length;
      if (full.has(key) || (take.length > 0 && bytes + size > this.options.maxRequestBytes) || (inPartition > 0 && inPartition + size > this.options.maxMessageBytes)) {
        full.add(key);
        rest.push(m);
        continue;
      }
      take.push(m);
      used.set(key, inPartition + size);
      bytes += size;
    }
    this.queue.length = 0;
    this.queue.push(...rest);
    this.queuedBytes -= bytes;
    return { take, bytes };
  }

  private release(bytes: number): void {
    this.pendingBytes -= bytes;
    for (const w of this.roomWaiters.splice(0)) w();
  }

  private async send(messages: OutgoingMessage[]): Promise<void> {
    const byTopic = new Map<Topic, Message[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push({ partition: m.partition, key: String(m.partition), value: m.value, headers: { units: String(m.units) } });
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, list]) => ({ topic: this.topicName(topic), messages: list }));
    await this.producer.sendBatch({ topicMessages, acks: -1, timeout: 30_000, compression: COMPRESSION[this.options.compression] });
    const unitsByTopic = new Map<Topic, number>();
    for (const m of messages) {
      this.metrics.producedMessages.inc({ topic: m.topic });
      this.metrics.producedUnits.inc({ topic: m.topic }, m.units);
      this.metrics.producedBytes.inc({ topic: m.topic }, m.value.length);
      unitsByTopic.set(m.topic, (unitsByTopic.get(m.topic) ?? 0) + m.units);
      this.noteUnits(m.topic, m.units);
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

  private noteUnits(topic: Topic, units: number): void {
    const u = this.unitsPerMessage[topic];
    u.units += units;
    u.messages += 1;
  }

  // ---- consuming ----

  /**
   * Starts a consumer for one topic in the group `<groupId>.<topic>`: a group per
   * topic because kafkajs' assigners hand every member partitions of every topic
   * any member subscribed to, so an ingester consuming only metrics could be
   * given log partitions it never reads. Resolves at once; the consumer joins in
   * the background (the broker may be down).
   */
  async consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void> {
    if (this.closed) throw new BusClosedError();
    if (this.consumers.has(topic)) throw new Error(`kafka bus: a consumer for ${topic} is already running in this process`);
    const c = this.options.consumer;
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupId}.${topic}`,
      sessionTimeout: c.sessionTimeout,
      heartbeatInterval: c.heartbeatInterval,
      rebalanceTimeout: c.rebalanceTimeout,
      maxBytesPerPartition: c.maxBytesPerPartition,
      maxBytes: Math.max(32 * 1024 * 1024, c.maxBytesPerPartition! * 4),
      minBytes: c.minBytes,
      maxWaitTimeInMs: c.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 8, restartOnFailure: async () => !this.closed },
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
    while (!this.closed) {
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

  /**
   * The delivery a previous owner of the partition announced and may have
   * stored without committing (it crashed in between), if the group's
   * committed offset still stands at its start. Read once per assignment.
   */
  private async pendingIntent(topic: Topic, state: ConsumerState, partition: number): Promise<DeliveryIntent | null> {
    const known = state.intents.get(partition);
    if (known !== undefined) return known;
    const committed = await this.admin.fetchOffsets({ groupId: `${this.options.groupId}.${topic}`, topics: [this.topicName(topic)] });
    const entry = committed[0]?.partitions.find((p) => p.partition === partition);
    const m = entry?.metadata ? INTENT.exec(entry.metadata) : null;
    const intent = m && BigInt(entry!.offset) === BigInt(m[1]!) ? { from: BigInt(m[1]!), to: BigInt(m[2]!) } : null;
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
      if (BigInt(messages[0]!.offset) === intent.from && BigInt(last) >= intent.to) {
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
        this.noteUnits(topic, n);
      } catch (e) {
        await this.deadLetter(topic, batch, message.offset, value, e as Error);
      }
    }
    if (payloads.length > 0) {
      const delivery: Delivery<T> = { topic, payloads, token: `${batch.topic}/${batch.partition}/${first}-${last}` };
      // Announce the range before the handler stores anything: whoever replays it after a crash reads this back.
      await state.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: first, metadata: `tidemark-delivery:${first}-${last}` }]);
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
          if (this.closed || !payload.isRunning() || payload.isStale()) throw e;
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
        await this.producer.send({
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
        if (this.closed) throw e;
        await sleep(Math.min(300 * 2 ** Math.min(attempt, 4), 5_000));
      }
    }
    this.metrics.deadLetters.inc({ topic, reason });
  }

  // ---- depth, readiness ----

  private scheduleLag(delay: number): void {
    if (this.closed) return;
    this.lagTimer = setTimeout(() => {
      this.lagTimer = null;
      void this.refreshLag().finally(() => this.scheduleLag(this.options.lagIntervalMs));
    }, delay);
    this.lagTimer.unref();
  }

  /** Lag = high watermark − committed offset (or − log start when nothing is committed), summed per topic. */
  async refreshLag(): Promise<Record<Topic, number>> {
    try {
      for (const topic of TOPICS) {
        const name = this.topicName(topic);
        const [ends, committed] = await Promise.all([
          this.admin.fetchTopicOffsets(name),
          this.admin.fetchOffsets({ groupId: `${this.options.groupId}.${topic}`, topics: [name] }),
        ]);
        const done = new Map<number, bigint>();
        for (const p of committed[0]?.partitions ?? []) done.set(p.partition, BigInt(p.offset));
        let messages = 0n;
        for (const e of ends) {
          const high = BigInt(e.high);
          const c = done.get(e.partition) ?? -1n;
          const lag = high - (c >= 0n ? c : BigInt(e.low));
          this.metrics.lag.set({ topic: name, partition: String(e.partition) }, Number(lag));
          messages += lag;
        }
        const u = this.unitsPerMessage[topic];
        this.lagByTopic[topic] = Math.round(Number(messages) * (u.messages > 0 ? u.units / u.messages : 1));
      }
      this.reachable = true;
    } catch (e) {
      const error = e as Error;
      // Only connection failures say the broker is away; anything else (a leader not elected
      // yet, metadata for a new topic not loaded) is an answer from a broker that is there.
      if (!CONNECTION_ERRORS.has(error.name)) {
        this.log.debug({ err: error.message }, 'consumer lag not available yet');
      } else {
        if (this.reachable) this.log.warn({ err: error.message }, 'kafka unreachable while reading consumer lag');
        this.reachable = false;
        this.lastProblem = error;
      }
    }
    return this.depth();
  }

  /**
   * Consumer lag per topic in the bus's units: lag in messages (refreshed every
   * lagIntervalMs) times the average samples or records per message this
   * process has seen, or in messages if it has seen none.
   */
  depth(): Record<Topic, number> {
    return { ...this.lagByTopic };
  }

  ready(): boolean {
    return !this.closed && this.connected && this.reachable;
  }

  /** Sends what publish() accepted (for up to 10 s), then leaves the group and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.lagTimer) clearTimeout(this.lagTimer);
    for (const w of this.roomWaiters.splice(0)) w();
    for (const w of this.readyWaiters.splice(0)) w();
    if (this.queue.length > 0 && this.connected) {
      this.kick();
      const deadline = Date.now() + 10_000;
      while ((this.queue.length > 0 || this.sending) && Date.now() < deadline) await sleep(20);
    }
    this.rejectQueued();
    await Promise.all([...this.consumers.values()].map((c) => c.consumer.disconnect().catch(() => undefined)));
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.connecting.catch(() => undefined);
  }
}
