// The Kafka bus's link to the brokers: the kafkajs client (its settings and
// its log routed to ours), and the link state every part of the bus reads
// and updates: closed, connected, broker reachable, the last problem seen,
// and who waits for readiness. Readiness and problem() are answered here.
// kafkajs is CommonJS whose exports Node's ESM loader cannot all detect by name
// (CompressionCodecs among them): take the values from the default export.
import kafkajs from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import type { Logger } from '../../log.ts';
import type { KafkaBusOptions } from './options.ts';

const { Kafka, logLevel } = kafkajs;

export type KafkaClient = InstanceType<typeof Kafka>;

/** kafkajs errors that say the broker is away, as opposed to an answer from a broker that is there. */
export const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** kafkajs logs go to our logger at debug: the bus itself logs the transitions that matter, once each. */
function kafkajsLogCreator(logger: Logger): () => (entry: LogEntry) => void {
  return () => (entry) => {
    const { message, ...rest } = entry.log;
    logger.debug({ kafkajs: entry.namespace, ...rest }, message);
  };
}

export function kafkaClient(options: Pick<KafkaBusOptions, 'clientId' | 'brokers'>, log: Logger): KafkaClient {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    // Short internal retries: the bus's own loops retry without limit and say so once.
    retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 4 },
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(log),
  });
}

/** The state of the bus's link to the brokers, shared by the producer, consumer, lag and facade. */
export class KafkaLink {
  /** close() was called: every loop stops. */
  closed = false;
  /** Connected once, with the topics in place. */
  connected = false;
  /** The last produce or lag refresh reached the broker. */
  reachable = false;
  lastProblem: Error | null = null;
  private readonly readyWaiters: (() => void)[] = [];

  ready(): boolean {
    return !this.closed && this.connected && this.reachable;
  }

  /** Why the bus is not ready, if it is not. */
  problem(): string | null {
    return this.ready() ? null : (this.lastProblem?.message ?? 'connecting');
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

  /** Connected with the topics in place (the caller then releases whoever waits in whenReady()). */
  markConnected(): void {
    this.connected = true;
    this.reachable = true;
    this.lastProblem = null;
  }

  /** Lets every whenReady() go (on readiness, and on close so none waits out its timeout). */
  releaseReadyWaiters(): void {
    for (const w of this.readyWaiters.splice(0)) w();
  }
}
