// The Kafka bus's administration of topics and groups: creating the bus
// topics and the dead-letter topic when they are missing, checking that each
// has at least the configured partitions (TopicPartitionsError otherwise),
// learning how many partitions each really has, and reading a group's
// committed offsets (with their metadata) for the consumer and the lag.
import type { Admin } from 'kafkajs';
import type { Topic } from '../bus.ts';
import type { Logger } from '../../log.ts';
import { consumerGroup, kafkaTopicName, TOPICS, type ResolvedKafkaBusOptions } from './options.ts';

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

/** One partition's committed offset in a group, with the metadata committed beside it. */
export interface CommittedOffset {
  partition: number;
  offset: string;
  metadata: string | null;
}

export class KafkaTopicAdmin {
  /** Partitions each bus topic really has (set once the topics are in place). */
  readonly partitionCount = new Map<Topic, number>();

  constructor(
    readonly admin: Admin,
    private readonly options: ResolvedKafkaBusOptions,
    private readonly log: Logger,
  ) {}

  /** Creates the missing topics, then checks every topic's partitions; throws TopicPartitionsError for one with too few. */
  async ensureTopics(): Promise<void> {
    const name = (t: Topic | 'dead-letter'): string => kafkaTopicName(this.options, t);
    const wanted = [...TOPICS.map(name), name('dead-letter')];
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
      const bus = TOPICS.find((b) => name(b) === t.name);
      // More partitions than configured are used: an operator may have added some.
      if (bus) this.partitionCount.set(bus, t.partitions.length);
    }
  }

  /** Partitions to spread a topic's messages over: as many as it has, or the configured count before that is known. */
  partitions(topic: Topic): number {
    return this.partitionCount.get(topic) ?? this.options.partitions;
  }

  /** The offsets the topic's consumer group has committed, per partition. */
  async committedOffsets(topic: Topic): Promise<CommittedOffset[]> {
    const committed = await this.admin.fetchOffsets({ groupId: consumerGroup(this.options, topic), topics: [kafkaTopicName(this.options, topic)] });
    return committed[0]?.partitions ?? [];
  }

  /** Each partition's log start (low) and high watermark. */
  async topicOffsets(topic: Topic): Promise<{ partition: number; low: string; high: string }[]> {
    return this.admin.fetchTopicOffsets(kafkaTopicName(this.options, topic));
  }
}
