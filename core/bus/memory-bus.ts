// In-process bus for the embedded default: bounded per topic by payload
// units, publishers wait for room, one consumer per topic drains everything
// queued at once so the ingester can insert in large batches.
//
// Group commit (`acknowledge: 'stored'`, the engine's default): a publish
// resolves only once the delivery carrying its payload has been handled (the
// insert is done), so a receiver's 2xx means stored; many requests wait on
// one large insert. `'logged'`: a publish resolves once its payload is
// durably in the bus log (core/bus/log/: written and fdatasync'd, many
// publishes per sync), so a 2xx waits for a disk sync, not for ClickHouse,
// and deliveries grow as large as the consumer can take. The consumer's
// progress is logged after each delivery is handled; a restart replays
// what follows it before anything new, each delivery that was announced
// (an intent entry, logged before the handler runs) cut exactly as before so
// that its token, and so the store's deduplication, is the same. `'queued'`
// resolves on entering the queue (sources whose tests run without a
// consumer).
import { randomUUID } from 'node:crypto';
import { BusClosedError, PayloadRejectedError, payloadSize, type Bus, type Delivery, type DeliveryHandler, type Topic, type TopicPayloads } from './bus.ts';
import { AppendLog, type AppendLogStats } from './log/append-log.ts';
import { decodePayload, encodePayload } from './log/entries.ts';
import { replayPlan, type DeliveryRange } from './log/replay.ts';

interface Pending {
  payload: unknown;
  units: number;
  settle: { resolve(): void; reject(e: Error): void } | null;
  /** Logged mode: the payload's position in the bus log. */
  position?: number;
  /** Logged mode: the delivery this payload was announced in before a restart; it is handed over again exactly so. */
  replay?: DeliveryRange | null;
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
  /** Logged mode: the first position of the delivery being handled (its payloads are not yet handled). */
  inFlightFrom: number | null;
}

export interface MemoryBusOptions {
  /** Most payload units (samples or records) queued per topic before publishers wait. */
  capacity: number;
  /** Most payload units handed to a consumer in one delivery. */
  maxDelivery: number;
  /** How long a small delivery waits for more payloads, so that inserts stay large. */
  lingerMs?: number;
  /** When publish resolves: once the payload is handled by the consumer ('stored'), once durably in the bus log ('logged'), or once queued (default). */
  acknowledge?: 'stored' | 'logged' | 'queued';
  /** The bus log, for `acknowledge: 'logged'` (open the bus with MemoryBus.open). */
  log?: { dir: string; segmentBytes: number };
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

  /** Logged mode: the open bus log. */
  private log: AppendLog | null = null;
  /** Logged mode: what the last start found and did (torn tails cut off, payloads replayed). */
  recovery: { torn: string[]; replayed: number; announced: number } | null = null;

  constructor(private readonly options: MemoryBusOptions) {
    if (options.acknowledge === 'logged' && !options.log) throw new Error("acknowledge 'logged' needs the bus log's directory (options.log)");
  }

  /**
   * A bus ready to publish to. Logged mode opens the bus log first and queues
   * every payload its consumers have not handled, ahead of anything new.
   */
  static async open(options: MemoryBusOptions): Promise<MemoryBus> {
    const bus = new MemoryBus(options);
    if (options.acknowledge === 'logged') await bus.openLog(options.log!);
    return bus;
  }

  private async openLog(options: { dir: string; segmentBytes: number }): Promise<void> {
    const { log, entries, torn } = await AppendLog.open(options);
    this.log = log;
    let replayed = 0;
    const announced = new Set<DeliveryRange>();
    for (const [topic, plan] of replayPlan(entries)) {
      const q = this.queue(topic);
      for (const p of plan.pending) {
        const payload = decodePayload(topic, p.bytes);
        const units = payloadSize(topic, payload);
        q.items.push({ payload, units, settle: null, position: p.position, replay: p.intent });
        q.units += units;
        replayed++;
        if (p.intent) announced.add(p.intent);
      }
    }
    this.recovery = { torn, replayed, announced: announced.size };
  }

  /** Logged mode: the bus log's counters (syncs, bytes, time in fdatasync). */
  logStats(): (AppendLogStats & { identity: string }) | null {
    return this.log ? { ...this.log.stats, identity: this.log.identity } : null;
  }

