// The Kafka bus's depth: consumer lag per partition (the lag gauge) and per
// topic in the bus's units, refreshed every lagIntervalMs, and the average
// units per message this process has seen that converts the one into the
// other. A refresh is also the bus's periodic reachability check: a
// connection failure marks the broker unreachable, an answer reachable again.
import type { Topic } from '../bus.ts';
import type { Logger } from '../../log.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { CONNECTION_ERRORS, type KafkaLink } from './connection.ts';
import type { BusMetrics } from './metrics.ts';
import { kafkaTopicName, TOPICS, type ResolvedKafkaBusOptions } from './options.ts';

export class KafkaLag {
  private readonly lagByTopic: Record<Topic, number> = { metrics: 0, logs: 0, probes: 0 };
  /** Average units per message seen by this process, to express lag (in messages) in the bus's units. */
  private readonly unitsPerMessage: Record<Topic, { units: number; messages: number }> = {
    metrics: { units: 0, messages: 0 },
    logs: { units: 0, messages: 0 },
    probes: { units: 0, messages: 0 },
  };
  private lagTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: ResolvedKafkaBusOptions,
    private readonly link: KafkaLink,
    private readonly topics: KafkaTopicAdmin,
    private readonly metrics: BusMetrics,
    private readonly log: Logger,
  ) {}

  /** One message of `units` samples or records produced or consumed here. */
  noteUnits(topic: Topic, units: number): void {
    const u = this.unitsPerMessage[topic];
    u.units += units;
    u.messages += 1;
  }

  /** Refreshes after `delay`, then every lagIntervalMs until the bus closes. */
  schedule(delay: number): void {
    if (this.link.closed) return;
    this.lagTimer = setTimeout(() => {
      this.lagTimer = null;
      void this.refresh().finally(() => this.schedule(this.options.lagIntervalMs));
    }, delay);
    this.lagTimer.unref();
  }

  stop(): void {
    if (this.lagTimer) clearTimeout(this.lagTimer);
  }

  /** Lag = high watermark − committed offset (or − log start when nothing is committed), summed per topic. */
  async refresh(): Promise<Record<Topic, number>> {
    try {
      for (const topic of TOPICS) {
        const name = kafkaTopicName(this.options, topic);
        const [ends, committed] = await Promise.all([this.topics.topicOffsets(topic), this.topics.committedOffsets(topic)]);
        const done = new Map<number, bigint>();
        for (const p of committed) done.set(p.partition, BigInt(p.offset));
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
      this.link.reachable = true;
    } catch (e) {
      const error = e as Error;
      // Only connection failures say the broker is away; anything else (a leader not elected
      // yet, metadata for a new topic not loaded) is an answer from a broker that is there.
      if (!CONNECTION_ERRORS.has(error.name)) {
        this.log.debug({ err: error.message }, 'consumer lag not available yet');
      } else {
        if (this.link.reachable) this.log.warn({ err: error.message }, 'kafka unreachable while reading consumer lag');
        this.link.reachable = false;
        this.link.lastProblem = error;
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
}
