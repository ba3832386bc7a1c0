import { describe, expect, it } from 'vitest';
import { FetchedQueue, type FetchedMessage } from './fetched.ts';

function messages(from: number, to: number, units = 10): FetchedMessage<string>[] {
  const out: FetchedMessage<string>[] = [];
  for (let o = from; o <= to; o++) out.push({ offset: BigInt(o), payload: `m${o}`, units, bytes: 100 });
  return out;
}

const noIntent = (): null => null;

describe('fetched messages waiting for their delivery', () => {
  it('hands over everything a partition gathered as one run, in offset order, and counts the bytes waiting', () => {
    const q = new FetchedQueue<string>();
    q.add(0, messages(0, 2), 1);
    q.add(0, messages(3, 5), 2);
    expect(q.bytes).toBe(600);
    const run = q.next(1_000, 1_000_000, noIntent, 3)!;
    expect(run).toMatchObject({ partition: 0, first: 0n, last: 5n, intent: null });
    expect(run.messages.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(q.bytes).toBe(0);
    expect(q.next(1_000, 1_000_000, noIntent, 4)).toBeNull();
  });

  it('bounds a run in units and in bytes but always takes at least one message', () => {
    const q = new FetchedQueue<string>();
    q.add(0, messages(0, 9, 10), 1);
    expect(q.next(35, 1_000_000, noIntent, 2)).toMatchObject({ first: 0n, last: 2n });
    expect(q.next(1, 1_000_000, noIntent, 3)).toMatchObject({ first: 3n, last: 3n });
    // Definitions carry no units: the byte bound still cuts the run (100 bytes a message here).
    expect(q.next(1_000, 250, noIntent, 4)).toMatchObject({ first: 4n, last: 5n });
    expect(q.next(1_000, 1, noIntent, 5)).toMatchObject({ first: 6n, last: 6n });
    expect(q.length).toBe(3);
  });

  it('serves the partition waiting longest first, so one busy partition cannot starve the others', () => {
    const q = new FetchedQueue<string>();
    q.add(1, messages(0, 1), 1);
    q.add(0, messages(0, 1), 2);
    expect(q.next(15, 1_000_000, noIntent, 3)!.partition).toBe(1);
    // Partition 1 still has a message, now waiting from 3: partition 0 (waiting since 2) goes next.
    expect(q.next(15, 1_000_000, noIntent, 4)!.partition).toBe(0);
    expect(q.next(15, 1_000_000, noIntent, 5)!.partition).toBe(1);
    expect(q.next(15, 1_000_000, noIntent, 6)!.partition).toBe(0);
  });

  it('drops what is already queued or stored when kafkajs fetches it again', () => {
    const q = new FetchedQueue<string>();
    q.add(0, messages(0, 4), 1);
    q.add(0, messages(3, 6), 2);
    const run = q.next(1_000, 1_000_000, noIntent, 3)!;
    expect(run.messages.map((m) => m.offset)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
    q.markStored(0, run.last);
    // After a rebalance kafkajs fetches again from the committed offset, which may lag what was stored.
    q.clear();
    q.add(0, messages(2, 8), 4);
    expect(q.next(1_000, 1_000_000, noIntent, 5)).toMatchObject({ first: 7n, last: 8n });
  });

  it('drops stored messages queued before their run was marked stored', () => {
    const q = new FetchedQueue<string>();
    q.add(0, messages(0, 3), 1);
    q.markStored(0, 5n);
    q.add(0, messages(4, 7), 2);
    expect(q.next(1_000, 1_000_000, noIntent, 3)).toMatchObject({ first: 6n, last: 7n });
    expect(q.bytes).toBe(0);
  });

  it('replays an announced intent with exactly its range, holding the partition until the whole range is fetched', () => {
    const q = new FetchedQueue<string>();
    const intent = { from: 10n, to: 14n };
    q.add(0, messages(10, 12), 1);
    q.add(1, messages(0, 0), 2);
    // Partition 0 waits longer but its announced range is not all here: partition 1 goes.
    expect(q.next(1_000, 1_000_000, () => intent, 3)!.partition).toBe(1);
    expect(q.next(1_000, 1_000_000, (p) => (p === 0 ? intent : null), 4)).toBeNull();
    q.add(0, messages(13, 20), 5);
    // Cut to the announced range even though more is here and the unit bound is smaller.
    expect(q.next(1, 1_000_000, (p) => (p === 0 ? intent : null), 6)).toMatchObject({ partition: 0, first: 10n, last: 14n, intent: 'replay' });
    expect(q.next(1_000, 1_000_000, noIntent, 7)).toMatchObject({ partition: 0, first: 15n, last: 20n, intent: null });
  });

  it('reports an intent whose range the fetch does not start as unreplayable, and ignores one it is past', () => {
    const q = new FetchedQueue<string>();
    q.add(0, messages(12, 16), 1);
    expect(q.next(1_000, 1_000_000, () => ({ from: 10n, to: 14n }), 2)).toMatchObject({ first: 12n, last: 16n, intent: 'unreplayable' });
    q.add(1, messages(20, 21), 3);
    expect(q.next(1_000, 1_000_000, () => ({ from: 10n, to: 14n }), 4)).toMatchObject({ partition: 1, first: 20n, last: 21n, intent: null });
  });

  it('keeps dead-lettered messages (no payload) in the run so their offsets are committed', () => {
    const q = new FetchedQueue<string>();
    q.add(0, [{ offset: 0n, payload: null, units: 0, bytes: 5 }, ...messages(1, 1)], 1);
    const run = q.next(1_000, 1_000_000, noIntent, 2)!;
    expect(run.messages.map((m) => m.payload)).toEqual([null, 'm1']);
    expect(run.last).toBe(1n);
  });
});