  private queue(topic: Topic): Queue {
    let q = this.queues.get(topic);
    if (!q) {
      q = { items: [], units: 0, waiters: [], wake: null, sequence: 0, busy: null, consumed: false, lastStart: 0, inFlightFrom: null };
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
    if (this.log) {
      // A log that cannot be written takes nothing more (the receiver answers 503; the sender sends again later).
      if (this.log.failure) throw this.log.failure;
      // Queued at once, in log order; the delivery that takes it waits for its intent's sync, which covers it.
      const { position, durable } = this.log.append({ kind: 'payload', topic, bytes: encodePayload(topic, payload) });
      q.items.push({ payload, units, settle: null, position, replay: null });
      q.units += units;
      q.wake?.();
      await durable;
      return;
    }
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
      // A delivery announced before a restart goes again at once, exactly as announced.
      const replay = q.items[0]!.replay ?? null;
      // At most one delivery starts per linger period, so inserts stay large under a trickle of
      // small requests; a delivery that follows a long insert (which gathered the queue) goes at once.
      const wait = q.lastStart + (this.options.lingerMs ?? 0) - Date.now();
      if (!replay && wait > 0 && !this.closing && q.units < this.options.maxDelivery) await new Promise((resolve) => setTimeout(resolve, wait));
      q.lastStart = Date.now();
      const taken: Pending[] = [];
      let units = 0;
      if (replay) {
        while (q.items.length > 0 && q.items[0]!.replay === replay) {
          const item = q.items.shift()!;
          taken.push(item);
          units += item.units;
        }
      } else {
        while (q.items.length > 0 && !q.items[0]!.replay && (taken.length === 0 || units + q.items[0]!.units <= this.options.maxDelivery)) {
          const item = q.items.shift()!;
          taken.push(item);
          units += item.units;
        }
      }
      let done!: () => void;
      q.busy = new Promise<void>((r) => (done = r));
      try {
        const token = this.log ? await this.announce(topic, q, taken, replay) : `memory/${this.identity}/${topic}/${q.sequence++}`;
        const delivery: Delivery<T> = { topic, payloads: taken.map((p) => p.payload as TopicPayloads[T]), token };
        const handled = await this.deliver(topic, delivery, taken, handler);
        if (handled && this.log) this.markHandled(topic, q, taken);
      } finally {
        q.inFlightFrom = null;
        q.units -= units;
        for (const w of q.waiters.splice(0)) w();
        done();
        q.busy = null;
      }
    }
  }

  /**
   * Logged mode: the delivery's token, from its log range. A new delivery's
   * range is logged (an intent) and synced before it is handed over, so
   * that a replay after a crash cuts the same delivery; the sync also
   * covers its payloads, which precede the intent in the log.
   */
  private async announce(topic: Topic, q: Queue, taken: Pending[], replay: DeliveryRange | null): Promise<string> {
    const range = replay ?? { from: taken[0]!.position!, to: taken[taken.length - 1]!.position! };
    q.inFlightFrom = range.from;
    if (!replay) {
      try {
        await this.log!.append({ kind: 'intent', topic, ...range }).durable;
      } catch {
        // The log failed (publishes are refused from now on): what is queued is still stored, its
        // replay boundary unrecorded; the bus reports the problem.
      }
    }
    return `log/${this.log!.identity}/${topic}/${range.from}-${range.to}`;
  }

  /**
   * Logged mode: records the consumer's progress, and once that is durable
   * deletes the segments wholly handled. The boundary is the oldest payload
   * of any topic not yet handled, taken now: a segment before it holds only
   * payloads whose handled marks are durable once this one is.
   */
  private markHandled(topic: Topic, q: Queue, taken: Pending[]): void {
    const log = this.log!;
    const through = taken[taken.length - 1]!.position!;
    const { durable } = log.append({ kind: 'handled', topic, through });
    let oldest = Infinity;
    for (const other of this.queues.values()) {
      const first = other === q ? (q.items[0]?.position ?? null) : (other.inFlightFrom ?? other.items[0]?.position ?? null);
      if (first !== null) oldest = Math.min(oldest, first);
    }
    const boundary = Number.isFinite(oldest) ? oldest : log.end;
    durable.then(() => log.deleteBefore(boundary)).catch(() => {});
  }

  /** Hands one delivery to the handler until it is handled (true), or the bus closes first (false); retryable failures back off, exponentially and capped. */
  private async deliver<T extends Topic>(topic: T, delivery: Delivery<T>, taken: Pending[], handler: DeliveryHandler<T>): Promise<boolean> {
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
        return true;
      } catch (e) {
        this.failing.add(topic);
        if (this.closed) {
          // Logged payloads stay in the log: the next start delivers them again.
          for (const p of taken) p.settle?.reject(new BusClosedError());
          return false;
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
    return !this.closing && this.failing.size === 0 && !this.log?.failure;
  }

  problem(): string | null {
    return this.log?.failure ? `the bus log cannot be written: ${this.log.failure.message}` : null;
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
      // Logged payloads left (the drain timed out) stay in the log for the next start.
      for (const p of q.items.splice(0)) p.settle?.reject(new BusClosedError());
      q.units = 0;
      q.wake?.();
    }
    if (this.log) {
      // A delivery still being handled (past the deadline) gets a moment to record its progress;
      // if it does not, the next start hands it over again with the same token.
      const busy = [...this.queues.values()].map((q) => q.busy);
      await Promise.race([Promise.all(busy), new Promise((r) => setTimeout(r, 1000).unref())]);
      await this.log.close();
    }
  }
}
