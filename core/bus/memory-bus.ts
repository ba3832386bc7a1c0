// In-process bus for the embedded default: bounded per topic by payload
// units, publishers wait for room, one consumer per topic drains everything
// queued at once so the ingester can insert in large batches.
//
// Group commit (`acknowledge: 'stored'`, what the engine uses): a publish
// resolves only once the delivery carrying its payload has been handled (the
// insert is done), so a receiver's 2xx means stored; many requests wait on
// one large insert. `'queued'` resolves on entering the queue (sources whose
// tests run without a consumer).
import { randomUUID } from 'node:crypto';
import { BusClosedError, PayloadRejectedError, payloadSize, type Bus, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from './bus.ts';

interface Pending {
  payload: unknown;
  units: number;
  settle: { resolve(): void; reject(e: Error): void } | null;
}

interface Queue {
  items: Pending[];
  units: number;
  waiters: (() => void)[];
  wake: (() => void) | null;
  sequence: number;
  /** The delivery being handled, if any: close() waits for it. */
  busy: Promise<void> | null;
  consumed: boolean;
  /** When the last delivery was taken (ms). */
  lastStart: number;
}

export interface MemoryBusOptions {
  /** Most payload units (samples or records) queued per topic before publishers wait. */
  capacity: number;
  /** Most payload units handed to a consumer in one delivery. */
  maxDelivery: number;
  /** How long a small delivery waits for more payloads, so that inserts stay large. */
  lingerMs?: number;
  /** When publish resolves: once the payload is handled by the consumer ('stored'), or once queued (default). */
  acknowledge?: 'stored' | 'queued';
  /** First pause after a failed delivery; doubles per failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long close() waits for queued payloads to be handled before giving up on them. */
  drainTimeoutMs?: number;
}

/** Pause before retry `attempt` (0-based): exponential, capped. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  /**
   * This bus's identity for this process's life. Delivery tokens carry it so
   * that they never repeat across restarts or between engines sharing one
   * store: the store drops an insert whose token it has seen as a replay.
   */
  readonly identity = randomUUID();
  private readonly queues = new Map<Topic, Queue>();
  /** No new publishes; queued ones are still delivered (draining). */
  private closing = false;
  /** Consumers stopped. */
  private closed = false;
  /** Topics whose consumer is failing (the store refuses inserts): the bus is not ready while any is. */
  private readonly failing = new Set<Topic>();

  constructor(private readonly options: MemoryBusOptions) {}

  private queue(topic: Topic): Queue {
    let q = this.queues.get(topic);
    if (!q) {
      q = { items: [], units: 0, waiters: [], wake: null, sequence: 0, busy: null, consumed: false, lastStart: 0 };
      this.queues.set(topic, q);
    }
    return q;
  }

  async publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void> {
    const q = this.queue(topic);
    const units = payloadSize(topic, payload);
    // A payload larger than the whole capacity is let through alone rather than waiting forever.
    while (!this.closing && q.units > 0 && q.units + units > this.options.capacity) {
      await new Promise<void>((resolve) => q.waiters.push(resolve));
    }
    if (this.closing) throw new BusClosedError();
    const stored = this.options.acknowledge === 'stored';
    const handled = stored
      ? new Promise<void>((resolve, reject) => q.items.push({ payload, units, settle: { resolve, reject } }))
      : (q.items.push({ payload, units, settle: null }), Promise.resolve());
    q.units += units;
    q.wake?.();
    await handled;
  }

  saturated(): boolean {
    for (const q of this.queues.values()) if (q.units >= this.options.capacity) return true;
    return false;
  }

  async consume<T extends Topic>(topic: T, handler: DeliveryHandler<T>): Promise<void> {
    const q = this.queue(topic);
    q.consumed = true;
    void this.drain(topic, q, handler);
  }

  private async drain<T extends Topic>(topic: T, q: Queue, handler: DeliveryHandler<T>): Promise<void> {
    while (!this.closed) {
      if (q.items.length === 0) {
        if (this.closing) return;
        await new Promise<void>((resolve) => (q.wake = resolve));
        q.wake = null;
        continue;
      }
      // At most one delivery starts per linger period, so inserts stay large under a trickle of
      // small requests; a delivery that follows a long insert (which gathered the queue) goes at once.
      const wait = q.lastStart + (this.options.lingerMs ?? 0) - Date.now();
      if (wait > 0 && !this.closing && q.units < this.options.maxDelivery) await new Promise((resolve) => setTimeout(resolve, wait));
      q.lastStart = Date.now();
      const taken: Pending[] = [];
      let units = 0;
      while (q.items.length > 0 && (taken.length === 0 || units + q.items[0]!.units <= this.options.maxDelivery)) {
        const item = q.items.shift()!;
        taken.push(item);
        units += item.units;
      }
      const delivery: Delivery<T> = { topic, payloads: taken.map((p) => p.payload as TopicPayloads[T]), token: `memory/${this.identity}/${topic}/${q.sequence++}` };
      let done!: () => void;
      q.busy = new Promise<void>((r) => (done = r));
      try {
        await this.deliver(topic, delivery, taken, handler);
      } finally {
        q.units -= units;
        for (const w of q.waiters.splice(0)) w();
        done();
        q.busy = null;
      }
    }
  }

  /** Hands one delivery to the handler until it is handled; retryable failures back off, exponentially and capped. */
  private async deliver<T extends Topic>(topic: T, delivery: Delivery<T>, taken: Pending[], handler: DeliveryHandler<T>): Promise<void> {
    const base = this.options.retryBaseMs ?? 100;
    const max = this.options.retryMaxMs ?? 5_000;
    // At-least-once: a delivery the handler rejects is retried with the same token.
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await handler(delivery);
        this.failing.delete(topic);
        taken.forEach((p, i) => {
          const reason = outcome?.rejected?.get(i);
          if (reason === undefined) p.settle?.resolve();
          else p.settle?.reject(new PayloadRejectedError(reason));
        });
        return;
      } catch (e) {
        this.failing.add(topic);
        if (this.closed) {
          for (const p of taken) p.settle?.reject(new BusClosedError());
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt, base, max)));
      }
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
    return !this.closing && this.failing.size === 0;
  }

  /**
   * Stops taking publishes, then drains: everything queued is handed to its
   * consumer (so every publisher waiting on a stored acknowledgement gets
   * one) before the consumers stop. Bounded by drainTimeoutMs, after which
   * what is left is refused (its publishers never got a 2xx).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    for (const q of this.queues.values()) {
      for (const w of q.waiters.splice(0)) w();
      q.wake?.();
    }
    const deadline = Date.now() + (this.options.drainTimeoutMs ?? 30_000);
    for (const q of this.queues.values()) {
      if (!q.consumed) continue;
      while ((q.items.length > 0 || q.busy) && Date.now() < deadline) {
        await Promise.race([q.busy ?? new Promise((r) => setTimeout(r, 10)), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
      }
    }
    this.closed = true;
    for (const q of this.queues.values()) {
      for (const p of q.items.splice(0)) p.settle?.reject(new BusClosedError());
      q.units = 0;
      q.wake?.();
    }
  }
}
