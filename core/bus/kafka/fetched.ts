// Fetched messages waiting for their delivery: per partition, in offset
// order and already decoded, so that fetching (kafkajs' fetch loop) runs
// ahead of storing (the handler) instead of taking turns with it, and so
// that everything a partition gathered while the previous insert ran is
// handed over as one delivery (larger inserts, fewer statements). Decides
// what the next delivery is: the partition waiting longest, its contiguous
// run of messages, bounded in units, or exactly the range a crashed owner
// announced (delivery-intent.ts) so that the replay carries the same token.
// Plain data and pure decisions; consumer.ts fills it and commits.
import { fetchCoversIntent, type DeliveryIntent } from './delivery-intent.ts';

export interface FetchedMessage<P> {
  offset: bigint;
  /** The decoded payload; null for a message moved to the dead-letter topic (its offset still needs committing). */
  payload: P | null;
  units: number;
  bytes: number;
}

/** A contiguous run of one partition's messages, handed over (and committed) as one delivery. */
export interface FetchedRun<P> {
  partition: number;
  messages: FetchedMessage<P>[];
  first: bigint;
  last: bigint;
  /** How the partition's announced intent shaped this run: replayed exactly, or found not replayable (the fetch no longer starts at it). */
  intent: 'replay' | 'unreplayable' | null;
}

interface PartitionQueue<P> {
  messages: FetchedMessage<P>[];
  /** When its oldest waiting message arrived: the partition waiting longest goes first. */
  since: number;
}

export class FetchedQueue<P> {
  private readonly partitions = new Map<number, PartitionQueue<P>>();
  /** Per partition, the last offset this process handed over and saw stored: a re-fetch of it (after a rebalance) is dropped. */
  private readonly stored = new Map<number, bigint>();
  /** Bytes of the messages waiting (the consumer stops fetching past a bound). */
  bytes = 0;

  /** Appends fetched messages in offset order; what is already queued or stored is dropped. */
  add(partition: number, messages: readonly FetchedMessage<P>[], now: number): void {
    let q = this.partitions.get(partition);
    const floor = this.floor(partition, q);
    const fresh = floor === null ? messages : messages.filter((m) => m.offset > floor);
    if (fresh.length === 0) return;
    if (!q || q.messages.length === 0) this.partitions.set(partition, (q = { messages: [], since: now }));
    for (const m of fresh) {
      q.messages.push(m);
      this.bytes += m.bytes;
    }
  }

  /** Highest offset already queued or stored for the partition (null: none). */
  private floor(partition: number, q: PartitionQueue<P> | undefined): bigint | null {
    const queued = q && q.messages.length > 0 ? q.messages[q.messages.length - 1]!.offset : null;
    const stored = this.stored.get(partition) ?? null;
    if (queued === null) return stored;
    if (stored === null) return queued;
    return queued > stored ? queued : stored;
  }

  /**
   * The next delivery, taken out of the queue: the partition waiting longest,
   * its messages from the head, at most maxUnits units and maxBytes bytes
   * (definitions carry no units) but at least one message. A partition with an announced intent that its head starts is
   * held until the whole announced range is here, then cut to exactly it;
   * an intent the head is already past is ignored; one the head does not
   * start (the range is gone or partly stored) is reported unreplayable.
   */
  next(maxUnits: number, maxBytes: number, intentOf: (partition: number) => DeliveryIntent | null, now: number): FetchedRun<P> | null {
    const order = [...this.partitions].filter(([, q]) => q.messages.length > 0).sort((a, b) => a[1].since - b[1].since);
    for (const [partition, q] of order) {
      this.dropStored(partition, q);
      if (q.messages.length === 0) continue;
      const head = q.messages[0]!.offset;
      const tail = q.messages[q.messages.length - 1]!.offset;
      const intent = intentOf(partition);
      if (intent && head <= intent.to) {
        if (fetchCoversIntent(intent, String(head), String(tail))) return this.take(partition, q, (m) => m.offset <= intent.to, 'replay', now);
        if (head === intent.from) continue; // the rest of the announced range is still being fetched
        return this.take(partition, q, bounded(maxUnits, maxBytes), 'unreplayable', now);
      }
      return this.take(partition, q, bounded(maxUnits, maxBytes), null, now);
    }
    return null;
  }

  private take(partition: number, q: PartitionQueue<P>, keep: (m: FetchedMessage<P>, i: number) => boolean, intent: FetchedRun<P>['intent'], now: number): FetchedRun<P> {
    let n = 0;
    while (n < q.messages.length && keep(q.messages[n]!, n)) n++;
    const messages = q.messages.splice(0, n);
    for (const m of messages) this.bytes -= m.bytes;
    // What stays waits from now: the other partitions go first (round robin under load).
    q.since = now;
    return { partition, messages, first: messages[0]!.offset, last: messages[messages.length - 1]!.offset, intent };
  }

  private dropStored(partition: number, q: PartitionQueue<P>): void {
    const stored = this.stored.get(partition);
    if (stored === undefined) return;
    while (q.messages.length > 0 && q.messages[0]!.offset <= stored) this.bytes -= q.messages.shift()!.bytes;
  }

  /** The run through `last` is stored: a re-fetch of it is dropped from now on. */
  markStored(partition: number, last: bigint): void {
    const before = this.stored.get(partition);
    if (before === undefined || last > before) this.stored.set(partition, last);
  }

  /** Forgets everything waiting (after a rebalance kafkajs fetches again from the committed offsets). */
  clear(): void {
    this.partitions.clear();
    this.bytes = 0;
  }

  /** Messages waiting, over all partitions. */
  get length(): number {
    let n = 0;
    for (const q of this.partitions.values()) n += q.messages.length;
    return n;
  }
}

/** Keeps messages while the run stays within both bounds; the first always. */
function bounded<P>(maxUnits: number, maxBytes: number): (m: FetchedMessage<P>, i: number) => boolean {
  let units = 0;
  let bytes = 0;
  return (m, i) => {
    units += m.units;
    bytes += m.bytes;
    return i === 0 || (units <= maxUnits && bytes <= maxBytes);
  };
}
