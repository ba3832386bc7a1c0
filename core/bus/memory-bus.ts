// In-process bus for the embedded default: bounded per topic by payload
// units, publishers wait for room, one consumer per topic drains everything
// queued at once so the ingester can insert in large batches.
import { BusClosedError, payloadSize, type Bus, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from './bus.ts';

interface Queue {
  items: unknown[];
  units: number;
  waiters: (() => void)[];
  wake: (() => void) | null;
  sequence: number;
}

export interface MemoryBusOptions {
  /** Most payload units (samples or records) queued per topic before publishers wait. */
  capacity: number;
  /** Most payload units handed to a consumer in one delivery. */
  maxDelivery: number;
  /** How long a small delivery waits for more payloads, so that inserts stay large. */
  lingerMs?: number;
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly queues = new Map<Topic, Queue>();
  private closed = false;
  /** Topics whose consumer is failing (the store refuses inserts): the bus is not ready while any is. */
  private readonly failing = new Set<Topic>();

  constructor(private readonly options: MemoryBusOptions) {}

  private queue(topic: Topic): Queue {
    let q = this.queues.get(topic);
    if (!q) {
      q = { items: [], units: 0, waiters: [], wake: null, sequence: 0 };
      this.queues.set(topic, q);
    }
    return q;
  }

  async publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    const q = this.queue(topic);
    const units = payloadSize(topic, payload);
    // A payload larger than the whole capacity is let through alone rather than waiting forever.
    while (!this.closed && q.units > 0 && q.units + units > this.options.capacity) {
      await new Promise<void>((resolve) => q.waiters.push(resolve));
    }
    if (this.closed) throw new BusClosedError();
    q.items.push(payload);
    q.units += units;
    q.wake?.();
  }

  saturated(): boolean {
    for (const q of this.queues.values()) if (q.units >= this.options.capacity) return true;
    return false;
  }

  async consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void> {
    const q = this.queue(topic);
    void this.drain(topic, q, handler);
  }

  private async drain<T extends Topic>(topic: T, q: Queue, handler: DeliveryHandler<T>): Promise<void> {
    while (!this.closed) {
      if (q.items.length === 0) {
        await new Promise<void>((resolve) => (q.wake = resolve));
        q.wake = null;
        continue;
      }
      const linger = this.options.lingerMs ?? 0;
      if (linger > 0 && q.units < this.options.maxDelivery) await new Promise((resolve) => setTimeout(resolve, linger));
      const payloads: TopicPayloads[T][] = [];
      let units = 0;
      while (q.items.length > 0 && (payloads.length === 0 || units < this.options.maxDelivery)) {
        const item = q.items.shift() as TopicPayloads[T];
        payloads.push(item);
        units += payloadSize(topic, item);
      }
      const delivery: Delivery<T> = { topic, payloads, token: `memory/${topic}/${q.sequence++}` };
      // At-least-once: a delivery the handler rejects is put back at the head and retried.
      for (;;) {
        try {
          await handler(delivery);
          this.failing.delete(topic);
          break;
        } catch {
          this.failing.add(topic);
          if (this.closed) return;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      q.units -= units;
      for (const w of q.waiters.splice(0)) w();
    }
  }

  depth(): Record<Topic, number> {
    return {
      metrics: this.queues.get('metrics')?.units ?? 0,
      logs: this.queues.get('logs')?.units ?? 0,
      probes: this.queues.get('probes')?.units ?? 0,
    };
  }

  ready(): boolean {
    return !this.closed && this.failing.size === 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) {
      for (const w of q.waiters.splice(0)) w();
      q.wake?.();
    }
  }
}
