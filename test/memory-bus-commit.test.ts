// The memory bus's write-path guarantees: tokens that never repeat across
// bus lives, group commit (publish resolves once the consumer has handled
// the payload), refused payloads answered to their own publisher only,
// capped exponential back-off, and a close that drains. And which store
// errors the ingester retries.
import { describe, expect, it } from 'vitest';
import { MemoryBus, retryDelayMs } from '../core/bus/memory-bus.ts';
import { BusClosedError, PayloadRejectedError, type Delivery } from '../core/bus/bus.ts';
import { storeErrorKind } from '../metrics/store-errors.ts';
import { sampleBatch } from './helpers/store.ts';

const T0 = Date.UTC(2026, 9, 1);
const batchOf = (name: string, n = 1) => sampleBatch(Array.from({ length: n }, (_, i) => ({ labels: { __name__: name }, ts: T0 + i, value: i })));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory bus tokens', () => {
  it('never repeat across bus lives (a restart) or between buses sharing a store', async () => {
    const tokens: string[] = [];
    for (let life = 0; life < 3; life++) {
      const bus = new MemoryBus({ capacity: 100, maxDelivery: 100, acknowledge: 'stored' });
      await bus.consume('metrics', async (d) => void tokens.push(d.token));
      await bus.publish('metrics', batchOf('a'));
      await bus.publish('metrics', batchOf('b'));
      await bus.close();
    }
    expect(tokens).toHaveLength(6);
    expect(new Set(tokens).size).toBe(6);
    // The sequence restarts at 0 in each life; the identity is what keeps them apart.
    expect(tokens[0]!.endsWith('/metrics/0')).toBe(true);
    expect(tokens[2]!.endsWith('/metrics/0')).toBe(true);
  });
});

describe('group commit', () => {
  it('resolves a publish only once the delivery carrying it has been handled, many publishes per delivery', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000, lingerMs: 30, acknowledge: 'stored' });
    const deliveries: Delivery<'metrics'>[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.consume('metrics', async (d) => {
      deliveries.push(d);
      await gate;
    });
    let acknowledged = 0;
    const publishes = Array.from({ length: 10 }, (_, i) => bus.publish('metrics', batchOf(`m${i}`, 5)).then(() => acknowledged++));
    await sleep(100);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(acknowledged).toBe(0);
    release();
    await Promise.all(publishes);
    expect(acknowledged).toBe(10);
    // Ten publishes rode on fewer deliveries (inserts).
    expect(deliveries.length).toBeLessThan(10);
    expect(deliveries.reduce((n, d) => n + d.payloads.length, 0)).toBe(10);
    await bus.close();
  });

  it('rejects only the publisher whose payload the store refused; the others resolve', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000, lingerMs: 50, acknowledge: 'stored' });
    await bus.consume('metrics', async (d) => {
      const rejected = new Map<number, string>();
      d.payloads.forEach((p, i) => {
        if (p.series[0]?.labels['__name__'] === 'poison') rejected.set(i, 'Too many partitions for single INSERT block');
      });
      return { rejected };
    });
    const results = await Promise.allSettled(['good1', 'poison', 'good2'].map((n) => bus.publish('metrics', batchOf(n))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(PayloadRejectedError);
    expect((refused as PayloadRejectedError).reason).toMatch(/partitions/);
    expect(bus.ready()).toBe(true);
    await bus.close();
  });

  it('retries a failing delivery with the same token, backing off, not ready meanwhile; resolves once stored', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000, acknowledge: 'stored', retryBaseMs: 20, retryMaxMs: 80 });
    const attempts: { token: string; at: number }[] = [];
    await bus.consume('metrics', async (d) => {
      attempts.push({ token: d.token, at: Date.now() });
      if (attempts.length < 5) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
    });
    let done = false;
    const p = bus.publish('metrics', batchOf('x')).then(() => (done = true));
    await sleep(30);
    expect(bus.ready()).toBe(false);
    expect(done).toBe(false);
    await p;
    expect(bus.ready()).toBe(true);
    expect(attempts).toHaveLength(5);
    expect(new Set(attempts.map((a) => a.token)).size).toBe(1);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    // 20, 40, 80, 80 ms (timers fire late, never early).
    expect(gaps[0]!).toBeGreaterThanOrEqual(18);
    expect(gaps[2]!).toBeGreaterThanOrEqual(75);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    await bus.close();
  });

  it('backs off exponentially, capped', () => {
    expect([0, 1, 2, 3, 4, 10, 100].map((a) => retryDelayMs(a, 100, 5000))).toEqual([100, 200, 400, 800, 1600, 5000, 5000]);
  });

  it('close() refuses new publishes and drains what is queued before stopping', async () => {
    const bus = new MemoryBus({ capacity: 1000, maxDelivery: 2, lingerMs: 0, acknowledge: 'stored' });
    const handled: string[] = [];
    await bus.consume('metrics', async (d) => {
      await sleep(20);
      for (const p of d.payloads) handled.push(p.series[0]!.labels['__name__']!);
    });
    const publishes = Array.from({ length: 6 }, (_, i) => bus.publish('metrics', batchOf(`q${i}`)));
    await sleep(5);
    const closing = bus.close();
    await expect(bus.publish('metrics', batchOf('late'))).rejects.toBeInstanceOf(BusClosedError);
    await closing;
    await Promise.all(publishes);
    expect(handled.sort()).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
  });

  it("'queued' acknowledgement (no consumer needed) resolves on entering the queue", async () => {
    const bus = new MemoryBus({ capacity: 1000, maxDelivery: 1000 });
    await bus.publish('metrics', batchOf('a', 3));
    expect(bus.depth().metrics).toBe(3);
    await bus.close();
  });
});

describe('store error classification', () => {
  const ch = (code: number, type: string, message: string) => Object.assign(new Error(message), { code: String(code), type });
  it('retries the store being away or busy; refuses what is about the data', () => {
    expect(storeErrorKind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }))).toBe('retryable');
    expect(storeErrorKind(new Error('Timeout error.'))).toBe('retryable');
    expect(storeErrorKind(ch(159, 'TIMEOUT_EXCEEDED', 'Timeout exceeded'))).toBe('retryable');
    expect(storeErrorKind(ch(252, 'TOO_MANY_PARTS', 'Too many parts (300). Merges are processing significantly slower than inserts'))).toBe('retryable');
    expect(storeErrorKind(ch(241, 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (total) exceeded: would use 3.5 GiB'))).toBe('retryable');
    expect(storeErrorKind(ch(252, 'TOO_MANY_PARTS', 'Too many partitions for single INSERT block (more than 100).'))).toBe('rejected');
    expect(storeErrorKind(ch(241, 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (for query) exceeded: would use 9.3 GiB'))).toBe('rejected');
    expect(storeErrorKind(ch(6, 'CANNOT_PARSE_TEXT', "Cannot parse string 'abc' as Int64"))).toBe('rejected');
    expect(storeErrorKind(ch(53, 'TYPE_MISMATCH', 'Type mismatch'))).toBe('rejected');
  });
});
