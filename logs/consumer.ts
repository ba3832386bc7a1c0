// The logs consumer: drains log deliveries from the bus (topic `logs`) into
// the logs table. Each delivery is one insert per tenant and day under the
// delivery's token (logs/store.ts), so a redelivery (a crash between the
// insert and the acknowledgement, a Kafka rebalance) stores nothing twice.
// When the store refuses a delivery for good, its payloads are stored one by
// one and only the refused ones are answered as refused.
import { Counter, type Registry } from 'prom-client';
import type { Bus, Delivery, DeliveryOutcome } from '../core/bus/bus.ts';
import type { LogRecord } from '../core/bus/records.ts';
import type { Store } from '../core/store.ts';
import type { Logger } from '../core/log.ts';
import { storeErrorKind } from '../metrics/store-errors.ts';
import { insertLogLines, type LogLine } from './store.ts';

/** The row of a bus record: its own label set when it carries one, else its non-empty fields. */
export function logLineOf(r: LogRecord): LogLine {
  let labels = r.labels;
  if (!labels) {
    const derived: Record<string, string> = {};
    for (const [k, v] of [['cluster', r.cluster], ['namespace', r.namespace], ['workload', r.workload], ['pod', r.pod], ['container', r.container], ['stream', r.stream]] as const) {
      if (v !== '') derived[k] = v;
    }
    labels = derived;
  }
  const tsNs = r.timestampNs !== undefined ? BigInt(r.timestampNs) : BigInt(Math.round(r.timestamp)) * 1_000_000n;
  return { tenant: r.tenant, tsNs, labels, line: r.message };
}

export class LogsConsumer {
  /** Lines stored since start. */
  stored = 0;
  private readonly lines: Counter;
  private readonly errors: Counter;

  constructor(
    private readonly store: Store,
    registry: Registry,
    private readonly log: Logger,
  ) {
    this.lines = new Counter({ name: 'tidemark_logs_lines_stored_total', help: 'Log lines inserted into the logs table.', registers: [registry] });
    this.errors = new Counter({ name: 'tidemark_logs_insert_errors_total', help: 'Failed log inserts (retried, or refused when retrying cannot fix them).', registers: [registry] });
  }

  readonly handle = async (delivery: Delivery<'logs'>): Promise<DeliveryOutcome | void> => {
    const { payloads, token } = delivery;
    try {
      await this.insert(payloads.flat(), token);
      return;
    } catch (err) {
      this.failed(err, token);
      if (storeErrorKind(err) === 'retryable' || payloads.length === 1) {
        if (storeErrorKind(err) === 'retryable') throw err;
        return { rejected: new Map([[0, (err as Error).message]]) };
      }
    }
    const rejected = new Map<number, string>();
    for (let i = 0; i < payloads.length; i++) {
      const own = `${token}/p${i}`;
      try {
        await this.insert(payloads[i]!, own);
      } catch (err) {
        this.failed(err, own);
        if (storeErrorKind(err) === 'retryable') throw err;
        rejected.set(i, (err as Error).message);
      }
    }
    return { rejected };
  };

  private async insert(records: readonly LogRecord[], token: string): Promise<void> {
    const rows = records.map(logLineOf);
    await insertLogLines(this.store, rows, token);
    this.stored += rows.length;
    this.lines.inc(rows.length);
  }

  private failed(err: unknown, token: string): void {
    this.errors.inc();
    this.log.error({ err: (err as Error).message, token, retry: storeErrorKind(err) === 'retryable' }, 'log insert failed');
  }

  async start(bus: Bus): Promise<void> {
    await bus.consume('logs', this.handle);
  }
}
